"""The ``servicenow`` connection type (its form) and the settings the hook and the S2P flow read.

Table and column names the flow uses are in :class:`S2PTables`: the staging, primary and mapping tables
are ServiceNow's documented S2P names (``reference/external-systems.md`` §3.5); the account assignment
category table, the purchasing task table and the fixed-asset table are not named in the public docs,
so they are settings an instance can override.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from po_sync.exceptions import ConfigurationError
from po_sync.provider_info import SERVICENOW_CONNECTION

__all__ = ["SERVICENOW_CONNECTION", "S2PSettings", "S2PTables", "ServiceNowSettings"]

AUTH_TYPES = ("basic", "oauth")


@dataclass(frozen=True, repr=False)
class ServiceNowSettings:
    """What the hook needs, read from one Airflow connection (secrets never in ``repr``).

    :param instance_url: ``https://<instance>.service-now.com`` (a bare instance name is expanded).
    :param auth_type: ``basic`` or ``oauth``.
    :param username: the integration user.
    :param password: its password.
    :param client_id: OAuth client id (``oauth``).
    :param client_secret: OAuth client secret (``oauth``).
    :param ca_bundle: a PEM file to trust, or None for the system CAs.
    :param page_size: ``sysparm_limit`` of list reads.
    :param batch_size: requests per Batch API call.
    :param timeout: read timeout of one request, seconds.
    :param max_attempts: attempts of one request on retriable errors.
    :param max_retry_seconds: no new attempt after this long.
    """

    instance_url: str
    auth_type: str
    username: str
    password: str
    client_id: str | None = None
    client_secret: str | None = None
    ca_bundle: str | None = None
    page_size: int = 1000
    batch_size: int = 500
    timeout: float = 60.0
    max_attempts: int = 6
    max_retry_seconds: float = 120.0

    def __repr__(self) -> str:
        return f"ServiceNowSettings(instance_url={self.instance_url!r}, auth_type={self.auth_type!r}, username={self.username!r})"

    @classmethod
    def from_connection(
        cls, *, host: str | None, login: str | None, password: str | None, extra: Mapping[str, Any]
    ) -> ServiceNowSettings:
        """Validate a connection's fields.

        :raises ConfigurationError: naming the field that is missing or wrong (never its value).
        """
        if not host:
            raise ConfigurationError("servicenow connection: host (the instance URL) is required")
        url = host.strip().rstrip("/")
        if "://" not in url:
            url = f"https://{url}.service-now.com" if "." not in url else f"https://{url}"
        if urlsplit(url).scheme != "https":
            raise ConfigurationError(
                "servicenow connection: the instance URL must be https:// (ServiceNow serves HTTPS only)"
            )
        auth_type = str(extra.get("auth_type") or "basic").lower()
        if auth_type not in AUTH_TYPES:
            raise ConfigurationError(f"servicenow connection: auth_type must be one of {AUTH_TYPES}")
        if not login or not password:
            raise ConfigurationError("servicenow connection: login and password are required")
        client_id = extra.get("client_id") or None
        client_secret = extra.get("client_secret") or None
        if auth_type == "oauth" and not (client_id and client_secret):
            raise ConfigurationError("servicenow connection: oauth needs client_id and client_secret")

        def number(name: str, default: float, low: float, high: float) -> float:
            value = extra.get(name)
            if value in (None, ""):
                return default
            try:
                parsed = float(value)
            except (TypeError, ValueError):
                raise ConfigurationError(f"servicenow connection: {name} must be a number") from None
            if not low <= parsed <= high:
                raise ConfigurationError(
                    f"servicenow connection: {name} must be between {low:g} and {high:g}"
                )
            return parsed

        return cls(
            instance_url=url,
            auth_type=auth_type,
            username=login,
            password=password,
            client_id=client_id,
            client_secret=client_secret,
            ca_bundle=extra.get("ca_bundle") or None,
            page_size=int(number("page_size", 1000, 1, 10000)),
            batch_size=int(number("batch_size", 500, 1, 10000)),
            timeout=number("timeout", 60.0, 1, 3600),
            max_attempts=int(number("max_attempts", 6, 1, 50)),
            max_retry_seconds=number("max_retry_seconds", 120.0, 1, 3600),
        )


@dataclass(frozen=True)
class S2PTables:
    """Where the S2P integration reads and writes (override for an instance that differs)."""

    staging_po: str = "sn_spend_intg_outbound_purchase_order"
    staging_line: str = "sn_spend_intg_outbound_purchase_order_line"
    primary_po: str = "sn_shop_purchase_order"
    primary_line: str = "sn_shop_purchase_order_line"
    purchasing_task: str = "sn_shop_purchasing_task"
    fixed_asset: str = "sn_shop_fixed_asset"
    address_map: str = "sn_shop_erp_address_map"
    asset_category_map: str = "sn_shop_erp_asset_category_map"
    material_group_map: str = "sn_shop_erp_material_group_map"
    account_assignment_map: str = "sn_shop_erp_account_assignment_category"


#: Integration status values of the outbound staging tables (header and lines move together).
STATUS_NEW = "10"
STATUS_IN_PROCESS = "20"
STATUS_PROCESSED = "30"
STATUS_FAILED = "40"


@dataclass(frozen=True)
class S2PSettings:
    """How the S2P flow maps and behaves.

    :param tables: table names.
    :param split_threshold: a capitalised line with at least this quantity is split (S2P: 100).
    :param max_line_quantity: the most one split line holds (S2P: 99).
    :param max_retriggers: runs that retry a staging line arriving without its PO before it is failed.
    :param line_ref_field: NetSuite line field that carries the S2P purchase line (same on every split part).
    :param custom_line_fields: NetSuite line fields for the mapped asset class, material group and
        account assignment.
    """

    tables: S2PTables = field(default_factory=S2PTables)
    split_threshold: int = 100
    max_line_quantity: int = 99
    max_retriggers: int = 3
    line_ref_field: str = "custcol_s2p_purchase_line"
    custom_line_fields: Mapping[str, str] = field(
        default_factory=lambda: {
            "asset_class": "custcol_s2p_asset_class",
            "material_group": "custcol_s2p_material_group",
            "account_assignment": "custcol_s2p_account_assignment",
        }
    )
