"""HotWax Commerce over SFTP: Pending Receipt POs out as CSV, receiving JSON back as NetSuite item receipts.

What lives where (the same names in every partner package):

* :mod:`.formats` - HotWax's CSV and receipt JSON as bytes <-> plain rows;
* :mod:`.mapping` - those rows <-> the canonical model and NetSuite bodies (pure functions);
* :mod:`.sftp` - SFTP helpers: write-then-rename uploads, moves, unique names;
* :mod:`.operators` - the export and receipt-import operators.

Talks to other partners only through the core modules and :mod:`po_sync.netsuite`.
"""
