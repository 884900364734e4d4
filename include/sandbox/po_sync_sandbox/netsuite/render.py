"""How stored documents look on the wire: references with refName and links, sublists, status."""

from __future__ import annotations

from typing import Any

from po_sync_sandbox.netsuite.schema import ENTITY, ITEM, LOCATION, REFERENCE_FAMILY, TRANSACTION, RecordType
from po_sync_sandbox.netsuite.store import Store

_FAMILY_TYPE = {
    ITEM: "inventoryItem",
    LOCATION: "location",
    "subsidiary": "subsidiary",
    "currency": "currency",
}


class Renderer:
    """Turns documents into NetSuite JSON for one request (links use the host the client called).

    :param store: the data.
    :param rest_root: ``http://<host>/services/rest``.
    :param lowercase_links: lower-case record types in hrefs.
    """

    def __init__(self, store: Store, rest_root: str, lowercase_links: bool) -> None:
        self.store = store
        self.rest_root = rest_root
        self.lowercase_links = lowercase_links

    def type_segment(self, type_name: str) -> str:
        """The record type as it appears in URLs."""
        return type_name.lower() if self.lowercase_links else type_name

    def record_url(self, type_name: str, record_id: str | int) -> str:
        """Absolute URL of a record."""
        return f"{self.rest_root}/record/v1/{self.type_segment(type_name)}/{record_id}"

    def _ref(self, field: str, value: dict[str, Any]) -> dict[str, Any]:
        family = REFERENCE_FAMILY.get(field)
        ref_id = str(value.get("id"))
        out: dict[str, Any] = {"id": ref_id}
        if family is None:
            return {**value, "id": ref_id}
        name = self.store.name_of(family, ref_id)
        if family in (ENTITY, TRANSACTION):
            type_key = self.store.type_of(family, ref_id)
            type_name = self.store.record_type(type_key).name if type_key else None
        else:
            type_name = _FAMILY_TYPE.get(family)
        if name is not None:
            out["refName"] = name
        out["links"] = [{"rel": "self", "href": self.record_url(type_name, ref_id)}] if type_name else []
        return out

    def _fields(self, values: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in values.items():
            if key.startswith("_"):
                continue
            if isinstance(value, dict) and "id" in value and key in REFERENCE_FAMILY:
                out[key] = self._ref(key, value)
            else:
                out[key] = value
        return out

    def sublist(self, rtype: RecordType, doc: dict[str, Any], name: str) -> dict[str, Any]:
        """An expanded sublist collection ``{links, items, totalResults}``."""
        base = f"{self.record_url(rtype.name, doc['id'])}/{name}"
        items = []
        for line in (doc.get(name) or {}).get("items", []):
            rendered = self._fields(line)
            rendered = {"links": [{"rel": "self", "href": f"{base}/{line['line']}"}], **rendered}
            items.append(rendered)
        return {"links": [{"rel": "self", "href": base}], "items": items, "totalResults": len(items)}

    def line(self, rtype: RecordType, doc: dict[str, Any], name: str, line_no: int) -> dict[str, Any] | None:
        """One sublist line."""
        for item in self.sublist(rtype, doc, name)["items"]:
            if int(item.get("line", -1)) == line_no:
                return item
        return None

    def record(
        self, rtype: RecordType, doc: dict[str, Any], *, expand: bool, fields: list[str] | None
    ) -> dict[str, Any]:
        """A record as ``GET /record/v1/<type>/<id>`` returns it."""
        self_href = self.record_url(rtype.name, doc["id"]) + ("?expandSubResources=true" if expand else "")
        out: dict[str, Any] = {"links": [{"rel": "self", "href": self_href}]}
        wanted = {f.lower() for f in fields} if fields else None
        body = {k: v for k, v in doc.items() if k not in rtype.sublists}
        rendered = self._fields(body)
        if rtype.family == TRANSACTION and "_status" in doc:
            text = self.store.status_text(rtype, doc["_status"])
            if rtype.code in ("PurchOrd", "SalesOrd", "TrnfrOrd", "VendBill", "ItemShip"):
                rendered["status"] = {"id": text, "refName": text}
            if rtype.code in ("PurchOrd", "SalesOrd", "TrnfrOrd"):
                rendered["orderStatus"] = {"id": doc["_status"], "refName": doc["_status"]}
        for key, value in rendered.items():
            if wanted is None or key.lower() in wanted or key == "id":
                out[key] = value
        for name in rtype.sublists:
            if wanted is not None and name not in wanted:
                continue
            if expand:
                out[name] = self.sublist(rtype, doc, name)
            else:
                out[name] = {
                    "links": [{"rel": "self", "href": f"{self.record_url(rtype.name, doc['id'])}/{name}"}]
                }
        return out
