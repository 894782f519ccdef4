"""What an Operator is built from, as plain picklable data (fleet workers rebuild their own from it)."""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from paybill_iac.automation.cloudcli import CommandRunner
from paybill_iac.automation.dataplane import DataPlane
from paybill_iac.automation.gates import HUMAN, AgentBudget
from paybill_iac.automation.invocation import Layout
from paybill_iac.automation.retry import RetryPolicy
from paybill_iac.automation.runner import StackRunner
from paybill_iac.automation.store.db import STATE_URL_ENV, default_url
from paybill_iac.project import Project, for_catalog

DEFAULT_LEASE_TTL = 300.0


@dataclass(frozen=True)
class Settings:
    """Everything an Operator needs: the catalog, who acts, where state lives, how to run."""

    catalog_dir: Path
    actor: str = HUMAN
    state_url: str | None = None
    state_dir: Path | None = None
    """Work dirs, saved plans, the default database and file backend; default: the state folder of the project
    (paybill.yaml) the catalog belongs to. Without either, opening refuses (state never lands in the working
    directory)."""
    backend_url: str = ""
    stacks_dir: Path | None = None
    """Folder holding the tenant/ and cell/ projects; default: those of the catalog's project (paybill.yaml),
    else the catalog's parent folder. Checked to hold both Pulumi projects when the Pulumi CLI runs them."""
    policy_dir: Path | None = None
    """Folder holding the policy packs; default: the installed paybill_policies' folder."""
    lease_ttl: float = DEFAULT_LEASE_TTL
    budget: AgentBudget = field(default_factory=AgentBudget)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    runner: StackRunner | None = None
    """None: the Pulumi CLI through pulumi.automation."""
    data_plane: DataPlane | None = None
    """What the workflows' data-plane steps call. None: DirectDataPlane (paybill_iac.dataplane in this
    process, the admin connection from PAYBILL_DB_*), which needs the cell's network."""
    cloud_cli: CommandRunner | None = None
    """Runs the cloud CLI commands the lifecycle workflows need (a Cloud SQL on-demand backup, emptying an OCI
    bucket). None: the CLIs installed here (cloudcli.run_command)."""

    def layout(self) -> Layout:
        return Layout(
            stacks_dir=Path(self.stacks_dir) if self.stacks_dir else self._project().stacks,
            policy_dir=Path(self.policy_dir) if self.policy_dir else _default_policy_dir(),
            state_dir=Path(self.state_dir) if self.state_dir is not None else self._project().state_dir,
            backend_url=self.backend_url,
            virtualenv=_default_virtualenv(),
        )

    def state_folder(self) -> Path:
        """state_dir, else the catalog's project's state folder; a UsageError saying how to name one."""
        if self.state_dir is not None:
            return Path(self.state_dir)
        return self._project().require_state_dir("the automation database")

    def _project(self) -> Project:
        return for_catalog(Path(self.catalog_dir))

    @property
    def database_url(self) -> str:
        """state_url, else PAYBILL_STATE_URL, else the SQLite file in the state folder."""
        if self.state_url:
            return self.state_url
        if os.environ.get(STATE_URL_ENV):
            return default_url(None)
        return default_url(self.state_folder())


def _default_policy_dir() -> Path:
    spec = importlib.util.find_spec("paybill_policies")
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0]).parent
    return Path("policy_packs")


def _default_virtualenv() -> Path | None:
    return Path(sys.prefix) if sys.prefix != sys.base_prefix else None
