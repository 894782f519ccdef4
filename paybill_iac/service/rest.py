"""The REST interface: one table of endpoints (`ENDPOINTS`), from which both the routes and the OpenAPI
document are made. Each handler reads the principal the guard authenticated, checks its query and body,
and calls the `Service` in a worker thread; refusals are problem bodies (problems.py).

    GET  /v1/tenants                                  GET /v1/tenants/{tenant_id}
    POST /v1/tenants/{tenant_id}/preview|up|refresh
    POST /v1/tenants/{tenant_id}/lifecycle/onboard|change-plan|suspend|resume|offboard
    GET  /v1/approvals                                POST /v1/approvals/{approval_id}/approve|reject
    GET  /v1/journal                                  GET /v1/openapi.json
    GET  /healthz (the guard answers it; the only path without a token)
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from paybill_iac.automation.store.principals import Principal
from paybill_iac.service.auth import LIFECYCLE, STACK_OPERATIONS
from paybill_iac.service.core import SERVER_SETTINGS, Service
from paybill_iac.service.problems import Problem

PRINCIPAL = "paybill.principal"
_APPROVAL_ID = re.compile(r"^[1-9][0-9]{0,11}$")

Handler = Callable[[Service, Request, Principal], Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    operation_id: str
    summary: str
    handler: Handler
    query: tuple[tuple[str, dict[str, Any], str], ...] = ()
    body: dict[str, Any] | None = None
    response: str = "Object"
    errors: tuple[int, ...] = field(default=(400, 401, 403, 404, 429))


def principal_of(request: Request) -> Principal:
    principal = request.scope.get(PRINCIPAL)
    if not isinstance(principal, Principal):  # the guard admits no request without one
        raise Problem("unauthenticated", "a valid bearer token is required")
    return principal


def query_of(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    """The query parameters, each once; a server setting or an unknown name is refused."""
    names = list(request.query_params.keys())
    settings = sorted({name for name in names if name.lower().replace("-", "_") in SERVER_SETTINGS})
    if settings:
        raise Problem("caller-setting", f"{', '.join(settings)}: the server's, never a caller's", refused=settings)
    unknown = sorted({name for name in names if name not in allowed})
    if unknown:
        raise Problem("bad-request", f"unknown query parameter(s) {', '.join(unknown)[:200]} (this endpoint takes "
                      f"{', '.join(allowed) or 'none'})")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise Problem("bad-request", f"query parameter(s) {', '.join(repeated)} given more than once")
    return dict(request.query_params)


async def fields_of(request: Request) -> dict[str, Any]:
    """The JSON object a POST carries ({} for none), with its query parameters (checked by the service)."""
    fields: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if body.strip():
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            raise Problem("unsupported-media-type", f"the body is '{media[:60] or 'untyped'}'; send "
                          "application/json (or no body)")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise Problem("bad-request", "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise Problem("bad-request", "the body is a JSON object (or empty)")
        fields.update(data)
    return fields


def _approval_id(request: Request) -> int:
    raw = request.path_params["approval_id"]
    if not _APPROVAL_ID.fullmatch(raw):
        raise Problem("not-found", f"no approval request '{raw[:64]}'")
    return int(raw)


async def _tenants(service: Service, request: Request, principal: Principal) -> Any:
    query_of(request, ())
    return {"tenants": await run_in_threadpool(service.tenants, principal)}


async def _tenant(service: Service, request: Request, principal: Principal) -> Any:
    query_of(request, ())
    return await run_in_threadpool(service.tenant, principal, request.path_params["tenant_id"])


def _operate(operation: str) -> Handler:
    async def handler(service: Service, request: Request, principal: Principal) -> Any:
        fields = await fields_of(request)
        return await run_in_threadpool(service.operate, principal, operation, request.path_params["tenant_id"],
                                       fields)
    return handler


async def _approvals(service: Service, request: Request, principal: Principal) -> Any:
    query = query_of(request, ("status",))
    return {"approvals": await run_in_threadpool(service.approvals, principal, query.get("status", "pending"))}


def _decide(approve: bool) -> Handler:
    async def handler(service: Service, request: Request, principal: Principal) -> Any:
        approval_id = _approval_id(request)
        fields = await fields_of(request)
        return await run_in_threadpool(lambda: service.decide(principal, approval_id, approve=approve, fields=fields))
    return handler


async def _journal(service: Service, request: Request, principal: Principal) -> Any:
    query = query_of(request, ("tenant", "stack", "limit"))
    raw = query.get("limit", "50")
    if not raw.isdigit() or len(raw) > 6:
        raise Problem("bad-request", "limit: a number of entries")
    entries = await run_in_threadpool(lambda: service.journal(principal, tenant=query.get("tenant"),
                                                              stack=query.get("stack"), limit=int(raw)))
    return {"entries": entries}


_APPROVAL_BODY: dict[str, Any] = {"type": "object", "additionalProperties": False,
                  "properties": {"approval": {"type": "integer", "minimum": 1,
                                              "description": "Apply the change a human approved (request id)."}}}
_EMPTY_BODY = {"type": "object", "additionalProperties": False, "properties": {}}
_OPERATION_ERRORS = (400, 401, 403, 404, 409, 413, 415, 422, 429, 502, 503)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/v1/tenants", "listTenants", "The tenants this token may see.", _tenants,
             response="TenantList"),
    Endpoint("GET", "/v1/tenants/{tenant_id}", "getTenant",
             "One tenant: resolved plan, limits, placement, last deployed state.", _tenant, response="Tenant"),
    *(Endpoint("POST", f"/v1/tenants/{{tenant_id}}/{operation}", f"{operation}Tenant",
               {"preview": "What `up` would change (every policy pack); changes nothing.",
                "up": "Deploy the tenant's stack as the catalog says (agents: previewed and gated first).",
                "refresh": "Read the real state of the tenant's resources."}[operation],
               _operate(operation), body=_APPROVAL_BODY if operation == "up" else _EMPTY_BODY,
               response="OperationResult", errors=_OPERATION_ERRORS)
      for operation in STACK_OPERATIONS),
    *(Endpoint("POST", f"/v1/tenants/{{tenant_id}}/lifecycle/{operation}",
               f"lifecycle-{operation}",
               {"onboard": "Onboarding -> active: place, generate, bring up the cell if new and the tenant.",
                "change-plan": "Move the tenant to another plan (within its isolation model through the service).",
                "suspend": "Active -> suspended: the identity is granted nothing; data stays.",
                "resume": "Suspended -> active.",
                "offboard": "Access removed, a final backup; the data is kept until retention end."}[operation],
               _operate(operation),
               body=({"type": "object", "additionalProperties": False, "required": ["plan"],
                      "properties": {"plan": {"type": "string"}, **_APPROVAL_BODY["properties"]}}
                     if operation == "change-plan" else _APPROVAL_BODY),
               response="OperationResult", errors=_OPERATION_ERRORS)
      for operation in LIFECYCLE),
    Endpoint("GET", "/v1/approvals", "listApprovals", "Approval requests on this token's tenants.", _approvals,
             query=(("status", {"type": "string", "enum": ["pending", "approved", "rejected", "used", "all"],
                                "default": "pending"}, "Which requests."),), response="ApprovalList"),
    Endpoint("POST", "/v1/approvals/{approval_id}/approve", "approveRequest",
             "A human approver other than the requester approves a pending request before it expires.",
             _decide(True), body=_EMPTY_BODY, response="Approval", errors=(400, 401, 403, 404, 409, 413, 415, 429)),
    Endpoint("POST", "/v1/approvals/{approval_id}/reject", "rejectRequest",
             "A human approver other than the requester rejects a pending request.", _decide(False),
             body=_EMPTY_BODY, response="Approval", errors=(400, 401, 403, 404, 409, 413, 415, 429)),
    Endpoint("GET", "/v1/journal", "readJournal", "Operations on this token's tenants, newest first.", _journal,
             query=(("tenant", {"type": "string"}, "Only this tenant."),
                    ("stack", {"type": "string"}, "Only this stack: tenant/<id> or cell/<id>."),
                    ("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "Most entries.")),
             response="JournalList"),
)


def routes(service: Service, extra: list[Endpoint] | None = None) -> list[Route]:
    """A Starlette route per endpoint, each answering JSON."""

    def endpoint(spec: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        async def respond(request: Request) -> Response:
            return JSONResponse(await spec.handler(service, request, principal_of(request)))
        return respond

    return [Route(spec.path, endpoint(spec), methods=[spec.method]) for spec in (*ENDPOINTS, *(extra or []))]
