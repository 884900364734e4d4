"""Vendors over S3: POs out, ship notices and invoices back, merged per order and brought into NetSuite.

What lives where (the same names in every partner package):

* :mod:`.settings` - per-vendor settings (the ``po_sync_vendors`` Variable) and the merge Asset;
* :mod:`.formats` - vendor documents as bytes: XML, JSON, CSV (hostile input refused);
* :mod:`.mapping` - vendor documents <-> the canonical model (pure functions);
* :mod:`.s3` - S3 helpers: errors mapped, list, move, quarantine;
* :mod:`.triggers` / :mod:`.sensors` - the deferrable wait on the vendors' inbound folders;
* :mod:`.operators` - one module per DAG.

Talks to other partners only through the core modules and :mod:`po_sync.netsuite`.
"""
