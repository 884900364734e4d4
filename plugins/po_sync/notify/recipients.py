"""Who gets which mail: the ``po_sync_notifications`` Variable, checked against a JSON schema.

The Variable is read and validated each time a notice is about to go out (at run time, not at parse
time), so a change takes effect on the next failure and a mistake is reported by name in the task's
log instead of silently sending nothing. Example::

    {
      "default": {"to": ["integration-team@example.com"]},
      "flows": {
        "hotwax_po_export": {"to": ["buyer@example.com"], "cc": ["ops@example.com"]},
        "vendor_fulfillment_import": {"to": ["ap@example.com"], "events": ["digest"]}
      },
      "digest_limit": 25
    }

A flow listed under ``flows`` uses its own entry instead of ``default``; ``events`` (both by
default) says which notices it wants.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import jsonschema

from po_sync.exceptions import ConfigurationError

VARIABLE = "po_sync_notifications"
EVENTS = ("task_failure", "digest")
DEFAULT_DIGEST_LIMIT = 25

_ADDRESS = {"type": "string", "pattern": r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+$", "maxLength": 254}
_RECIPIENTS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["to"],
    "properties": {
        "to": {"type": "array", "items": _ADDRESS, "minItems": 1, "maxItems": 50},
        "cc": {"type": "array", "items": _ADDRESS, "maxItems": 50},
        "events": {"type": "array", "items": {"enum": list(EVENTS)}, "uniqueItems": True},
    },
}

#: The JSON schema of the Variable (also in the README).
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "po_sync_notifications",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "default": _RECIPIENTS,
        "flows": {
            "type": "object",
            "propertyNames": {"pattern": r"^[A-Za-z0-9_.-]{1,250}$"},
            "additionalProperties": _RECIPIENTS,
        },
        "digest_limit": {"type": "integer", "minimum": 1, "maximum": 500},
        "smtp_conn_id": {"type": "string", "minLength": 1},
        "from_email": _ADDRESS,
        "airflow_url": {"type": "string", "pattern": r"^https?://"},
    },
}


@dataclass(frozen=True)
class Recipients:
    to: list[str]
    cc: list[str]


@dataclass(frozen=True)
class NotificationSettings:
    raw: dict[str, Any]

    @property
    def digest_limit(self) -> int:
        return int(self.raw.get("digest_limit", DEFAULT_DIGEST_LIMIT))

    @property
    def smtp_conn_id(self) -> str | None:
        return self.raw.get("smtp_conn_id")

    @property
    def from_email(self) -> str | None:
        return self.raw.get("from_email")

    @property
    def airflow_url(self) -> str | None:
        return self.raw.get("airflow_url")

    def recipients(self, flow: str, event: str) -> Recipients | None:
        """Who gets ``event`` for ``flow``; None when nobody does."""
        entry = (self.raw.get("flows") or {}).get(flow) or self.raw.get("default")
        if not entry or event not in entry.get("events", EVENTS):
            return None
        return Recipients(to=list(entry["to"]), cc=list(entry.get("cc", [])))


def validate(value: Any) -> NotificationSettings:
    """Check ``value`` against :data:`SCHEMA`; the error names the offending path."""
    try:
        jsonschema.validate(value, SCHEMA)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top)"
        raise ConfigurationError(f"Variable {VARIABLE} at {where}: {exc.message}") from None
    return NotificationSettings(raw=value)


def load() -> NotificationSettings | None:
    """Read and validate the Variable; None when it is not set (nobody is notified)."""
    raw: str | None
    try:
        from airflow.sdk import Variable

        raw = Variable.get(VARIABLE, default=None)
    except Exception:  # noqa: BLE001 - outside a task (dag-processor, api-server): the env var backend
        raw = os.environ.get(f"AIRFLOW_VAR_{VARIABLE.upper()}")
    if raw in (None, ""):
        return None
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise ConfigurationError(f"Variable {VARIABLE} is not JSON: {exc}") from None
    return validate(value)
