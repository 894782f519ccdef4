"""The REST interface end to end against the real server: health, the OpenAPI document against the routes,
a tenant's view, lifecycle workflows as a human operator, the journal, and the server without the Pulumi
CLI (503, saying what to install, after the same authorisation)."""

from __future__ import annotations

from pathlib import Path

import httpx
import yaml

from paybill_iac.service.rest import ENDPOINTS
from tests.service.conftest import Server, problem, start_server


def test_health_is_the_only_path_without_a_token(server: Server) -> None:
    response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert httpx.head(f"{server.url}/healthz").status_code == 200
    problem(httpx.post(f"{server.url}/healthz"), 405, "method-not-allowed")
    problem(httpx.get(f"{server.url}/v1/openapi.json"), 401, "unauthenticated")


def test_the_openapi_document_lists_exactly_the_routes(server: Server) -> None:
    viewer = server.token(role="viewer", tenants=("hooli",))
    with server.client(viewer) as client:
        document = client.get("/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    routes = {(spec.method, spec.path) for spec in ENDPOINTS}
    assert documented == routes | {("GET", "/v1/openapi.json"), ("GET", "/healthz")}
    assert document["paths"]["/healthz"]["get"]["security"] == []
    up = document["paths"]["/v1/tenants/{tenant_id}/up"]["post"]
    assert up["responses"]["503"]["content"]["application/problem+json"]
    assert up["requestBody"]["content"]["application/json"]["schema"]["additionalProperties"] is False
    schemas = set(document["components"]["schemas"])
    assert {"Problem", "Tenant", "Approval", "JournalEntry", "OperationResult"} <= schemas


def test_a_tenant_s_view(server: Server) -> None:
    admin = server.token(kind="human", role="admin")
    with server.client(admin) as client:
        assert client.post("/v1/tenants/cyberdyne/refresh").status_code == 200
        tenant = client.get("/v1/tenants/acme").json()
        assert tenant["plan"]["id"] == "starter" and tenant["plan"]["isolation"] == "pooled"
        assert tenant["limits"]["db_storage_gb"] == 10  # the tenant's override under the plan's 20
        assert tenant["placement"] == {"cloud": "aws", "region": "eu-west-1", "cell": "aws-euw1-a"}
        assert tenant["stack"] == "paybill-tenant/acme" and "deployed" in tenant
        cyberdyne = client.get("/v1/tenants/cyberdyne").json()
        assert cyberdyne["deployed"]["last_operation"]["operation"] == "refresh"
        assert cyberdyne["deployed"]["last_operation"]["actor"] == admin.actor
        listed = client.get("/v1/tenants").json()["tenants"]
        assert len(listed) == 15 and {tenant["id"] for tenant in listed} >= {"acme", "wonka"}


def test_a_human_operator_suspends_and_resumes_a_tenant(server: Server) -> None:
    operator = server.token(kind="human", role="operator", tenants=("tyrell",))
    tenant_file = server.root / "stacks" / "catalog" / "tenants" / "tyrell.yaml"
    with server.client(operator) as client:
        suspended = client.post("/v1/tenants/tyrell/lifecycle/suspend")
        assert suspended.status_code == 200, suspended.text
        assert suspended.json()["actor"] == operator.actor
        assert yaml.safe_load(tenant_file.read_text())["state"] == "suspended"
        assert client.get("/v1/tenants/tyrell").json()["state"] == "suspended"
        assert client.post("/v1/tenants/tyrell/lifecycle/suspend").json()["results"] == []  # done already
        assert client.post("/v1/tenants/tyrell/lifecycle/resume").status_code == 200
    assert yaml.safe_load(tenant_file.read_text())["state"] == "active"
    operations = [(entry.operation, entry.result) for entry in server.journal(operator.actor)]
    assert ("up", "succeeded") in operations and all(entry.ended_at for entry in server.journal(operator.actor))


def test_the_journal_endpoint(server: Server) -> None:
    admin = server.token(kind="human", role="admin")
    with server.client(admin) as client:
        client.post("/v1/tenants/hooli/refresh")
        entries = client.get("/v1/journal", params={"tenant": "hooli", "limit": 5}).json()["entries"]
        assert 1 <= len(entries) <= 5 and all(entry["tenant"] == "hooli" for entry in entries)
        assert entries[0]["actor"] == admin.actor and entries[0]["operation"] == "refresh"
        by_stack = client.get("/v1/journal", params={"stack": "tenant/hooli", "limit": 1}).json()["entries"]
        assert by_stack[0]["op_id"] == entries[0]["op_id"]
        problem(client.get("/v1/journal", params={"stack": "nonsense"}), 400, "bad-request")


def test_without_the_pulumi_cli_an_authorised_operation_answers_503(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state' / 'state.db'}"
    server = start_server(tmp_path, url, url, "sqlite", double=False)
    try:
        agent = server.token(tenants=("hooli",))
        viewer = server.token(tenants=("hooli",), role="viewer")
        with server.client(agent) as client:
            body = problem(client.post("/v1/tenants/hooli/up"), 503, "pulumi-cli-missing")
            assert "get.pulumi.com" in body["detail"] and "install" in body["detail"].lower()
            problem(client.post("/v1/tenants/hooli/preview"), 503, "pulumi-cli-missing")
            problem(client.post("/v1/tenants/globex/up"), 404, "not-found")  # authorisation first, as anywhere
            assert client.get("/v1/tenants/hooli").status_code == 200  # reads need no CLI
        with server.client(viewer) as client:
            problem(client.post("/v1/tenants/hooli/up"), 403, "forbidden")
        journal = [(entry.operation, entry.result) for entry in server.journal(agent.actor)]
        assert journal == [("up", "failed"), ("preview", "failed"), ("up", "denied")]
        assert server.open_entries() == []
    finally:
        server.stop()
    assert "Traceback" not in server.output()


def test_https_with_a_certificate(tmp_path: Path) -> None:
    import datetime
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "paybill-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    trust = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    url = f"sqlite:///{tmp_path / 'state' / 'state.db'}"
    server = start_server(tmp_path, url, url, "sqlite", scheme="https", verify=trust,
                          extra=("--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem")))
    try:
        agent = server.token(tenants=("hooli",))
        response = httpx.get(f"{server.url}/v1/tenants", headers={"Authorization": f"Bearer {agent.token}"},
                             verify=trust)
        assert response.status_code == 200 and response.json()["tenants"][0]["id"] == "hooli"
        plain = server.url.replace("https://", "http://")
        try:
            refused = httpx.get(f"{plain}/v1/tenants", headers={"Authorization": f"Bearer {agent.token}"})
            assert refused.status_code >= 400  # never served in clear text
        except httpx.HTTPError:
            pass
    finally:
        server.stop()
