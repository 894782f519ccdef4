"""The apply path's requests, as the official client builds them, without a cluster (its REST layer
records each request and answers from a script); and, when KUBECONFIG points at a cluster with the
operator's CRD, a server-side dry-run apply of the example fleet there."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("kubernetes", reason="the `pko` extra (kubernetes client) is not installed")

from kubernetes import client  # noqa: E402

from paybill_iac.pko import manifests as pm  # noqa: E402
from paybill_iac.pko.kube import APPLY_PATCH, FIELD_MANAGER, StackApi  # noqa: E402


class _Response:
    def __init__(self, status: int, body: dict[str, Any]):
        self.status = status
        self.reason = "OK" if status < 400 else "Conflict"
        self.data = json.dumps(body).encode()
        self.headers = {"content-type": "application/json"}

    def read(self) -> bytes:
        return self.data

    def getheaders(self) -> dict[str, str]:
        return self.headers

    def getheader(self, name: str, default: Any = None) -> Any:
        return self.headers.get(name, default)


class RecordingRest:
    """Stands in for the client's RESTClientObject: records (method, url, headers, body), answers in turn."""

    def __init__(self, answers: list[tuple[int, dict[str, Any]]]):
        self.requests: list[dict[str, Any]] = []
        self.answers = answers

    def request(self, method: str, url: str, headers: dict[str, str] | None = None, body: Any = None,
                post_params: Any = None, _request_timeout: Any = None) -> _Response:
        self.requests.append({"method": method, "url": url, "headers": dict(headers or {}), "body": body})
        status, answer = self.answers.pop(0)
        return _Response(status, answer)


def _api(answers: list[tuple[int, dict[str, Any]]]) -> tuple[StackApi, RecordingRest]:
    configuration = client.Configuration()
    configuration.host = "https://cluster.example:6443"
    configuration.api_key = {"BearerToken": "Bearer t0ken"}
    api_client = client.ApiClient(configuration)
    rest = RecordingRest(answers)
    api_client.rest_client = rest
    return StackApi("paybill-stacks", api_client), rest


def test_server_side_apply_request(catalog: Any, settings: Any) -> None:
    stack = next(s for s in pm.fleet_manifests(catalog, settings).all() if s["metadata"]["name"] == "tenant-acme")
    api, rest = _api([(200, {**stack, "metadata": {**stack["metadata"], "generation": 3}})])
    outcome = api.apply(stack)
    assert outcome.ok and outcome.generation == 3 and outcome.name == "tenant-acme"
    (request,) = rest.requests
    url = urlsplit(request["url"])
    assert request["method"] == "PATCH"
    assert url.netloc == "cluster.example:6443"
    assert url.path == "/apis/pulumi.com/v1/namespaces/paybill-stacks/stacks/tenant-acme"
    assert parse_qs(url.query) == {"fieldManager": [FIELD_MANAGER]}
    assert request["headers"]["Content-Type"] == APPLY_PATCH == "application/apply-patch+yaml"
    assert request["headers"]["authorization"] == "Bearer t0ken"  # the kubeconfig's token
    sent = request["body"] if isinstance(request["body"], dict) else json.loads(request["body"])
    assert sent == stack  # the whole manifest: server-side apply owns exactly what it sends


def test_force_and_dry_run_are_query_parameters() -> None:
    manifest = {"apiVersion": "pulumi.com/v1", "kind": "Stack", "metadata": {"name": "cell-a"},
                "spec": {"stack": "o/p/s"}}
    api, rest = _api([(200, manifest)])
    assert api.apply(manifest, force=True, dry_run=True).ok
    assert parse_qs(urlsplit(rest.requests[0]["url"]).query) == {
        "fieldManager": ["paybill-iac"], "force": ["true"], "dryRun": ["All"]}


def test_a_conflict_is_this_stacks_failure_with_the_servers_message() -> None:
    manifest = {"apiVersion": "pulumi.com/v1", "kind": "Stack", "metadata": {"name": "tenant-x"}, "spec": {}}
    api, _ = _api([(409, {"kind": "Status", "message": 'Apply failed with 1 conflict: conflict with "argocd": '
                                                          ".spec.branch", "code": 409})])
    outcome = api.apply(manifest)
    assert not outcome.ok
    assert "HTTP 409" in outcome.error and "argocd" in outcome.error and "--force-conflicts" in outcome.error


def test_list_pages_through_the_namespace_by_label() -> None:
    first = {"items": [{"metadata": {"name": "cell-a"}}], "metadata": {"continue": "tok1"}}
    second = {"items": [{"metadata": {"name": "tenant-b"}}], "metadata": {}}
    api, rest = _api([(200, first), (200, second)])
    assert [item["metadata"]["name"] for item in api.list()] == ["cell-a", "tenant-b"]
    queries = [parse_qs(urlsplit(request["url"]).query) for request in rest.requests]
    assert all(request["method"] == "GET" for request in rest.requests)
    assert urlsplit(rest.requests[0]["url"]).path == "/apis/pulumi.com/v1/namespaces/paybill-stacks/stacks"
    assert queries[0] == {"labelSelector": ["app.kubernetes.io/managed-by=paybill-iac"], "limit": ["500"]}
    assert queries[1]["continue"] == ["tok1"]


def _cluster_reason() -> str | None:
    if not os.environ.get("KUBECONFIG"):
        return "KUBECONFIG is not set: no cluster to apply to (request construction is tested above)"
    try:
        from kubernetes import config

        config.load_kube_config()
        extensions = client.ApiextensionsV1Api()
        extensions.read_custom_resource_definition("stacks.pulumi.com", _request_timeout=10)
    except Exception as error:  # noqa: BLE001 - any reason the cluster cannot be used is a skip reason
        return f"KUBECONFIG is set but the cluster or the operator's Stack CRD is not reachable: {error}"
    return None


@pytest.mark.skipif(_cluster_reason() is not None, reason=_cluster_reason() or "")
def test_dry_run_apply_against_a_real_cluster(catalog: Any, settings: Any) -> None:
    """Server-side dry run (nothing stored, the operator never sees it): the API server validates each Stack
    against the CRD, its CEL rules included, and applies the field manager."""
    namespace = os.environ.get("PAYBILL_TEST_NAMESPACE", "default")
    api = StackApi(namespace)
    fleet = pm.fleet_manifests(catalog, settings, namespace=namespace)
    outcomes = [api.apply(stack, dry_run=True) for stack in fleet.all()]
    assert all(outcome.ok for outcome in outcomes), [o.error for o in outcomes if not o.ok]
    too_long = {**fleet.cells[0], "metadata": {**fleet.cells[0]["metadata"], "name": "c" * 43}}
    refused = api.apply(too_long, dry_run=True)
    assert not refused.ok and "42" in refused.error
