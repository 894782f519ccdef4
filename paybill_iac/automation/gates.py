"""Agent gates: what an AI agent may apply without a human, judged from the preview's change summary.

CrossGuard sees resources as the program declares them; it never sees deletions, the size of a
change, or which stack a change lands in. These gates do, before anything is applied:

- deleting or replacing a stateful or protected resource (databases, buckets, keys, secrets: the
  components protect them, or mark them retain-on-delete while offboarding);
- changing more resources than the agent's change budget;
- touching a cell stack (every tenant on the cell shares it).

A refused change is kept as an approval request holding the saved update plan; once a human
approves it, the agent's `up` applies exactly that plan. Humans are not gated (policies still apply).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from paybill_iac.automation.invocation import StackRef
from paybill_iac.automation.runner import DELETING_OPS, ChangeSummary
from paybill_iac.errors import GateRefused, UsageError

HUMAN = "human"
_AGENT = re.compile(r"^agent:[a-z0-9][a-z0-9._-]{0,62}$")

# Type tokens of resources that hold data, for steps whose state carries no protect flag (a resource
# created outside our components, an older state). Matched as substrings, case-insensitively.
STATEFUL_TYPE_MARKERS = (
    "rds/instance", "rds/cluster", "s3/bucket", "kms/key", "secretsmanager/secret", "dynamodb/table",
    "dbforpostgresql", "storage:storageaccount", "storage:blobcontainer", "keyvault",
    "sql/databaseinstance", "sql/database:", "storage/bucket", "kms/cryptokey", "secretmanager/secret",
    "objectstorage/bucket", "kms/key", "kms/vault", "vault/secret", "psql/", "database/",
)


@dataclass(frozen=True)
class AgentBudget:
    """How much an agent may change in one operation without a human."""

    max_changes: int = 10
    """Most resources created, updated, replaced or deleted in one up."""


def check_actor(actor: str) -> str:
    """`human` or `agent:<name>`; anything else is a usage error."""
    if actor == HUMAN or _AGENT.fullmatch(actor):
        return actor
    raise UsageError(f"actor '{actor}' is not 'human' or 'agent:<name>' (lowercase letters, digits, . _ -)")


def is_agent(actor: str) -> bool:
    return actor.startswith("agent:")


def is_stateful_type(type_token: str) -> bool:
    lowered = type_token.lower()
    return any(marker in lowered for marker in STATEFUL_TYPE_MARKERS)


def gate_reasons(stack: StackRef, summary: ChangeSummary, budget: AgentBudget) -> list[str]:
    """Why an agent may not apply `summary` on `stack` alone; [] when it may."""
    reasons: list[str] = []
    if stack.kind == "cell" and summary.changed:
        reasons.append(f"it changes the cell stack {stack.name} ({summary.describe()}), which every tenant "
                       "on the cell shares")
    seen: set[str] = set()
    for step in summary.steps:
        if step.op not in DELETING_OPS or step.urn in seen:
            continue
        if step.protect or step.retain_on_delete or is_stateful_type(step.type):
            seen.add(step.urn)
            what = "protected" if step.protect else "stateful"
            verb = "deletes" if step.op in ("delete", "discard", "delete-replaced") else "replaces"
            reasons.append(f"it {verb} the {what} resource {step.type} '{step.name}'")
    if not summary.steps:
        destructive = sum(count for op, count in summary.counts.items() if op in DELETING_OPS)
        if destructive:
            reasons.append(f"it deletes or replaces {destructive} resource(s) and the preview gave no details")
    if summary.changed > budget.max_changes:
        reasons.append(f"it changes {summary.changed} resources, over the agent change budget of "
                       f"{budget.max_changes}")
    return reasons


class ApprovalNeeded(GateRefused):
    """An agent's change needs a human approval; `approval_id` is the request holding the plan."""

    def __init__(self, actor: str, operation: str, stack: StackRef, reasons: list[str], approval_id: int):
        self.approval_id = approval_id
        self.reasons = reasons
        listed = "; ".join(reasons)
        super().__init__(
            f"{actor}'s {operation} of {stack.key} is refused: {listed}. It needs a human approval of request "
            f"#{approval_id} (the reviewed plan is saved with it): a human runs `paybill-iac review --approve "
            f"{approval_id}`, then `paybill-iac {operation} --{stack.kind} {stack.name} --approval {approval_id}` "
            "applies exactly that plan"
        )
