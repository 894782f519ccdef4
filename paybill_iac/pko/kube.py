"""The Stack resources on a cluster, through the official `kubernetes` Python client (extra `pko`).

Server-side apply: a PATCH of the whole manifest with `Content-Type: application/apply-patch+yaml` and
the field manager `paybill-iac`
(https://kubernetes.io/docs/reference/using-api/server-side-apply/). The client's
`CustomObjectsApi.patch_namespaced_custom_object` takes `field_manager`, `force` and `dry_run` as query
parameters and `_content_type` to choose the patch type; with a dict body and a YAML content type its
REST layer sends the body as JSON (valid YAML), as `kubernetes.dynamic.DynamicClient.server_side_apply`
does. A field another manager owns is a 409 conflict unless `force` takes it over.

The client is imported only here, and only when a StackApi is built without one: `fleet manifests`
never needs it. Tests hand in an `ApiClient` whose REST layer records requests (no cluster).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from paybill_iac.errors import UsageError
from paybill_iac.pko.manifests import GROUP, PLURAL, SELECTOR, VERSION

FIELD_MANAGER = "paybill-iac"
APPLY_PATCH = "application/apply-patch+yaml"
PAGE = 500  # Stacks per list request (the API server's `limit` with `continue` tokens)


class ClientMissing(UsageError):
    def __init__(self) -> None:
        super().__init__("the operator engine needs the Kubernetes client: pip install 'paybill-iac[pko]'")


@dataclass(frozen=True)
class ApplyOutcome:
    name: str
    ok: bool
    generation: int = 0
    error: str = ""


def api_client(context: str | None = None) -> Any:
    """An ApiClient from the kubeconfig ($KUBECONFIG or ~/.kube/config; `context` picks one), or the
    in-cluster service account when there is no kubeconfig."""
    try:
        from kubernetes import client, config
    except ImportError:
        raise ClientMissing() from None
    try:
        config.load_kube_config(context=context)
    except Exception as kube_error:  # noqa: BLE001 - no kubeconfig: maybe we run in a pod
        try:
            config.load_incluster_config()
        except Exception:  # noqa: BLE001
            raise UsageError(f"no Kubernetes cluster to talk to: {kube_error} (set KUBECONFIG, or run in a pod "
                             "with a service account)") from None
    configuration = client.Configuration.get_default_copy()
    configuration.connection_pool_maxsize = 32  # concurrent applies share one connection pool
    return client.ApiClient(configuration)


def _reason(error: Any) -> str:
    """One line out of an ApiException: the API server's Status message when there is one."""
    import json

    status = getattr(error, "status", None)
    body = getattr(error, "body", None)
    message = ""
    if body:
        try:
            message = json.loads(body).get("message", "")
        except (ValueError, AttributeError):
            message = str(body)[:300]
    text = message or getattr(error, "reason", "") or str(error)
    if status == 409:
        text += " (a field another manager owns: `--force-conflicts` takes it over)"
    return f"HTTP {status}: {text}" if status else text


class StackApi:
    """Apply and list the operator's Stacks in one namespace."""

    def __init__(self, namespace: str, client: Any = None, *, context: str | None = None):
        self.namespace = namespace
        try:
            from kubernetes.client import CustomObjectsApi
        except ImportError:
            raise ClientMissing() from None
        self._client = client if client is not None else api_client(context)

        self._api = CustomObjectsApi(self._client)

    def apply(self, manifest: dict[str, Any], *, force: bool = False, dry_run: bool = False) -> ApplyOutcome:
        """Server-side apply of one Stack, field manager `paybill-iac`."""
        from kubernetes.client.exceptions import ApiException

        name = manifest["metadata"]["name"]
        try:
            applied = self._api.patch_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name, manifest,
                field_manager=FIELD_MANAGER, force=force or None, dry_run="All" if dry_run else None,
                _content_type=APPLY_PATCH)
        except ApiException as error:
            return ApplyOutcome(name, False, error=_reason(error))
        except Exception as error:  # noqa: BLE001 - a connection problem is this stack's failure, reported
            return ApplyOutcome(name, False, error=f"{type(error).__name__}: {error}")
        body: dict[str, Any] = applied if isinstance(applied, dict) else {}
        generation = int((body.get("metadata") or {}).get("generation") or 0)
        return ApplyOutcome(name, True, generation)

    def list(self, selector: str = SELECTOR) -> Iterator[dict[str, Any]]:
        """Every Stack paybill-iac manages in the namespace (paged)."""
        from kubernetes.client.exceptions import ApiException

        token: str | None = None
        while True:
            try:
                page: Any = self._api.list_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, PLURAL, label_selector=selector, limit=PAGE,
                    _continue=token)
            except ApiException as error:
                raise UsageError(f"cannot list the Stacks in namespace '{self.namespace}': {_reason(error)}") from None
            yield from page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return
