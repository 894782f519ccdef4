"""The operator's Stack resources: valid against its CRD, names the CEL rule accepts, the same config as
the stack files, secrets only by reference, deterministic YAML with `--check` like `generate`."""

from __future__ import annotations

import copy
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from paybill_iac.cli import main
from paybill_iac.errors import UsageError
from paybill_iac.model.spec import cell_spec, tenant_spec
from paybill_iac.pko import manifests as pm
from paybill_iac.pko.settings import parse_settings
from tests.pko.conftest import REPO, SETTINGS


def _all(catalog: Any, settings: Any) -> list[dict[str, Any]]:
    return pm.fleet_manifests(catalog, settings).all()


def test_every_stack_is_valid_against_the_operators_crd(catalog: Any, settings: Any, crd_validator: Any) -> None:
    stacks = _all(catalog, settings)
    assert len(stacks) == len(pm.cells_in_use(catalog)) + sum(
        1 for tenant in catalog.tenants if tenant_spec(catalog, tenant) is not None)
    for stack in stacks:
        errors = sorted(error.message for error in crd_validator.iter_errors(stack))
        assert not errors, (stack["metadata"]["name"], errors)


def test_flux_source_and_minimal_settings_are_valid_too(catalog: Any, crd_validator: Any) -> None:
    data = copy.deepcopy(SETTINGS)
    data["pko"]["program"] = {"flux": {"kind": "GitRepository", "name": "paybill-iac"}, "tenant_dir": "deploy/tenant"}
    data["pko"]["backend"] = {"access_token": {"secret": "pulumi-api", "key": "accessToken"}}
    for key in ("credentials", "service_account", "workspace"):
        data["pko"].pop(key)
    flux = parse_settings(data)
    for stack in _all(catalog, flux):
        assert not list(crd_validator.iter_errors(stack)), stack["metadata"]["name"]
        assert "projectRepo" not in stack["spec"]
        assert stack["spec"]["fluxSource"]["sourceRef"] == {
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "name": "paybill-iac"}
    tenant = next(s for s in _all(catalog, flux) if s["metadata"]["labels"]["paybill.io/kind"] == "tenant")
    assert tenant["spec"]["fluxSource"]["dir"] == "deploy/tenant"


def test_a_schema_violation_is_caught(crd_validator: Any) -> None:
    """The validator is live: a wrong type and an unknown reclaim policy are errors."""
    bad = {"apiVersion": "pulumi.com/v1", "kind": "Stack", "metadata": {"name": "x"},
           "spec": {"stack": "o/p/s", "workspaceReclaimPolicy": "Keep", "destroyOnFinalize": "no"}}
    assert len(list(crd_validator.iter_errors(bad))) == 2
    assert list(crd_validator.iter_errors({"apiVersion": "pulumi.com/v1", "kind": "Stack", "spec": {}}))  # no stack


def test_names_are_dns_labels_of_at_most_42_characters(catalog: Any, settings: Any) -> None:
    names = [stack["metadata"]["name"] for stack in _all(catalog, settings)]
    assert len(set(names)) == len(names)
    for name in names:
        assert len(name) <= pm.MAX_NAME and pm.DNS_LABEL.match(name), name
    longest = "a" + "b" * 29  # the longest id the catalog accepts (30 characters)
    assert pm.stack_name("tenant", longest) == f"tenant-{longest}"
    long_name = pm.stack_name("tenant", "x" * 60)  # not a catalog id today: shortened, stable, distinct
    assert len(long_name) == pm.MAX_NAME and long_name == pm.stack_name("tenant", "x" * 60)
    assert long_name != pm.stack_name("tenant", "x" * 59 + "y")
    for bad in ("a" * 43, "Tenant-a", "tenant_a", "-a", "a-"):
        with pytest.raises(UsageError, match="42"):
            pm.check_name(bad)


def test_config_is_the_stack_files_config_and_the_program_source_is_set(catalog: Any, settings: Any) -> None:
    stacks = {stack["metadata"]["name"]: stack for stack in _all(catalog, settings)}
    acme = stacks["tenant-acme"]
    spec = tenant_spec(catalog, "acme")
    assert spec is not None
    assert acme["spec"]["config"] == spec.to_config()
    generated = yaml.safe_load((REPO / "stacks" / "tenant" / "Pulumi.acme.yaml").read_text())["config"]
    assert acme["spec"]["config"] == generated  # what `paybill-iac generate` wrote
    assert acme["spec"]["stack"] == "organization/paybill-tenant/acme"
    assert acme["spec"]["projectRepo"] == "https://github.com/acme/paybill-iac.git"
    assert acme["spec"]["repoDir"] == "stacks/tenant" and acme["spec"]["branch"] == "main"
    cell = stacks["cell-aws-euw1-a"]
    assert cell["spec"]["config"] == cell_spec(catalog, "aws-euw1-a").to_config()
    assert cell["spec"]["repoDir"] == "stacks/cell" and cell["spec"]["stack"] == "organization/paybill-cell/aws-euw1-a"


def test_tenants_on_a_cell_wait_for_its_stack_in_the_same_namespace(catalog: Any, settings: Any) -> None:
    stacks = {stack["metadata"]["name"]: stack for stack in _all(catalog, settings)}
    placed = 0
    for stack in stacks.values():
        labels = stack["metadata"]["labels"]
        if labels["paybill.io/kind"] != "tenant":
            assert "prerequisites" not in stack["spec"]
            continue
        cell = catalog.placements.get(labels["paybill.io/tenant"])
        if cell is None:
            assert "prerequisites" not in stack["spec"]
            continue
        placed += 1
        (prerequisite,) = stack["spec"]["prerequisites"]
        assert prerequisite == {"name": f"cell-{cell}"}
        assert stacks[prerequisite["name"]]["metadata"]["namespace"] == stack["metadata"]["namespace"]
    assert placed >= 5


def test_lifecycle_fields_waves_and_labels(catalog: Any, settings: Any) -> None:
    from paybill_iac.automation.fleet import plan_waves

    stacks = _all(catalog, settings)
    for stack in stacks:
        spec = stack["spec"]
        assert spec["workspaceReclaimPolicy"] == "Delete"
        assert spec["destroyOnFinalize"] is False
        assert spec["retryMaxBackoffDurationSeconds"] == 1800
        assert spec["serviceAccountName"] == "paybill-workspace"
        assert spec["workspaceTemplate"]["spec"] == {
            "image": "ghcr.io/acme/paybill-workspace:1.4.0",
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}}
        labels = stack["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "paybill-iac"
        assert stack["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == labels["paybill.io/wave"]
    # the wave labels are the fleet's default waves (automation.fleet.plan_waves); cells are wave 0
    waves = {tenant: number for number, wave in enumerate(plan_waves(catalog), start=1) for tenant in wave}
    assert pm.default_waves(catalog) == waves
    for stack in stacks:
        labels = stack["metadata"]["labels"]
        expected = waves[labels["paybill.io/tenant"]] if labels["paybill.io/kind"] == "tenant" else 0
        assert labels["paybill.io/wave"] == str(expected)
        if labels["paybill.io/kind"] == "tenant":
            tenant = catalog.tenants[labels["paybill.io/tenant"]]
            assert labels["paybill.io/plan"] == tenant.plan and labels["paybill.io/cloud"] == tenant.cloud
            assert (labels.get("paybill.io/canary") == "true") == tenant.canary


def test_backend_and_credentials_only_by_secret_reference(catalog: Any, settings: Any) -> None:
    for stack in _all(catalog, settings):
        spec = stack["spec"]
        for inline in ("backend", "secrets", "accessTokenSecret", "envs", "envSecrets", "secretsRef"):
            assert inline not in spec
        refs = spec["envRefs"]
        assert refs.pop("PAYBILL_ACTOR") == {"type": "Literal", "literal": {"value": "human"}}
        assert refs and all(ref["type"] == "Secret" and set(ref["secret"]) == {"name", "key"} for ref in refs.values())
        assert {"PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE"} <= set(refs)
        cloud = stack["metadata"]["labels"]["paybill.io/cloud"]
        clouds_envs = {"aws": {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}, "azure": {"ARM_CLIENT_SECRET"}}
        assert set(refs) - {"PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE"} == clouds_envs.get(cloud, set())
        assert spec["gitAuth"] == {"accessToken": {"type": "Secret",
                                                   "secret": {"name": "paybill-git", "key": "accessToken"}}}


@pytest.mark.parametrize("change", [
    {"backend": {"url": "s3://state-bucket"}},                                   # an inline backend URL
    {"backend": {"access_token": {"literal": "pul-123"}}},                       # an inline token
    {"credentials": {"aws": {"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI"}}},        # an inline credential
    {"credentials": {"aws": {"AWS_SECRET_ACCESS_KEY": {"secret": "a", "key": "b", "value": "x"}}}},
    {"credentials": {"aws2": {"X": {"secret": "a", "key": "b"}}}},
    {"program": {"git": {"repo": "https://x/y.git", "branch": "main", "commit": "abcdef1"}}},
    {"program": {"git": {"repo": "https://x/y.git", "branch": "main"}, "tenant_dir": "../elsewhere"}},
    {"workspace": {"requests": {"memory": "lots"}}},
    {"retry_max_backoff_seconds": 0},
    {"unknown": 1},
])
def test_settings_refuse_inline_secrets_and_bad_values(change: dict[str, Any]) -> None:
    data = copy.deepcopy(SETTINGS)
    data["pko"].update(change)
    with pytest.raises(UsageError, match="pko"):
        parse_settings(data)
    with pytest.raises(UsageError, match="no `pko:` section"):
        parse_settings({"other": {}})


@pytest.mark.parametrize("value", ["yes", "No", "on", "null", "~", "123", "1e3", "0x1f", "-1", ".5", "a: b", "#x",
                                   "- item", "[x]", "{x}", "!tag", "&a", "*a", "'q'", '"q"', "%x", "@x", "`x",
                                   "trailing ", " leading", "", "multi\nline", "tab\there", "é", "a:b", "2026-01-01",
                                   "true", "False", ".inf", "<<"])
def test_yaml_reads_back_exactly(value: str) -> None:
    document = {"metadata": {"name": "x", "labels": {"k": value}}, "spec": {"config": {value or "empty": value},
                "list": [value, {"name": value, "n": 1}], "empty": {}, "none": [], "flag": False, "num": 3}}
    assert yaml.safe_load(pm.to_yaml(document)) == document


def test_manifest_files_are_deterministic_and_checked_like_generate(tmp_path: Path, catalog: Any, settings: Any,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pko"
    first = pm.write_manifests(catalog, settings, out)
    assert first.written and not first.unchanged and not first.orphaned
    files = {path: path.read_bytes() for path in out.rglob("*.yaml")}
    for stack in _all(catalog, settings):
        path = out / pm.relative_path(stack)
        assert yaml.safe_load(path.read_text()) == stack  # the file is the manifest
    kustomization = yaml.safe_load((out / pm.KUSTOMIZATION).read_text())
    listed = sorted(str(path.relative_to(out)) for path in files if path.name != pm.KUSTOMIZATION)
    assert sorted(kustomization["resources"]) == listed
    again = pm.write_manifests(catalog, settings, out)
    assert not again.written and len(again.unchanged) == len(files)
    assert {path: path.read_bytes() for path in out.rglob("*.yaml")} == files
    assert not pm.write_manifests(catalog, settings, out, check=True).stale
    # a hand edit and an orphan are stale; --check writes nothing; --prune removes the orphan
    edited = out / "tenants" / "tenant-acme.yaml"
    edited.write_text(edited.read_text().replace("branch: main", "branch: hotfix"))
    (out / "cells" / "cell-gone.yaml").write_text("kind: Stack\n")
    checked = pm.write_manifests(catalog, settings, out, check=True)
    assert checked.written == [edited] and checked.orphaned == [out / "cells" / "cell-gone.yaml"]
    assert "hotfix" in edited.read_text()
    pruned = pm.write_manifests(catalog, settings, out, prune=True)
    assert pruned.written == [edited] and pruned.removed == [out / "cells" / "cell-gone.yaml"]
    assert {path: path.read_bytes() for path in out.rglob("*.yaml")} == files


def test_cli_manifests_and_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    catalog_dir = tmp_path / "catalog"
    shutil.copytree(REPO / "stacks" / "catalog", catalog_dir)
    settings_file = tmp_path / "paybill.yaml"
    settings_file.write_text(yaml.safe_dump({"pull_requests": {"agents": []}, **SETTINGS}))
    monkeypatch.setenv("PAYBILL_SETTINGS", str(settings_file))
    out = tmp_path / "out"
    args = ["fleet", "manifests", "--catalog", str(catalog_dir), "--out", str(out)]
    assert main(args) is None
    assert "19 written" in capsys.readouterr().out
    assert main([*args, "--check"]) is None
    assert "19 Stack files are up to date" in capsys.readouterr().out
    tenant = catalog_dir / "tenants" / "acme.yaml"
    tenant.write_text(tenant.read_text().replace("canary: true", "canary: false").replace("state: active",
                                                                                           "state: suspended"))
    with pytest.raises(SystemExit) as stopped:
        main([*args, "--check"])
    assert stopped.value.code == 1
    assert "tenant-acme.yaml" in capsys.readouterr().err
    settings_file.write_text("pko:\n  program: {git: {repo: 'https://x/y.git'}}\n")
    with pytest.raises(SystemExit) as stopped:
        main(args)
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "pko.program.git" in error and "pko.backend" in error


def test_manifests_need_neither_the_kubernetes_client_nor_pulumi() -> None:
    import subprocess

    code = ("import sys, paybill_iac.pko.manifests, paybill_iac.pko.status, paybill_iac.cli_pko; "
            "print(sorted(m for m in ('kubernetes', 'pulumi', 'sqlalchemy') if m in sys.modules))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert found.strip() == "[]"
