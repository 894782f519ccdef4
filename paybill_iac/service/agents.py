"""The agents' interface: an MCP server (the official `mcp` SDK, streamable HTTP at /mcp) whose tools are
the service's operations, run through the same `Service` methods as REST: same authorisation, same
journal, same gates.

- Identity: the SDK's bearer authentication (`token_verifier` + `AuthSettings`) with paybill's tokens; a
  tool takes the principal from the verified token, never from an argument (arguments the tool does not
  declare are dropped by the SDK, so `actor` or `max_changes` in a call change nothing).
- Only the tools on the server's list exist: the read tools, plus the write tools with `--write-tools`. A
  tool not on the list is never registered (a call to it is an unknown tool, not a refusal).
- Approvals are never requested from, nor given through, the agent's own client: there is no approve or
  reject tool and no elicitation; a refused change names the request a human decides elsewhere (REST or
  `paybill-iac review --approve`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from paybill_iac.automation.store.principals import Principal
from paybill_iac.service.core import Service
from paybill_iac.service.problems import from_error


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    read_only: bool
    destructive: bool = False
    idempotent: bool = True
    open_world: bool = True


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec("list_tenants", "The tenants this token may see: id, name, plan, isolation, cloud, region, state, "
             "cell.", read_only=True, open_world=False),
    ToolSpec("get_tenant", "One tenant: its resolved plan and limits, placement, and the state last deployed.",
             read_only=True, open_world=False),
    ToolSpec("list_approvals", "Approval requests on this token's tenants (status: pending, approved, rejected, "
             "used or all). Humans decide them outside this interface.", read_only=True, open_world=False),
    ToolSpec("read_journal", "The operations journal of this token's tenants, newest first.", read_only=True,
             open_world=False),
    ToolSpec("preview", "What `up` would change on a tenant's stack, with every policy pack; changes nothing "
             "(journaled).", read_only=True),
    ToolSpec("up", "Deploy a tenant's stack as the catalog describes it. Previewed and gated first: a change "
             "that deletes or replaces data, or exceeds this token's change budget, is refused with an approval "
             "request a human decides; then call again with `approval`.", read_only=False, destructive=True),
    ToolSpec("refresh", "Adopt a tenant's drift (what its cloud holds) into its stack state; previewed and journaled "
                        "first, drift on data needs a human's approval.", read_only=False),
    ToolSpec("onboard", "Bring a tenant in state onboarding up and set it active.", read_only=False),
    ToolSpec("change_plan", "Move a tenant to another plan (within its isolation model through this interface).",
             read_only=False, destructive=True),
    ToolSpec("suspend", "Suspend a tenant: its identity is granted nothing; its data stays.", read_only=False,
             destructive=True),
    ToolSpec("resume", "Resume a suspended tenant.", read_only=False),
    ToolSpec("offboard", "Offboard a tenant: access removed, a final backup; its data is kept until retention end.",
             read_only=False, destructive=True, idempotent=False),
)
READ_TOOLS = tuple(spec.name for spec in TOOLS if spec.read_only)
WRITE_TOOLS = tuple(spec.name for spec in TOOLS if not spec.read_only)


class TokenVerifier:
    """The SDK's token verifier over paybill's principals: the access token carries the principal."""

    def __init__(self, service: Service):
        self.service = service

    async def verify_token(self, token: str) -> AccessToken | None:
        principal = await anyio.to_thread.run_sync(self.service.authenticate, token)
        if principal is None:
            return None
        return AccessToken(token=token, client_id=principal.token_id, subject=principal.name,
                           scopes=[f"role:{principal.role}", f"kind:{principal.kind}"],
                           claims={"paybill_principal": {**principal.as_dict(), "token_id": principal.token_id}})


def _principal() -> Principal:
    access = get_access_token()
    claims = (access.claims or {}).get("paybill_principal") if access is not None else None
    if not claims:  # the bearer middleware let no unauthenticated call through; never guess an identity
        raise ToolError("401 unauthenticated: a valid bearer token is required")
    return Principal(name=claims["name"], kind=claims["kind"], role=claims["role"], tenants=tuple(claims["tenants"]),
                     max_changes=int(claims["max_changes"]), token_id=claims["token_id"])


async def _call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    principal = _principal()
    try:
        return await anyio.to_thread.run_sync(lambda: function(principal, *args, **kwargs))
    except Exception as error:  # noqa: BLE001 - every failure is a problem the agent can read
        problem = from_error(error)
        extra = f" {json.dumps(problem.extra, sort_keys=True, default=str)}" if problem.extra else ""
        raise ToolError(f"{problem.status} {problem.kind}: {problem.detail}{extra}") from None


def build(service: Service, *, write_tools: bool, issuer_url: str) -> MCPServer:
    """The MCP server with the read tools, and the write tools when `write_tools`."""
    server = MCPServer(
        name="paybill-iac", title="paybill-iac control plane",
        instructions=("Tenants of a multi-tenant SaaS platform on Pulumi. Read tools show tenants, approvals and "
                      "the journal; write tools (when the server enables them) run operations as this token's "
                      "principal, gated like any agent. A refused change waits for a human approval given outside "
                      "this interface; call again with the approval id once it is approved."),
        token_verifier=TokenVerifier(service),
        auth=AuthSettings(issuer_url=issuer_url, resource_server_url=None),  # type: ignore[arg-type]
        warn_on_duplicate_tools=True,
    )
    enabled = set(READ_TOOLS) | (set(WRITE_TOOLS) if write_tools else set())
    for spec in TOOLS:
        if spec.name in enabled:
            hints = ToolAnnotations(title=spec.name.replace("_", " "), read_only_hint=spec.read_only,
                                    destructive_hint=spec.destructive, idempotent_hint=spec.idempotent,
                                    open_world_hint=spec.open_world)
            server.add_tool(_FUNCTIONS[spec.name](service), name=spec.name, description=spec.description,
                            annotations=hints)
    return server


Tool = Callable[..., Awaitable[dict[str, Any]]]


def _list_tenants(service: Service) -> Tool:
    async def list_tenants() -> dict[str, Any]:
        return {"tenants": await _call(service.tenants)}
    return list_tenants


def _get_tenant(service: Service) -> Tool:
    async def get_tenant(tenant_id: str) -> dict[str, Any]:
        return dict(await _call(service.tenant, tenant_id))
    return get_tenant


def _list_approvals(service: Service) -> Tool:
    async def list_approvals(status: str = "pending") -> dict[str, Any]:
        return {"approvals": await _call(service.approvals, status)}
    return list_approvals


def _read_journal(service: Service) -> Tool:
    async def read_journal(tenant_id: str | None = None, stack: str | None = None, limit: int = 50) -> dict[str, Any]:
        return {"entries": await _call(service.journal, tenant=tenant_id, stack=stack, limit=limit)}
    return read_journal


def _operation(operation: str, *, approval: bool = True, plan: bool = False) -> Callable[[Service], Tool]:
    def make(service: Service) -> Tool:
        if plan:
            async def with_plan(tenant_id: str, plan: str, approval: int | None = None) -> dict[str, Any]:
                fields = {"plan": plan, **({"approval": approval} if approval is not None else {})}
                return dict(await _call(service.operate, operation, tenant_id, fields))
            return with_plan
        if approval:
            async def with_approval(tenant_id: str, approval: int | None = None) -> dict[str, Any]:
                fields = {"approval": approval} if approval is not None else {}
                return dict(await _call(service.operate, operation, tenant_id, fields))
            return with_approval

        async def plain(tenant_id: str) -> dict[str, Any]:
            return dict(await _call(service.operate, operation, tenant_id, {}))
        return plain
    return make


_FUNCTIONS: dict[str, Callable[[Service], Tool]] = {
    "list_tenants": _list_tenants, "get_tenant": _get_tenant, "list_approvals": _list_approvals,
    "read_journal": _read_journal, "preview": _operation("preview", approval=False),
    "up": _operation("up"), "refresh": _operation("refresh"), "onboard": _operation("onboard"),
    "change_plan": _operation("change-plan", plan=True), "suspend": _operation("suspend"),
    "resume": _operation("resume"), "offboard": _operation("offboard"),
}


__all__ = ["READ_TOOLS", "TOOLS", "WRITE_TOOLS", "TokenVerifier", "build"]
