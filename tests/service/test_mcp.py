"""The MCP interface over streamable HTTP with the official SDK's client and bearer tokens (the SDK's
in-memory client would skip HTTP and so authentication): tokens, the tools a server registers and their
annotations, tenant scope, gates and approvals given elsewhere, undeclared arguments, session ownership.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from paybill_iac.service.agents import READ_TOOLS, TOOLS, WRITE_TOOLS
from tests.service.conftest import Caller, Server, problem, start_server

Session = Callable[[Client], Awaitable[Any]]


def with_client(server: Server, token: str | None, session: Session) -> Any:
    """Run `session` with an MCP client connected to the server's /mcp with `token`."""

    async def main() -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with (httpx2.AsyncClient(headers=headers, timeout=30.0) as http,
                    Client(streamable_http_client(f"{server.url}/mcp", http_client=http)) as client):
            return await session(client)

    return anyio.run(main)


def text(result: Any) -> str:
    return " ".join(getattr(item, "text", "") for item in result.content)


def tools(server: Server, caller: Caller) -> dict[str, Any]:
    async def listed(client: Client) -> dict[str, Any]:
        return {tool.name: tool for tool in (await client.list_tools()).tools}

    return dict(with_client(server, caller.token, listed))


def call(server: Server, caller: Caller, name: str, arguments: dict[str, Any]) -> Any:
    async def called(client: Client) -> Any:
        return await client.call_tool(name, arguments)

    return with_client(server, caller.token, called)


def test_mcp_needs_a_valid_bearer_token(server: Server) -> None:
    for token in (None, "pbt_0123456789abcdef_" + "x" * 43):
        with pytest.raises(BaseException):  # noqa: B017 - the SDK raises its transport's failure, grouped
            with_client(server, token, lambda client: client.list_tools())
        response = httpx.post(f"{server.url}/mcp", headers={"Authorization": f"Bearer {token}"} if token else {},
                              json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        problem(response, 401, "unauthenticated")


def test_the_write_server_registers_every_tool_with_its_annotations(server: Server) -> None:
    listed = tools(server, server.token(tenants=("hooli",)))
    assert sorted(listed) == sorted(spec.name for spec in TOOLS)
    assert not {"approve", "reject", "decide", "destroy", "review"} & set(listed)  # never through the agent
    for spec in TOOLS:
        hints = listed[spec.name].annotations
        assert hints.read_only_hint is spec.read_only
        assert hints.destructive_hint is spec.destructive
        assert hints.idempotent_hint is spec.idempotent
        assert hints.open_world_hint is spec.open_world
    assert listed["up"].annotations.destructive_hint and listed["offboard"].annotations.destructive_hint
    assert listed["list_tenants"].annotations.read_only_hint and not listed["refresh"].annotations.destructive_hint
    assert "approval" in listed["up"].input_schema["properties"]
    assert "actor" not in json.dumps([tool.input_schema for tool in listed.values()])


def test_tenant_scope_through_mcp(server: Server) -> None:
    agent = server.token(tenants=("acme",))
    listed = call(server, agent, "list_tenants", {})
    assert [tenant["id"] for tenant in listed.structured_content["tenants"]] == ["acme"]
    other = call(server, agent, "get_tenant", {"tenant_id": "globex"})
    missing = call(server, agent, "get_tenant", {"tenant_id": "no-such-tenant"})
    assert other.is_error and "404 not-found" in text(other)
    assert text(other).replace("globex", "X") == text(missing).replace("no-such-tenant", "X")
    refused = call(server, agent, "up", {"tenant_id": "globex"})
    assert refused.is_error and "404" in text(refused)
    journal = call(server, agent, "read_journal", {"limit": 500}).structured_content["entries"]
    assert {entry["tenant"] for entry in journal} <= {"acme"}
    assert [(e.operation, e.result) for e in server.journal(agent.actor)] == [("up", "denied")]


def test_an_agent_is_gated_and_its_approval_is_given_elsewhere(server: Server) -> None:
    agent = server.token(tenants=("acme",))
    before = len(server.runs())
    refused = call(server, agent, "up", {"tenant_id": "acme"})
    assert refused.is_error and "409 approval-needed" in text(refused)
    request = int(re.search(r'"approval_id": (\d+)', text(refused)).group(1))  # type: ignore[union-attr]
    assert [run["op"] for run in server.runs()[before:]] == ["preview"]
    pending = call(server, agent, "list_approvals", {}).structured_content["approvals"]
    assert request in [item["id"] for item in pending]
    approver = server.token(kind="human", role="approver")  # a human, through REST
    with server.client(approver) as client:
        assert client.post(f"/v1/approvals/{request}/approve").json()["status"] == "approved"
    applied = call(server, agent, "up", {"tenant_id": "acme", "approval": request})
    assert not applied.is_error, text(applied)
    assert applied.structured_content["results"][0]["approval"] == request
    assert applied.structured_content["actor"] == agent.actor
    replay = call(server, agent, "up", {"tenant_id": "acme", "approval": request})
    assert replay.is_error and "already used" in text(replay)
    assert [(e.operation, e.result) for e in server.journal(agent.actor)] == [
        ("up", "refused"), ("up", "succeeded"), ("up", "refused")]


def test_arguments_a_tool_does_not_declare_change_nothing(server: Server) -> None:
    agent = server.token(tenants=("globex",), max_changes=5)
    refused = call(server, agent, "up", {"tenant_id": "globex", "actor": "human:root", "max_changes": 1000,
                                         "budget": 1000, "state_url": "sqlite:////tmp/x.db", "policy_dir": "/tmp"})
    assert refused.is_error and "over the agent change budget of 5" in text(refused)
    [entry] = server.journal(agent.actor)
    assert (entry.operation, entry.result) == ("up", "refused")
    assert all(entry.actor != "human:root" for entry in server.journal())


def test_a_viewer_agent_has_read_tools_only_in_effect(server: Server) -> None:
    viewer = server.token(tenants=("hooli",), role="viewer")
    refused = call(server, viewer, "refresh", {"tenant_id": "hooli"})
    assert refused.is_error and "403 forbidden" in text(refused)
    assert [(e.operation, e.result) for e in server.journal(viewer.actor)] == [("refresh", "denied")]


def test_an_mcp_session_belongs_to_the_token_that_opened_it(server: Server) -> None:
    owner, intruder = server.token(tenants=("hooli",)), server.token(tenants=("*",))
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                  "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                             "clientInfo": {"name": "test", "version": "1"}}}
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        opened = client.post("/mcp", json=initialize, headers={**headers, "authorization": f"Bearer {owner.token}"})
        assert opened.status_code == 200, opened.text
        session = opened.headers.get("mcp-session-id")
        if session is None:
            pytest.skip("the server negotiated a sessionless protocol version")
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        stolen = client.post("/mcp", json=listing, headers={**headers, "mcp-session-id": session,
                                                            "authorization": f"Bearer {intruder.token}"})
        assert stolen.status_code == 404


def test_a_read_only_server_never_registers_a_write_tool(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state' / 'state.db'}"
    server = start_server(tmp_path, url, url, "sqlite")
    try:
        agent = server.token(tenants=("*",))
        listed = tools(server, agent)
        assert sorted(listed) == sorted(READ_TOOLS)
        assert all(tool.annotations.read_only_hint for tool in listed.values())
        for name in WRITE_TOOLS:
            result = call(server, agent, name, {"tenant_id": "hooli"})
            assert result.is_error and f"Unknown tool: {name}" in text(result)
        assert server.runs() == [] and server.journal() == []
        # failed authentication is limited per address: a flood of bad tokens ends in 429
        statuses = []
        with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer nope"}) as client:
            while len(statuses) < 2000 and 429 not in statuses:
                statuses.append(client.get("/v1/tenants").status_code)
        assert statuses[0] == 401 and statuses[-1] == 429 and len(statuses) > 100  # a burst of 100
    finally:
        server.stop()
    assert "Traceback" not in server.output()


def test_an_agent_s_refresh_adopting_drift_on_data_waits_for_a_human(server: Server) -> None:
    """A refresh adopts drift into the state (paybill_iac.automation.drift): for an agent it is gated like an up."""
    agent = server.token(tenants=("acme",))
    before = len(server.runs())
    refused = call(server, agent, "refresh", {"tenant_id": "acme"})
    assert refused.is_error and "409 approval-needed" in text(refused) and "adopts drift" in text(refused)
    assert "refresh" not in [run["op"] for run in server.runs()[before:]]  # only previews ran
    request = int(re.search(r'"approval_id": (\d+)', text(refused)).group(1))  # type: ignore[union-attr]
    approver = server.token(kind="human", role="approver")
    with server.client(approver) as client:
        assert client.post(f"/v1/approvals/{request}/approve").json()["status"] == "approved"
    applied = call(server, agent, "refresh", {"tenant_id": "acme", "approval": request})
    assert not applied.is_error, text(applied)
    assert [run["op"] for run in server.runs()[before:]][-1] == "refresh"
    assert [(e.operation, e.result) for e in server.journal(agent.actor) if e.operation == "refresh"] == [
        ("refresh", "refused"), ("refresh", "succeeded")]
