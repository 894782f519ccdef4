"""The rule reference, generated from the registry into the README:
`python -m paybill_policies.docs --readme README.md` rewrites the part between the markers.

A test keeps that part of the committed README equal to `markdown()`, so the rule list is never
written twice."""

from __future__ import annotations

from paybill_iac.model.resource_facts import DEPRECATED_TOKENS
from paybill_policies.pack import PACK_DESCRIPTIONS
from paybill_policies.registry import CLOUDS, PACKS, rules

DEPRECATED = frozenset(DEPRECATED_TOKENS)

CROSSGUARD_LIMITS = """\
### Failing closed

- **A stack the catalog does not know fails for everyone**, in each pack on its own
  (`any-stack-known-to-catalog`, `...-for-isolation`, `...-for-agent`): without its policy config a stack
  has no plan, no names and no actor to be judged by.
- **An undecided rule is never dropped.** A rule that cannot read a value (an encrypted secret in a stack
  export, a value unknown during a preview) is *undecided*. `paybill-iac policy check` and
  `paybill-iac preview` list it; for an agent an undecided mandatory rule blocks (exit 1), for a person it is
  shown (advisory, the message starts with `undecided:`). An export made with `--show-secrets` is decided.
- **No input crashes a rule**: a shape a rule does not read is a violation of that rule.
- **Deny by default for agents, whatever the package**: `any-resource-type-allowed-for-agent` allows only the
  resource-facts allow-list of the stack's own cloud (its provider, the components' types, the stack's
  components and its cell reference). Equivalent types (API-versioned tokens, Aurora for RDS, user and
  group policies, exclusive attachments, IAM bindings and authoritative policies, organisation, folder and
  service-account IAM, PIM requests, other packages' buckets and servers) meet their canonical type's rules.
- **Judged by what it allows**: every grant names only the stack's own identities, the cloud's service
  principals and the organisation's accounts (catalog `accounts`); conditions must narrow (`||`, `!=`,
  `any {...}` narrow nothing); any CIDR outside private address space is the internet; providers name their
  region and stay within the organisation; a tenant stack never acts on its cell's resources and
  references no stack but its cell's.

### The same rules in three places

The CrossGuard packs; `paybill-iac policy check` (stack exports and preview files); and inside every stack
program (`paybill_policies.inprogram`, called by `paybill_components.stack`): each resource's registration
request is judged as the SDK sends it, and a mandatory violation fails the program before the engine hears
of the resource, so `pulumi up` without `--policy-pack`, Pulumi Deployments and the Kubernetes Operator
(which runs no policy pack) are guarded too. In-program the actor is `PAYBILL_ACTOR` (human when unset) and
the other tenants' names are unknown (the rule against naming another tenant runs in the packs and
`policy check`); stack rules run once every resource is registered.

### What CrossGuard cannot see, and who covers it

- **Deletions.** CrossGuard validates the resources a program declares; a resource that disappears from
  the program (and so is deleted) is never shown to a policy, nor is the size of a change. The
  automation layer's agent gates (`paybill_iac.automation.gates`) judge the preview's change summary
  instead: an agent's deletion or replacement of a stateful or protected resource, a change above its
  budget, or any change to a cell stack waits for a human approval (`GateRefused`).
- **Values unknown during preview.** An output of another resource (an ARN, an id) is unknown until
  the update runs. A rule that needs such a value raises the SDK's unknown-value error, which
  CrossGuard reports as an *advisory* "can't run policy during preview" diagnostic even for a
  mandatory rule; the same rule runs again with known values during `pulumi up` (and in the program,
  before the resource registers).
- **Stack policies run after the resources exist.** A stack rule (a lock covering a server, a grant's
  principal among the stack's identities) cannot stop a registration in CrossGuard; in-program, the rules
  that need only a resource and what it depends on (principals, cell targets) run at its registration.
- **`retainOnDelete`.** The resource options a policy receives carry `protect` but not
  `retainOnDelete`: an offboarding tenant's data (protect lifted, retained on delete) is accepted on the
  catalog's word (`state: offboarding`); `policy check` on a stack export and the automation layer see
  the option itself.
- **Stack tags and the deploying identity.** Stack tags reach policies only on Pulumi Cloud stacks, and
  no policy learns who runs the deployment: the actor comes in the policy config, which the automation
  layer writes for every run (`paybill_policies.policy_config`).
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown() -> str:
    """The rule reference: every pack, every rule by cloud, and what CrossGuard cannot see."""
    lines = [
        "## Policy packs",
        "",
        "Three CrossGuard packs under `policy_packs/` share one rule library (`paybill_policies`):",
        "`pulumi preview --policy-pack policy_packs/<pack> [--policy-pack-config FILE]`, the Automation API,",
        "`paybill-iac preview`, and `paybill-iac policy check FILE` (a `pulumi stack export` or a preview file)",
        "all run the same rules. The plan and every other fact about a stack come from the catalog, never",
        "from the stack's own tags or config.",
        "",
        "Enforcement is configurable for all rules and per rule, in the policy config",
        "(`{\"all\": \"advisory\", \"<rule-id>\": \"disabled\"}`; `remediate` applies a rule's safe fix,",
        "e.g. adding missing markers). Security rules default to mandatory.",
        "Type tokens marked *deprecated* are the older tokens a provider still accepts; azure-native",
        "API-versioned tokens and equivalent types (paybill_iac.model.resource_facts.EQUIVALENT_TYPES) match",
        "the rule of the resource they stand in for. Rules of cloud `any` hold whatever the package.",
        "",
    ]
    registered = rules()
    for pack in PACKS:
        in_pack = [rule for rule in registered if rule.pack == pack]
        lines += [f"### {pack} ({len(in_pack)} rules)", "", PACK_DESCRIPTIONS[pack], ""]
        for cloud in CLOUDS:
            lines += [f"#### {pack}: {cloud}", "",
                      "| Rule | Level | Severity | Resources | Checks | Remediation |",
                      "| --- | --- | --- | --- | --- | --- |"]
            # By id, so the reference groups each resource's rules and does not follow import order.
            for rule in sorted((item for item in in_pack if item.cloud == cloud), key=lambda item: item.id):
                current = [token for token in rule.types if token not in DEPRECATED]
                deprecated = [token for token in rule.types if token in DEPRECATED]
                types = ", ".join(f"`{token}`" for token in current) or "the whole stack"
                if deprecated:
                    types += "; deprecated: " + ", ".join(f"`{token}`" for token in deprecated)
                description = rule.description + (f" Approval: {rule.approval}." if rule.approval else "")
                fix = rule.remediation + (" (remediates)" if rule.remediate else "")
                lines.append(f"| `{rule.id}` | {rule.enforcement} | {rule.severity} | {_cell(types)} | "
                             f"{_cell(description)} | {_cell(fix)} |")
            lines.append("")
    lines.append(CROSSGUARD_LIMITS)
    return "\n".join(lines)


README_BEGIN = ("<!-- BEGIN rule reference: generated from the rule registry by "
                "`python -m paybill_policies.docs --readme README.md`; do not edit -->")
README_END = "<!-- END rule reference -->"


def readme_section(readme: str) -> str:
    """The generated part of `readme` (between the markers)."""
    start = readme.index(README_BEGIN) + len(README_BEGIN) + 1
    return readme[start : readme.index(README_END)]


def with_reference(readme: str) -> str:
    """`readme` with its generated part replaced by the current `markdown()`."""
    start = readme.index(README_BEGIN) + len(README_BEGIN) + 1
    return readme[:start] + markdown() + readme[readme.index(README_END) :]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    if len(sys.argv) == 3 and sys.argv[1] == "--readme":
        target = Path(sys.argv[2])
        target.write_text(with_reference(target.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(markdown(), end="")
