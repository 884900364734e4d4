"""Ledger revisions, one file each, named ``v<rev>_<slug>.py``; Alembic reads them in order."""
