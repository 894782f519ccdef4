"""What one stack operation runs, as plain data: work dir, project and stack files, environment,
backend, policy packs and their per-run configs, update plan, targets and stack tags.

`build_invocation` is a pure function (no pulumi import, no I/O), so the command construction is
tested without the Pulumi CLI; `write_work_dir` lays the files down for the real runner, which hands
`Invocation.api_kwargs()` to `pulumi.automation`. `Invocation.command_line()` is the same operation
as a `pulumi` command line, for logs and for a person reproducing a run by hand.

Every preview and up carries all of POLICY_PACKS with the config computed for this run from the
catalog (never from the stack's own config or tags). There is no parameter to drop a pack or change
its enforcement: the only way to run without them is not to use paybill-iac.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paybill_iac.automation.specs import CELL_PROJECT, TENANT_PROJECT
from paybill_iac.model import markers
from paybill_iac.project import no_state_folder

POLICY_PACKS: tuple[str, ...] = ("plan-limits", "tenant-isolation", "agent-guardrails")
OPERATIONS = ("preview", "up", "refresh", "destroy", "preview-destroy", "preview-refresh")
BACKEND_URL_ENV = "PULUMI_BACKEND_URL"
_POLICY_OPERATIONS = ("preview", "up")
_PASSED_THROUGH_ENV = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_ACCESS_TOKEN")


@dataclass(frozen=True)
class StackRef:
    """A stack paybill-iac manages: a tenant's (project paybill-tenant) or a cell's (paybill-cell)."""

    project: str
    name: str

    @classmethod
    def tenant(cls, tenant_id: str) -> StackRef:
        return cls(TENANT_PROJECT, tenant_id)

    @classmethod
    def cell(cls, cell_id: str) -> StackRef:
        return cls(CELL_PROJECT, cell_id)

    @classmethod
    def parse(cls, key: str) -> StackRef:
        """`paybill-tenant/acme`, `tenant/acme` or `cell/aws-euw1-a`."""
        project, _, name = key.partition("/")
        project = {"tenant": TENANT_PROJECT, "cell": CELL_PROJECT}.get(project, project)
        if project not in (TENANT_PROJECT, CELL_PROJECT) or not name:
            raise ValueError(f"'{key}' is not a stack: expected tenant/<id> or cell/<id>")
        return cls(project, name)

    @property
    def kind(self) -> str:
        return "cell" if self.project == CELL_PROJECT else "tenant"

    @property
    def key(self) -> str:
        """The stack's identity in leases, the journal and review flags."""
        return f"{self.project}/{self.name}"

    @property
    def tenant_id(self) -> str | None:
        return self.name if self.kind == "tenant" else None

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True)
class Layout:
    """Where paybill-iac finds programs and packs and keeps its own files.

    stacks_dir   holds tenant/ and cell/ (the Pulumi projects)
    policy_dir   holds one folder per policy pack
    state_dir    work dirs (state_dir/work/<project>/<stack>) and, by
                 default, the file backend (state_dir/backend) and the database (state_dir/state.db);
                 None when there is none (no project, no --state-dir): reading works, running refuses
    backend_url  any Pulumi backend URL; default file://<state_dir>/backend
    """

    stacks_dir: Path
    policy_dir: Path
    state_dir: Path | None
    backend_url: str = ""
    virtualenv: Path | None = None

    @property
    def state(self) -> Path:
        """state_dir, or the UsageError that says how to name one (state never lands in the working directory)."""
        if self.state_dir is None:
            raise no_state_folder("running a stack operation")
        return self.state_dir

    @property
    def backend(self) -> str:
        return self.backend_url or f"file://{(self.state / 'backend').resolve()}"

    def program_dir(self, stack: StackRef) -> Path:
        """The stack's Pulumi project under stacks_dir (PulumiRunner checks it is one before it runs)."""
        return (self.stacks_dir / stack.kind).resolve()

    def work_dir(self, stack: StackRef) -> Path:
        """One work dir per stack: a shared workspace races on stack selection and config files."""
        return (self.state / "work" / stack.project / stack.name).resolve()

    def pack_dir(self, pack: str) -> Path:
        return (self.policy_dir / pack).resolve()


@dataclass(frozen=True)
class Invocation:
    """One operation on one stack, fully described."""

    operation: str
    stack: StackRef
    program_dir: Path
    work_dir: Path
    project_settings: dict[str, Any]
    stack_config: dict[str, Any]
    env: dict[str, str]
    backend_url: str
    policy_packs: tuple[str, ...]
    policy_pack_configs: tuple[str, ...]
    policy_configs: dict[str, dict[str, Any]]
    tags: dict[str, str]
    message: str
    plan_file: str | None = None
    targets: tuple[str, ...] = field(default_factory=tuple)
    excludes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def project_file(self) -> Path:
        return self.work_dir / "Pulumi.yaml"

    @property
    def stack_file(self) -> Path:
        return self.work_dir / f"Pulumi.{self.stack.name}.yaml"

    def api_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for pulumi.automation's Stack.preview/up/refresh/destroy/preview_destroy."""
        kwargs: dict[str, Any] = {"message": self.message, "color": "never"}
        if self.operation in _POLICY_OPERATIONS:
            kwargs["policy_packs"] = list(self.policy_packs)
            kwargs["policy_pack_configs"] = list(self.policy_pack_configs)
        if self.plan_file is not None:
            kwargs["plan"] = self.plan_file
        if self.targets:
            kwargs["target"] = list(self.targets)
        if self.excludes:
            kwargs["exclude"] = list(self.excludes)
        return kwargs

    def command_line(self) -> list[str]:
        """The equivalent pulumi command (run in work_dir with env)."""
        verb = {"preview-destroy": ["destroy", "--preview-only"], "up": ["up", "--yes", "--skip-preview"],
                "preview-refresh": ["refresh", "--preview-only"],
                "destroy": ["destroy", "--yes"], "refresh": ["refresh", "--yes"]}.get(self.operation,
                                                                                      [self.operation])
        args = ["pulumi", *verb, "--stack", self.stack.name, "--non-interactive", "--color", "never",
                "--message", self.message]
        if self.operation in _POLICY_OPERATIONS:
            for pack in self.policy_packs:
                args += ["--policy-pack", pack]
            for config in self.policy_pack_configs:
                args += ["--policy-pack-config", config]
        if self.plan_file is not None:
            args += ["--save-plan" if self.operation == "preview" else "--plan", self.plan_file]
        for target in self.targets:
            args += ["--target", target]
        for exclude in self.excludes:
            args += ["--exclude", exclude]
        return args


def stack_tags(stack: StackRef, config: Mapping[str, Any]) -> dict[str, str]:
    """Stack tags from the stack's generated config: tenant, plan and isolation (or the cell)."""
    get = config.get
    tags = {markers.MANAGED_BY: markers.MANAGED_BY_VALUE}
    if stack.kind == "tenant":
        tags[markers.TENANT] = str(get("paybill:tenant", stack.name))
        for key, name in (("paybill:plan", markers.PLAN), ("paybill:isolation", markers.ISOLATION),
                          ("paybill:cell", markers.CELL), ("paybill:state", "paybill-state")):
            if get(key) is not None:
                tags[name] = str(get(key))
    else:
        tags[markers.CELL] = str(get("paybill:cell", stack.name))
        tags[markers.ISOLATION] = "pooled"
    return tags


def project_settings(program_dir: Path, work_dir: Path, project: str, description: str = "",
                     virtualenv: Path | None = None) -> dict[str, Any]:
    """Pulumi.yaml of a stack's work dir: the program lives in `program_dir` (`main`), the Python
    virtualenv is made absolute (the program's own Pulumi.yaml names it relative to itself)."""
    options: dict[str, Any] = {"toolchain": "pip"}
    if virtualenv is not None:
        options["virtualenv"] = str(virtualenv)
    settings: dict[str, Any] = {"name": project, "runtime": {"name": "python", "options": options},
                                "main": os.path.relpath(program_dir, work_dir)}
    if description:
        settings["description"] = description
    return settings


def build_invocation(
    operation: str,
    stack: StackRef,
    config: Mapping[str, Any],
    *,
    layout: Layout,
    policy_configs: Mapping[str, Mapping[str, Any]],
    actor: str,
    plan_file: str | None = None,
    targets: tuple[str, ...] = (),
    excludes: tuple[str, ...] = (),
    environ: Mapping[str, str] | None = None,
) -> Invocation:
    """Describe `operation` on `stack` with its generated `config` (the `config:` mapping of its
    Pulumi.<stack>.yaml). Pure: reads nothing, writes nothing."""
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation '{operation}' (known: {', '.join(OPERATIONS)})")
    missing = [pack for pack in POLICY_PACKS if pack not in policy_configs]
    if missing:
        raise ValueError(f"no policy config for pack(s) {', '.join(missing)}: every run carries all packs")
    environ = os.environ if environ is None else environ
    program_dir = layout.program_dir(stack)
    work_dir = layout.work_dir(stack)
    backend = layout.backend
    # PAYBILL_ACTOR: the stack program's in-program policy enforcement judges the run as this actor
    # (paybill_policies.inprogram), so an agent's run is held to the agent guardrails by any engine.
    env = {BACKEND_URL_ENV: backend, "PULUMI_SKIP_UPDATE_CHECK": "true", "PULUMI_PAYBILL_ACTOR": actor,
           "PAYBILL_ACTOR": actor}
    for name in _PASSED_THROUGH_ENV:
        if name in environ:
            env[name] = environ[name]
    if backend.startswith("file://") and not any(name in environ for name in _PASSED_THROUGH_ENV[:2]):
        # The local file backend encrypts secrets with a passphrase; our stack configs hold none, so an
        # empty passphrase is the honest default. Set PULUMI_CONFIG_PASSPHRASE to choose one.
        env["PULUMI_CONFIG_PASSPHRASE"] = ""
    pack_paths = tuple(str(layout.pack_dir(pack)) for pack in POLICY_PACKS)
    config_paths = tuple(str(work_dir / ".policy" / f"{pack}.json") for pack in POLICY_PACKS)
    return Invocation(
        operation=operation,
        stack=stack,
        program_dir=program_dir,
        work_dir=work_dir,
        project_settings=project_settings(program_dir, work_dir, stack.project, virtualenv=layout.virtualenv),
        stack_config={"config": dict(config)},
        env=env,
        backend_url=backend,
        policy_packs=pack_paths,
        policy_pack_configs=config_paths,
        policy_configs={pack: dict(policy_configs[pack]) for pack in POLICY_PACKS},
        tags=stack_tags(stack, config),
        message=f"paybill-iac {operation} {stack.key} by {actor}",
        plan_file=plan_file,
        targets=tuple(targets),
        excludes=tuple(excludes),
    )


def write_work_dir(invocation: Invocation) -> list[Path]:
    """Write the work dir's Pulumi.yaml, Pulumi.<stack>.yaml and policy configs. Keys Pulumi itself
    added to an existing stack file (encryption salt, secrets provider) are kept. Returns the files."""
    from paybill_iac.catalog import yamlio

    work = invocation.work_dir
    work.mkdir(parents=True, exist_ok=True)
    written = [invocation.project_file]
    _write(invocation.project_file, yamlio.dump(invocation.project_settings))
    stack_file = invocation.stack_file
    kept: dict[str, Any] = {}
    if stack_file.is_file():
        import yaml

        previous = yaml.safe_load(stack_file.read_text()) or {}
        kept = {key: value for key, value in previous.items() if key != "config"}
    _write(stack_file, yamlio.dump({**kept, **invocation.stack_config}))
    written.append(stack_file)
    for pack, path in zip(POLICY_PACKS, invocation.policy_pack_configs, strict=True):
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        _write(target, json.dumps(invocation.policy_configs[pack], indent=2, sort_keys=True) + "\n")
        written.append(target)
    if invocation.plan_file is not None:
        Path(invocation.plan_file).parent.mkdir(parents=True, exist_ok=True)
    return written


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
