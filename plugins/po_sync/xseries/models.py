"""Typed X-Series objects as the API 2.0 returns them (decimal strings become ``Decimal``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Outlet(_Model):
    id: str
    name: str
    version: int = 0
    deleted_at: str | None = None


class Register(_Model):
    id: str
    name: str = ""
    outlet_id: str | None = None
    deleted_at: str | None = None


class Supplier(_Model):
    id: str
    name: str
    version: int = 0
    deleted_at: str | None = None


class Product(_Model):
    id: str
    sku: str = ""
    name: str = ""
    supply_price: Decimal | None = None
    is_composite: bool = False
    active: bool = True
    version: int = 0
    deleted_at: str | None = None


class Consignment(_Model):
    """A stock order (SUPPLIER), a transfer (OUTLET), a return or a stocktake."""

    id: str
    type: str
    status: str
    outlet_id: str | None = None
    source_outlet_id: str | None = None
    supplier_id: str | None = None
    name: str | None = None
    reference: str | None = None
    due_at: str | None = None
    received_at: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    deleted_at: str | None = None
    version: int = 0


class ConsignmentProduct(_Model):
    """One line of a consignment."""

    product_id: str
    product_sku: str | None = None
    count: Decimal | None = None
    received: Decimal | None = None
    cost: Decimal | None = None
    status: str | None = None
    deleted_at: str | None = None
    version: int = 0


class Page(_Model):
    """One page of a version-cursor list: ``data`` and ``version.min``/``max`` (null when empty)."""

    data: list[dict[str, Any]] = Field(default_factory=list)
    min_version: int | None = None
    max_version: int | None = None
