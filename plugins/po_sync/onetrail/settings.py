"""Onetrail settings: the buyer's GLNs, per-trading-partner format, the Configuration screen's choices.

Kept in the Airflow Variable ``po_sync_onetrail`` (JSON); when it is unset, the example file
``include/config/onetrail.example.json`` (the sandbox's set-up) is read instead. It mirrors eInteract's "Onetrail.net Configuration" record:
which charge types become expense lines (and on which account), which supplier payment-terms ids
match which NetSuite terms, and which supplier changes are accepted onto the PO automatically.
No secrets live here: the sFTP login is the ``onetrail_sftp`` connection.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from po_sync.exceptions import ConfigurationError

__all__ = [
    "AUTO_ACCEPT_CHANGES",
    "CUSTOM_FIELDS",
    "SETTINGS_VARIABLE",
    "OnetrailSettings",
    "TradingPartner",
    "gln_problem",
    "load_settings",
    "remote_folder",
    "resolve_settings",
]

SETTINGS_VARIABLE = "po_sync_onetrail"
EXAMPLE_FILE = Path(__file__).resolve().parents[3] / "include" / "config" / "onetrail.example.json"
#: Supplier changes the configuration may accept onto the PO lines automatically.
AUTO_ACCEPT_CHANGES = ("quantity", "price", "date", "added", "deleted", "split")

#: The NetSuite fields the eInteract bundle adds and these flows read or write.
CUSTOM_FIELDS = {
    # purchase order body
    "submit": "custbody_onetrail_submit",  # set by "Save & Submit Electronically"
    "submit_status": "custbody_onetrail_submit_status",
    "submit_error": "custbody_onetrail_submit_error",
    "special_order_type": "custbody_onetrail_special_order_type",
    "special_reference": "custbody_onetrail_special_reference",
    "allow_partial": "custbody_onetrail_allow_partial",
    "accept_status": "custbody_onetrail_accept_status",
    # purchase order line
    "line_accept_status": "custcol_onetrail_accept_status",
    "line_source": "custcol_onetrail_source",  # the response line a supplier-added PO line came from
    # vendor
    "vendor_enabled": "custentity_onetrail_enabled",
    "vendor_gln": "custentity_onetrail_gln",
    # item (NetSuite's standard field)
    "mpn": "mpn",
    "vendor_part": "vendorname",
}
#: The PO amendment custom record type and its fields.
AMENDMENT_RECORD = "customrecord_onetrail_po_amendment"


def gln_problem(value: Any) -> str | None:
    """Why ``value`` is not a GLN (13 digits with a valid GS1 mod-10 check digit), or None."""
    text = str(value or "").strip()
    if len(text) != 13 or not text.isdigit():
        return f"GLN {text!r} is not 13 digits"
    digits = [int(c) for c in text]
    total = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits[:12]))
    check = (10 - total % 10) % 10
    if check != digits[12]:
        return f"GLN {text} has check digit {digits[12]}, GS1 says {check}"
    return None


class TradingPartner(BaseModel):
    """One supplier on Onetrail.

    :param format: ``xml`` (Onetrail XML, the default) or ``edifact`` (D96A).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["xml", "edifact"] = "xml"


class OnetrailSettings(BaseModel):
    """The buyer's side of the Onetrail set-up.

    :param buyer_gln: the buyer's GLN: ``fromRole`` and the sFTP home folder ``/<GLN>/``.
    :param bill_to_gln: ``billTo``; the buyer's GLN when not given.
    :param ship_to_gln: ``ShipTo`` for warehouse orders; per NetSuite location in ``location_glns``.
    :param drop_ship_gln: ``ShipTo`` GLN for drop-ship orders (the address travels with it).
    :param remote_root: the sFTP home; ``/<buyer_gln>`` by default.
    :param test: use ``Test/In`` and ``Test/Out`` (pre-production).
    :param partners: seller GLN → its settings (format); unlisted sellers use Onetrail XML.
    :param auto_accept: which supplier changes are written onto the PO lines (others only recorded).
    :param charge_types: supplier charge type (e.g. ``FREIGHT``) → NetSuite expense account id; an
        invoice with an unlisted charge type is quarantined.
    :param payment_terms: supplier terms id → NetSuite terms id.
    :param currencies: ISO code → NetSuite currency id.
    :param max_file_bytes: inbound files bigger than this are refused unread.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    buyer_gln: str
    bill_to_gln: str | None = None
    ship_to_gln: str | None = None
    location_glns: dict[str, str] = Field(default_factory=dict)
    drop_ship_gln: str | None = None
    remote_root: str | None = None
    test: bool = False
    partners: dict[str, TradingPartner] = Field(default_factory=dict)
    auto_accept: tuple[str, ...] = ()
    charge_types: dict[str, str] = Field(default_factory=dict)
    payment_terms: dict[str, str] = Field(default_factory=dict)
    currencies: dict[str, str] = Field(
        default_factory=lambda: {"USD": "1", "GBP": "2", "CAD": "3", "EUR": "4"}
    )
    max_file_bytes: int = Field(default=5_000_000, ge=1)
    #: renames of the Onetrail XML element names the reference does not publish
    #: (:data:`po_sync.onetrail.formats.UNVERIFIED_NAMES`), e.g. ``{"SerialNumber": "SerialIdentifier"}``
    xml_names: dict[str, str] = Field(default_factory=dict)

    @field_validator("buyer_gln", "bill_to_gln", "ship_to_gln", "drop_ship_gln")
    @classmethod
    def _gln(cls, value: str | None) -> str | None:
        if value is not None and (problem := gln_problem(value)):
            raise ValueError(problem)
        return value

    @field_validator("xml_names")
    @classmethod
    def _xml_names(cls, value: dict[str, str]) -> dict[str, str]:
        from po_sync.onetrail.formats import check_xml_names

        return check_xml_names(value)

    @field_validator("auto_accept")
    @classmethod
    def _auto(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(AUTO_ACCEPT_CHANGES))
        if unknown:
            raise ValueError(f"unknown change kinds {unknown}; expected some of {list(AUTO_ACCEPT_CHANGES)}")
        return value

    # ---- folders

    @property
    def root(self) -> str:
        base = self.remote_root or f"/{self.buyer_gln}"
        return posixpath.join(base, "Test") if self.test else base

    def folder(self, name: str) -> str:
        """``In/Orders``, ``Out/OrdRsp``... under the home (or its ``Test/``)."""
        return posixpath.join(self.root, name)

    def partner(self, seller_gln: str) -> TradingPartner:
        return self.partners.get(seller_gln, TradingPartner())

    def ship_to(self, location_id: str | None) -> str:
        if location_id and location_id in self.location_glns:
            return self.location_glns[location_id]
        return self.ship_to_gln or self.buyer_gln


def load_settings(value: str | Mapping[str, Any] | None) -> OnetrailSettings:
    """Settings from the Variable's JSON (or a dict).

    :raises ConfigurationError: missing or invalid, naming the field.
    """
    if value is None or value == "":
        raise ConfigurationError(f"the Airflow Variable {SETTINGS_VARIABLE} is not set")
    try:
        data = json.loads(value) if isinstance(value, str) else dict(value)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{SETTINGS_VARIABLE} is not JSON: {exc}") from None
    try:
        return OnetrailSettings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"{SETTINGS_VARIABLE}: {problems}") from None


def remote_folder(name: str) -> str:
    """``settings.folder(name)`` from the Variable (or the example file): the DAG's macro for sensors,
    whose ``path`` is rendered when the task runs (a DAG file does no I/O when parsed)."""
    return resolve_settings(None).folder(name)


def resolve_settings(value: str | Mapping[str, Any] | None) -> OnetrailSettings:
    """Settings given to the operator, else the ``po_sync_onetrail`` Variable, else the example file."""
    if value in (None, ""):
        from airflow.sdk import Variable

        value = Variable.get(SETTINGS_VARIABLE, default=None)
        if value in (None, "") and EXAMPLE_FILE.exists():
            value = EXAMPLE_FILE.read_text()
    return load_settings(value)
