"""Building blocks shared by every canonical document: numbers, codes, references, identity, hashing.

Numbers. Money and quantities are :class:`~decimal.Decimal`, never ``float``: a float cannot hold
``0.1`` and sums of floats drift, which would make totals fail their own checks and payload hashes
change between runs. Input may be ``str``, ``int`` or ``Decimal`` (what NetSuite, X-Series and the
vendor files send). A ``float`` is accepted only when it cannot have lost anything: JSON parsers hand
``12.5`` over as a float, and any decimal text with at most 15 significant digits survives the trip
through a binary double unchanged, so ``repr(float)`` gives the text back exactly. A float with more
digits than that may already be off, so it is refused with a message asking for a string. ``bool``
(an ``int`` subclass) and ``NaN`` / ``Infinity`` are always refused.

Identity. Every record carries ``source_system`` + ``source_id`` (the system that owns it and its id
there), which is the ledger's key (see ``po_sync.ledger.schema.sync_record``), and an optional
``external_id`` (NetSuite ``externalId``, used for idempotent upserts).
"""

import hashlib
import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum, StrEnum
from typing import Annotated, Any, ClassVar, NamedTuple, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "AMOUNT_TOLERANCE",
    "Amount",
    "CanonicalModel",
    "CanonicalRecord",
    "CurrencyCode",
    "DocumentKey",
    "DocumentRef",
    "DocumentType",
    "ItemRef",
    "Money",
    "NonEmptyStr",
    "Quantity",
    "RecordRef",
    "Timestamp",
    "UnitCode",
    "amount_tolerance",
    "canonical_json",
    "currency_minor_units",
    "normalize_decimal",
    "parse_decimal",
]

#: The largest difference accepted between a stated amount and the one computed from its parts.
#: NetSuite rounds each line to the currency's minor unit, so a cent is the honest tolerance for
#: two-decimal currencies; :func:`amount_tolerance` widens it for currencies without cents.
AMOUNT_TOLERANCE = Decimal("0.01")

# Beyond these the value is almost certainly a parsing accident (an id in an amount column, an
# exponent typo) and would also make fixed-point formatting of the hash input enormous.
_MAX_ADJUSTED_EXPONENT = 18
_MIN_EXPONENT = -20
# Any decimal text with up to 15 significant digits round-trips through an IEEE-754 double exactly.
_FLOAT_SAFE_DIGITS = 15

# ISO 4217 minor units that differ from the usual 2 (active codes only).
_MINOR_UNITS: dict[str, int] = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Decimals
# --------------------------------------------------------------------------------------------------


def parse_decimal(value: Any) -> Decimal:
    """Turn wire input into a finite :class:`~decimal.Decimal`, keeping the precision it was written in.

    :param value: a ``str``, ``int``, ``Decimal`` or a float that round-trips exactly (see the module
        docstring for why floats are not simply refused).
    :raises PydanticCustomError: for ``bool``, unparseable text, NaN/Infinity, lossy floats and
        absurd magnitudes, so pydantic reports the field path and the value.
    """
    if isinstance(value, bool):
        raise PydanticCustomError("decimal_type", "must be a decimal number, not a boolean")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PydanticCustomError("decimal_not_finite", "must be a finite number")
        text = repr(value)
        digits = Decimal(text).as_tuple().digits
        if len(digits) > _FLOAT_SAFE_DIGITS:
            raise PydanticCustomError(
                "decimal_float_precision",
                "float with {digits} significant digits may have lost precision; send it as a string",
                {"digits": len(digits)},
            )
        result = Decimal(text)
    elif isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            if "_" in text:  # Decimal("1_000") is valid Python but not a number any source writes
                raise InvalidOperation
            result = Decimal(text)
        except InvalidOperation:
            raise PydanticCustomError("decimal_parsing", "is not a decimal number") from None
    else:
        raise PydanticCustomError(
            "decimal_type",
            "must be a decimal number (str, int or Decimal), not {type}",
            {"type": type(value).__name__},
        )
    if not result.is_finite():
        raise PydanticCustomError("decimal_not_finite", "must be a finite number")
    if result and (result.adjusted() > _MAX_ADJUSTED_EXPONENT or result.as_tuple().exponent < _MIN_EXPONENT):  # type: ignore[operator]
        raise PydanticCustomError("decimal_range", "is out of the supported range")
    return result + 0 if result.is_zero() else result  # folds -0 into 0, keeps "0.00"


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise PydanticCustomError("decimal_negative", "must be >= 0")
    return value


def normalize_decimal(value: Decimal) -> str:
    """Fixed-point text without trailing zeros: ``10.0``, ``10`` and ``1E+1`` all give ``"10"``.

    :param value: a finite decimal.
    """
    if value.is_zero():
        return "0"
    return format(value.normalize(), "f")


_decimal_to_str = PlainSerializer(str, return_type=str, when_used="json")

#: A signed money amount in the currency of the document that holds it (rates and amounts may be
#: negative: discount lines, credits).
Amount = Annotated[Decimal, BeforeValidator(parse_decimal), _decimal_to_str]

#: A quantity: never negative. Its unit of measure is the ``unit`` field next to it (see ``UnitCode``).
Quantity = Annotated[Decimal, BeforeValidator(parse_decimal), AfterValidator(_non_negative), _decimal_to_str]


def currency_minor_units(currency: str) -> int:
    """How many decimals the currency's minor unit has (ISO 4217; 2 unless listed otherwise).

    :param currency: a three-letter ISO 4217 code.
    """
    return _MINOR_UNITS.get(currency, 2)


def amount_tolerance(currency: str) -> Decimal:
    """How far a stated amount may be from the one computed from its parts in ``currency``.

    One cent, or half a minor unit where the minor unit is bigger (``JPY`` rounds to whole yen).

    :param currency: a three-letter ISO 4217 code.
    """
    half_unit = Decimal(1).scaleb(-currency_minor_units(currency)) / 2
    return max(AMOUNT_TOLERANCE, half_unit)


# --------------------------------------------------------------------------------------------------
# Codes and strings
# --------------------------------------------------------------------------------------------------


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


#: ISO 4217 alphabetic code. Upper-cased on input; any three letters pass (the list of active codes
#: changes, and NetSuite accounts can define their own currencies mapped to ISO codes by the mapper).
CurrencyCode = Annotated[str, BeforeValidator(_upper), StringConstraints(pattern=r"^[A-Z]{3}$")]

#: Unit of measure code as the source names it (``EA``, ``CS``, ``KG``...). Explicit on every line:
#: a quantity without its unit is how a case of 12 turns into 12 cases between systems.
UnitCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]

NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

#: A timezone-aware timestamp. Naive datetimes are refused: NetSuite sends UTC with ``Z``, X-Series
#: ``+00:00``, and a naive value would be read in whatever zone the worker happens to run in.
Timestamp = AwareDatetime

_SourceSystem = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
_SourceId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class CanonicalModel(BaseModel):
    """Base of every canonical model: immutable, no unknown fields, Decimals as JSON strings.

    ``frozen`` because records pass through mapping, hashing and the ledger; a mapper that tweaked a
    record after its hash was taken would make the ledger lie. Collections are tuples for the same
    reason. ``extra="forbid"`` so a misspelt field in a mapper fails loudly instead of vanishing.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, use_enum_values=False)


class Money(CanonicalModel):
    """An amount with its currency, for values that travel on their own (totals, limits).

    Lines inside a document hold plain :data:`Amount` values in the document's ``currency``, which
    NetSuite also keeps once per transaction; repeating the currency on every line would only add a
    way for them to disagree.

    :param amount: the signed amount.
    :param currency: ISO 4217 code.
    """

    amount: Amount
    currency: CurrencyCode

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


class RecordRef(CanonicalModel):
    """A reference to a record in the source system (vendor, location, subsidiary, account...).

    Shaped like NetSuite's ``{"id", "refName"}``; at least one of the two is needed so the mapper
    can resolve it.

    :param id: the record's id in the source system.
    :param name: its display name (NetSuite ``refName``, X-Series ``name``).
    """

    id: NonEmptyStr | None = None
    name: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _needs_id_or_name(self) -> Self:
        if self.id is None and self.name is None:
            raise PydanticCustomError("ref_empty", "needs an id or a name")
        return self


class ItemRef(CanonicalModel):
    """The item on a line: its id in the source system and its SKU, which is what other systems match on.

    :param id: item internal id in the source system (NetSuite ``item.id``, X-Series ``product_id``).
    :param sku: the SKU / item name (NetSuite ``itemId``, X-Series ``sku``, HotWax ``product-sku``).
    :param name: display name, for people reading errors.
    """

    id: NonEmptyStr | None = None
    sku: NonEmptyStr | None = None
    name: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _needs_id_or_sku(self) -> Self:
        if self.id is None and self.sku is None:
            raise PydanticCustomError("item_ref_empty", "needs an item id or a sku")
        return self


class DocumentType(StrEnum):
    """The entity types the canonical model knows; the ledger's ``entity_type`` column."""

    VENDOR = "vendor"
    ITEM = "item"
    LOCATION = "location"
    PURCHASE_ORDER = "purchase_order"
    ITEM_RECEIPT = "item_receipt"
    ITEM_FULFILLMENT = "item_fulfillment"
    VENDOR_BILL = "vendor_bill"
    TRANSFER_ORDER = "transfer_order"
    SALES_ORDER = "sales_order"

    def __str__(self) -> str:
        return self.value


class DocumentRef(CanonicalModel):
    """A reference to another transaction, e.g. the PO an item receipt was created from.

    :param type: what kind of document it is.
    :param id: its internal id in the source system.
    :param number: its document number (NetSuite ``tranId``), which people recognise.
    """

    type: DocumentType
    id: NonEmptyStr | None = None
    number: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _needs_id_or_number(self) -> Self:
        if self.id is None and self.number is None:
            raise PydanticCustomError("document_ref_empty", "needs an id or a number")
        return self


class DocumentKey(NamedTuple):
    """The ledger key of a record (without the flow, which the operator adds)."""

    entity_type: str
    source_system: str
    source_id: str

    def __str__(self) -> str:
        return f"{self.entity_type}/{self.source_system}/{self.source_id}"


# --------------------------------------------------------------------------------------------------
# Canonical JSON and hashing
# --------------------------------------------------------------------------------------------------


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return normalize_decimal(value)
    if isinstance(value, Enum):
        return _canonical(value.value)
    if isinstance(value, datetime):
        # Equal instants hash alike whatever zone the source wrote them in.
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def canonical_json(data: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, Decimals normalised, timestamps in UTC.

    :param data: a ``model_dump()`` (python mode) or any structure of plain values and Decimals.
    """
    return json.dumps(_canonical(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class CanonicalRecord(CanonicalModel):
    """A record with an identity in its source system: every document and master record.

    :param source_system: the system that owns the record, lower-case (``netsuite``, ``xseries``,
        ``hotwax``, ``vendor_a``...). Part of the ledger key.
    :param source_id: the record's id there (NetSuite internal id, X-Series uuid, file order id).
    :param external_id: the id the target knows it by, when there is one (NetSuite ``externalId``).
    :param last_modified: when the source last changed it; drives incremental windows, but is left
        out of :meth:`payload_hash` so a touch without a change is not a resend.
    """

    #: The ledger's ``entity_type`` for this class.
    entity_type: ClassVar[DocumentType]
    #: Fields left out of :meth:`payload_hash` (bookkeeping, not content).
    hash_exclude: ClassVar[frozenset[str]] = frozenset({"last_modified"})

    source_system: _SourceSystem
    source_id: _SourceId
    external_id: NonEmptyStr | None = None
    last_modified: Timestamp | None = None

    def document_key(self) -> DocumentKey:
        """The stable key the ledger stores the record under: (entity type, source system, source id)."""
        return DocumentKey(self.entity_type.value, self.source_system, self.source_id)

    def canonical_json(self) -> str:
        """The record as canonical JSON (see :func:`canonical_json`), without ``hash_exclude`` fields."""
        return canonical_json(self.model_dump(mode="python", exclude=set(self.hash_exclude)))

    def payload_hash(self) -> str:
        """SHA-256 (hex) of :meth:`canonical_json`; equal content gives an equal hash across runs.

        ``"10.0"`` and ``"10"`` hash alike, as do equal instants written in different zones.
        """
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()


def check_unique_line_ids(lines: tuple[Any, ...], field: str) -> None:
    """Raise when two lines share a ``line_id``; the error names the second one's position."""
    seen: set[str] = set()
    for index, line in enumerate(lines):
        if line.line_id in seen:
            raise PydanticCustomError(
                "duplicate_line_id",
                "duplicate line_id",
                {"field": f"{field}.{index}.line_id", "value": line.line_id},
            )
        seen.add(line.line_id)


def check_total(stated: Decimal, computed: Decimal, currency: str, field: str, what: str) -> None:
    """Raise when a stated total is further than the currency's tolerance from the computed one."""
    if abs(stated - computed) > amount_tolerance(currency):
        raise PydanticCustomError(
            "total_mismatch",
            "does not match {what} ({computed})",
            {"field": field, "value": str(stated), "what": what, "computed": str(computed)},
        )


LineId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


# --------------------------------------------------------------------------------------------------
# Lines
# --------------------------------------------------------------------------------------------------


def _fill(model: BaseModel, name: str, value: Any) -> None:
    """Set a derived field on a frozen model during its own validation (and only then)."""
    object.__setattr__(model, name, value)


class ItemLineBase(CanonicalModel):
    """What every item line has: its key in the source, the item, and a quantity in a stated unit.

    Quantity and unit are two fields on the line rather than a ``Quantity(value, unit)`` object: a
    line counts everything (ordered, received, billed, fulfilled) in one unit, so a single ``unit``
    next to plain Decimal quantities states it once, cannot disagree with itself, and keeps the
    arithmetic (``quantity * rate``, ``quantity - quantity_received``) readable in mappers.

    :param line_id: the source's line key (NetSuite ``line``, HotWax ``line_id``, X-Series product id).
    :param item: the item on the line.
    :param quantity: how many, in ``unit``; never negative.
    :param unit: unit of measure code of every quantity on the line.
    """

    line_id: LineId
    item: ItemRef
    quantity: Quantity
    unit: UnitCode


class PricedLineBase(ItemLineBase):
    """An item line with a price: ``amount`` defaults to ``quantity * rate``.

    The amount is checked against ``quantity * rate`` by the document, which knows the currency and
    so the rounding tolerance (see :func:`amount_tolerance`).

    :param rate: unit price in the document's currency (may be negative for discount items).
    :param amount: line amount as the source states it; computed when absent.
    """

    rate: Amount
    amount: Amount | None = None

    @model_validator(mode="after")
    def _compute_amount(self) -> Self:
        if self.amount is None:
            _fill(self, "amount", self.quantity * self.rate)
        return self

    @property
    def extended(self) -> Decimal:
        """``quantity * rate``, unrounded."""
        return self.quantity * self.rate


def check_line_amounts(lines: tuple[PricedLineBase, ...], currency: str, field: str) -> Decimal:
    """Check each line's amount against ``quantity * rate`` and return the sum of the amounts.

    :param lines: the document's priced lines.
    :param currency: the document currency, which sets the tolerance.
    :param field: the lines' field name, used in the error path (``lines.2.amount``).
    """
    total = Decimal(0)
    for index, line in enumerate(lines):
        assert line.amount is not None  # filled by PricedLineBase
        if abs(line.amount - line.extended) > amount_tolerance(currency):
            raise PydanticCustomError(
                "amount_mismatch",
                "does not match quantity * rate ({quantity} * {rate} = {computed})",
                {
                    "field": f"{field}.{index}.amount",
                    "value": str(line.amount),
                    "quantity": str(line.quantity),
                    "rate": str(line.rate),
                    "computed": str(line.extended),
                },
            )
        total += line.amount
    return total


def check_serial_numbers(serial_numbers: tuple[str, ...], quantity: Decimal) -> None:
    """Serial numbers on a line must be unique and, when given, one per unit (NetSuite's rule).

    :param serial_numbers: the line's serial numbers.
    :param quantity: the line quantity.
    """
    if not serial_numbers:
        return
    seen: set[str] = set()
    for index, serial in enumerate(serial_numbers):
        if serial in seen:
            raise PydanticCustomError(
                "duplicate_serial",
                "duplicate serial number",
                {"field": f"serial_numbers.{index}", "value": serial},
            )
        seen.add(serial)
    if Decimal(len(serial_numbers)) != quantity:
        raise PydanticCustomError(
            "serial_count",
            "{count} serial numbers for a quantity of {quantity}; a serialised item needs one per unit",
            {
                "field": "serial_numbers",
                "value": None,
                "count": len(serial_numbers),
                "quantity": str(quantity),
            },
        )


SerialNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
