"""The metadata catalog and property-name validation, called the way a client written from Oracle's docs does:
raw signed requests (OAuth 1.0a HMAC-SHA256, as requests-oauthlib / Airbyte send them), no hook in between."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import requests
from openapi_spec_validator import validate
from requests_oauthlib import OAuth1

from po_sync_sandbox.netsuite import NetSuiteService
from po_sync_sandbox.netsuite.record_fields import (
    DEFINITIONS,
    Field,
    add_fields,
    add_line_fields,
    definition_for,
)
from po_sync_sandbox.netsuite.schema import CUSTOM_BODY_FIELDS, RECORD_TYPES

SCHEMA = {"Accept": "application/schema+json"}
SWAGGER = {"Accept": "application/swagger+json"}
HEADER = "X-NetSuite-PropertyNameValidation"


def _auth(netsuite: NetSuiteService) -> OAuth1:
    creds = netsuite.credentials
    return OAuth1(
        creds.consumer_key,
        creds.consumer_secret,
        creds.token_id,
        creds.token_secret,
        realm=netsuite.realm,
        signature_method="HMAC-SHA256",
    )


def _call(netsuite: NetSuiteService, method: str, path: str, **kwargs: Any) -> requests.Response:
    url = f"{netsuite.base_url}/services/rest/record/v1/{path}"
    return requests.request(method, url, auth=_auth(netsuite), timeout=30, **kwargs)


def _schema(netsuite: NetSuiteService, type_name: str) -> dict[str, Any]:
    response = _call(netsuite, "GET", f"metadata-catalog/{type_name}", headers=SCHEMA)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/schema+json")
    return response.json()


def _error(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) >= {"type", "title", "status", "o:errorDetails"}
    assert body["status"] == response.status_code
    return body


# -- JSON Schema ------------------------------------------------------------------------------------


def test_catalog_lists_every_served_type_with_links(netsuite: NetSuiteService) -> None:
    response = _call(netsuite, "GET", "metadata-catalog")
    assert response.status_code == 200
    items = response.json()["items"]
    names = {item["name"] for item in items}
    assert {t.name for t in RECORD_TYPES.values()} <= names
    assert "customrecord_onetrail_po_amendment" in names
    po = next(item for item in items if item["name"] == "purchaseOrder")
    rels = {link["rel"]: link for link in po["links"]}
    assert rels["canonical"]["href"].endswith("/services/rest/record/v1/metadata-catalog/purchaseorder")
    assert rels["describedby"]["mediaType"] == "application/schema+json"
    assert rels["alternate"]["mediaType"] == "application/swagger+json"


def test_purchase_order_schema_comes_from_the_definition_not_a_stored_record(
    netsuite: NetSuiteService,
) -> None:
    props = _schema(netsuite, "purchaseOrder")["properties"]
    # real JSON types, not "string" for everything
    assert props["tranDate"]["type"] == "string" and props["tranDate"]["format"] == "date"
    assert (
        props["lastModifiedDate"]["format"] == "date-time" and props["lastModifiedDate"]["readOnly"] is True
    )
    assert props["createdDate"]["format"] == "date-time"
    assert props["total"]["type"] == "number" and props["exchangeRate"]["type"] == "number"
    assert props["dropShip"]["type"] == "boolean"
    # references: {id, refName, links}
    entity = props["entity"]
    assert entity["type"] == "object" and set(entity["properties"]) >= {"id", "refName", "links"}
    assert entity["x-ns-record-type"] == "vendor"
    # output-only fields are described and marked read-only
    for name in ("status", "orderStatus", "id"):
        assert props[name]["readOnly"] is True, name
    assert set(props["status"]["properties"]) == {"id", "refName"}
    # drop-ship fields
    assert props["shipTo"]["x-ns-record-type"] == "customer"
    assert props["createdFrom"]["type"] == "object"
    # sublist: an object whose items are an array of typed line objects
    item = props["item"]
    assert item["type"] == "object" and item["properties"]["items"]["type"] == "array"
    line = item["properties"]["items"]["items"]["properties"]
    assert line["quantity"]["type"] == "number" and line["line"]["type"] == "integer"
    assert line["isClosed"]["type"] == "boolean"
    assert line["quantityReceived"]["readOnly"] is True
    assert line["expectedReceiptDate"]["format"] == "date"
    assert line["item"]["x-ns-record-type"] == "inventoryItem"
    assert line["custcol_s2p_purchase_line"]["x-ns-custom-field"] is True
    # Airbyte picks incremental sync from a filterable lastModifiedDate
    assert props["lastModifiedDate"]["x-ns-filterable"] is True
    assert "x-ns-filterable" not in props["item"]


def test_custom_fields_the_flows_use_are_described(netsuite: NetSuiteService) -> None:
    props = _schema(netsuite, "purchaseorder")["properties"]  # record types are case-insensitive
    for name in CUSTOM_BODY_FIELDS:
        assert props[name]["x-ns-custom-field"] is True, name
    assert props["custbody_hc_order_exported"]["type"] == "boolean"
    assert props["custbody_vend_consignment_id"]["type"] == "string"
    assert props["custbody_s2p_blanket_order"]["type"] == "string"
    amendment = _schema(netsuite, "customrecord_onetrail_po_amendment")["properties"]
    assert amendment["custrecord_onetrail_amend_po"]["x-ns-record-type"] == "purchaseOrder"
    assert amendment["custrecord_onetrail_amend_line"]["type"] == "integer"
    assert amendment["custrecord_onetrail_amend_applied"]["type"] == "boolean"


@pytest.mark.parametrize("type_name", sorted({t.name for t in RECORD_TYPES.values()}))
def test_every_type_has_a_schema_with_typed_properties(netsuite: NetSuiteService, type_name: str) -> None:
    schema = _schema(netsuite, type_name)
    assert schema["title"] == type_name and schema["type"] == "object"
    for name, prop in schema["properties"].items():
        assert prop.get("type") in {"string", "number", "integer", "boolean", "object", "array"}, name
    assert "id" in schema["properties"] and "externalId" in schema["properties"]


def test_vendor_bill_and_fulfilment_sublists(netsuite: NetSuiteService) -> None:
    bill = _schema(netsuite, "vendorBill")["properties"]
    expense = bill["expense"]["properties"]["items"]["items"]["properties"]
    assert expense["account"]["x-ns-record-type"] == "account" and expense["amount"]["type"] == "number"
    assert bill["dueDate"]["format"] == "date" and bill["terms"]["x-ns-record-type"] == "term"
    fulfilment = _schema(netsuite, "itemFulfillment")["properties"]
    package = fulfilment["package"]["properties"]["items"]["items"]["properties"]
    assert package["packageTrackingNumber"]["type"] == "string"
    receipt_line = _schema(netsuite, "itemReceipt")["properties"]["item"]["properties"]["items"]["items"]
    assert receipt_line["properties"]["itemReceive"]["type"] == "boolean"
    assert receipt_line["properties"]["orderLine"]["type"] == "integer"


def test_unknown_type_is_404(netsuite: NetSuiteService) -> None:
    response = _call(netsuite, "GET", "metadata-catalog/file", headers=SCHEMA)
    assert response.status_code == 404
    assert "Record type 'file' does not exist." in _error(response)["o:errorDetails"][0]["detail"]


# -- OpenAPI ----------------------------------------------------------------------------------------


def test_select_with_swagger_accept_is_a_valid_openapi_3_document(netsuite: NetSuiteService) -> None:
    response = _call(
        netsuite, "GET", "metadata-catalog", params={"select": "purchaseOrder,vendor"}, headers=SWAGGER
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/swagger+json")
    document = response.json()
    validate(document)  # openapi-spec-validator: a broken document raises
    assert document["openapi"].startswith("3.") and document["info"]["version"] == "v1"
    assert document["servers"][0]["url"].endswith("/services/rest/record/v1")
    paths = document["paths"]
    assert {"/purchaseOrder", "/purchaseOrder/{id}", "/vendor", "/vendor/{id}"} <= set(paths)
    assert "/purchaseOrder/{id}/!transform/itemReceipt" in paths
    assert "/salesOrder" not in paths  # only the selected types have paths
    schemas = document["components"]["schemas"]
    # the same definitions as the JSON Schema: every property of one is in the other
    json_props = _schema(netsuite, "purchaseOrder")["properties"]
    assert set(schemas["purchaseOrder"]["properties"]) == set(json_props)
    assert schemas["purchaseOrder"]["properties"]["item"] == {
        "$ref": "#/components/schemas/purchaseOrder-itemCollection"
    }
    line = schemas["purchaseOrder-itemElement"]["properties"]
    assert line["quantity"]["type"] == "number" and line["item"]["$ref"] == "#/components/schemas/nsResource"
    assert schemas["itemReceipt"]["properties"]["landedCostMethod"]["enum"] == ["WEIGHT", "QUANTITY", "VALUE"]
    patch_params = {p["name"]: p for p in paths["/purchaseOrder/{id}"]["patch"]["parameters"]}
    assert patch_params[HEADER]["schema"]["default"] == "Warning"


def test_openapi_for_every_type_validates(netsuite: NetSuiteService) -> None:
    response = _call(netsuite, "GET", "metadata-catalog", headers=SWAGGER)
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert {f"/{t.name}" for t in RECORD_TYPES.values()} <= set(document["paths"])


def test_select_of_an_unknown_type_is_404(netsuite: NetSuiteService) -> None:
    response = _call(
        netsuite, "GET", "metadata-catalog", params={"select": "purchaseOrder,nope"}, headers=SWAGGER
    )
    assert response.status_code == 404


def test_definitions_can_be_extended_and_the_catalog_follows(netsuite: NetSuiteService) -> None:
    """Other parts of the sandbox add fields by registering them; catalog and write check both follow."""
    saved = dict(DEFINITIONS["purchaseorder"].fields)
    try:
        add_fields("purchaseOrder", Field("custbody_test_extension", "integer", "Extension", custom=True))
        add_line_fields(
            "purchaseOrder", "item", Field("custcol_test_extension", "boolean", "Ext", custom=True)
        )
        props = _schema(netsuite, "purchaseOrder")["properties"]
        assert props["custbody_test_extension"]["type"] == "integer"
        line = props["item"]["properties"]["items"]["items"]["properties"]
        assert line["custcol_test_extension"]["type"] == "boolean"
        assert line["quantity"]["type"] == "number"  # the other line fields stay
        assert definition_for("purchaseOrder").get("CUSTBODY_TEST_EXTENSION") is not None
    finally:
        DEFINITIONS["purchaseorder"].fields = saved


# -- X-NetSuite-PropertyNameValidation ------------------------------------------------------------


def _vendor_body(netsuite: NetSuiteService, **extra: Any) -> dict[str, Any]:
    vendor = netsuite.created["vendor"][0]
    item = netsuite.created["inventoryItem"][0]
    return {
        "entity": {"id": str(vendor)},
        "memo": "oracle client",
        "item": {"items": [{"item": {"id": str(item)}, "quantity": 2, "rate": 3}]},
        **extra,
    }


def test_error_mode_rejects_unknown_fields_with_the_ns_error_envelope(netsuite: NetSuiteService) -> None:
    before = netsuite.store.count("purchaseOrder")
    body = _vendor_body(netsuite, custbody_not_defined="x")
    body["item"]["items"][0]["quantityy"] = 5
    response = _call(netsuite, "POST", "purchaseOrder", json=body, headers={HEADER: "Error"})
    assert response.status_code == 400
    error = _error(response)
    assert error["title"] == "Bad Request"
    details = error["o:errorDetails"]
    assert sorted(d["o:errorPath"] for d in details) == ["custbody_not_defined", "item.items[0].quantityy"]
    assert {d["o:errorCode"] for d in details} == {"NONEXISTENT_FIELD"}
    named = next(d for d in details if d["o:errorPath"] == "custbody_not_defined")
    assert "custbody_not_defined" in named["detail"] and "purchaseOrder" in named["detail"]
    assert netsuite.store.count("purchaseOrder") == before  # nothing created


@pytest.mark.parametrize("mode", ["Warning", "Ignore", "warning", None])
def test_warning_ignore_and_default_drop_unknown_fields(netsuite: NetSuiteService, mode: str | None) -> None:
    headers = {HEADER: mode} if mode else {}
    body = _vendor_body(netsuite, custbody_not_defined="x", MEMO="case-insensitive name")
    body.pop("memo")
    body["item"]["items"][0]["bogus_line_field"] = 1
    response = _call(netsuite, "POST", "purchaseOrder", json=body, headers=headers)
    assert response.status_code == 204, response.text
    po_id = response.headers["Location"].rsplit("/", 1)[-1]
    stored = netsuite.store.get("purchaseOrder", po_id)
    assert "custbody_not_defined" not in stored  # never stored
    assert "bogus_line_field" not in stored["item"]["items"][0]
    assert stored["memo"] == "case-insensitive name"
    assert netsuite.stats.unknown_fields["purchaseOrder.custbody_not_defined"] >= 1
    columns = {row["name"] for row in netsuite.store.query('PRAGMA table_info("transaction")')}
    assert "custbody_not_defined" not in columns  # no SuiteQL column appears for it either


def test_default_mode_is_a_knob(netsuite: NetSuiteService) -> None:
    netsuite.set_knobs(property_name_validation="Error")
    response = _call(netsuite, "POST", "purchaseOrder", json=_vendor_body(netsuite, nope=1))
    assert response.status_code == 400
    # the header still wins over the account default
    response = _call(
        netsuite, "POST", "purchaseOrder", json=_vendor_body(netsuite, nope=1), headers={HEADER: "Ignore"}
    )
    assert response.status_code == 204


def test_patch_put_and_transform_are_checked_too(netsuite: NetSuiteService) -> None:
    po_id = (
        _call(netsuite, "POST", "purchaseOrder", json=_vendor_body(netsuite))
        .headers["Location"]
        .rsplit("/", 1)[-1]
    )
    strict = {HEADER: "Error"}
    response = _call(netsuite, "PATCH", f"purchaseOrder/{po_id}", json={"memox": "typo"}, headers=strict)
    assert response.status_code == 400 and _error(response)["o:errorDetails"][0]["o:errorPath"] == "memox"
    response = _call(
        netsuite,
        "PATCH",
        f"purchaseOrder/{po_id}",
        json={"memo": "ok", "custbody_hc_order_exported": True},
        headers=strict,
    )
    assert response.status_code == 204
    stored = netsuite.store.get("purchaseOrder", po_id)
    assert stored["memo"] == "ok" and stored["custbody_hc_order_exported"] is True
    response = _call(
        netsuite, "PUT", "purchaseOrder/eid:ORACLE-1", json=_vendor_body(netsuite, wrong=1), headers=strict
    )
    assert response.status_code == 400
    transform = {"item": {"items": [{"orderLine": 1, "itemReceive": True, "quantity": 1, "qty": 1}]}}
    response = _call(
        netsuite, "POST", f"purchaseOrder/{po_id}/!transform/itemReceipt", json=transform, headers=strict
    )
    assert response.status_code == 400
    assert _error(response)["o:errorDetails"][0]["o:errorPath"] == "item.items[0].qty"
    assert netsuite.store.get("purchaseOrder", po_id)["item"]["items"][0]["quantityReceived"] == 0
    transform["item"]["items"][0].pop("qty")
    response = _call(
        netsuite, "POST", f"purchaseOrder/{po_id}/!transform/itemReceipt", json=transform, headers=strict
    )
    assert response.status_code == 204
    # a field of the target (itemReceipt), not of the source, is what counts
    receipt_only = {
        "landedCostMethod": "WEIGHT",
        "item": {"items": [{"orderLine": 1, "itemReceive": True, "quantity": 1}]},
    }
    response = _call(
        netsuite, "POST", f"purchaseOrder/{po_id}/!transform/itemReceipt", json=receipt_only, headers=strict
    )
    assert response.status_code == 204


def test_bad_header_value_is_refused(netsuite: NetSuiteService) -> None:
    response = _call(
        netsuite, "POST", "purchaseOrder", json=_vendor_body(netsuite), headers={HEADER: "strict"}
    )
    assert response.status_code == 400
    detail = _error(response)["o:errorDetails"][0]
    assert detail["o:errorCode"] == "INVALID_HEADER" and detail["o:errorHeader"] == HEADER


def _undescribed(record: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """Fields of a rendered record (and of its sublist lines) the schema does not describe."""
    props = schema["properties"]
    missing = set(record) - set(props)
    for name, value in record.items():
        if (
            isinstance(value, dict)
            and "items" in value
            and name in props
            and props[name].get("type") == "object"
        ):
            line_props = props[name]["properties"]["items"]["items"]["properties"]
            for line in value["items"]:
                missing |= {f"{name}.{key}" for key in set(line) - set(line_props)}
    return missing


@pytest.mark.parametrize(
    "type_name",
    ["purchaseOrder", "salesOrder", "transferOrder", "vendor", "customer", "inventoryItem", "location"],
)
def test_served_records_validate_against_their_schema(netsuite: NetSuiteService, type_name: str) -> None:
    """What GET returns is what the catalog says: every field described, every value of the described type."""
    schema = _schema(netsuite, type_name)
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    ids = netsuite.created[type_name][:5]
    assert ids
    for record_id in ids:
        record = _call(
            netsuite, "GET", f"{type_name}/{record_id}", params={"expandSubResources": "true"}
        ).json()
        errors = [(list(e.path), e.message) for e in validator.iter_errors(record)]
        assert errors == [], (type_name, record_id, errors[:3])
        assert _undescribed(record, schema) == set(), (type_name, record_id)


def test_transformed_records_validate_against_their_schema(netsuite: NetSuiteService) -> None:
    po_id = (
        _call(netsuite, "POST", "purchaseOrder", json=_vendor_body(netsuite))
        .headers["Location"]
        .rsplit("/", 1)[-1]
    )
    for target in ("itemReceipt", "vendorBill"):
        response = _call(netsuite, "POST", f"purchaseOrder/{po_id}/!transform/{target}", json={})
        assert response.status_code == 204, response.text
        new_id = response.headers["Location"].rsplit("/", 1)[-1]
        record = _call(netsuite, "GET", f"{target}/{new_id}", params={"expandSubResources": "true"}).json()
        schema = _schema(netsuite, target)
        assert list(jsonschema.Draft7Validator(schema).iter_errors(record)) == []
        assert _undescribed(record, schema) == set(), target


def test_no_definition_names_a_field_twice() -> None:
    for definition in DEFINITIONS.values():
        for f in definition.fields.values():
            names = [line.key for line in f.lines]
            assert len(names) == len(set(names)), (definition.name, f.name)


def test_airbyte_style_catalog_calls(netsuite: NetSuiteService) -> None:
    """Airbyte lists ``metadata-catalog/`` (trailing slash, ``Accept: */*``) and reads ``items[].name``."""
    response = _call(netsuite, "GET", "metadata-catalog/", headers={"Accept": "*/*"})
    assert response.status_code == 200
    assert "vendor" in {item["name"] for item in response.json()["items"]}
    one = _call(netsuite, "GET", "metadata-catalog/vendor", headers=SWAGGER)
    assert one.status_code == 200
    validate(one.json())
    assert set(one.json()["paths"]) >= {"/vendor", "/vendor/{id}"}


def test_an_async_write_with_an_unknown_field_is_a_job_whose_result_is_the_400(
    netsuite: NetSuiteService,
) -> None:
    accepted = _call(
        netsuite,
        "POST",
        "purchaseOrder",
        json=_vendor_body(netsuite, nope=1),
        headers={HEADER: "Error", "Prefer": "respond-async"},
    )
    assert accepted.status_code == 202
    job_id = accepted.headers["Location"].rsplit("/", 1)[-1]
    job_url = f"{netsuite.base_url}{accepted.headers['Location']}"
    polls = [requests.get(job_url, auth=_auth(netsuite), timeout=30).json()["completed"] for _ in range(3)]
    assert polls[-1] is True
    result = requests.get(
        f"{netsuite.base_url}/services/rest/async/v1/job/{job_id}/task/{job_id}/result",
        auth=_auth(netsuite),
        timeout=30,
    )
    assert result.status_code == 400, result.text
    assert result.json()["o:errorDetails"][0].get("o:errorPath") == "nope", result.text
