"""Benchmarks for po-sync (``make bench``): each module's ``run()`` returns JSON-able results."""
