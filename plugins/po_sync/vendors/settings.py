"""Per-vendor settings of the vendor flows: bucket, prefix, format, PO statuses, optional SQS queue.

The settings ship as ``include/config/vendors.example.json``. A deployment overrides them with the
Airflow Variable ``po_sync_vendors`` (the same JSON). Both are read when a task runs, never when a DAG
file is parsed, so editing the Variable takes effect on the next run without a redeploy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from po_sync.exceptions import ConfigurationError
from po_sync.models import PurchaseOrderStatus
from po_sync.validation import UnsafeValueError, path_component, relative_path

__all__ = [
    "MERGE_ASSET_URI",
    "BillSettings",
    "VARIABLE_KEY",
    "VendorSettings",
    "VendorsConfig",
    "load_vendors_config",
    "parse_vendors_config",
]

VARIABLE_KEY = "po_sync_vendors"

#: The Asset the merge DAG produces and the import DAG is scheduled on.
MERGE_ASSET_URI = "s3://po-sync-vendor-merge/ready/"
EXAMPLE_FILE = Path(__file__).resolve().parents[3] / "include" / "config" / "vendors.example.json"

_BUCKET = r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$"


def _prefix(value: str) -> str:
    value = value.strip().lstrip("/")
    if not value:
        return ""
    try:
        return relative_path(value, what="prefix") + "/"
    except UnsafeValueError as exc:  # pydantic reports a ValueError as this field's error
        raise ValueError(exc.message) from None


class VendorSettings(BaseModel):
    """One vendor's exchange settings.

    :param vendor_id: the vendor's NetSuite ``entityId`` (e.g. ``V0001``); POs are matched on it.
    :param name: a display name for logs and the UI.
    :param bucket: the vendor's S3 bucket.
    :param prefix: folder inside the bucket for everything of this vendor (may be empty).
    :param format: ``xml``, ``json`` or ``csv``, for the POs sent and the files expected back.
    :param statuses: PO statuses that are sent (names or letters).
    :param sqs_queue: queue name for a "new file" notice per PO document (``.fifo`` queues get
        deduplication ids, so a resumed send is not announced twice).
    :param enabled: a disabled vendor is skipped by every flow.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    vendor_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    name: str | None = None
    bucket: str = Field(pattern=_BUCKET)
    prefix: str = ""
    format: Literal["xml", "json", "csv"] = "json"
    statuses: tuple[str, ...] = (
        "Pending Receipt",
        "Partially Received",
        "Pending Billing/Partially Received",
    )
    sqs_queue: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-]{1,75}(\.fifo)?$")
    enabled: bool = True

    @field_validator("format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("prefix")
    @classmethod
    def _norm_prefix(cls, value: str) -> str:
        return _prefix(value)

    @field_validator("statuses")
    @classmethod
    def _known_statuses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one PO status must be sent")
        return tuple(str(PurchaseOrderStatus.parse(s)) for s in value)

    @property
    def po_prefix(self) -> str:
        """Where exported POs go: ``<prefix>PurchaseOrder/``."""
        return f"{self.prefix}PurchaseOrder/"

    @property
    def inbound_prefix(self) -> str:
        """Where the vendor drops ship notices and invoices: ``<prefix>inbound/``."""
        return f"{self.prefix}inbound/"

    @property
    def archive_prefix(self) -> str:
        """Where consumed inbound files go: ``<prefix>archive/YYYY/MM/DD/``."""
        return f"{self.prefix}archive/"

    @property
    def quarantine_prefix(self) -> str:
        """Where unreadable inbound files go, each with ``<name>.error.txt`` beside it."""
        return f"{self.prefix}quarantine/"

    def po_key(self, po_number: str) -> str:
        """The deterministic key of one PO document (the PO number is one path component, or
        :class:`~po_sync.validation.UnsafeValueError`)."""
        return f"{self.po_prefix}{path_component(po_number, what='PO number')}.{self.format}"


_INTERNAL_ID = r"^[0-9]{1,18}$"


class BillSettings(BaseModel):
    """How vendor invoices become NetSuite vendor bills beyond their item lines.

    :param charge_accounts: charge type (``freight``, or ``charge_<type>`` on the invoice) → the internal
        id of the expense account it posts to; an invoice with a charge type not listed is quarantined,
        naming the type, because guessing an account would post money to the wrong place.
    :param tax_account: expense account internal id the invoice's stated ``tax`` posts to (required
        when an invoice states tax).
    :param terms: the invoice's ``terms`` text (e.g. ``Net 30``) → NetSuite Terms internal id; an
        invoice with terms not listed is quarantined, naming them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    charge_accounts: dict[str, Annotated[str, Field(pattern=_INTERNAL_ID)]] = {}
    tax_account: str | None = Field(default=None, pattern=_INTERNAL_ID)
    terms: dict[str, Annotated[str, Field(pattern=_INTERNAL_ID)]] = {}


class VendorsConfig(BaseModel):
    """All vendors plus the merge bucket the merged documents go to.

    :param merge_bucket: bucket of merged documents (``ready/``, ``done/``, ``quarantine/``).
    :param max_file_bytes: inbound files larger than this are quarantined unread.
    :param vendors: one entry per vendor; ``vendor_id`` unique.
    :param bills: charge, tax and terms mapping for vendor bills.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    merge_bucket: str = Field(default="po-sync-vendor-merge", pattern=_BUCKET)
    max_file_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    vendors: tuple[VendorSettings, ...] = ()
    bills: BillSettings = BillSettings()

    @model_validator(mode="after")
    def _unique(self) -> VendorsConfig:
        seen: set[str] = set()
        for vendor in self.vendors:
            if vendor.vendor_id in seen:
                raise ValueError(f"vendor_id {vendor.vendor_id!r} is listed twice")
            seen.add(vendor.vendor_id)
        return self

    def vendor(self, vendor_id: str) -> VendorSettings:
        """The settings of one vendor.

        :raises ConfigurationError: unknown vendor.
        """
        for vendor in self.vendors:
            if vendor.vendor_id == vendor_id:
                return vendor
        raise ConfigurationError(
            f"vendor {vendor_id!r} is not configured; known: {', '.join(v.vendor_id for v in self.vendors)}"
        )

    def active(self, only: str | None = None) -> list[VendorSettings]:
        """Enabled vendors, or just ``only`` (which must exist)."""
        if only:
            return [self.vendor(only)]
        return [v for v in self.vendors if v.enabled]


def parse_vendors_config(
    data: str | bytes | dict[str, Any], *, source: str = "vendor settings"
) -> VendorsConfig:
    """Validate vendor settings from JSON text or a dict.

    :raises ConfigurationError: naming the source and each wrong field.
    """
    try:
        raw = json.loads(data) if isinstance(data, str | bytes) else data
        return VendorsConfig.model_validate(raw)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{source}: not JSON ({exc})") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise ConfigurationError(f"{source}: {problems}") from None


def load_vendors_config(
    variable_key: str = VARIABLE_KEY, *, example_file: Path = EXAMPLE_FILE
) -> VendorsConfig:
    """The vendor settings in force now: the Airflow Variable.

    Outside a sandbox a missing or unreadable Variable is a :class:`ConfigurationError` naming it;
    only with ``[po_sync] dev_mode`` (:mod:`po_sync.dev_mode`) does an unset Variable fall back to
    the example file (whose buckets are the sandbox's). Call from a task (``execute``), never at
    DAG-parse time.
    """
    from airflow.sdk import Variable

    from po_sync.dev_mode import OPTION, SECTION, dev_mode

    sandbox = dev_mode()
    try:
        value = Variable.get(variable_key, default=None)
    except Exception as exc:  # noqa: BLE001 - no Variable backend reachable (e.g. plain scripts)
        if not sandbox:
            raise ConfigurationError(
                f"Airflow Variable {variable_key!r} (the vendor settings) could not be read: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        value = None
    if value:
        return parse_vendors_config(value, source=f"Airflow Variable {variable_key!r}")
    if not sandbox:
        raise ConfigurationError(
            f"Airflow Variable {variable_key!r} (the vendor settings) is not set or empty: set it to the "
            f"vendors' JSON (shape: {example_file.name}). Only a sandbox ([{SECTION}] {OPTION} = True) "
            "falls back to the example vendors."
        )
    return parse_vendors_config(example_file.read_text(encoding="utf-8"), source=str(example_file))
