"""The metadata catalog: record types' definitions (:mod:`.record_fields`) as JSON Schema and as OpenAPI 3.

``GET /record/v1/metadata-catalog`` lists the types; ``.../metadata-catalog/<type>`` with
``Accept: application/schema+json`` gives one type's JSON Schema; ``...?select=a,b`` with
``Accept: application/swagger+json`` gives an OpenAPI 3.0 document for the selected types. All three come
from the same fixed definitions, so a client generated from the OpenAPI document, a connector reading the
JSON Schema (Airbyte reads ``properties`` and ``x-ns-filterable``) and the write check agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from po_sync_sandbox.netsuite.record_fields import (
    BOOLEAN,
    DATE,
    DATETIME,
    INTEGER,
    NUMBER,
    REF,
    SELECT,
    STRING,
    SUBLIST,
    SUBRECORD,
    Field,
    RecordDefinition,
    definition_for,
)

SCHEMA_JSON = "application/schema+json"
SWAGGER_JSON = "application/swagger+json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft-06/hyper-schema#"
OPENAPI_VERSION = "3.0.1"

_LINK = {
    "type": "object",
    "properties": {"rel": {"type": "string"}, "href": {"type": "string", "format": "uri"}},
}
_LINKS = {"type": "array", "readOnly": True, "items": _LINK}
_SELECT = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "refName": {"type": "string", "readOnly": True}},
}


def _reference(target: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "title": "Internal identifier"},
            "externalId": {"type": "string", "title": "External identifier"},
            "refName": {"type": "string", "title": "Reference Name", "readOnly": True},
            "links": _LINKS,
        },
    }
    if target:
        out["x-ns-record-type"] = target
    return out


def _scalar(f: Field) -> dict[str, Any]:
    if f.kind == STRING:
        out: dict[str, Any] = {"type": "string"}
        if f.enum:
            out["enum"] = list(f.enum)
        return out
    if f.kind == INTEGER:
        return {"type": "integer", "format": "int64"}
    if f.kind == NUMBER:
        return {"type": "number", "format": "double"}
    if f.kind == BOOLEAN:
        return {"type": "boolean"}
    if f.kind == DATE:
        return {"type": "string", "format": "date"}
    if f.kind == DATETIME:
        return {"type": "string", "format": "date-time"}
    if f.kind == SELECT:
        return {**_SELECT}
    if f.kind == REF:
        return _reference(f.ref_type)
    if f.kind == SUBRECORD:
        return {"type": "object", "properties": {"links": _LINKS}}
    raise ValueError(f"no scalar schema for {f.kind}")


def _decorate(schema: dict[str, Any], f: Field, *, body: bool) -> dict[str, Any]:
    schema = {"title": f.title, **schema}
    if f.read_only:
        schema["readOnly"] = True
    if f.kind not in (SUBLIST, SUBRECORD, BOOLEAN):
        schema["nullable"] = True
    if body and f.kind not in (SUBLIST, SUBRECORD):
        schema["x-ns-filterable"] = True
    if f.custom:
        schema["x-ns-custom-field"] = True
    return schema


def _line_schema(sublist: Field) -> dict[str, Any]:
    props: dict[str, Any] = {"links": _LINKS}
    for line_field in sublist.lines:
        props[line_field.name] = _decorate(_scalar(line_field), line_field, body=False)
    return {"type": "object", "properties": props}


def _collection(items: dict[str, Any], title: str) -> dict[str, Any]:
    return {
        "type": "object",
        "title": title,
        "properties": {
            "links": _LINKS,
            "items": {"type": "array", "items": items},
            "totalResults": {"type": "integer", "readOnly": True},
        },
    }


def json_schema(definition: RecordDefinition, catalog_url: str) -> dict[str, Any]:
    """One record type as NetSuite's ``application/schema+json`` (sublists and references inline).

    :param catalog_url: absolute ``.../record/v1/metadata-catalog`` (for the ``$id`` and hyper-schema links).
    """
    props: dict[str, Any] = {"links": _LINKS}
    for f in definition.fields.values():
        if f.kind == SUBLIST:
            props[f.name] = _decorate(_collection(_line_schema(f), f.title), f, body=True)
        else:
            props[f.name] = _decorate(_scalar(f), f, body=True)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"{catalog_url}/{definition.name.lower()}",
        "type": "object",
        "title": definition.name,
        "properties": props,
        "links": [
            {"rel": "self", "href": f"{catalog_url}/{definition.name.lower()}"},
            {"rel": "describes", "href": f"{catalog_url.rsplit('/', 1)[0]}/{definition.name.lower()}/{{id}}"},
        ],
    }


def catalog_list(type_names: Iterable[str], catalog_url: str) -> dict[str, Any]:
    """``GET /metadata-catalog``: every record type with its canonical and alternate (schema, OpenAPI) links."""
    items = []
    for name in type_names:
        href = f"{catalog_url}/{name.lower()}"
        items.append(
            {
                "name": name,
                "links": [
                    {"rel": "canonical", "href": href, "mediaType": "application/json"},
                    {"rel": "alternate", "href": href, "mediaType": SWAGGER_JSON},
                    {"rel": "describedby", "href": href, "mediaType": SCHEMA_JSON},
                ],
            }
        )
    return {"links": [{"rel": "self", "href": catalog_url}], "count": len(items), "items": items}


# -- OpenAPI ---------------------------------------------------------------------------------------

_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "o:errorDetails": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "detail": {"type": "string"},
                    "o:errorCode": {"type": "string"},
                    "o:errorPath": {"type": "string"},
                    "o:errorQueryParam": {"type": "string"},
                    "o:errorHeader": {"type": "string"},
                },
            },
        },
    },
}
_COLLECTION_SCHEMA = {
    "type": "object",
    "properties": {
        "links": {"type": "array", "readOnly": True, "items": {"$ref": "#/components/schemas/nsLink"}},
        "count": {"type": "integer", "readOnly": True},
        "hasMore": {"type": "boolean", "readOnly": True},
        "offset": {"type": "integer", "readOnly": True},
        "totalResults": {"type": "integer", "readOnly": True},
        "items": {"type": "array", "readOnly": True, "items": {"$ref": "#/components/schemas/nsResource"}},
    },
}
_RESOURCE_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "externalId": {"type": "string"},
        "refName": {"type": "string", "readOnly": True},
        "links": {"type": "array", "readOnly": True, "items": {"$ref": "#/components/schemas/nsLink"}},
    },
}


def _oa_field(f: Field, type_name: str) -> dict[str, Any]:
    if f.kind == REF:
        schema: dict[str, Any] = {"$ref": "#/components/schemas/nsResource"}
        return schema  # a $ref stands alone in OpenAPI 3.0
    if f.kind == SUBLIST:
        return {"$ref": f"#/components/schemas/{type_name}-{f.name}Collection"}
    if f.kind == SUBRECORD:
        return {"type": "object", "title": f.title, "additionalProperties": True}
    out = _decorate(_scalar(f), f, body=False)
    return out


def _oa_record(definition: RecordDefinition, schemas: dict[str, Any]) -> dict[str, Any]:
    name = definition.name
    props: dict[str, Any] = {
        "links": {"type": "array", "readOnly": True, "items": {"$ref": "#/components/schemas/nsLink"}}
    }
    for f in definition.fields.values():
        props[f.name] = _oa_field(f, name)
        if f.kind == SUBLIST:
            element = f"{name}-{f.name}Element"
            line_props: dict[str, Any] = {
                "links": {"type": "array", "readOnly": True, "items": {"$ref": "#/components/schemas/nsLink"}}
            }
            for line_field in f.lines:
                line_props[line_field.name] = _oa_field(line_field, name)
            schemas[element] = {"type": "object", "properties": line_props}
            schemas[f"{name}-{f.name}Collection"] = {
                "type": "object",
                "properties": {
                    "links": {
                        "type": "array",
                        "readOnly": True,
                        "items": {"$ref": "#/components/schemas/nsLink"},
                    },
                    "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{element}"}},
                    "totalResults": {"type": "integer", "readOnly": True},
                },
            }
    return {"type": "object", "title": name, "properties": props}


def _error_responses() -> dict[str, Any]:
    error = {
        "description": "Error response.",
        "content": {
            "application/vnd.oracle.resource+json; type=error": {
                "schema": {"$ref": "#/components/schemas/nsError"}
            }
        },
    }
    return {"default": error}


def _name_validation_header() -> dict[str, Any]:
    return {
        "name": "X-NetSuite-PropertyNameValidation",
        "in": "header",
        "description": "What to do with body fields the record type does not define.",
        "schema": {"type": "string", "enum": ["Error", "Warning", "Ignore"], "default": "Warning"},
    }


def _oa_paths(definition: RecordDefinition, transforms: Iterable[str]) -> dict[str, Any]:
    name = definition.name
    ref = {"$ref": f"#/components/schemas/{name}"}
    body = {"required": True, "content": {"application/json": {"schema": ref}}}
    id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    no_content = {"204": {"description": "Done; Location names the record."}, **_error_responses()}
    paths: dict[str, Any] = {
        f"/{name}": {
            "get": {
                "operationId": f"list-{name}",
                "summary": f"Get list of {name} records.",
                "tags": [name],
                "parameters": [
                    {"name": "q", "in": "query", "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 1000}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "default": 0}},
                ],
                "responses": {
                    "200": {
                        "description": "A page of references.",
                        "content": {
                            "application/vnd.oracle.resource+json; type=collection": {
                                "schema": {"$ref": "#/components/schemas/nsResourceCollection"}
                            }
                        },
                    },
                    **_error_responses(),
                },
            },
            "post": {
                "operationId": f"create-{name}",
                "summary": f"Insert a {name} record.",
                "tags": [name],
                "parameters": [_name_validation_header()],
                "requestBody": body,
                "responses": no_content,
            },
        },
        f"/{name}/{{id}}": {
            "parameters": [id_param],
            "get": {
                "operationId": f"get-{name}",
                "summary": f"Get a {name} record.",
                "tags": [name],
                "parameters": [
                    {
                        "name": "expandSubResources",
                        "in": "query",
                        "schema": {"type": "boolean", "default": False},
                    },
                    {"name": "fields", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "The record.",
                        "content": {"application/vnd.oracle.resource+json; type=singular": {"schema": ref}},
                    },
                    **_error_responses(),
                },
            },
            "patch": {
                "operationId": f"update-{name}",
                "summary": f"Update a {name} record.",
                "tags": [name],
                "parameters": [
                    _name_validation_header(),
                    {"name": "replace", "in": "query", "schema": {"type": "string"}},
                ],
                "requestBody": body,
                "responses": no_content,
            },
            "put": {
                "operationId": f"upsert-{name}",
                "summary": f"Insert or update a {name} record by external id (eid:...).",
                "tags": [name],
                "parameters": [_name_validation_header()],
                "requestBody": body,
                "responses": no_content,
            },
            "delete": {
                "operationId": f"delete-{name}",
                "summary": f"Remove a {name} record.",
                "tags": [name],
                "responses": no_content,
            },
        },
    }
    for target in transforms:
        paths[f"/{name}/{{id}}/!transform/{target}"] = {
            "parameters": [id_param],
            "post": {
                "operationId": f"transform-{name}-to-{target}",
                "summary": f"Transform a {name} into a {target}.",
                "tags": [name],
                "parameters": [_name_validation_header()],
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{target}"}}},
                },
                "responses": no_content,
            },
        }
    return paths


def openapi(
    type_names: Iterable[str],
    record_root: str,
    transforms: Iterable[tuple[str, str]] = (),
) -> dict[str, Any]:
    """An OpenAPI 3.0 document for the selected record types (and the targets of their transforms).

    :param type_names: canonical record type names.
    :param record_root: absolute ``.../services/rest/record/v1`` (the server URL).
    :param transforms: ``(from, to)`` canonical names of the available transforms.
    """
    selected = list(dict.fromkeys(type_names))
    pairs = [(a, b) for a, b in transforms if a in selected]
    needed = list(dict.fromkeys([*selected, *(b for _, b in pairs)]))
    schemas: dict[str, Any] = {
        "nsLink": _LINK,
        "nsResource": _RESOURCE_SCHEMA,
        "nsResourceCollection": _COLLECTION_SCHEMA,
        "nsError": _ERROR_SCHEMA,
    }
    paths: dict[str, Any] = {}
    for name in needed:
        definition = definition_for(name)
        schemas[definition.name] = _oa_record(definition, schemas)
    for name in selected:
        definition = definition_for(name)
        paths.update(_oa_paths(definition, [b for a, b in pairs if a == name]))
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "NetSuite REST Record API",
            "description": "Record types selected from the metadata catalog of the po-sync NetSuite sandbox.",
            "version": "v1",
        },
        "servers": [{"url": record_root}],
        "tags": [{"name": name} for name in selected],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "oAuth1": {"type": "apiKey", "in": "header", "name": "Authorization"},
                "oAuth2ClientCredentials": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"oAuth1": []}, {"oAuth2ClientCredentials": []}],
    }
