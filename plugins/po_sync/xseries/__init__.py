"""Lightspeed Retail X-Series (formerly Vend): the connector (hook, OAuth tokens, rate budget), mapping and
operators of the ``vend_*`` flows. Facts: ``reference/external-systems.md`` §1."""
