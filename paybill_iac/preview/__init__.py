"""`paybill-iac preview`: every tenant's stack, run offline and judged by the policy packs.

    catalog --load--> tasks (one per stack, config generated in memory; cells before their tenants)
        --run--> StackResults (the real stack programs under the Pulumi mock runtime, in a process pool,
                 each checked by the plan-limits, tenant-isolation and agent-guardrails packs)
        --assemble--> the report (a JSON-ready dict, documented in the README, "paybill-iac preview")
        --render--> table | json | markdown | sarif

`--base GITREF` previews only the stacks a change affects and diffs their resources against the
base (see `paybill_iac.preview.base` for the rule). Importing this package does not import pulumi:
the stacks run in `runner.execute_task`, which does.
"""

from __future__ import annotations

from paybill_iac.preview.core import Options, PreviewCatalogError, exit_code
from paybill_iac.preview.core import preview as run_preview
from paybill_iac.preview.render import FORMATS, render

__all__ = ["FORMATS", "Options", "PreviewCatalogError", "exit_code", "render", "run_preview"]
