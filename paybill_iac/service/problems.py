"""Errors as RFC 9457 problem details (`application/problem+json`): `type`, `title`, `status`, `detail`,
`instance`, plus members of our own (`approval_id`, `reasons`). Every refusal the service makes is a
`Problem`; `from_error` turns the automation layer's exceptions into one, and anything else becomes a
500 with a reference to the server's log, never a traceback.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from starlette.responses import JSONResponse

from paybill_iac.automation.errors import ApprovalNeeded, DataPlaneFailed, NeedsReview
from paybill_iac.errors import (
    CatalogError,
    GateRefused,
    LeaseHeld,
    OperationError,
    PaybillError,
    PulumiCLIMissing,
    TransitionError,
    UsageError,
)

log = logging.getLogger("paybill_iac.service")

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "urn:paybill-iac:problem:"

TITLES: dict[str, tuple[int, str]] = {
    "unauthenticated": (401, "A valid bearer token is required"),
    "forbidden": (403, "Not allowed for this principal"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "bad-request": (400, "Malformed request"),
    "caller-setting": (400, "That setting is the server's, not the caller's"),
    "payload-too-large": (413, "Request body too large"),
    "unsupported-media-type": (415, "Request body must be JSON"),
    "rate-limited": (429, "Too many requests for this token"),
    "approval-needed": (409, "A human approval is needed"),
    "conflict": (409, "Refused in the current state"),
    "busy": (409, "Another operation holds the stack"),
    "needs-review": (409, "The stack needs a human review first"),
    "catalog-rejected": (422, "The catalog would not be valid"),
    "operation-failed": (502, "The operation failed"),
    "pulumi-cli-missing": (503, "The Pulumi CLI is not installed on the server"),
    "catalog-invalid": (503, "The server's catalog is not valid"),
    "internal": (500, "Internal error"),
}


class Problem(Exception):
    """A refusal or failure the caller sees as a problem body."""

    def __init__(self, kind: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any):
        self.kind = kind
        self.status, self.title = TITLES[kind]
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra
        super().__init__(detail)

    def body(self, instance: str = "") -> dict[str, Any]:
        return {"type": TYPE_BASE + self.kind, "title": self.title, "status": self.status, "detail": self.detail,
                **({"instance": instance} if instance else {}), **self.extra}

    def response(self, instance: str = "") -> JSONResponse:
        return JSONResponse(self.body(instance), status_code=self.status, headers=self.headers, media_type=MEDIA_TYPE)


def from_error(error: BaseException) -> Problem:
    """The problem a failure of the automation layer is for a caller (never its traceback)."""
    if isinstance(error, Problem):
        return error
    if isinstance(error, PulumiCLIMissing):
        return Problem("pulumi-cli-missing", f"{error} The server, which alone holds the Pulumi backend and "
                       "cloud credentials, needs it installed; the request was authorised and nothing ran.")
    if isinstance(error, ApprovalNeeded):
        return Problem("approval-needed", str(error), approval_id=error.approval_id, reasons=error.reasons)
    if isinstance(error, LeaseHeld):
        return Problem("busy", str(error), headers={"Retry-After": "30"})
    if isinstance(error, NeedsReview):
        return Problem("needs-review", str(error))
    if isinstance(error, GateRefused | TransitionError):
        return Problem("conflict", str(error))
    if isinstance(error, CatalogError):
        return Problem("catalog-rejected", str(error))
    if isinstance(error, UsageError):
        return Problem("bad-request", str(error))
    if isinstance(error, DataPlaneFailed | OperationError | PaybillError):
        return Problem("operation-failed", str(error))
    reference = uuid.uuid4().hex[:12]
    log.error("internal error %s: %s: %s", reference, type(error).__name__, error,
              exc_info=log.isEnabledFor(logging.DEBUG))
    return Problem("internal", f"the server failed to handle the request (reference {reference} in its log)")
