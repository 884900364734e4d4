"""po_sync's operators: each one orchestrates a flow step and records outcomes in the ledger."""
