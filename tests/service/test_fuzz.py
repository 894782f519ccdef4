"""Every path parameter fuzzed, against the real server: each route that takes a tenant id or an approval
id, with hostile values (traversal, encodings, injection, selectors, other tenants, huge, control and
unicode characters) and generated ones. Whatever comes in: a problem body (400, 404 or 405), never a 500,
never a traceback, never another tenant's data or name, nothing run, nothing left open in the journal.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.service.conftest import Server

TENANT_ROUTES = [("GET", "/v1/tenants/{}"),
                 *[("POST", f"/v1/tenants/{{}}/{op}") for op in ("preview", "up", "refresh")],
                 *[("POST", f"/v1/tenants/{{}}/lifecycle/{op}")
                   for op in ("onboard", "change-plan", "suspend", "resume", "offboard")]]
APPROVAL_ROUTES = [("POST", "/v1/approvals/{}/approve"), ("POST", "/v1/approvals/{}/reject")]
CATALOG_TENANTS = ("acme", "cyberdyne", "dunder-mifflin", "globex", "hooli", "initech", "nakatomi", "oscorp",
                   "soylent", "stark", "tyrell", "umbrella", "vandelay", "wayne", "wonka")

HOSTILE_TENANTS = [
    "", " ", "globex", "GLOBEX", "Hooli", "hooli ", " hooli", "hooli.", ".hooli", "hooli%00", "hooli\x00", "\x00",
    "../globex", "..%2fglobex", "%2e%2e%2fglobex", "hooli/../globex", "hooli%2f..%2fglobex", "%2e", "..", ".",
    "*", "plan:starter", "cloud:aws", "cell:aws-euw1-a", "tenant/globex", "paybill-tenant/globex",
    "hooli;globex", "hooli,globex", "hooli|globex", "hooli&tenant=globex", "hooli?x=1", "hooli#x",
    "hooli' OR '1'='1", 'hooli" --', "'; DROP TABLE paybill_journal; --", "%", "%25", "%zz", "+", "%20",
    "a" * 63, "a" * 64, "a" * 300, "a" * 4000, "ünïcödé", "😀", "\u202eilooh", "hooli\r\nX-Injected: 1",
    "${jndi:ldap://x}", "{{7*7}}", "<script>alert(1)</script>", "null", "None", "0", "-1", "1e9", "true",
]
HOSTILE_IDS = ["0", "-1", "1.0", "1e3", "0x1", "abc", " 1", "1 ", "1;2", "%31", "99999999999999999999",
               "1" * 300, "", "..", "../1", "*", "null", "😀", "1%00", "'1'"]


def _clients(server: Server, **options: object) -> Iterator[httpx.Client]:
    """A client of a fresh principal every 35 requests (each token's burst is the server's, 40)."""
    while True:
        with server.client(server.token(**options)) as client:  # type: ignore[arg-type]
            for _ in range(35):
                yield client


def _check(response: httpx.Response, value: str, allowed: set[int]) -> None:
    if response.request.url.path.rstrip("/") == "/v1/tenants":  # the client resolved "." or ".." away
        allowed = allowed | {200}
    assert response.status_code in allowed, (value, response.status_code, response.text[:300])
    assert response.status_code < 500
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json"), (value, response.text)
        body = response.json()
        assert body["status"] == response.status_code and body["type"].startswith("urn:paybill-iac:problem:")
    text = response.text
    assert "Traceback" not in text and 'File "' not in text
    echoed = urllib.parse.unquote(value).lower()
    leaked = [name for name in CATALOG_TENANTS if name in text and name not in echoed and name != "hooli"]
    assert not leaked, (value, leaked, text[:300])


def _request(client: httpx.Client, method: str, template: str, value: str) -> httpx.Response:
    quoted = urllib.parse.quote(value, safe="%/;=:+,*'\"$@!{}<>|")  # ? and # would end the path client-side
    return client.request(method, template.format(quoted), json={} if method == "POST" else None)


def _hit(clients: Iterator[httpx.Client], routes: list[tuple[str, str]], values: list[str], allowed: set[int]) -> None:
    for value in values:
        for method, template in routes:
            try:
                response = _request(next(clients), method, template, value)
            except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError):
                continue  # the client itself refuses to send it
            _check(response, value, allowed)


def test_every_tenant_path_parameter_with_hostile_values(server: Server) -> None:
    runs = len(server.runs())
    # a viewer is refused every write by its role before any tenant is looked up: one read, one write route
    _hit(_clients(server, tenants=("hooli",), role="viewer"), TENANT_ROUTES[:2], HOSTILE_TENANTS, {400, 403, 404, 405})
    assert len(server.runs()) == runs and server.open_entries() == []


def test_every_tenant_path_parameter_acting_as_an_operator(server: Server) -> None:
    runs = len(server.runs())
    values = [value for value in HOSTILE_TENANTS if value.strip().lower() not in ("hooli", "hooli.")]
    _hit(_clients(server, tenants=("hooli",), role="operator"), TENANT_ROUTES[1:], values, {400, 404, 405})
    assert len(server.runs()) == runs and server.open_entries() == []
    outside = [entry for entry in server.journal() if entry.result == "denied" and entry.tenant == "globex"
               and "outside" in (entry.error or "")]
    assert outside  # an existing tenant outside the token's: 404 for the caller, journaled for the auditor


def test_every_approval_path_parameter(server: Server) -> None:
    clients = _clients(server, kind="human", role="approver", tenants=("hooli",))
    _hit(clients, APPROVAL_ROUTES, HOSTILE_IDS, {400, 404, 405})
    assert server.open_entries() == []


_TOKENS: dict[int, list[Any]] = {}


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(value=st.text(min_size=0, max_size=80))
def test_generated_path_parameters(server: Server, value: str) -> None:
    expected = {200, 400, 403, 404, 405} if value == "hooli" else {400, 403, 404, 405}
    held = _TOKENS.get(id(server))
    if held is None or held[1] >= 10:  # a fresh token every 10 examples (30 requests: within its burst)
        held = _TOKENS[id(server)] = [server.token(tenants=("hooli",), role="operator"), 0]
    held[1] += 1
    with server.client(held[0]) as client:
        for method, template in (TENANT_ROUTES[0], TENANT_ROUTES[2], APPROVAL_ROUTES[0]):
            try:
                response = _request(client, method, template, value)
            except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError):
                continue
            _check(response, value, expected)
