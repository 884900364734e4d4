"""Readable validation errors: which record, which file, which field, which value, what is wrong.

A quarantined record is only useful if the person reading the ledger can fix it without a debugger,
so pydantic's ``ValidationError`` is flattened into one line such as::

    PO PO-1001 (file vendor_a/fulfilment_1.json): lines.2.quantity = '-3': must be >= 0

Cross-field checks (totals, duplicate lines, serial counts) are raised by document validators whose
pydantic location is the document itself; they put the real field path and value in the error's
``ctx`` (keys ``field`` and ``value``), which is used here in place of the location and input.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from po_sync.exceptions import RecordValidationError

__all__ = ["describe_validation_error", "record_validation_error"]

_MAX_VALUE_CHARS = 80
_NO_VALUE_TYPES = frozenset({"missing"})
_MISSING = object()


def _path(loc: tuple[int | str, ...], extra: str | None) -> str:
    # Drop pydantic's internal schema steps such as "function-after[...]" from the location.
    parts = [str(p) for p in loc if not (isinstance(p, str) and "[" in p)]
    if extra:
        parts.append(extra)
    return ".".join(parts) or "(record)"


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 3] + "..."
    return text


def _message(error: ErrorDetails) -> str:
    msg = str(error.get("msg", ""))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    return msg


def describe_validation_error(
    exc: ValidationError, *, record: str, source: str | None = None, source_kind: str = "file"
) -> str:
    """Turn a pydantic ``ValidationError`` into one line a person can act on.

    :param exc: the error raised by ``model_validate`` / the model constructor.
    :param record: how people name the record, e.g. ``"PO PO-1001"`` or ``"receipt 8302919"``.
    :param source: where it came from (a file path or key), shown in brackets when given.
    :param source_kind: the word before ``source`` (``file`` by default; ``""`` for none), so that a
        record read from an API can say ``(netsuite purchaseOrder/607632)``.
    :return: ``"<record> (<source_kind> <source>): <path> = <value>: <message>; ..."``; a field
        without a value (missing) reads ``<path>: <message>``.
    """
    head = record
    if source:
        head += f" ({source_kind} {source})" if source_kind else f" ({source})"
    parts: list[str] = []
    for error in exc.errors(include_url=False):
        ctx = error.get("ctx") or {}
        field = ctx.get("field") if isinstance(ctx.get("field"), str) else None
        value: Any = ctx.get("value", _MISSING) if field else error.get("input", _MISSING)
        path = _path(tuple(error.get("loc", ())), field)
        if error.get("type") in _NO_VALUE_TYPES or value is _MISSING or (field and value is None):
            parts.append(f"{path}: {_message(error)}")
        else:
            parts.append(f"{path} = {_show(value)}: {_message(error)}")
    return f"{head}: " + "; ".join(parts)


def record_validation_error(
    exc: ValidationError,
    *,
    record: str,
    source: str | None = None,
    record_id: str | None = None,
    source_kind: str = "file",
) -> RecordValidationError:
    """The package's :class:`~po_sync.exceptions.RecordValidationError` for a failed validation.

    Operators catch ``ValidationError`` per record, turn it into this, and quarantine the record
    with the message in the ledger (code ``VALIDATION_ERROR``).

    :param exc: the pydantic error.
    :param record: how people name the record (see :func:`describe_validation_error`).
    :param source: the file or key it came from.
    :param record_id: the source id, stored with the error.
    :param source_kind: the word before ``source``.
    """
    message = describe_validation_error(exc, record=record, source=source, source_kind=source_kind)
    return RecordValidationError(message, record_id=record_id)
