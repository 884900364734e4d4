"""The ledger's page in the Airflow UI, served by the api-server through po_sync_plugin."""
