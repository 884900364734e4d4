"""Onetrail eInteract flows: validated electronic PO submission to Onetrail over sFTP, and the order
responses, despatch advices and invoices that come back (``onetrail_po_submit``, ``onetrail_inbound``).

Modules: ``formats`` (Onetrail XML and EDIFACT D96A documents, pure), ``mapping`` (NetSuite ⇄ Onetrail
documents and the submission rules, pure), ``settings`` (per-trading-partner configuration),
``sftp`` (the few SFTP moves on ``SFTPHook``), ``operators`` and ``sensors`` / ``triggers``.
"""
