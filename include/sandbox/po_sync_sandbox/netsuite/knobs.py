"""Runtime knobs of the NetSuite sandbox: latency, governance, injected faults and the open questions.

Every knob can be changed while the server runs, from Python (``service.set_knobs(...)`` /
``service.inject_fault(...)``) or over HTTP (``POST /_sandbox/knobs``, ``POST /_sandbox/faults``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from po_sync_sandbox.faults import FAULT_KINDS

LATENCY_MODES = ("total", "added")


@dataclass
class Knobs:
    """What the sandbox does differently from a quiet NetSuite account.

    :param latency_ms: server time of every REST/SuiteQL call (not of ``/_sandbox``).
    :param latency_mode: ``total`` = a call answers ``latency_ms`` after its request arrived, the sandbox's own work
        included (as NetSuite's latency includes NetSuite's work); ``added`` = ``latency_ms`` of sleep before
        the work, so the sandbox's CPU time comes on top.
    :param concurrency_limit: requests in flight past which NetSuite answers 429
        ``CONCURRENCY_LIMIT_EXCEEDED``; None = unlimited.
    :param account_concurrency_limit: what ``governanceLimits`` reports for the account.
    :param integration_concurrency_limit: the integration's own limit in ``governanceLimits`` (None = not set).
    :param suiteql_row_cap: most rows one SuiteQL query (and one record list) serves (NetSuite: 100,000).
    :param fault_rates: probability per call of each fault kind (``429``, ``500``, ``502``, ``503``,
        ``timeout``, ``drop``, ``drop_after``), drawn from a RNG seeded with ``fault_seed``.
    :param timeout_seconds: how long a ``timeout`` fault holds the response back (after doing the work).
    :param token_lifetime_seconds: M2M access token lifetime (NetSuite: 3600).
    :param tba_max_skew_seconds: accepted distance between ``oauth_timestamp`` and now.
    :param reject_nonce_replay: 401 on a reused TBA nonce.
    :param idempotency_replay: ``error`` = 400 ``IDEMPOTENCY_ERROR`` + ``Location`` of the first result (Oracle's
        documented behaviour); ``replay`` = answer 204 again with the same ``Location``.
    :param idempotency_requires_async: accept ``X-NetSuite-Idempotency-Key`` only with ``Prefer: respond-async``.
    :param async_pending_polls: reads of an async job that report it ``pending`` before it completes.
    :param require_prefer_transient: 400 on SuiteQL without ``Prefer: transient`` (open question: off).
    :param misaligned_offset_error: 400 when ``offset`` is not a multiple of ``limit`` (open question: off).
    :param suiteql_omit_nulls: leave NULL columns out of SuiteQL rows (open question: on).
    :param suiteql_date_style: ``account`` (``M/D/YYYY``) or ``iso`` for DATE columns in SuiteQL rows.
    :param lowercase_links: record types lower-case in HATEOAS links and ``Location`` (open question: on).
    :param location_on_upsert: send ``Location`` on PUT eid upserts (open question: on).
    :param transform_default_lines: ``all`` open lines or ``none`` when a transform body has no ``item`` lines.
    :param partial_receipt_status: PO letter after a partial receipt with nothing billed (``D`` or ``E``).
    :param error_type_style: ``rfc9110`` or ``rfc2616`` URIs in error bodies' ``type``.
    :param rate_limit_title: ``title`` of the 429 body (live captures: ``Bad Request``).
    :param date_format: the account's date preference used by ``q`` filters (``M/D/YYYY``, ``D/M/YYYY``...).
    :param account_timezone: the account's time zone (IANA name). Datetimes are kept in UTC and the REST
        record service gives them as ``...Z``; SuiteQL shows them (``lastmodifieddate``, ``TO_CHAR``,
        ``TRUNC``) and reads ``TO_TIMESTAMP`` literals on this zone's wall clock, as NetSuite does with the
        account's (user's) time-zone preference.
    :param governance_admin: the role may read ``governanceLimits`` (else 403).
    :param forbidden_record_types: record types the role may not touch (403 ``INSUFFICIENT_PERMISSION``).
    :param vend_error_record: the Vend proposal's error record ``customrecord_vend_po_sync`` is installed
        (else only ``custbody_vend_error``; the type answers 404).
    :param bill_rate_source: ``body`` = a vendor bill transform line takes the ``rate`` the body gives
        (the vendor's price); ``order`` = it keeps the PO's rate whatever the body says (a form that
        locks the rate; open question), so the bill total can differ from the invoice.
    :param property_name_validation: what a write does with body fields the record type does not define when
        it sends no ``X-NetSuite-PropertyNameValidation`` header: ``Warning`` (Oracle's documented default)
        or ``Ignore`` drop them, ``Error`` answers 400. Unknown fields are never stored.
    :param unknown_field_code: ``o:errorCode`` of that 400 (open question: ``NONEXISTENT_FIELD``, the code
        NetSuite gives an unknown field name elsewhere).
    """

    latency_ms: float = 0.0
    latency_mode: str = "total"
    concurrency_limit: int | None = None
    account_concurrency_limit: int = 5
    integration_concurrency_limit: int | None = None
    suiteql_row_cap: int = 100_000
    fault_rates: dict[str, float] = field(default_factory=dict)
    fault_seed: int = 7
    timeout_seconds: float = 5.0
    token_lifetime_seconds: int = 3600
    tba_max_skew_seconds: int = 300
    reject_nonce_replay: bool = True
    idempotency_replay: str = "error"
    idempotency_requires_async: bool = False
    async_pending_polls: int = 1
    require_prefer_transient: bool = False
    misaligned_offset_error: bool = False
    suiteql_omit_nulls: bool = True
    suiteql_date_style: str = "account"
    lowercase_links: bool = True
    location_on_upsert: bool = True
    transform_default_lines: str = "all"
    partial_receipt_status: str = "D"
    error_type_style: str = "rfc9110"
    rate_limit_title: str = "Bad Request"
    date_format: str = "M/D/YYYY"
    account_timezone: str = "UTC"
    governance_admin: bool = True
    forbidden_record_types: list[str] = field(default_factory=list)
    vend_error_record: bool = False
    bill_rate_source: str = "body"
    property_name_validation: str = "Warning"
    unknown_field_code: str = "NONEXISTENT_FIELD"

    def as_dict(self) -> dict[str, Any]:
        """The knobs as JSON-able values."""
        return asdict(self)


def update_knobs(knobs: Knobs, values: dict[str, Any]) -> Knobs:
    """Set knobs from a mapping; unknown names raise ``KeyError``."""
    names = {f.name for f in fields(Knobs)}
    for key, value in values.items():
        if key not in names:
            raise KeyError(key)
        if key == "fault_rates":
            bad = [k for k in value if k not in FAULT_KINDS]
            if bad:
                raise KeyError(f"fault_rates.{bad[0]}")
        if key == "account_timezone":
            from zoneinfo import ZoneInfo

            ZoneInfo(value)  # an unknown zone raises here, not on the next query
        if key == "property_name_validation" and str(value).lower() not in ("error", "warning", "ignore"):
            raise KeyError(f"property_name_validation={value!r} (use Error, Warning or Ignore)")
        if key == "latency_mode" and value not in LATENCY_MODES:
            raise KeyError(f"latency_mode={value!r} (use one of {LATENCY_MODES})")
        setattr(knobs, key, value)
    return knobs
