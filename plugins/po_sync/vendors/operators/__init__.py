"""The vendor flows' operators, one module per DAG.

* :mod:`.po_export` - ``netsuite_vendor_po_export``: changed POs to each vendor's bucket;
* :mod:`.merge` - ``vendor_fulfillment_merge``: vendor files merged per order into the merge bucket;
* :mod:`.fulfillment_import` - ``vendor_fulfillment_import``: merged documents into NetSuite.

Import the operator from its module: this package imports nothing, so a DAG file pays only for what
it uses.
"""
