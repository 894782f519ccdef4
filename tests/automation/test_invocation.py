"""The real runner's command construction, checked without the Pulumi CLI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from paybill_iac.automation import POLICY_PACKS, PulumiRunner, StackRef, build_invocation
from paybill_iac.automation.invocation import Layout, write_work_dir
from paybill_iac.errors import PulumiCLIMissing
from tests.automation.conftest import Env


def test_each_stack_gets_its_own_work_dir_with_the_program_and_config(env: Env) -> None:
    auto = env.make()
    acme = auto.invocation("up", StackRef.tenant("acme"))
    cell = auto.invocation("up", StackRef.cell("aws-euw1-a"))
    assert acme.work_dir != cell.work_dir
    assert acme.work_dir == (env.state / "work" / "paybill-tenant" / "acme").resolve()
    assert (acme.work_dir / acme.project_settings["main"]).resolve() == (env.stacks / "tenant").resolve()
    assert acme.project_settings["name"] == "paybill-tenant"
    venv = acme.project_settings["runtime"]["options"].get("virtualenv")
    assert venv is None or os.path.isabs(venv)
    generated = yaml.safe_load((env.stacks / "tenant" / "Pulumi.acme.yaml").read_text())
    assert acme.stack_config == generated  # exactly what `paybill-iac generate` wrote
    files = write_work_dir(acme)
    assert yaml.safe_load(acme.stack_file.read_text()) == generated
    assert yaml.safe_load(acme.project_file.read_text())["main"] == acme.project_settings["main"]
    assert len(files) == 2 + len(POLICY_PACKS)


def test_work_dir_keeps_what_pulumi_added_to_the_stack_file(env: Env) -> None:
    invocation = env.make().invocation("up", StackRef.tenant("acme"))
    invocation.work_dir.mkdir(parents=True)
    invocation.stack_file.write_text("encryptionsalt: v1:abc\nconfig:\n  old: 1\n")
    write_work_dir(invocation)
    written = yaml.safe_load(invocation.stack_file.read_text())
    assert written["encryptionsalt"] == "v1:abc" and "old" not in written["config"]


@pytest.mark.parametrize("actor", ["human", "agent:billing-bot"])
def test_every_preview_and_up_carries_all_packs_with_per_run_configs(env: Env, actor: str) -> None:
    from paybill_iac.policy_context import context_from_catalog

    auto = env.make(actor=actor)
    for operation in ("preview", "up"):
        invocation = auto.invocation(operation, StackRef.tenant("acme"))
        assert invocation.policy_packs == tuple(str((Path("policy_packs") / pack).resolve()) for pack in POLICY_PACKS)
        kwargs = invocation.api_kwargs()
        assert kwargs["policy_packs"] == list(invocation.policy_packs)
        assert kwargs["policy_pack_configs"] == [str(invocation.work_dir / ".policy" / f"{pack}.json")
                                                 for pack in POLICY_PACKS]
        command = invocation.command_line()
        assert command.count("--policy-pack") == 3 and command.count("--policy-pack-config") == 3
    context = context_from_catalog(auto.catalog, "paybill-tenant", "acme", actor=actor)
    assert context.actor == actor
    for pack in POLICY_PACKS:
        config = invocation.policy_configs[pack]
        assert config and all(entry["context"]["actor"] == actor for entry in config.values())
        assert all(entry["context"]["plan"] == "starter" for entry in config.values())
        assert all("enforcementLevel" not in entry for entry in config.values())  # nothing downgraded


def test_refresh_and_destroy_carry_no_policy_flags(env: Env) -> None:
    auto = env.make()
    for operation in ("refresh", "destroy"):
        kwargs = auto.invocation(operation, StackRef.tenant("acme")).api_kwargs()
        assert "policy_packs" not in kwargs


def test_a_run_without_every_pack_config_cannot_be_built(env: Env) -> None:
    layout = Layout(env.stacks, Path("policy_packs"), env.state)
    with pytest.raises(ValueError, match="every run carries all packs"):
        build_invocation("up", StackRef.tenant("acme"), {}, layout=layout,
                         policy_configs={"plan-limits": {}}, actor="human")


def test_backend_defaults_to_a_local_file_backend_and_takes_any_url(env: Env) -> None:
    local = env.make().invocation("up", StackRef.tenant("acme"))
    assert local.backend_url == f"file://{(env.state / 'backend').resolve()}"
    assert local.env["PULUMI_BACKEND_URL"] == local.backend_url
    assert local.env["PULUMI_CONFIG_PASSPHRASE"] == ""
    remote = env.make(backend_url="s3://bucket/prefix").invocation("up", StackRef.tenant("acme"))
    assert remote.env["PULUMI_BACKEND_URL"] == "s3://bucket/prefix"
    assert "PULUMI_CONFIG_PASSPHRASE" not in remote.env or os.environ.get("PULUMI_CONFIG_PASSPHRASE") is not None


def test_plan_files_saved_by_preview_and_consumed_by_up(env: Env) -> None:
    auto = env.make()
    preview = auto.invocation("preview", StackRef.tenant("acme"), plan_file="/tmp/p.json")
    up = auto.invocation("up", StackRef.tenant("acme"), plan_file="/tmp/p.json")
    assert preview.api_kwargs()["plan"] == up.api_kwargs()["plan"] == "/tmp/p.json"
    assert preview.command_line()[-2:] == ["--save-plan", "/tmp/p.json"]
    assert up.command_line()[-2:] == ["--plan", "/tmp/p.json"]
    assert up.command_line()[:4] == ["pulumi", "up", "--yes", "--skip-preview"]
    excluded = auto.invocation("up", StackRef.tenant("acme"), excludes=("urn:a",))
    assert excluded.api_kwargs()["exclude"] == ["urn:a"] and excluded.command_line()[-2:] == ["--exclude", "urn:a"]


def test_stack_tags_name_tenant_plan_and_isolation(env: Env) -> None:
    auto = env.make()
    tags = auto.invocation("up", StackRef.tenant("hooli")).tags
    assert (tags["paybill-tenant"], tags["paybill-plan"], tags["paybill-isolation"]) == ("hooli", "growth", "bridge")
    assert tags["paybill-managed-by"] == "paybill-iac"
    cell_tags = auto.invocation("up", StackRef.cell("aws-euw1-a")).tags
    assert cell_tags["paybill-cell"] == "aws-euw1-a"


def test_without_the_pulumi_cli_the_error_says_how_to_install_it(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(env.root / "empty-path"))
    assert shutil.which("pulumi") is None
    auto = env.make(runner=PulumiRunner(), policy_dir=Path("policy_packs").resolve())
    with pytest.raises(PulumiCLIMissing) as missing:
        auto.up(tenant="acme")
    message = str(missing.value)
    assert "Install it" in message and "paybill-iac preview` works offline" in message
    assert missing.value.exit_code == 2
    assert auto.journal()[0].result == "failed"
    assert auto.store.leases.get("paybill-tenant/acme") is None


def test_stack_refs_parse() -> None:
    assert StackRef.parse("tenant/acme") == StackRef.tenant("acme")
    assert StackRef.parse("paybill-cell/c1").key == "paybill-cell/c1"
    with pytest.raises(ValueError):
        StackRef.parse("acme")


def test_the_program_runs_as_the_operation_s_actor(env: Env) -> None:
    """The stack program's in-program policy enforcement reads PAYBILL_ACTOR: an agent's run is judged
    as the agent's by any engine, not only by the packs the CLI was given."""
    layout = Layout(env.stacks, Path("policy_packs"), env.state)
    configs = {pack: {} for pack in ("plan-limits", "tenant-isolation", "agent-guardrails")}
    invocation = build_invocation("up", StackRef.tenant("acme"), {}, layout=layout, policy_configs=configs,
                                  actor="agent:bot")
    assert invocation.env["PAYBILL_ACTOR"] == "agent:bot"
