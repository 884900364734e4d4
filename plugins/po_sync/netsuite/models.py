"""Typed values the NetSuite hook returns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PO_STATUS_LETTERS = {
    "Pending Supervisor Approval": "A",
    "Pending Receipt": "B",
    "Rejected by Supervisor": "C",
    "Partially Received": "D",
    "Pending Billing/Partially Received": "E",
    "Pending Bill": "F",
    "Fully Billed": "G",
    "Closed": "H",
}


class RecordRef(BaseModel):
    """A reference field or a list entry: ``{id, refName, links}``."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    id: str
    ref_name: str | None = Field(default=None, alias="refName")
    href: str | None = None

    @classmethod
    def from_api(cls, value: Mapping[str, Any]) -> RecordRef:
        """Build from NetSuite's JSON shape."""
        links = value.get("links") or []
        href = next((link.get("href") for link in links if link.get("rel") == "self"), None)
        return cls(id=str(value.get("id")), refName=value.get("refName"), href=href)


class NetSuiteRecord(BaseModel):
    """One REST record: body fields, expanded sublists and custom fields.

    :param record_type: the REST record type (``purchaseOrder``, ``customrecord_x``...).
    :param id: the internal id.
    :param fields: every body field as NetSuite sent it, sublists and links removed.
    :param sublists: expanded sublist lines by sublist name (``item``, ``expense``...).
    """

    model_config = ConfigDict(frozen=True)

    record_type: str
    id: str
    fields: dict[str, Any]
    sublists: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)

    @classmethod
    def from_api(cls, record_type: str, body: Mapping[str, Any]) -> NetSuiteRecord:
        """Split NetSuite's JSON into body fields and expanded sublists."""
        fields: dict[str, Any] = {}
        sublists: dict[str, list[dict[str, Any]]] = {}
        for key, value in body.items():
            if key == "links":
                continue
            if isinstance(value, dict) and "items" in value and "totalResults" in value and "id" not in value:
                sublists[key] = [
                    {k: v for k, v in line.items() if k != "links"} for line in value.get("items") or []
                ]
            elif isinstance(value, dict) and set(value) == {"links"}:
                continue  # a sublist or subrecord that was not expanded
            else:
                fields[key] = value
        return cls(record_type=record_type, id=str(body.get("id")), fields=fields, sublists=sublists)

    def get(self, name: str, default: Any = None) -> Any:
        """A body field by name (case-insensitive)."""
        if name in self.fields:
            return self.fields[name]
        lowered = name.lower()
        for key, value in self.fields.items():
            if key.lower() == lowered:
                return value
        return default

    def ref(self, name: str) -> RecordRef | None:
        """A reference field as a :class:`RecordRef`."""
        value = self.get(name)
        return RecordRef.from_api(value) if isinstance(value, Mapping) and "id" in value else None

    @property
    def external_id(self) -> str | None:
        """``externalId``, if set."""
        value = self.get("externalId")
        return str(value) if value is not None else None

    @property
    def status(self) -> str | None:
        """The display status (``Pending Receipt``...) of a transaction."""
        value = self.get("status")
        if isinstance(value, Mapping):
            return str(value.get("refName") or value.get("id"))
        return str(value) if value is not None else None

    @property
    def status_letter(self) -> str | None:
        """The SuiteQL status letter of a purchase order (``B``...)."""
        return PO_STATUS_LETTERS.get(self.status or "")

    @property
    def lines(self) -> list[dict[str, Any]]:
        """The ``item`` sublist lines (empty when not expanded)."""
        return self.sublists.get("item", [])

    @property
    def custom_fields(self) -> dict[str, Any]:
        """Custom body fields (``custbody_*``, ``custentity_*``, ``custrecord_*``...)."""
        return {k: v for k, v in self.fields.items() if k.lower().startswith("cust")}


class SuiteQLRow(Mapping[str, str]):
    """One SuiteQL result row: lower-case column names to string values (NULL columns absent).

    :param values: the row as NetSuite sent it, without ``links``.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = {k.lower(): v for k, v in values.items() if k != "links"}

    @classmethod
    def of_page(cls, items: list[dict[str, Any]]) -> list[SuiteQLRow]:
        """The rows of one page, taking over its item dicts (NetSuite sends lower-case keys, so when every key
        of the page already is, each dict is kept as it is instead of being copied key by key)."""
        keys: set[str] = set()
        for item in items:
            keys.update(item)
        if any(key != key.lower() for key in keys):
            return [cls(item) for item in items]
        rows = []
        for item in items:
            item.pop("links", None)
            row = cls.__new__(cls)
            row._values = item
            rows.append(row)
        return rows

    def __getitem__(self, key: str) -> str:
        try:
            return self._values[key]
        except KeyError:
            return self._values[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"SuiteQLRow({self._values!r})"

    def int(self, key: str, default: int | None = None) -> int | None:
        """A column as ``int`` (``default`` when NULL)."""
        value = self._values.get(key.lower())
        return default if value is None or value == "" else int(float(value))

    def decimal(self, key: str, default: Decimal | None = None) -> Decimal | None:
        """A column as ``Decimal`` (``default`` when NULL)."""
        value = self._values.get(key.lower())
        return default if value is None or value == "" else Decimal(str(value))

    def as_dict(self) -> dict[str, Any]:
        """A plain copy."""
        return dict(self._values)


class GovernanceLimits(BaseModel):
    """``GET /system/v1/governanceLimits``."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    account_concurrency_limit: int = Field(alias="accountConcurrencyLimit")
    account_unallocated_concurrency_limit: int | None = Field(
        default=None, alias="accountUnallocatedConcurrencyLimit"
    )
    integration_concurrency_limit: int | None = Field(default=None, alias="integrationConcurrencyLimit")
    integration_limit_type: str | None = Field(default=None, alias="integrationLimitType")

    @property
    def effective_limit(self) -> int:
        """What this integration may use: its own limit if set, else the account's unallocated limit."""
        if self.integration_concurrency_limit:
            return self.integration_concurrency_limit
        if self.account_unallocated_concurrency_limit:
            return self.account_unallocated_concurrency_limit
        return self.account_concurrency_limit


class WriteResult(BaseModel):
    """The outcome of a create, update, upsert or transform.

    :param record_type: the type of the record written (the target type for transforms).
    :param id: the internal id, read from ``Location``.
    :param location: the absolute URL NetSuite returned.
    :param replayed: true when NetSuite said the idempotency key was used before and pointed at that result.
    """

    model_config = ConfigDict(frozen=True)

    record_type: str
    id: str
    location: str | None = None
    replayed: bool = False


class ListPage(BaseModel):
    """One page of a record collection (``GET /record/v1/<type>``)."""

    model_config = ConfigDict(frozen=True)

    items: list[RecordRef]
    count: int
    has_more: bool
    offset: int
    total_results: int
