"""Agent gates: what an AI agent may apply without a human, judged from the preview's change summary.

CrossGuard sees resources as the program declares them; it never sees deletions, the size of a
change, or which stack a change lands in. These gates do, before anything is applied:

- deleting, replacing or dropping from the state (engine.DELETING_OPS, and any operation type the engine
  list does not know) a resource that holds or guards data: its state says `protect` or
  retain-on-delete, or its type holds or guards data in `paybill_iac.model.resource_facts`
  (databases, buckets, keys, secrets, an Azure resource group or delete lock). A type the table does
  not know counts as data (deny by default); only the engine's own `pulumi:` types and paybill's
  components are known to hold nothing;
- changing more resources than the agent's change budget;
- touching a cell stack (every tenant on the cell shares it).

A refresh adopts drift into the state (what the cloud holds becomes what the stack says it has): an agent's
refresh is previewed and gated like an up (`adoption_reasons`), adopting drift on a resource that holds or
guards data needs a human.

A refused change is kept as an approval request holding the saved update plan; once a human
approves it, the agent's `up` applies exactly that plan. Humans are not gated (policies still apply).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from paybill_iac.automation.engine import REMOVING_OPS, is_change, is_deleting
from paybill_iac.automation.invocation import StackRef
from paybill_iac.automation.runner import ChangeSummary, Step
from paybill_iac.errors import UsageError
from paybill_iac.model.resource_facts import facts_for, is_data_type
from paybill_iac.model.words import plural

HUMAN = "human"
"""A person with no name: the Python API's default. The CLI journals `human:<OS user>`, the service
`human:<principal>` or `agent:<principal>` (paybill_iac.service): identities, never a typed name."""
_AGENT = re.compile(r"^agent:[a-z0-9][a-z0-9._-]{0,62}$")
_NAMED_HUMAN = re.compile(r"^human:[a-z0-9][a-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class AgentBudget:
    """How much an agent may change in one operation without a human."""

    max_changes: int = 10
    """Most resources created, updated, replaced or deleted in one up."""


def check_actor(actor: str) -> str:
    """`human`, `human:<name>` or `agent:<name>`; anything else is a usage error."""
    if actor == HUMAN or _AGENT.fullmatch(actor) or _NAMED_HUMAN.fullmatch(actor):
        return actor
    raise UsageError(f"actor '{actor}' is not 'human' or 'agent:<name>' (nor 'human:<name>'; a name has "
                     "lowercase letters, digits, . _ -)")


def is_agent(actor: str) -> bool:
    return actor.startswith("agent:")


def is_human(actor: str) -> bool:
    """`human` or `human:<name>` (a person: may approve changes and clear reviews)."""
    return actor == HUMAN or actor.startswith("human:")


def data_at_risk(step: Step) -> str | None:
    """Why losing `step`'s resource may lose data: "protected" (its state says so), "stateful" (retained on
    delete, or a type that holds or guards data), "unknown" (a type the facts table does not know); None
    when it holds none."""
    if step.protect:
        return "protected"
    if step.retain_on_delete or (is_data_type(step.type) and facts_for(step.type) is not None):
        return "stateful"
    if is_data_type(step.type):
        return "unknown"
    return None


def _data_reasons(stack: StackRef, summary: ChangeSummary, doing: str, counted: Callable[[Step], bool],
                  sentence: Callable[[Step, str], str]) -> list[str]:
    """The reasons the two gates share: a cell stack `doing` anything, and each resource of a `counted` step whose
    data is at risk (`sentence(step, risk)`), once per URN."""
    reasons: list[str] = []
    if stack.kind == "cell" and summary.changed:
        reasons.append(f"it {doing} the cell stack {stack.name} ({summary.describe()}), which every tenant "
                       "on the cell shares")
    seen: set[str] = set()
    for step in summary.steps:
        risk = data_at_risk(step) if counted(step) and step.urn not in seen else None
        if risk is not None:
            seen.add(step.urn)
            reasons.append(sentence(step, risk))
    return reasons


def gate_reasons(stack: StackRef, summary: ChangeSummary, budget: AgentBudget) -> list[str]:
    """Why an agent may not apply `summary` on `stack` alone; [] when it may."""

    def sentence(step: Step, risk: str) -> str:
        verb = "deletes" if step.op in REMOVING_OPS else "replaces"
        if risk == "unknown":
            return f"it {verb} the resource {step.type} '{step.name}', a type paybill-iac does not know (counted as " \
                   "holding data)"
        return f"it {verb} the {risk} resource {step.type} '{step.name}'"

    reasons = _data_reasons(stack, summary, "changes", lambda step: is_deleting(step.op), sentence)
    if not summary.steps:
        destructive = sum(count for op, count in summary.counts.items() if is_deleting(op))
        if destructive:
            reasons.append(f"it deletes or replaces {plural(destructive, 'resource')} and the preview gave no details")
    if summary.changed > budget.max_changes:
        reasons.append(f"it changes {summary.changed} resources, over the agent change budget of "
                       f"{budget.max_changes}")
    return reasons


def adoption_reasons(stack: StackRef, summary: ChangeSummary, budget: AgentBudget) -> list[str]:
    """Why an agent may not adopt the drift of `summary` (a refresh preview) on `stack` alone; [] when it may."""

    def sentence(step: Step, risk: str) -> str:
        what = "a type paybill-iac does not know (counted as holding data)" if risk == "unknown" else \
            f"a {risk} resource"
        change = "gone from the cloud" if step.op == "delete" else "changed in the cloud"
        return f"it adopts drift ({change}) of {step.type} '{step.name}', {what}"

    reasons = _data_reasons(stack, summary, "adopts drift on", lambda step: is_change(step.op), sentence)
    if summary.changed > budget.max_changes:
        reasons.append(f"it adopts drift on {summary.changed} resources, over the agent change budget of "
                       f"{budget.max_changes}")
    return reasons
