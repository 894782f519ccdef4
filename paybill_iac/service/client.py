"""The command line's automation commands through a server: when PAYBILL_SERVER_URL and PAYBILL_TOKEN are
set, `paybill-iac up|refresh|lifecycle ...|journal|review` call the service's REST interface with the
token instead of running locally, so the identity, budget and settings are the server's (the command's
own --state-url, --backend and --catalog do not apply). What the service does not offer (destroy, fleet,
clearing a review flag, hooks that run the caller's code) is refused with a sentence.

    remote_from_env() -> RemoteAutomation | None
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any, NoReturn

import httpx

from paybill_iac.automation import ChangeSummary, JournalEntry, OperationResult, Review
from paybill_iac.automation.store import Approval
from paybill_iac.errors import PaybillError, UsageError

SERVER_ENV = "PAYBILL_SERVER_URL"
TOKEN_ENV = "PAYBILL_TOKEN"
TIMEOUT = httpx.Timeout(10.0, read=3600.0)  # an up may take a long time; connecting may not


class RemoteRefused(PaybillError):
    """The service refused or failed a request; the message is its problem's detail."""

    def __init__(self, status: int, kind: str, detail: str):
        super().__init__(f"the service said {status} ({kind}): {detail}")
        self.status = status
        self.kind = kind
        self.exit_code = 2 if status in (400, 401, 404, 413, 415, 422) or kind == "pulumi-cli-missing" else 1


def remote_from_env() -> RemoteAutomation | None:
    """A RemoteAutomation when PAYBILL_SERVER_URL and PAYBILL_TOKEN are set; None when neither is."""
    url, token = os.environ.get(SERVER_ENV, "").strip(), os.environ.get(TOKEN_ENV, "").strip()
    if not url and not token:
        return None
    if not (url and token):
        raise UsageError(f"{SERVER_ENV} and {TOKEN_ENV} go together: set both to use the service, or neither to "
                         "run locally")
    if not url.startswith(("https://", "http://127.", "http://localhost", "http://[::1]")):
        raise UsageError(f"{SERVER_ENV} '{url}': a token crosses a network only over https")
    return RemoteAutomation(url, token)


class RemoteAutomation:
    """The subset of Automation the commands use, over the service's REST interface."""

    def __init__(self, url: str, token: str, *, transport: httpx.BaseTransport | None = None):
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT,
                                 transport=transport)
        self.store = SimpleNamespace(retained=SimpleNamespace(find=lambda *_args, **_kw: []))
        """Retention details stay on the server (`paybill-iac review` there)."""

    def __enter__(self) -> RemoteAutomation:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def __getattr__(self, name: str) -> NoReturn:
        raise UsageError(f"`{name}` is not offered by the service at {self.url}: run it locally (unset "
                         f"{SERVER_ENV} and {TOKEN_ENV}) as an operator who holds the credentials")

    # --- stack operations and workflows ---------------------------------------------------------------

    def up(self, *, tenant: str | None = None, cell: str | None = None,
           approval: int | None = None) -> OperationResult:
        return self._stack("up", tenant, cell, {"approval": approval} if approval else {})

    def refresh(self, *, tenant: str | None = None, cell: str | None = None,
                approval: int | None = None) -> OperationResult:
        return self._stack("refresh", tenant, cell, {"approval": approval} if approval else {})

    def preview(self, *, tenant: str | None = None, cell: str | None = None) -> OperationResult:
        return self._stack("preview", tenant, cell, {})

    def onboard(self, tenant_id: str, *, approval: int | None = None) -> list[OperationResult]:
        return self._lifecycle("onboard", tenant_id, approval)

    def change_plan(self, tenant_id: str, plan: str, *, data_move: Any = None, cut_over: Any = None,
                    approval: int | None = None) -> list[OperationResult]:
        if data_move is not None or cut_over is not None:
            raise UsageError("--data-move and --cut-over run your code, which the service never does: run a plan "
                             "change that moves data locally")
        return self._lifecycle("change-plan", tenant_id, approval, plan=plan)

    def suspend(self, tenant_id: str, *, approval: int | None = None) -> list[OperationResult]:
        return self._lifecycle("suspend", tenant_id, approval)

    def resume(self, tenant_id: str, *, approval: int | None = None) -> list[OperationResult]:
        return self._lifecycle("resume", tenant_id, approval)

    def offboard(self, tenant_id: str, *, snapshot: Any = None, approval: int | None = None,
                 **_: Any) -> list[OperationResult]:
        if snapshot is not None:
            raise UsageError("--snapshot runs your code, which the service never does: offboard locally")
        return self._lifecycle("offboard", tenant_id, approval)

    # --- what waits for a human, the journal ------------------------------------------------------------

    def review(self) -> Review:
        approvals = self._call("GET", "/v1/approvals")["approvals"]
        return Review(flags=[], approvals=[_approval(item) for item in approvals], retention_ended=[], found_now=[])

    def approve(self, approval_id: int) -> Approval:
        return _approval(self._call("POST", f"/v1/approvals/{approval_id}/approve"))

    def reject(self, approval_id: int) -> Approval:
        return _approval(self._call("POST", f"/v1/approvals/{approval_id}/reject"))

    def journal(self, *, tenant: str | None = None, stack: str | None = None,
                limit: int | None = 50) -> list[JournalEntry]:
        params = {key: value for key, value in (("tenant", tenant), ("stack", stack)) if value}
        params["limit"] = str(min(limit or 500, 500))
        entries = self._call("GET", "/v1/journal", params=params)["entries"]
        return [JournalEntry(**{"owner": "", **entry}) for entry in entries]

    # --- the wire -----------------------------------------------------------------------------------------

    def _stack(self, operation: str, tenant: str | None, cell: str | None, body: dict[str, Any]) -> OperationResult:
        if cell is not None or tenant is None:
            raise UsageError("the service runs tenant stacks (--tenant ID); cell stacks are run locally by an operator")
        return _results(self._call("POST", f"/v1/tenants/{tenant}/{operation}", json=body))[0]

    def _lifecycle(self, operation: str, tenant_id: str, approval: int | None, **fields: Any) -> list[OperationResult]:
        body = {**fields, **({"approval": approval} if approval else {})}
        return _results(self._call("POST", f"/v1/tenants/{tenant_id}/lifecycle/{operation}", json=body))

    def _call(self, method: str, path: str, **options: Any) -> Any:
        try:
            response = self.http.request(method, path, **options)
        except httpx.HTTPError as error:
            raise RemoteRefused(503, "unreachable", f"cannot reach {self.url}: {error}") from None
        if response.status_code >= 400:
            try:
                body = response.json()
                raise RemoteRefused(response.status_code, str(body["type"]).rsplit(":", 1)[-1], str(body["detail"]))
            except (ValueError, KeyError, TypeError):
                raise RemoteRefused(response.status_code, "error", response.text[:300]) from None
        return response.json()


def _results(body: dict[str, Any]) -> list[OperationResult]:
    return [OperationResult(stack=item["stack"], operation=item["operation"], op_id=item["op_id"],
                            summary=ChangeSummary.from_dict(item["summary"]), attempts=item["attempts"],
                            approval=item["approval"]) for item in body["results"]]


def _approval(item: dict[str, Any]) -> Approval:
    return Approval(**{"plan_path": "", **item})
