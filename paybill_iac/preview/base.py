"""`preview --base GITREF`: what a change does, compared with the catalog and code at GITREF.

Which stacks are affected (the rule, conservative by design):

- a tenant whose file, plan, cell placement or cell definition differs, or that appeared or left
  (an offboarded tenant has no stack: it left); a cell whose definition differs, or that came into
  or went out of use; a change of `catalog.yaml` affects every stack;
- code that builds resources (`components/`, the stack programs in `stacks/tenant` and `stacks/cell`,
  the modules of `paybill_iac` that shape stack config and the mock outputs): every stack of the
  cloud when the change is inside one cloud's folder (`components/paybill_components/<cloud>/`,
  `paybill_iac/mock_outputs/<cloud>.py`), every stack otherwise;
- code that judges resources (`policy_packs/`) and the dependency pins (`pyproject.toml`): every stack.
- Not stack-affecting: docs, tests, benchmarks, CI files, the CLI and preview modules, and the
  generated `Pulumi.<stack>.yaml` files (a preview generates stack config itself).

Each affected stack runs on both sides and its resources are compared by URN: added, removed, or
changed inputs (the keys that differ). The base side runs the base config with the current code when
no resource-building code changed, and otherwise the base tree's own code in a subprocess (its files
read with `git archive`, never touching the working tree). Offline: whether a changed input replaces
a resource is decided by the engine (`pulumi preview`), not here.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from paybill_iac.errors import CatalogError, PaybillError, UsageError
from paybill_iac.model.catalog import Catalog

CLOUDS = ("aws", "azure", "gcp", "oci")
MOCK_OUTPUT_CLOUD = {"aws": "aws", "azure": "azure", "gcp": "gcp", "oci": "oci"}
# Modules of paybill_iac that neither shape stack config nor run stacks.
CONTROL_ONLY = ("cli.py", "schema.py", "py.typed", "automation/", "preview/", "parallel.py")
CONTROL_ONLY_PREFIXES = ("cli_",)
OFFLINE_NOTE = ("Offline diff: the stack programs ran under the Pulumi mock runtime on both sides and their "
                "resources were compared by URN. Whether a changed input updates a resource in place or "
                "replaces it is decided by the engine: run `pulumi preview` for that.")


class GitError(PaybillError):
    """git failed or is not there (usage: exit 2)."""

    exit_code = 2


def git(args: list[str], cwd: Path, *, binary: bool = False) -> Any:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise GitError("--base needs git, which is not on PATH") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git {' '.join(args[:2])} failed: {message[-1] if message else 'no message'}")
    return done.stdout if binary else done.stdout.decode()


# --- what changed ------------------------------------------------------------------------------


@dataclass
class CodeScope:
    """What changed code affects: clouds (None: all) and whether it builds resources."""

    files: list[str] = field(default_factory=list)
    all_clouds: bool = False
    clouds: set[str] = field(default_factory=set)
    builds_resources: bool = False  # the base side must run the base tree's code
    reasons: dict[str, str] = field(default_factory=dict)  # file -> what it affects

    def affects(self, cloud: str) -> bool:
        return self.all_clouds or cloud in self.clouds

    def files_for(self, cloud: str) -> list[str]:
        return [path for path, scope in self.reasons.items() if scope in ("all", cloud)]


def classify(path: str) -> tuple[str, bool] | None:
    """(scope, builds_resources) of a changed file: scope is a cloud or "all"; None: no stack effect."""
    parts = PurePosixPath(path).parts
    if not parts:
        return None
    top = parts[0]
    if top == "components":
        if len(parts) >= 4 and parts[1] == "paybill_components" and parts[2] in CLOUDS:
            return parts[2], True
        if path.endswith((".md", ".txt")):
            return None
        return "all", True
    if top == "stacks" and len(parts) >= 3 and parts[1] in ("tenant", "cell"):
        name = parts[-1]
        if name.startswith("Pulumi.") and name != "Pulumi.yaml" and name.endswith((".yaml", ".yml")):
            return None  # generated stack config: the preview generates it itself
        return "all", True
    if top == "paybill_iac":
        rest = "/".join(parts[1:])
        if rest.startswith("mock_outputs/") and len(parts) == 3 and parts[2].removesuffix(".py") in CLOUDS:
            return parts[2].removesuffix(".py"), True
        if any(rest == item or (item.endswith("/") and rest.startswith(item)) for item in CONTROL_ONLY):
            return None
        if parts[-1].startswith(CONTROL_ONLY_PREFIXES) and len(parts) == 2:
            return None
        return "all", True
    if top == "policy_packs":
        return "all", False
    if path == "pyproject.toml":
        return "all", False
    return None


def code_scope(changed: Iterable[str]) -> CodeScope:
    scope = CodeScope()
    for path in sorted(changed):
        found = classify(path)
        if found is None:
            continue
        where, builds = found
        scope.files.append(path)
        scope.reasons[path] = where
        scope.builds_resources |= builds
        if where == "all":
            scope.all_clouds = True
        else:
            scope.clouds.add(where)
    return scope


@dataclass
class Affected:
    """The stacks a change affects, each with the reasons, and the base side's catalog."""

    ref: str
    commit: str
    repo: Path
    changed: list[str]
    code: CodeScope
    base_catalog: Catalog | None
    base_error: str | None = None
    tenants: dict[str, list[str]] = field(default_factory=dict)
    cells: dict[str, list[str]] = field(default_factory=dict)


def _stack_tenants(catalog: Catalog | None) -> dict[str, Any]:
    if catalog is None:
        return {}
    from paybill_iac.model import lifecycle

    return {key: tenant for key, tenant in catalog.tenants.items() if tenant.state in lifecycle.HAS_STACK}


def _cells_in_use(catalog: Catalog | None) -> set[str]:
    return set(catalog.placements.values()) if catalog is not None else set()


def compare_catalogs(base: Catalog | None, head: Catalog, code: CodeScope,
                     selected: list[str] | None = None) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Affected tenants and cells (id -> reasons), per the rule in this module's docstring."""
    tenants: dict[str, list[str]] = {}
    cells: dict[str, list[str]] = {}
    head_cells, base_cells = _cells_in_use(head), _cells_in_use(base)
    settings_changed = base is not None and base.settings != head.settings
    for cell_id in sorted(head_cells | base_cells):
        reasons = []
        now, before = head.cells.get(cell_id) if cell_id in head_cells else None, (
            base.cells.get(cell_id) if base is not None and cell_id in base_cells else None)
        if before is None:
            reasons.append("cell comes into use" if base is not None else "no base catalog")
        elif now is None:
            reasons.append("cell no longer in use")
        elif now != before:
            reasons.append("cell definition changed in cells.yaml")
        if settings_changed:
            reasons.append("catalog.yaml changed")
        cloud = (now or before).cloud  # type: ignore[union-attr]
        if code.affects(cloud):
            reasons.append("code changed: " + ", ".join(code.files_for(cloud)[:5]))
        if reasons:
            cells[cell_id] = reasons
    head_tenants, base_tenants = _stack_tenants(head), _stack_tenants(base)
    wanted = set(head_tenants) | set(base_tenants)
    if selected is not None:
        wanted &= set(selected)
    for tenant_id in sorted(wanted):
        now, before = head_tenants.get(tenant_id), base_tenants.get(tenant_id)
        reasons = []
        if before is None:
            reasons.append("new tenant" if base is None or tenant_id not in base.tenants
                           else f"tenant now {now.state}")  # type: ignore[union-attr]
        elif now is None:
            reasons.append("tenant removed from the catalog" if tenant_id not in head.tenants
                           else f"tenant {head.tenants[tenant_id].state}: its stack goes")
        else:
            assert base is not None
            if now != before:
                reasons.append("tenant file changed")
            if now.plan == before.plan and head.plans[now.plan] != base.plans.get(now.plan):
                reasons.append(f"plan '{now.plan}' changed")
            cell_now, cell_before = head.placements.get(tenant_id), base.placements.get(tenant_id)
            if cell_now != cell_before:
                reasons.append(f"placement changed: {cell_before or 'no cell'} -> {cell_now or 'no cell'}")
            elif cell_now is not None and cell_now in cells:
                reasons.append(f"its cell '{cell_now}' is affected")
            if settings_changed:
                reasons.append("catalog.yaml changed")
        cloud = (now or before).cloud  # type: ignore[union-attr]
        if code.affects(cloud):
            reasons.append("code changed: " + ", ".join(code.files_for(cloud)[:5]))
        if reasons:
            tenants[tenant_id] = reasons
    return tenants, cells


def changed_files(repo: Path, commit: str) -> list[str]:
    """Files that differ between `commit` and the working tree (tracked, staged or not, and untracked)."""
    tracked = git(["diff", "--name-only", "-z", "--no-renames", commit, "--"], repo)
    untracked = git(["ls-files", "--others", "--exclude-standard", "-z"], repo)
    return sorted({path for path in (tracked + untracked).split("\0") if path})


def extract(repo: Path, commit: str, paths: list[str], into: Path) -> list[str]:
    """Write the files under `paths` at `commit` into `into`; return the paths that existed there."""
    present = [path for path in paths if git(["ls-tree", "--name-only", commit, "--", path], repo).strip()]
    if not present:
        return []
    data = git(["archive", "--format=tar", commit, "--", *present], repo, binary=True)
    if shutil.which("tar"):  # ten times faster than tarfile on a catalog of 10,000 files
        done = subprocess.run(["tar", "-x", "-C", str(into)], input=data, capture_output=True, check=False)
        if done.returncode == 0:
            return present
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(into, filter="data")
    return present


def find_affected(catalog: Catalog, ref: str, workdir: Path, selected: list[str] | None = None) -> Affected:
    """Compare the working tree with `ref`: the changed files, the base catalog, the affected stacks."""
    from paybill_iac.catalog import load_catalog

    catalog_dir = catalog.root.resolve()
    try:
        repo = Path(git(["rev-parse", "--show-toplevel"], catalog_dir).strip())
    except GitError as error:
        raise GitError(f"--base needs the catalog to be in a git repository ({error})") from None
    try:
        commit = git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], repo).strip()
    except GitError:
        raise UsageError(f"--base {ref!r} is not a commit, branch or tag of the repository at {repo} "
                         "(in CI, fetch the base branch first: actions/checkout with fetch-depth: 0)") from None
    catalog_rel = catalog_dir.relative_to(repo.resolve()).as_posix()
    changed = changed_files(repo, commit)
    code = code_scope(changed)
    prefix = "" if catalog_rel == "." else catalog_rel + "/"
    catalog_changed = [path for path in changed if path.startswith(prefix)] if prefix else changed
    base_catalog: Catalog | None = catalog
    base_error = None
    if catalog_changed:
        base_catalog = patched_base(catalog, repo, commit, prefix, catalog_changed)
    if catalog_changed and base_catalog is None:
        target = workdir / "base-catalog"
        target.mkdir(parents=True, exist_ok=True)
        present = extract(repo, commit, [catalog_rel], target)
        if not present:
            base_catalog = None
            base_error = f"there is no catalog at {catalog_rel} in {ref}"
        else:
            try:
                base_catalog = load_catalog(target / catalog_rel)
            except CatalogError as error:
                base_catalog = None
                base_error = f"the catalog at {ref} is invalid ({len(error.issues)} errors)"
    affected = Affected(ref=ref, commit=commit, repo=repo, changed=changed, code=code, base_catalog=base_catalog,
                        base_error=base_error)
    affected.tenants, affected.cells = compare_catalogs(base_catalog, catalog, code, selected)
    if base_catalog is None:
        # Nothing to compare with: every stack is new.
        for tenant_id in _stack_tenants(catalog):
            if selected is None or tenant_id in selected:
                affected.tenants.setdefault(tenant_id, [base_error or "no base catalog"])
    return affected


def patched_base(head: Catalog, repo: Path, commit: str, prefix: str, changed: list[str]) -> Catalog | None:
    """The base catalog without reading the whole base tree, when the change touches tenant files only
    and every placement follows the (unchanged) ledger or a pin: then each other tenant, plan, cell and
    placement is the same on both sides, and the base is the head with the changed tenants as they
    were. None when that does not hold (the caller loads the base catalog in full)."""
    import dataclasses

    from paybill_iac.catalog import ledger as ledgers
    from paybill_iac.catalog import yamlio
    from paybill_iac.catalog.place import needs_cell
    from paybill_iac.model.catalog import Tenant

    folder = prefix + "tenants/"
    changed_ids: dict[str, str] = {}
    for path in changed:
        name = path[len(folder):] if path.startswith(folder) else ""
        if not name or "/" in name or not name.endswith(".yaml"):
            return None
        changed_ids[name[: -len(".yaml")]] = path
    try:
        ledger = ledgers.read(head.root).placements()
    except ledgers.LedgerProblem:
        return None
    tenants = {key: tenant for key, tenant in head.tenants.items() if key not in changed_ids}
    for tenant_id, tenant in tenants.items():  # the others are placed as the ledger (or their pin) says
        if needs_cell(head, tenant) and head.placements.get(tenant_id) != (tenant.cell or ledger.get(tenant_id)):
            return None
    placements = {key: cell for key, cell in head.placements.items() if key in tenants}
    files = {key: value for key, value in head.files.items() if not (
        key.startswith("tenant:") and key[len("tenant:"):] in changed_ids)}
    for tenant_id, path in changed_ids.items():
        try:
            text = git(["show", f"{commit}:{path}"], repo)
        except GitError:
            continue  # new in the working tree: the base has no such tenant
        try:
            tenant = Tenant.model_validate(yamlio.load_text(text))
        except Exception:  # noqa: BLE001 - an unreadable base file: load the base in full
            return None
        if tenant.id != tenant_id or tenant.plan not in head.plans:
            return None
        tenants[tenant_id] = tenant
        files[f"tenant:{tenant_id}"] = head.root / "tenants" / f"{tenant_id}.yaml"
        if needs_cell(head, tenant):
            cell = head.cells.get(tenant.cell or ledger.get(tenant_id, ""))
            if cell is None or (cell.cloud, cell.region) != (tenant.cloud, tenant.region):
                return None
            placements[tenant_id] = cell.id
    return dataclasses.replace(head, tenants=dict(sorted(tenants.items())), placements=dict(sorted(placements.items())),
                               files=files)


# --- diff --------------------------------------------------------------------------------------


_ABSENT = object()


def property_changes(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """Each input that differs, as {key: dotted path, old, new} (old or new left out where the input is absent):
    mappings are compared key by key; anything else (text, numbers, lists) as a whole value."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            inner = f"{path}.{key}" if path else str(key)
            found += property_changes(old.get(key, _ABSENT), new.get(key, _ABSENT), inner)
        return found
    if old == new:
        return []
    change: dict[str, Any] = {"key": path}
    if old is not _ABSENT:
        change["old"] = old
    if new is not _ABSENT:
        change["new"] = new
    return [change]


def diff_resources(base: list[dict[str, Any]], head: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Resources added, removed, and with changed inputs, by URN: a changed resource has the input `keys` that
    differ and its property-level `changes` (property_changes; the options as "(protect)" and
    "(retain_on_delete)")."""
    before = {resource["urn"]: resource for resource in base}
    after = {resource["urn"]: resource for resource in head}

    def brief(resource: dict[str, Any]) -> dict[str, Any]:
        return {"urn": resource["urn"], "type": resource["type"], "name": resource["name"]}

    changed = []
    for urn in sorted(set(before) & set(after)):
        old, new = before[urn], after[urn]
        keys = sorted(key for key in set(old["inputs"]) | set(new["inputs"])
                      if old["inputs"].get(key) != new["inputs"].get(key))
        changes = property_changes(old["inputs"], new["inputs"])
        for flag in ("protect", "retain_on_delete", "parent"):
            if old.get(flag) != new.get(flag):
                keys.append(f"({flag})")
                changes.append({"key": f"({flag})", "old": old.get(flag), "new": new.get(flag)})
        if keys:
            changed.append({**brief(new), "keys": keys, "changes": changes})
    return {
        "added": [brief(after[urn]) for urn in sorted(set(after) - set(before))],
        "removed": [brief(before[urn]) for urn in sorted(set(before) - set(after))],
        "changed": changed,
    }


# --- the base side with the base tree's code -----------------------------------------------------

BASE_RUNNER = r'''
import json, sys
from pathlib import Path
spec = json.loads(Path(sys.argv[1]).read_text())
from paybill_iac.catalog import load_catalog
from paybill_iac.mockrun import run_stack
try:  # the base tree's own API: stack specs, or (before them) generate's stack configs
    from paybill_iac.model.spec import CELL_PROJECT, TENANT_PROJECT, cell_spec, tenant_spec
    def cell_config(catalog, cell_id):
        return cell_spec(catalog, cell_id).to_config()
    def tenant_config(catalog, tenant_id):
        found = tenant_spec(catalog, tenant_id)
        return found, found.to_config()
except ImportError:
    from paybill_iac import generate
    from paybill_iac.stackconfig import CELL_PROJECT, TENANT_PROJECT
    def cell_config(catalog, cell_id):
        return generate.cell_stack(catalog, catalog.cells[cell_id]).config()
    def tenant_config(catalog, tenant_id):
        found = generate.tenant_stack(catalog, catalog.tenants[tenant_id])
        return found, found.config()
catalog = load_catalog(spec["catalog"])
stacks = Path(spec["stacks"])
programs = {"tenant": stacks / "tenant" / "__main__.py", "cell": stacks / "cell" / "__main__.py"}
results = {"tenants": {}, "cells": {}}
cell_outputs = {}
def resources(run):
    out = []
    for r in run.resources:
        out.append({"urn": r.urn, "type": r.type, "name": r.name, "inputs": r.inputs, "parent": r.parent,
                    "protect": r.protect, "retain_on_delete": getattr(r, "retain_on_delete", False),
                    "provider": getattr(r, "provider", ""), "secret_inputs": list(getattr(r, "secret_inputs", ()))})
    return out
for cell_id in spec["cells"]:
    try:
        config = cell_config(catalog, cell_id)
        run = run_stack(programs["cell"], project=CELL_PROJECT, stack=cell_id, config=config)
        cell_outputs[cell_id] = run.outputs
        results["cells"][cell_id] = {"resources": resources(run)}
    except Exception as error:
        results["cells"][cell_id] = {"error": f"{type(error).__name__}: {error}"}
for tenant_id in spec["tenants"]:
    try:
        found, config = tenant_config(catalog, tenant_id)
        refs = {}
        if found.cell_stack:
            if found.cell not in cell_outputs:
                raise RuntimeError(f"its cell '{found.cell}' failed at the base")
            refs = {found.cell_stack: cell_outputs[found.cell]}
        run = run_stack(programs["tenant"], project=TENANT_PROJECT, stack=tenant_id, config=config,
                        stack_references=refs)
        results["tenants"][tenant_id] = {"resources": resources(run)}
    except Exception as error:
        results["tenants"][tenant_id] = {"error": f"{type(error).__name__}: {error}"}
Path(sys.argv[2]).write_text(json.dumps(results, default=str))
'''


def run_base_tree(affected: Affected, catalog_rel: str, tenants: list[str], cells: list[str],
                  workdir: Path) -> dict[str, dict[str, Any]]:
    """Run the base side's stacks with the base tree's own code, in a subprocess.

    Returns {"tenants": {id: {"resources": [...]} or {"error": ...}}, "cells": {...}}.
    """
    tree = workdir / "base-tree"
    tree.mkdir(parents=True, exist_ok=True)
    extract(affected.repo, affected.commit,
            ["components", "paybill_iac", "policy_packs", "stacks/tenant", "stacks/cell", catalog_rel], tree)
    stacks = tree / "stacks"
    if not (stacks / "tenant" / "__main__.py").is_file():
        from paybill_iac.preview.tasks import stack_programs

        stacks = stack_programs(tree / catalog_rel).get("tenant", stacks / "tenant").parent.parent
    spec_file, out_file = workdir / "base-spec.json", workdir / "base-out.json"
    spec_file.write_text(json.dumps({"catalog": str(tree / catalog_rel), "stacks": str(stacks),
                                     "tenants": tenants, "cells": cells}))
    paths = [str(tree), str(tree / "components"), str(tree / "policy_packs")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths + [os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    done = subprocess.run([sys.executable, "-c", BASE_RUNNER, str(spec_file), str(out_file)], cwd=tree, env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0 or not out_file.is_file():
        last = (done.stderr or "").strip().splitlines()
        raise BaseRunFailed(f"the base tree's code could not run its stacks ({last[-1] if last else 'no output'})")
    return json.loads(out_file.read_text())  # type: ignore[no-any-return]


class BaseRunFailed(RuntimeError):
    pass


def temporary_workdir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="paybill-preview-")
