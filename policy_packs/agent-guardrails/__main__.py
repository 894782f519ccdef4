"""CrossGuard pack agent-guardrails.

    pulumi preview --policy-pack policy_packs/agent-guardrails [--policy-pack-config FILE]

Its rules live in the shared library (paybill_policies.rules); this file only builds the PolicyPack,
which serves the analyzer and never returns. The policy config of a run comes from
paybill_policies.policy_config: the automation layer writes it with the stack's context, which the
control plane builds from the catalog (paybill_iac.policy_context). The pack reads no catalog: without
that config the stack is unknown, and only the rules that need no context run.
"""

from paybill_policies.pack import serve

serve("agent-guardrails")
