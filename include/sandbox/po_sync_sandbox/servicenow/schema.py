"""The tables the ServiceNow stand-in serves: S2P outbound staging, primary procurement records, the ERP
mapping tables and the purchasing tasks, with their reference fields and choice labels.

Names of the staging, primary and mapping tables and of the documented columns come from ServiceNow's
S2P docs (``reference/external-systems.md`` §3.5). Where the docs name a concept but not its table or
column (account assignment categories, integration-error purchasing tasks, fixed assets, blanket
release links) the names below are this sandbox's choice; the flow reads them from its settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STAGING_PO = "sn_spend_intg_outbound_purchase_order"
STAGING_LINE = "sn_spend_intg_outbound_purchase_order_line"
PRIMARY_PO = "sn_shop_purchase_order"
PRIMARY_LINE = "sn_shop_purchase_order_line"
REQUISITION = "sn_shop_purchase_requisition"
PURCHASING_TASK = "sn_shop_purchasing_task"
FIXED_ASSET = "sn_shop_fixed_asset"
ADDRESS_MAP = "sn_shop_erp_address_map"
ASSET_CATEGORY_MAP = "sn_shop_erp_asset_category_map"
MATERIAL_GROUP_MAP = "sn_shop_erp_material_group_map"
ACCOUNT_ASSIGNMENT_MAP = "sn_shop_erp_account_assignment_category"
SUPPLIER = "sn_fin_supplier"
USER = "sys_user"

INTEGRATION_STATUS = {"5": "Draft", "10": "New", "20": "In process", "30": "Processed", "40": "Failed"}
PO_STATUS = {
    "draft": "Draft",
    "pending_submission": "Pending Submission",
    "ordered": "Ordered",
    "canceled": "Canceled",
    "closed": "Closed",
}
ORDER_TYPE = {"standard": "Standard", "blanket": "Blanket"}


@dataclass(frozen=True)
class TableDef:
    """One table: its display field, reference fields (``field -> table``) and choice labels."""

    name: str
    display: str = "number"
    references: dict[str, str] = field(default_factory=dict)
    choices: dict[str, dict[str, str]] = field(default_factory=dict)
    number_prefix: str | None = None


TABLES: dict[str, TableDef] = {
    t.name: t
    for t in (
        TableDef(
            STAGING_PO,
            display="purchase_order_number",
            references={"purchase_order": PRIMARY_PO, "business_owner": USER},
            choices={
                "integration_status": INTEGRATION_STATUS,
                "purchase_order_status": PO_STATUS,
                "order_type": ORDER_TYPE,
            },
        ),
        TableDef(
            STAGING_LINE,
            display="purchase_order_line_number",
            references={"purchase_order": STAGING_PO, "purchase_order_line": PRIMARY_LINE},
            choices={"integration_status": INTEGRATION_STATUS},
        ),
        TableDef(
            PRIMARY_PO,
            references={"purchase_requisition": REQUISITION, "supplier": SUPPLIER},
            choices={"status": PO_STATUS, "order_type": ORDER_TYPE},
            number_prefix="PO",
        ),
        TableDef(PRIMARY_LINE, references={"purchase_order": PRIMARY_PO}, number_prefix="POL"),
        TableDef(REQUISITION, choices={"status": PO_STATUS}, number_prefix="PREQ"),
        TableDef(
            PURCHASING_TASK,
            references={"purchase_requisition": REQUISITION, "purchase_order": PRIMARY_PO},
            number_prefix="PTSK",
        ),
        TableDef(FIXED_ASSET, display="asset_tag", references={"purchase_order_line": PRIMARY_LINE}),
        TableDef(ADDRESS_MAP, display="location"),
        TableDef(ASSET_CATEGORY_MAP, display="capitalization_policy"),
        TableDef(MATERIAL_GROUP_MAP, display="model_category"),
        TableDef(ACCOUNT_ASSIGNMENT_MAP, display="account_assignment_category"),
        TableDef(SUPPLIER, display="name"),
        TableDef(USER, display="user_name"),
    )
}

#: Import set staging tables (``/api/now/import/<table>``) and the transform maps behind them: ERP -> S2P
#: inbound, as the ERP Integration Framework documents them (``sn_fcms_intg_imp_order``, ``..._line``).
IMPORT_ORDER = "sn_fcms_intg_imp_order"
IMPORT_ORDER_LINE = "sn_fcms_intg_imp_order_line"


@dataclass(frozen=True)
class TransformMap:
    """What an import row becomes: the target table, the coalesce fields (update when one matches),
    and a reference resolved by the referenced record's number (``field -> (target table, import column)``)."""

    name: str
    target: str
    coalesce: tuple[str, ...]
    references: dict[str, tuple[str, str]] = field(default_factory=dict)


IMPORT_SETS: dict[str, TransformMap] = {
    IMPORT_ORDER: TransformMap("Order stage", PRIMARY_PO, ("number",)),
    IMPORT_ORDER_LINE: TransformMap(
        "Order line stage",
        PRIMARY_LINE,
        ("purchase_order", "line_number"),
        references={"purchase_order": (PRIMARY_PO, "purchase_order_number")},
    ),
}
for _name in IMPORT_SETS:
    TABLES[_name] = TableDef(_name, display="sys_id")
