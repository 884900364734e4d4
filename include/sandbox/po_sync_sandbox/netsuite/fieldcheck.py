"""``X-NetSuite-PropertyNameValidation``: body field names of writes checked against the record definition.

NetSuite's REST API takes the header on writes (create, update, upsert, transform): ``Error`` rejects a body
naming a field the record type does not define (400 with the nsError envelope, one detail per field and its
``o:errorPath``); ``Warning`` and ``Ignore`` drop such fields and carry on. Without the header the account
default applies (Oracle's OpenAPI: ``Warning``; the knob ``property_name_validation``). Either way an unknown
field is never stored, so the sandbox cannot accept a typo that real NetSuite would lose.

Only names are checked, recursively through sublist lines (``item.items[0].custcol_x``); the inside of
references, selects and subrecords (addresses, ``inventoryDetail``) is left to the value checks of the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from po_sync_sandbox.netsuite.nserrors import NsError
from po_sync_sandbox.netsuite.record_fields import SUBLIST, RecordDefinition

HEADER = "X-NetSuite-PropertyNameValidation"
MODES = ("error", "warning", "ignore")
#: keys a client may echo back from a GET body; never stored, never an error
_ECHOED = {"links"}
_COLLECTION_KEYS = {"items", "links", "totalresults", "count", "hasmore", "offset"}


@dataclass
class NameCheck:
    """What a check found: the body without unknown fields, and their JSON paths."""

    body: dict[str, Any]
    unknown: list[str] = field(default_factory=list)


def validation_mode(header_value: str | None, default: str) -> str:
    """The mode a request asks for (case-insensitive), else the account default.

    :raises NsError: 400 ``INVALID_HEADER`` for a value other than Error / Warning / Ignore.
    """
    value = (header_value if header_value is not None else default).strip().lower()
    if value not in MODES:
        raise NsError(
            400,
            "INVALID_HEADER",
            f"Invalid value '{header_value}' for the header {HEADER}. Use one of: Error, Warning, Ignore.",
            header=HEADER,
        )
    return value


def check_names(definition: RecordDefinition, body: dict[str, Any]) -> NameCheck:
    """The body with only fields the definition has (names in any casing), and the paths of the others."""
    unknown: list[str] = []
    clean: dict[str, Any] = {}
    for key, value in body.items():
        if key.lower() in _ECHOED:
            continue
        f = definition.get(key)
        if f is None:
            unknown.append(key)
            continue
        if f.kind == SUBLIST and isinstance(value, dict):
            clean[key] = _check_sublist(f, key, value, unknown)
        else:
            clean[key] = value
    return NameCheck(clean, unknown)


def _check_sublist(sublist: Any, path: str, value: dict[str, Any], unknown: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, inner in value.items():
        if key.lower() not in _COLLECTION_KEYS:
            unknown.append(f"{path}.{key}")
            continue
        if key.lower() == "items" and isinstance(inner, list):
            lines = []
            for index, line in enumerate(inner):
                if not isinstance(line, dict):
                    lines.append(line)
                    continue
                kept = {}
                for name, line_value in line.items():
                    if name.lower() in _ECHOED:
                        continue
                    if sublist.line_field(name) is None:
                        unknown.append(f"{path}.items[{index}].{name}")
                        continue
                    kept[name] = line_value
                lines.append(kept)
            out[key] = lines
        elif key.lower() == "items":
            out[key] = inner
    return out


def enforce(definition: RecordDefinition, body: dict[str, Any], mode: str, code: str) -> NameCheck:
    """Apply ``mode`` to a write body.

    :returns: the body to store (unknown fields dropped) and what was dropped.
    :raises NsError: 400 ``code`` listing every unknown field when ``mode`` is ``error``.
    """
    result = check_names(definition, body)
    if result.unknown and mode == "error":
        details = [
            (
                f"Error while accessing a resource. The field {path.rsplit('.', 1)[-1]} does not exist on the "
                f"record type {definition.name} ({path}).",
                path,
            )
            for path in result.unknown
        ]
        first, first_path = details[0]
        raise NsError(400, code, first, path=first_path, more=details[1:])
    return result
