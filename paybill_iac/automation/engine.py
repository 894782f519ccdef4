"""What the Pulumi engine reports, as paybill-iac reads it: its resource operation types, and which of the
CLI's failures are worth another attempt. Pure: no pulumi import, no I/O.

Operation types are the engine's own list (`OpType` in pulumi.automation.events of the Python SDK,
`StepOp` in pkg/resource/deploy/step.go of pulumi/pulumi):

    same, create, update, delete, replace, create-replacement, delete-replaced, read,
    read-replacement, refresh, discard, discard-replaced, remove-pending-replace, import,
    import-replacement

An operation this module does not know (a newer engine) counts as deleting: the gates then ask a human.

Transient failures are decided from the CLI's own error lines only (lines that start with `error:`,
not the resource diagnostics indented under them, nor the program's output), and only for what the
backend reports: its lock conflict (`[409] Conflict: Another update is currently in progress.`, or a
self-managed backend's `the stack is currently locked by`), and its HTTP status 429 and 5xx, which the
Pulumi Cloud client writes as `[<status>] <text>`. A bucket named `pb-503-data`, a provider's "timeout
while waiting for state" or a cloud API's own 503 inside a resource diagnostic is not transient: the
engine may have changed resources before failing, and another `up` is not what fixes those.
"""

from __future__ import annotations

import re

OPERATION_TYPES: tuple[str, ...] = (
    "same", "create", "update", "delete", "replace", "create-replacement", "delete-replaced", "read",
    "read-replacement", "refresh", "discard", "discard-replaced", "remove-pending-replace", "import",
    "import-replacement",
)
NO_CHANGE_OPS = frozenset({"same", "read", "refresh"})
"""Steps that change nothing in the cloud or the state's view of it."""
DELETING_OPS = frozenset({"delete", "replace", "create-replacement", "delete-replaced", "read-replacement",
                          "discard", "discard-replaced", "remove-pending-replace", "import-replacement"})
"""Steps that delete a resource, replace it, or drop it from the state: a data resource among them loses data
(or the stack's hold on it)."""
REMOVING_OPS = frozenset({"delete", "delete-replaced", "discard", "discard-replaced", "remove-pending-replace"})
"""The deleting steps that remove (the others replace)."""

assert set(OPERATION_TYPES) >= NO_CHANGE_OPS | DELETING_OPS


def is_deleting(op: str) -> bool:
    """Whether a step of operation `op` may delete or replace its resource (an unknown op: yes)."""
    return op in DELETING_OPS or op not in OPERATION_TYPES


def is_change(op: str) -> bool:
    return op not in NO_CHANGE_OPS


_ERROR_LINE = re.compile(r"^error: ?(?P<text>.*)$")
_BACKEND_STATUS = re.compile(r"\[(?P<status>429|5\d\d)\]")
_LOCK = re.compile(r"\[409\] Conflict: Another update is currently in progress|the stack is currently locked by")


def error_lines(output: str) -> list[str]:
    """The CLI's own error lines in `output` (stderr or stdout of a pulumi command): `error: ...` at the start
    of a line. Diagnostics the engine prints for resources are indented under the resource and left out."""
    found = []
    for line in output.splitlines():
        match = _ERROR_LINE.match(line.rstrip())
        if match:
            found.append(match["text"])
    return found


def transient_reason(output: str) -> str | None:
    """Why a failed pulumi command is worth another attempt, from its error lines: "lock" (another update
    holds the stack), "backend <status>" (the backend said 429 or 5xx); None when it is not."""
    for line in error_lines(output):
        if _LOCK.search(line):
            return "lock"
        status = _BACKEND_STATUS.search(line)
        if status:
            return f"backend {status['status']}"
    return None
