"""Notifications: a mail to a flow's people when a task fails, and one digest per run of new bad records.

Built on Airflow's notifier interface (``BaseNotifier``) and sent with the SMTP provider's
``SmtpNotifier``; recipients per flow come from the ``po_sync_notifications`` Variable.
"""
