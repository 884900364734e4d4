-- Runs once, when the postgres service initialises an empty data volume (docker-entrypoint-initdb.d),
-- as POSTGRES_USER (airflow). Creates the po-sync ledger database next to Airflow's metadata database;
-- the ledger's tables are created by po_sync itself (po_sync.ledger.schema.ensure_schema) on first use.
-- To re-run it on an existing volume: docker compose down -v (drops all data) or create it by hand.
CREATE DATABASE po_sync OWNER airflow;
