"""The security matrix, against the real server (a subprocess on a loopback port) on real SQLite and on
the real PostgreSQL server as the service's least-privilege role, with HTTP clients.

Each case is refused with the right status and problem type, and the journal is complete: an
authenticated principal's refused attempt on a target that exists is journaled as `denied` with its
actor (never anyone else's), nothing is left open, and nothing ran that should not have (the runner
double's log). `CASES` is the matrix; the README gives its count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.service.conftest import Caller, Server, problem

CASES: list[Callable[[Server], None]] = []


def case(function: Callable[[Server], None]) -> Callable[[Server], None]:
    CASES.append(function)
    return function


def journal_of(server: Server, caller: Caller) -> list[tuple[str, str, str | None]]:
    """(stack, operation, result) of the caller's entries, oldest first; every one of them has ended."""
    entries = server.journal(caller.actor)
    assert all(entry.ended_at is not None for entry in entries), entries
    return [(entry.stack.split("/")[-1], entry.operation, entry.result) for entry in entries]


def runs_during(server: Server, action: Callable[[], Any]) -> tuple[Any, list[dict[str, Any]]]:
    before = len(server.runs())
    result = action()
    return result, server.runs()[before:]


def approval_status(server: Server, approval_id: int) -> str:
    store = server.store()
    try:
        found = store.approvals.get(approval_id)
        assert found is not None
        return found.status
    finally:
        store.close()


def post(server: Server, caller: Caller | str | None, path: str, **options: Any) -> httpx.Response:
    with server.client(caller) as client:
        return client.post(path, **options)


def get(server: Server, caller: Caller | str | None, path: str, **options: Any) -> httpx.Response:
    with server.client(caller) as client:
        return client.get(path, **options)


def approval_request(server: Server, agent: Caller) -> int:
    """An agent's up of acme (which deletes its protected database) refused: the approval request's id."""
    body = problem(post(server, agent, "/v1/tenants/acme/up"), 409, "approval-needed")
    return int(body["approval_id"])


# --- authentication: 401, the same body whatever was wrong ---------------------------------------------

ENDPOINTS = [("GET", "/v1/tenants"), ("GET", "/v1/tenants/acme"), ("POST", "/v1/tenants/acme/preview"),
             ("POST", "/v1/tenants/acme/up"), ("POST", "/v1/tenants/acme/refresh"),
             *[("POST", f"/v1/tenants/acme/lifecycle/{op}")
               for op in ("onboard", "change-plan", "suspend", "resume", "offboard")],
             ("GET", "/v1/approvals"), ("POST", "/v1/approvals/1/approve"), ("POST", "/v1/approvals/1/reject"),
             ("GET", "/v1/journal"), ("GET", "/v1/openapi.json"), ("POST", "/mcp"), ("GET", "/nowhere")]


def _unauthenticated(server: Server, token: str | None, **headers: str) -> dict[str, Any]:
    body, ran = runs_during(server, lambda: problem(get(server, token, "/v1/tenants/acme", headers=headers), 401,
                                                    "unauthenticated"))
    assert ran == []
    return body


@case
def no_token_on_any_endpoint(server: Server) -> None:
    before, runs = len(server.journal()), len(server.runs())
    with server.client() as client:
        for method, path in ENDPOINTS:
            response = client.request(method, path, json={} if method == "POST" else None)
            body = problem(response, 401, "unauthenticated")
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert "acme" not in body["detail"]
    assert len(server.journal()) == before and len(server.runs()) == runs


@case
def a_wrong_token(server: Server) -> None:
    real = server.token(tenants=("acme",))
    wrong = real.token[:-4] + ("AAAA" if not real.token.endswith("AAAA") else "BBBB")
    bodies = [_unauthenticated(server, wrong), _unauthenticated(server, "pbt_0123456789abcdef_" + "x" * 43),
              _unauthenticated(server, "not-a-token"), _unauthenticated(server, real.token + "x")]
    assert len({body["detail"] for body in bodies}) == 1  # nothing says which part was wrong
    assert journal_of(server, real) == []


@case
def an_expired_token(server: Server) -> None:
    caller = server.token(tenants=("acme",))
    assert get(server, caller, "/v1/tenants").status_code == 200
    store = server.store()
    try:  # time passes: the owner moves its deadline into the past
        from sqlalchemy import update

        from paybill_iac.automation.store.principals import tokens_table

        with store.db.transaction() as conn:
            conn.execute(update(tokens_table).where(tokens_table.c.id == caller.token_id)
                         .values(expires_at=store.clock() - 1))
    finally:
        store.close()
    body = _unauthenticated(server, caller.token)
    assert body["detail"] == _unauthenticated(server, None)["detail"]
    assert journal_of(server, caller) == []


@case
def a_revoked_token(server: Server) -> None:
    caller = server.token(tenants=("acme",))
    assert get(server, caller, "/v1/tenants").status_code == 200
    store = server.store()
    try:
        from paybill_iac.automation.store.principals import Principals

        assert Principals(store.db).revoke(token_id=caller.token_id, by="human:test") == 1
    finally:
        store.close()
    _unauthenticated(server, caller.token)
    problem(post(server, caller, "/v1/tenants/acme/up"), 401, "unauthenticated")
    assert journal_of(server, caller) == []


@case
def a_token_in_another_place_than_the_bearer_header(server: Server) -> None:
    caller = server.token(tenants=("acme",))
    _unauthenticated(server, None, authorization=f"Basic {caller.token}")
    _unauthenticated(server, None, **{"x-api-key": caller.token})
    problem(get(server, None, f"/v1/tenants?access_token={caller.token}"), 401, "unauthenticated")


# --- tenant scope: another tenant is 404, exactly as one that does not exist ---------------------------

@case
def a_token_for_tenant_a_reading_b(server: Server) -> None:
    caller = server.token(tenants=("acme",))
    listed = get(server, caller, "/v1/tenants").json()["tenants"]
    assert [tenant["id"] for tenant in listed] == ["acme"]
    other = problem(get(server, caller, "/v1/tenants/globex"), 404, "not-found")
    missing = problem(get(server, caller, "/v1/tenants/no-such-tenant"), 404, "not-found")
    assert other["title"] == missing["title"] and other["detail"].replace("globex", "X") == \
        missing["detail"].replace("no-such-tenant", "X")
    problem(get(server, caller, "/v1/journal?tenant=globex"), 404, "not-found")
    problem(get(server, caller, "/v1/journal?stack=tenant/globex"), 404, "not-found")
    problem(get(server, caller, "/v1/journal?stack=cell/azure-weu-a"), 404, "not-found")


@case
def a_token_for_tenant_a_acting_on_b(server: Server) -> None:
    caller = server.token(tenants=("acme",))
    (response, ran) = runs_during(server, lambda: post(server, caller, "/v1/tenants/globex/up"))
    body = problem(response, 404, "not-found")
    assert "globex" in body["detail"] and ran == []
    problem(post(server, caller, "/v1/tenants/globex/lifecycle/suspend"), 404, "not-found")
    problem(post(server, caller, "/v1/tenants/no-such-tenant/up"), 404, "not-found")
    assert journal_of(server, caller) == [("globex", "up", "denied"), ("globex", "suspend", "denied")]
    [entry, _] = server.journal(caller.actor)
    assert "outside" in entry.error and entry.details["token"] == caller.token_id


@case
def selectors_by_plan_cloud_and_cell(server: Server) -> None:
    def visible(*selectors: str) -> list[str]:
        caller = server.token(tenants=selectors)
        return [tenant["id"] for tenant in get(server, caller, "/v1/tenants").json()["tenants"]]

    assert visible("plan:growth") == ["hooli", "stark", "wayne", "wonka"]
    assert visible("cloud:oci") == ["oscorp", "umbrella", "wonka"]
    assert visible("cell:aws-euw1-a") == ["acme", "dunder-mifflin", "hooli"]
    assert visible("acme", "cloud:gcp") == ["acme", "initech", "soylent", "wayne"]
    growth = server.token(tenants=("plan:growth",))
    problem(post(server, growth, "/v1/tenants/cyberdyne/up"), 404, "not-found")  # enterprise


@case
def a_plan_change_that_would_leave_the_token_s_tenants(server: Server) -> None:
    caller = server.token(tenants=("plan:growth",), role="operator")
    response, ran = runs_during(server, lambda: post(server, caller, "/v1/tenants/wonka/lifecycle/change-plan",
                                                     json={"plan": "enterprise"}))
    problem(response, 403, "forbidden")
    assert ran == [] and journal_of(server, caller) == [("wonka", "change-plan", "denied")]


@case
def the_journal_shows_only_the_token_s_tenants(server: Server) -> None:
    admin = server.token(kind="human", role="admin")
    assert post(server, admin, "/v1/tenants/globex/refresh").status_code == 200
    assert post(server, admin, "/v1/tenants/acme/refresh").status_code == 200
    caller = server.token(tenants=("acme",), role="viewer")
    entries = get(server, caller, "/v1/journal?limit=500").json()["entries"]
    assert entries and {entry["tenant"] for entry in entries} == {"acme"}
    assert all("owner" not in entry for entry in entries)


# --- roles -------------------------------------------------------------------------------------------------

@case
def a_viewer_calling_a_write(server: Server) -> None:
    viewer = server.token(role="viewer")
    for path in ("/v1/tenants/hooli/up", "/v1/tenants/hooli/preview", "/v1/tenants/hooli/refresh",
                 "/v1/tenants/hooli/lifecycle/suspend"):
        response, ran = runs_during(server, lambda path=path: post(server, viewer, path))
        body = problem(response, 403, "forbidden")
        assert "viewer" in body["detail"] and ran == []
    assert journal_of(server, viewer) == [("hooli", "up", "denied"), ("hooli", "preview", "denied"),
                                          ("hooli", "refresh", "denied"), ("hooli", "suspend", "denied")]
    assert get(server, viewer, "/v1/tenants/hooli").status_code == 200


@case
def an_approver_running_an_operation(server: Server) -> None:
    approver = server.token(kind="human", role="approver")
    problem(post(server, approver, "/v1/tenants/hooli/up"), 403, "forbidden")
    assert journal_of(server, approver) == [("hooli", "up", "denied")]


@case
def an_operator_approving(server: Server) -> None:
    agent = server.token(tenants=("acme",))
    request = approval_request(server, agent)
    human_operator = server.token(kind="human", role="operator")
    problem(post(server, human_operator, f"/v1/approvals/{request}/approve"), 403, "forbidden")
    assert journal_of(server, human_operator) == [("acme", "approve", "denied")]
    assert approval_status(server, request) == "pending"


# --- approvals ---------------------------------------------------------------------------------------------

@case
def an_agent_approving_its_own_request(server: Server) -> None:
    agent = server.token(tenants=("acme",))
    request = approval_request(server, agent)
    body = problem(post(server, agent, f"/v1/approvals/{request}/approve"), 403, "forbidden")
    assert "operator role" in body["detail"]
    problem(post(server, agent, f"/v1/approvals/{request}/reject"), 403, "forbidden")
    assert journal_of(server, agent) == [("acme", "up", "refused"), ("acme", "approve", "denied"),
                                         ("acme", "reject", "denied")]
    assert approval_status(server, request) == "pending"


@case
def an_agent_approving_any_request(server: Server) -> None:
    requester = server.token(tenants=("acme",))
    request = approval_request(server, requester)
    other = server.token(tenants=("*",))
    problem(post(server, other, f"/v1/approvals/{request}/approve"), 403, "forbidden")
    # an agent principal forged with the approver role in the database is still no human
    forged = server.token(tenants=("*",), role="operator")
    store = server.store()
    try:
        from sqlalchemy import update

        from paybill_iac.automation.store.principals import principals_table

        with store.db.transaction() as conn:
            conn.execute(update(principals_table).where(principals_table.c.name == forged.name)
                         .values(role="approver"))
    finally:
        store.close()
    body = problem(post(server, forged, f"/v1/approvals/{request}/approve"), 403, "forbidden")
    assert "agent" in body["detail"]
    assert journal_of(server, other) == [("acme", "approve", "denied")]
    assert journal_of(server, forged) == [("acme", "approve", "denied")]
    assert approval_status(server, request) == "pending"


@case
def a_human_approving_a_request_of_their_own(server: Server) -> None:
    approver = server.token(kind="human", role="approver")
    store = server.store()
    try:
        request = store.approvals.request(stack="paybill-tenant/acme", tenant="acme", operation="up",
                                          requested_by=approver.actor, reasons=["test"], change_summary={},
                                          plan_path="", plan_sha256="")
    finally:
        store.close()
    body = problem(post(server, approver, f"/v1/approvals/{request}/approve"), 403, "forbidden")
    assert "another human" in body["detail"]
    assert journal_of(server, approver) == [("acme", "approve", "denied")]


@case
def the_whole_approval_once_and_replays(server: Server) -> None:
    agent = server.token(tenants=("acme",))
    approver = server.token(kind="human", role="approver")
    request = approval_request(server, agent)
    approved = post(server, approver, f"/v1/approvals/{request}/approve")
    assert approved.status_code == 200 and approved.json()["decided_by"] == approver.actor
    assert approved.json()["status"] == "approved" and "plan_path" not in approved.json()
    body = problem(post(server, approver, f"/v1/approvals/{request}/approve"), 409, "conflict")
    assert body["approval"]["status"] == "approved"
    problem(post(server, approver, f"/v1/approvals/{request}/reject"), 409, "conflict")
    response, ran = runs_during(server, lambda: post(server, agent, "/v1/tenants/acme/up",
                                                     json={"approval": request}))
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["approval"] == request
    assert [(run["op"], run["stack"]) for run in ran] == [("up", "paybill-tenant/acme")]  # the saved plan, once
    replay, ran = runs_during(server, lambda: post(server, agent, "/v1/tenants/acme/up", json={"approval": request}))
    assert "already used" in problem(replay, 409, "conflict")["detail"] and ran == []
    assert journal_of(server, agent) == [("acme", "up", "refused"), ("acme", "up", "succeeded"),
                                         ("acme", "up", "refused")]
    assert approval_status(server, request) == "used"


@case
def an_approval_used_by_someone_else_or_elsewhere(server: Server) -> None:
    agent = server.token(tenants=("acme",))
    approver = server.token(kind="human", role="approver")
    request = approval_request(server, agent)
    assert post(server, approver, f"/v1/approvals/{request}/approve").status_code == 200
    thief = server.token(tenants=("acme",))
    response, ran = runs_during(server, lambda: post(server, thief, "/v1/tenants/acme/up", json={"approval": request}))
    assert "requested by" in problem(response, 409, "conflict")["detail"] and ran == []
    elsewhere = server.token(tenants=("acme", "hooli"), name=None)
    problem(post(server, elsewhere, "/v1/tenants/hooli/up", json={"approval": request}), 400, "bad-request")
    assert approval_status(server, request) == "approved"  # still the requester's to apply
    assert journal_of(server, thief) == [("acme", "up", "refused")]


@case
def an_expired_or_rejected_approval(server: Server) -> None:
    agent = server.token(tenants=("acme",))
    approver = server.token(kind="human", role="approver")
    expired = approval_request(server, agent)
    rejected = approval_request(server, agent)
    store = server.store()
    try:
        from sqlalchemy import update

        from paybill_iac.automation.store.db import approvals_table

        with store.db.transaction() as conn:  # the owner moves the deadline into the past
            conn.execute(update(approvals_table).where(approvals_table.c.id == expired)
                         .values(expires_at=store.clock() - 1))
    finally:
        store.close()
    assert "expired" in problem(post(server, approver, f"/v1/approvals/{expired}/approve"), 409, "conflict")["detail"]
    assert post(server, approver, f"/v1/approvals/{rejected}/reject").json()["status"] == "rejected"
    response, ran = runs_during(server, lambda: post(server, agent, "/v1/tenants/acme/up",
                                                     json={"approval": rejected}))
    assert "rejected" in problem(response, 409, "conflict")["detail"] and ran == []


@case
def an_approver_outside_the_request_s_tenants(server: Server) -> None:
    agent = server.token(tenants=("acme",))
    request = approval_request(server, agent)
    approver = server.token(kind="human", role="approver", tenants=("globex",))
    problem(post(server, approver, f"/v1/approvals/{request}/approve"), 404, "not-found")
    listed = get(server, approver, "/v1/approvals?status=all").json()["approvals"]
    assert all(item["tenant"] == "globex" for item in listed)
    assert journal_of(server, approver) == [("acme", "approve", "denied")]


# --- the change budget is the principal's --------------------------------------------------------------

@case
def an_agent_over_its_budget(server: Server) -> None:
    agent = server.token(tenants=("globex",), max_changes=5)
    response, ran = runs_during(server, lambda: post(server, agent, "/v1/tenants/globex/up"))
    body = problem(response, 409, "approval-needed")
    assert any("over the agent change budget of 5" in reason for reason in body["reasons"])
    assert [run["op"] for run in ran] == ["preview"]  # previewed, never applied
    roomy = server.token(tenants=("globex",), max_changes=20)
    assert post(server, roomy, "/v1/tenants/globex/up").status_code == 200
    assert journal_of(server, agent) == [("globex", "up", "refused")]
    assert journal_of(server, roomy) == [("globex", "up", "succeeded")]


# --- whatever a caller sends for actor, budget, packs, state or backend ---------------------------------

SETTINGS = [{"actor": "human:root"}, {"budget": {"max_changes": 1000}}, {"max_changes": 1000},
            {"policy_dir": "/tmp/empty-packs"}, {"policy_packs": []}, {"state_url": "sqlite:////tmp/fresh.db"},
            {"backend": "file:///tmp/elsewhere"}, {"backend_url": "file:///tmp/elsewhere"},
            {"approval": 1, "Actor": "human:root"}]


@case
def caller_supplied_settings_in_the_body(server: Server) -> None:
    agent = server.token(tenants=("globex",), max_changes=5)
    for fields in SETTINGS:
        response, ran = runs_during(server, lambda fields=fields: post(server, agent, "/v1/tenants/globex/up",
                                                                       json=fields))
        body = problem(response, 400, "caller-setting")
        assert body["refused"] and ran == []
    assert journal_of(server, agent) == [("globex", "up", "denied")] * len(SETTINGS)


@case
def caller_supplied_settings_in_the_query(server: Server) -> None:
    agent = server.token(tenants=("globex",))
    for query in ("actor=human:root", "state_url=sqlite:////tmp/x.db", "backend=file:///x", "policy_dir=/tmp"):
        problem(post(server, agent, f"/v1/tenants/globex/up?{query}"), 400, "caller-setting")
        problem(get(server, agent, f"/v1/tenants?{query}"), 400, "caller-setting")
        problem(get(server, agent, f"/v1/journal?{query}"), 400, "caller-setting")
    assert journal_of(server, agent) == [("globex", "up", "denied")] * 4


@case
def caller_supplied_identity_headers_are_ignored(server: Server) -> None:
    agent = server.token(tenants=("hooli",))
    headers = {"X-Paybill-Actor": "human:root", "X-Actor": "human:root", "X-Forwarded-User": "root",
               "X-Remote-User": "root", "PAYBILL_ACTOR": "human:root"}
    assert post(server, agent, "/v1/tenants/hooli/up", headers=headers).json()["actor"] == agent.actor
    other = server.token(tenants=("globex",))  # a second Authorization header changes nothing
    with httpx.Client(base_url=server.url) as client:
        response = client.get("/v1/tenants", headers=[("Authorization", f"Bearer {agent.token}"),
                                                       ("Authorization", f"Bearer {other.token}")])
    assert [tenant["id"] for tenant in response.json()["tenants"]] == ["hooli"]
    assert journal_of(server, agent) == [("hooli", "up", "succeeded")]
    assert all(entry.actor != "human:root" for entry in server.journal())


# --- bodies and limits --------------------------------------------------------------------------------------

@case
def an_oversized_body(server: Server) -> None:
    agent = server.token(tenants=("hooli",))
    big = b'{"approval": 1, "pad": "' + b"x" * 5000 + b'"}'
    response, ran = runs_during(server, lambda: post(server, agent, "/v1/tenants/hooli/up", content=big,
                                                     headers={"content-type": "application/json"}))
    problem(response, 413, "payload-too-large")

    def chunks() -> Any:
        for _ in range(10):
            yield b"x" * 1000

    problem(post(server, agent, "/v1/tenants/hooli/up", content=chunks(),
                 headers={"content-type": "application/json"}), 413, "payload-too-large")
    problem(post(server, agent, "/mcp", content=big, headers={"content-type": "application/json",
                                                              "accept": "application/json, text/event-stream"}),
            413, "payload-too-large")
    assert ran == [] and journal_of(server, agent) == []


@case
def malformed_bodies(server: Server) -> None:
    agent = server.token(tenants=("hooli",))
    json_type = {"content-type": "application/json"}
    cases = [(b"{not json", json_type, 400, "bad-request"), (b"[1, 2]", json_type, 400, "bad-request"),
             (b'"up"', json_type, 400, "bad-request"), (b"[" * 2000 + b"]" * 2000, json_type, 400, "bad-request"),
             (b'{"approval": 1}', {"content-type": "text/plain"}, 415, "unsupported-media-type"),
             (b'{"approval": 1}', {}, 415, "unsupported-media-type"),
             *[(body, json_type, 400, "bad-request")
               for body in (b'{"surprise": 1}', b'{"approval": "1"}', b'{"approval": -3}', b'{"approval": true}',
                            b'{"approval": 1e400}', b"\xff\xfe\x00")]]
    for content, headers, status, kind in cases:
        response, ran = runs_during(server, lambda content=content, headers=headers: post(
            server, agent, "/v1/tenants/hooli/up", content=content, headers=headers))
        problem(response, status, kind)
        assert ran == []
    problem(post(server, agent, "/v1/tenants/hooli/lifecycle/change-plan", json={"plan": "../x"}), 400, "bad-request")
    problem(post(server, agent, "/v1/tenants/hooli/lifecycle/change-plan", json={}), 400, "bad-request")
    assert journal_of(server, agent) == []


@case
def a_token_over_its_rate_limit(server: Server) -> None:
    agent = server.token(tenants=("hooli",))
    statuses = []
    with server.client(agent) as client:
        for _ in range(400):  # until the bucket is empty (a slow machine refills it as it goes)
            limited = client.get("/v1/tenants")
            statuses.append(limited.status_code)
            if limited.status_code == 429:
                break
    problem(limited, 429, "rate-limited")
    assert int(limited.headers["retry-after"]) >= 1
    assert statuses.count(200) >= 40  # the burst (40), then 20 per second
    other = server.token(tenants=("hooli",))
    assert get(server, other, "/v1/tenants").status_code == 200  # limits are per token


@case
def unknown_methods_and_paths(server: Server) -> None:
    agent = server.token(tenants=("hooli",))
    with server.client(agent) as client:
        problem(client.delete("/v1/tenants/hooli"), 405, "method-not-allowed")
        problem(client.get("/v1/tenants/hooli/up"), 405, "method-not-allowed")
        problem(client.post("/v1/tenants/hooli/destroy"), 404, "not-found")
        problem(client.post("/v1/tenants/hooli/lifecycle/retention-end"), 404, "not-found")
        problem(client.get("/v1/admin"), 404, "not-found")
        problem(client.get("/v1/tenants?surprise=1"), 400, "bad-request")
        problem(client.get("/v1/journal?limit=100000"), 400, "bad-request")
        problem(client.get("/v1/journal?limit=-1"), 400, "bad-request")
        problem(client.get("/v1/approvals?status=everything"), 400, "bad-request")


@pytest.mark.parametrize("check", CASES, ids=lambda check: check.__name__)
def test_security_matrix(server: Server, check: Callable[[Server], None]) -> None:
    check(server)
    assert server.open_entries() == []
