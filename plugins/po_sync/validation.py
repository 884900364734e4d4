"""One validation layer per kind of outside value: SuiteQL literals, record ids, path components, CSV cells.

Every value that comes from outside po-sync (trigger conf, file contents, file names, S3 keys, API
responses, NetSuite's own fields) reaches a query, a URL path, a file path or a CSV cell only through
one of these functions, so a rule is written once and a reviewer has one place to read:

========================  ==========================================================================
kind                      rule
========================  ==========================================================================
SuiteQL literal           :func:`suiteql_literal`: letters, digits, space and ``_ - . / :`` only,
                          1-100 characters, then quoted (``'`` doubled): nothing can close the quote
SuiteQL integer           :func:`suiteql_int`: digits only, written back as a plain integer
record id in a URL path   :func:`record_id`: a NetSuite internal id (digits) or ``eid:<external id>``
                          (letters, digits, ``_ - . :``, never only dots); :func:`url_segment` for the
                          other systems' ids (letters, digits, ``_ -``)
path component            :func:`path_component`: one S3 key / SFTP name part, no separator, no
                          ``.``/``..``, no control character (NUL, newline...), 1-200 characters;
                          :func:`relative_path` for a configured folder (``a/b/c`` under the root)
CSV cell                  :func:`csv_cell`: a cell beginning with ``= + - @``, a tab or a carriage
                          return is written with a leading ``'`` (OWASP "CSV injection"), so no
                          spreadsheet reads it as a formula; plain numbers (``-5``, ``+1.25``) stay
========================  ==========================================================================

Patterns are always applied with ``fullmatch`` (a ``$`` in ``re.match`` also accepts a trailing
newline). A refused value raises :class:`UnsafeValueError` (a :class:`RecordValidationError`, so one
bad record is quarantined and the run goes on); code that validates its own configuration turns it
into a :class:`ConfigurationError` with :func:`config_path`.
"""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any

from po_sync.exceptions import ConfigurationError, RecordValidationError

__all__ = [
    "DOCUMENT_NUMBER_RULE",
    "MAX_PATH_COMPONENT",
    "PATH_COMPONENT_RULE",
    "RECORD_ID_RULE",
    "SAFE_IDENTIFIER_RULE",
    "UnsafeValueError",
    "config_path",
    "csv_cell",
    "csv_cell_value",
    "document_numbers_param",
    "is_document_number",
    "is_field_id",
    "is_internal_id",
    "is_path_component",
    "is_record_id",
    "is_safe_identifier",
    "join_under",
    "path_component",
    "record_id",
    "relative_path",
    "suiteql_int",
    "suiteql_literal",
    "suiteql_string",
    "url_segment",
]


class UnsafeValueError(RecordValidationError):
    """An outside value may not go where it was headed (a query, a URL path, a file path)."""

    default_code = "UNSAFE_VALUE"


#: Control characters: NUL, line breaks, tabs, DEL and the Unicode line/paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")

# ------------------------------------------------------------------------------------ SuiteQL literals

_SAFE_LITERAL = re.compile(r"[A-Za-z0-9 _\-./:]{1,100}")
#: What :func:`suiteql_literal` accepts, in words (for messages that tell a person what to fix).
SAFE_IDENTIFIER_RULE = "letters, digits, spaces and _ - . / : only, 1 to 100 characters"


def is_safe_identifier(value: object) -> bool:
    """Whether ``value`` may go into a SuiteQL literal as a document number or id."""
    return isinstance(value, str) and _SAFE_LITERAL.fullmatch(value) is not None


def suiteql_literal(value: object) -> str:
    """A quoted SuiteQL string literal for an id-like value; anything else is refused (no injection).

    :raises UnsafeValueError: code ``BAD_IDENTIFIER``.
    """
    if not isinstance(value, str) or not is_safe_identifier(value):
        raise UnsafeValueError(f"{value!r} is not a valid document number or id", code="BAD_IDENTIFIER")
    return "'" + value.replace("'", "''") + "'"


#: The longest free-text value (an item name, a SKU) :func:`suiteql_string` quotes.
MAX_SUITEQL_STRING = 300


def suiteql_string(value: object) -> str:
    """A quoted SuiteQL string literal for free text read from outside (an X-Series SKU, an MPN).

    Any printable text up to :data:`MAX_SUITEQL_STRING` characters; ``'`` is doubled, so the literal
    always ends where it should. Control characters (NUL, line breaks) are refused: no item name
    holds one, and a query log should not.

    :raises UnsafeValueError: code ``BAD_IDENTIFIER``.
    """
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= MAX_SUITEQL_STRING
        or _CONTROL.search(value) is not None
    ):
        raise UnsafeValueError(
            f"{str(value)[:120]!r} cannot be looked up in NetSuite (1 to {MAX_SUITEQL_STRING} "
            "printable characters)",
            code="BAD_IDENTIFIER",
        )
    return "'" + value.replace("'", "''") + "'"


_FIELD_ID = re.compile(r"[a-z][a-z0-9_]{0,99}")


def is_field_id(value: object) -> bool:
    """Whether ``value`` is a NetSuite field / column id (``custbody_hc_order_exported``), safe to name
    in a SuiteQL query unquoted."""
    return isinstance(value, str) and _FIELD_ID.fullmatch(value) is not None


_INTERNAL_ID = re.compile(r"[0-9]{1,18}")


def is_internal_id(value: object) -> bool:
    """Whether ``value`` is a NetSuite internal id (digits only), safe in a URL path and as ``int()``."""
    return isinstance(value, str) and _INTERNAL_ID.fullmatch(value) is not None


def suiteql_int(value: object) -> str:
    """An internal id as a SuiteQL integer (``int`` or a string of digits only).

    :raises UnsafeValueError: code ``BAD_IDENTIFIER``.
    """
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**18:
        return str(value)
    if not is_internal_id(value):
        raise UnsafeValueError(
            f"{value!r} is not a NetSuite internal id (digits only)", code="BAD_IDENTIFIER"
        )
    return str(int(str(value)))


# ---------------------------------------------------------------------------- document numbers (params)

#: What a document number named in a trigger param may be (NetSuite ``tranId`` or internal id), in words.
DOCUMENT_NUMBER_RULE = "letters, digits, _ and - only, 1 to 40 characters"
_DOCUMENT_NUMBER = re.compile(r"[A-Za-z0-9_-]{1,40}")


def is_document_number(value: object) -> bool:
    """Whether ``value`` is a document number as a trigger param may name one (:data:`DOCUMENT_NUMBER_RULE`)."""
    return isinstance(value, str) and _DOCUMENT_NUMBER.fullmatch(value) is not None


def document_numbers_param(value: object, *, param: str, rule: str | None = None) -> list[str]:
    """The document numbers a trigger param names (``resync_po_numbers`` and the like), validated.

    One parser for every flow, so a param is read the same way everywhere and a bad value is named
    as a bad param before it can reach a SuiteQL literal or a URL path. Accepts nothing (``None``,
    ``""``), a JSON list, a string separated by commas or white space, or a list of strings/numbers.

    :param value: the rendered param.
    :param param: its name, for the message a person reads.
    :param rule: use :func:`is_safe_identifier` (the SuiteQL literal rule, described by this text)
        instead of the stricter :data:`DOCUMENT_NUMBER_RULE`.
    :raises ConfigurationError: naming the param and the values that are not document numbers.
    """
    if value is None or (isinstance(value, str) and value.strip() in ("", "None")):
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise ConfigurationError(
                    f"{param}: not a JSON list of document numbers: {text[:80]!r}"
                ) from None
        else:
            value = [v for v in re.split(r"[\s,]+", text) if v]
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in value
    ):
        raise ConfigurationError(f"{param}: must be a list of document numbers, got {str(value)[:80]!r}")
    numbers = [str(v).strip() for v in value]
    check = is_document_number if rule is None else is_safe_identifier
    bad = [v for v in numbers if not check(v)]
    if bad:
        raise ConfigurationError(
            f"{param}: {bad!r} are not document numbers ({rule or DOCUMENT_NUMBER_RULE})"
        )
    return numbers


# ------------------------------------------------------------------------------------- record ids

_EXTERNAL_ID = re.compile(r"[A-Za-z0-9_\-.:]{1,255}")
#: What :func:`record_id` accepts, in words.
RECORD_ID_RULE = "digits (an internal id) or eid:<external id> of letters, digits and _ - . :"


def is_record_id(value: object) -> bool:
    """Whether ``value`` may be the id segment of ``/record/v1/<type>/<id>`` (see :func:`record_id`)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return 0 <= value < 10**18
    if not isinstance(value, str):
        return False
    if value.startswith("eid:"):
        external = value[4:]
        return _EXTERNAL_ID.fullmatch(external) is not None and external.strip(".") != ""
    return is_internal_id(value)


def record_id(value: object) -> str:
    """A NetSuite record id for a URL path: digits, or ``eid:<external id>``; nothing else reaches the URL.

    :raises UnsafeValueError: code ``BAD_RECORD_ID``.
    """
    if not is_record_id(value):
        raise UnsafeValueError(
            f"{str(value)[:120]!r} is not a NetSuite record id ({RECORD_ID_RULE})", code="BAD_RECORD_ID"
        )
    return str(value)


_URL_SEGMENT = re.compile(r"[A-Za-z0-9_\-]{1,128}")


def url_segment(value: object, *, what: str = "id") -> str:
    """An X-Series / ServiceNow id (a UUID, a ``sys_id``, a table name) as one URL path segment.

    :raises UnsafeValueError: code ``BAD_RECORD_ID``.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or _URL_SEGMENT.fullmatch(value) is None:
        raise UnsafeValueError(
            f"{what} {str(value)[:120]!r} may not go into a URL path (letters, digits, _ and - only)",
            code="BAD_RECORD_ID",
        )
    return value


# --------------------------------------------------------------------------------- path components

#: The longest name part we write (S3 allows 1024 bytes a key, SFTP servers 255 a name: room for suffixes).
MAX_PATH_COMPONENT = 200
#: What :func:`path_component` accepts, in words.
PATH_COMPONENT_RULE = (
    f"one name of 1 to {MAX_PATH_COMPONENT} characters without / or \\, control characters "
    "(NUL, line breaks, tabs), and not . or .."
)


def is_path_component(value: object) -> bool:
    """Whether ``value`` is one safe file or folder name (see :data:`PATH_COMPONENT_RULE`)."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_PATH_COMPONENT
        and value not in (".", "..")
        and "/" not in value
        and "\\" not in value
        and _CONTROL.search(value) is None
    )


def path_component(value: object, *, what: str = "name") -> str:
    """``value`` as one part of an S3 key or SFTP path, or :class:`UnsafeValueError` (``UNSAFE_PATH``).

    :param what: what the value is (``PO number``, ``file name``), for the message.
    """
    if not is_path_component(value):
        raise UnsafeValueError(
            f"{what} {str(value)[:120]!r} cannot be part of a file name or key ({PATH_COMPONENT_RULE})",
            code="UNSAFE_PATH",
        )
    return str(value)


def relative_path(value: object, *, what: str = "folder") -> str:
    """A folder relative to a configured root (``a/b/c``): every part a :func:`path_component`.

    No absolute path, no ``..``, no empty part; a trailing ``/`` is dropped. ``""`` is refused too:
    a folder must be named.

    :raises UnsafeValueError: code ``UNSAFE_PATH``.
    """
    if not isinstance(value, str) or not value.strip("/") or value.startswith("/"):
        raise UnsafeValueError(
            f"{what} {str(value)[:120]!r} must be a relative path under the root (not absolute, not empty)",
            code="UNSAFE_PATH",
        )
    parts = value.rstrip("/").split("/")
    for part in parts:
        if not is_path_component(part):
            raise UnsafeValueError(
                f"{what} {value[:120]!r}: part {part[:60]!r} is not allowed ({PATH_COMPONENT_RULE})",
                code="UNSAFE_PATH",
            )
    return "/".join(parts)


def join_under(root: str, *components: object, what: str = "name") -> str:
    """``root/c1/c2...`` with each component checked by :func:`path_component`, so the result never
    leaves ``root``."""
    parts = [path_component(c, what=what) for c in components]
    return posixpath.join(root, *parts) if root else posixpath.join(*parts)


def config_path(value: object, *, what: str) -> str:
    """:func:`relative_path` for an operator argument or setting: a refusal is a :class:`ConfigurationError`."""
    try:
        return relative_path(value, what=what)
    except UnsafeValueError as exc:
        raise ConfigurationError(exc.message) from None


# ---------------------------------------------------------------------------------------- CSV cells

#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def _is_formula(text: str) -> bool:
    """Whether a spreadsheet could read ``text`` (leading ``'`` aside) as a formula."""
    bare = text.lstrip("'")
    return bare.startswith(FORMULA_STARTS) and _PLAIN_NUMBER.fullmatch(bare) is None


def csv_cell(value: Any) -> str:
    """A cell value for a CSV that people or spreadsheets open: formulas are neutralised.

    A value beginning with ``= + - @``, a tab or a carriage return gets a leading ``'`` (Excel,
    LibreOffice and Google Sheets then show it as text); a plain number such as ``-5`` or
    ``+1.25`` is left alone, as it cannot be a formula. ``None`` is ``""``. A value that already
    begins with ``'`` before such a character gets one more, so :func:`csv_cell_value` gives back
    exactly what was written.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return "'" + text if _is_formula(text) else text


def csv_cell_value(cell: str) -> str:
    """The value :func:`csv_cell` wrote (its ``'`` taken off again), for our own readers of such CSVs."""
    if cell.startswith("'") and _is_formula(cell[1:]):
        return cell[1:]
    return cell
