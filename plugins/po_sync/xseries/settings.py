"""The X-Series flows' settings table: NetSuite location <-> X-Series outlet, supplier <-> vendor.

The proposal keeps these in NetSuite custom records ("Vend outlets" mapping locations to outlets); here
they are one JSON document (a file shipped under ``include/config/xseries/`` or an Airflow Variable),
validated before any record moves: a map that names one outlet for two locations, or an empty name, is a
:class:`~po_sync.exceptions.ConfigurationError` naming the entry. Outlets may be given by name or id;
:meth:`XSeriesSettingsTable.resolve` turns names into ids with the retailer's own outlet list.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from po_sync.exceptions import ConfigurationError

DEFAULT_SETTINGS_PATH = (
    Path(__file__).resolve().parents[3] / "include" / "config" / "xseries" / "settings.json"
)


class XSeriesSettingsTable(BaseModel):
    """Validated mapping settings.

    :param locations: NetSuite location internal id -> outlet name or id.
    :param suppliers: X-Series supplier name or id -> NetSuite vendor internal id.
    :param default_vendor_id: vendor for a POS order without a mapped supplier (None = quarantine it).
    :param error_writeback: ``field`` (``custbody_vend_error``), ``record`` (``customrecord_vend_po_sync``)
        or ``off``: where each order's sync error is copied in NetSuite.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    locations: dict[str, str] = Field(default_factory=dict)
    suppliers: dict[str, str] = Field(default_factory=dict)
    default_vendor_id: str | None = None
    #: where a per-order sync error is copied in NetSuite (:mod:`po_sync.xseries.writeback`): the order's
    #: ``custbody_vend_error`` field, the proposal's error custom record, or nowhere
    error_writeback: Literal["field", "record", "off"] = "field"

    @field_validator("locations")
    @classmethod
    def _one_outlet_per_location(cls, value: dict[str, str]) -> dict[str, str]:
        seen: dict[str, str] = {}
        for location, outlet in value.items():
            if not location.strip().isdigit():
                raise ValueError(f"location {location!r} is not a NetSuite internal id")
            if not outlet.strip():
                raise ValueError(f"location {location} maps to an empty outlet")
            if outlet in seen:
                raise ValueError(f"outlet {outlet!r} is mapped from locations {seen[outlet]} and {location}")
            seen[outlet] = location
        return value

    @classmethod
    def load(cls, source: str | Path | Mapping[str, Any] | None = None) -> XSeriesSettingsTable:
        """From a mapping, a JSON string, a JSON file path, or the shipped default file."""
        try:
            if source is None:
                data: Any = json.loads(DEFAULT_SETTINGS_PATH.read_text())
            elif isinstance(source, Mapping):
                data = dict(source)
            elif isinstance(source, str) and source.lstrip().startswith("{"):
                data = json.loads(source)
            else:
                data = json.loads(Path(source).read_text())
            return cls.model_validate(data)
        except (OSError, ValueError) as exc:
            if isinstance(exc, ValidationError):
                problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                raise ConfigurationError(f"X-Series settings are invalid: {problems}") from None
            raise ConfigurationError(f"X-Series settings cannot be read: {exc}") from None

    def resolve(self, outlets: Iterable[tuple[str, str]]) -> OutletMap:
        """Turn outlet names into ids with the retailer's ``(id, name)`` list; unknown outlets are an error."""
        by_name = {name: oid for oid, name in outlets}
        ids = set(by_name.values())
        resolved: dict[str, str] = {}
        for location, outlet in self.locations.items():
            if outlet in ids:
                resolved[location] = outlet
            elif outlet in by_name:
                resolved[location] = by_name[outlet]
            else:
                raise ConfigurationError(
                    f"X-Series settings: location {location} maps to unknown outlet {outlet!r}"
                )
        return OutletMap(resolved)


class OutletMap:
    """NetSuite location id <-> outlet id, both ways (one outlet per location)."""

    def __init__(self, location_to_outlet: Mapping[str, str]) -> None:
        self.location_to_outlet = dict(location_to_outlet)
        self.outlet_to_location = {v: k for k, v in self.location_to_outlet.items()}

    def outlet(self, location_id: str | None) -> str | None:
        return self.location_to_outlet.get(str(location_id)) if location_id else None

    def location(self, outlet_id: str | None) -> str | None:
        return self.outlet_to_location.get(str(outlet_id)) if outlet_id else None


#: The Airflow Variable that holds the settings table in a deployment (the shipped file's JSON shape).
VARIABLE_KEY = "po_sync_xseries"


def load_settings_table(
    settings: str | Path | Mapping[str, Any] | None = None, *, variable_key: str = VARIABLE_KEY
) -> XSeriesSettingsTable:
    """The settings table in force now: ``settings`` when given, else the Airflow Variable.

    The Variable is read when a task runs (never at DAG parse), so an edited outlet map takes effect on
    the next run. Outside a sandbox an unset Variable is a :class:`ConfigurationError` naming it: a
    production run must not move stock between the example outlets. Only with ``[po_sync] dev_mode``
    does it fall back to ``include/config/xseries/settings.json`` (the sandbox's outlets).

    :param settings: an explicit table (mapping, JSON text or file path), e.g. an operator argument.
    :param variable_key: the Variable to read.
    """
    if settings is not None:
        return XSeriesSettingsTable.load(settings)
    from airflow.sdk import Variable

    from po_sync.dev_mode import OPTION, SECTION, dev_mode

    sandbox = dev_mode()
    try:
        value = Variable.get(variable_key, default=None)
    except Exception as exc:  # noqa: BLE001 - no Variable backend reachable (plain scripts)
        if not sandbox:
            raise ConfigurationError(
                f"Airflow Variable {variable_key!r} (the X-Series settings) could not be read: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        value = None
    if value:
        try:
            return XSeriesSettingsTable.load(value if isinstance(value, str) else json.dumps(value))
        except ConfigurationError as exc:
            raise ConfigurationError(f"Airflow Variable {variable_key!r}: {exc}") from None
    if not sandbox:
        raise ConfigurationError(
            f"Airflow Variable {variable_key!r} (the X-Series outlet <-> location map) is not set: set it to "
            f"the JSON of {DEFAULT_SETTINGS_PATH.name}. Only a sandbox ([{SECTION}] {OPTION} = True) falls "
            "back to the example file."
        )
    return XSeriesSettingsTable.load(None)
