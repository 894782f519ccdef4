"""The OpenAPI 3.1 document of the REST interface, made from `rest.ENDPOINTS` (so it lists exactly the
routes that exist) and served at GET /v1/openapi.json."""

from __future__ import annotations

from typing import Any

from paybill_iac.service.problems import TITLES, TYPE_BASE
from paybill_iac.service.rest import ENDPOINTS, Endpoint

_STRING = {"type": "string"}
_NUMBER = {"type": "number"}
_NULLABLE_NUMBER = {"type": ["number", "null"]}
_OBJECT = {"type": "object"}


def _list(name: str, item: str) -> dict[str, Any]:
    items = {"$ref": f"#/components/schemas/{item}"}
    return {"type": "object", "properties": {name: {"type": "array", "items": items}}}


SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object", "description": "RFC 9457 problem details; `type` is " + TYPE_BASE + "<kind>.",
        "required": ["type", "title", "status", "detail"],
        "properties": {"type": {"type": "string", "enum": [TYPE_BASE + kind for kind in TITLES]},
                       "title": _STRING, "status": {"type": "integer"}, "detail": _STRING, "instance": _STRING,
                       "approval_id": {"type": "integer"}, "reasons": {"type": "array", "items": _STRING},
                       "refused": {"type": "array", "items": _STRING}},
    },
    "TenantSummary": {
        "type": "object",
        "properties": {"id": _STRING, "name": _STRING, "plan": _STRING, "isolation": _STRING, "cloud": _STRING,
                       "region": _STRING, "state": _STRING, "cell": {"type": ["string", "null"]}},
    },
    "TenantList": _list("tenants", "TenantSummary"),
    "Tenant": {
        "allOf": [{"$ref": "#/components/schemas/TenantSummary"}, {
            "type": "object",
            "properties": {"plan": _OBJECT, "limits": _OBJECT, "subscription": _OBJECT, "placement": _OBJECT,
                           "stack": _STRING,
                           "deployed": {"type": "object", "properties": {
                               "state": {"type": ["string", "null"]},
                               "last_operation": {"oneOf": [{"$ref": "#/components/schemas/JournalEntry"},
                                                            {"type": "null"}]}}}}}],
    },
    "StepResult": {
        "type": "object",
        "properties": {"stack": _STRING, "operation": _STRING, "op_id": _STRING, "summary": _OBJECT,
                       "description": _STRING, "attempts": {"type": "integer"},
                       "approval": {"type": ["integer", "null"]}},
    },
    "OperationResult": {
        "type": "object",
        "properties": {"tenant": _STRING, "operation": _STRING, "actor": _STRING,
                       "results": {"type": "array", "items": {"$ref": "#/components/schemas/StepResult"}}},
    },
    "Approval": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "stack": _STRING, "tenant": {"type": ["string", "null"]},
                       "operation": _STRING, "requested_by": _STRING, "requested_at": _NUMBER,
                       "reasons": {"type": "array", "items": _STRING}, "change_summary": _OBJECT,
                       "plan_sha256": _STRING,
                       "status": {"type": "string", "enum": ["pending", "approved", "rejected", "used"]},
                       "decided_by": {"type": ["string", "null"]}, "decided_at": _NULLABLE_NUMBER,
                       "used_at": _NULLABLE_NUMBER, "expires_at": _NULLABLE_NUMBER},
    },
    "ApprovalList": _list("approvals", "Approval"),
    "JournalEntry": {
        "type": "object",
        "properties": {"op_id": _STRING, "actor": _STRING, "stack": _STRING, "tenant": {"type": ["string", "null"]},
                       "operation": _STRING, "started_at": _NUMBER, "ended_at": _NULLABLE_NUMBER,
                       "result": {"type": ["string", "null"]}, "state": {"type": ["string", "null"]},
                       "change_summary": {"type": ["object", "null"]}, "error": {"type": ["string", "null"]},
                       "details": _OBJECT},
    },
    "JournalList": _list("entries", "JournalEntry"),
    "Health": {"type": "object", "properties": {"status": {"type": "string", "enum": ["ok"]}}},
    "Object": _OBJECT,
}

_REASONS = {400: "Malformed request, unknown field, or a setting that is the server's", 401: "No valid token",
            403: "The principal's role or kind does not allow it", 404: "No such resource for this principal",
            409: "Refused in the current state (approval needed, busy, decided or used)", 413: "Body too large",
            415: "Body is not JSON", 422: "The catalog would not be valid", 429: "Rate limit of this token",
            502: "The operation failed", 503: "The Pulumi CLI is missing on the server (nothing ran)"}


def _operation(spec: Endpoint) -> dict[str, Any]:
    parameters = [{"name": name.strip("{}"), "in": "path", "required": True, "schema": _STRING}
                  for name in spec.path.split("/") if name.startswith("{")]
    parameters += [{"name": name, "in": "query", "required": False, "schema": schema, "description": text}
                   for name, schema, text in spec.query]
    responses: dict[str, Any] = {"200": {"description": "OK", "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{spec.response}"}}}}}
    for status in spec.errors:
        responses[str(status)] = {"description": _REASONS[status], "content": {"application/problem+json": {
            "schema": {"$ref": "#/components/schemas/Problem"}}}}
    operation: dict[str, Any] = {"operationId": spec.operation_id, "summary": spec.summary,
                                 "parameters": parameters, "responses": responses}
    if spec.body is not None:
        operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": spec.body}}}
    return operation


def document(version: str = "") -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for spec in ENDPOINTS:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec)
    paths["/v1/openapi.json"] = {"get": {"operationId": "openapi", "summary": "This document.",
                                         "responses": {"200": {"description": "OK"}}}}
    paths["/healthz"] = {"get": {"operationId": "health", "summary": "Liveness; the only path without a token.",
                                 "security": [], "responses": {"200": {"description": "OK", "content": {
                                     "application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "paybill-iac control plane", "version": version or "0",
                 "description": "Tenants of a multi-tenant SaaS on Pulumi. Every path but /healthz needs a bearer "
                                "token (`paybill-iac token create`); identity, budget, policy packs, state and "
                                "backend are the server's. Errors are RFC 9457 problem details. AI agents use the "
                                "MCP interface at /mcp (streamable HTTP) with the same tokens."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": SCHEMAS},
        "paths": paths,
    }
