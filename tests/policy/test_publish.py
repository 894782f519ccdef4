"""Publishable packs: `paybill-iac policy build` writes each pack as a folder that needs nothing outside it
(its own virtualenv, the rule library's wheel at the pack's version), and such a folder loads in a fresh
virtualenv and judges a stack from its policy config alone."""

from __future__ import annotations

import os
import subprocess
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paybill_policies as policies
import pytest
import yaml

from tests.policy.packrun import running_pack
from tests.policy.test_analyzer import URN, _configure, _struct


def test_the_library_is_released_with_the_project() -> None:
    import paybill_iac

    assert policies.__version__ == paybill_iac.__version__


def test_a_built_pack_needs_nothing_outside_its_folder(tmp_path: Path) -> None:
    from paybill_policies.build import build_pack

    for pack in policies.PACKS:
        folder = build_pack(pack, tmp_path)
        settings = yaml.safe_load((folder / "PulumiPolicy.yaml").read_text())
        assert settings["runtime"]["options"]["virtualenv"] == "venv" and settings["version"] == policies.__version__
        requirements = (folder / "requirements.txt").read_text().splitlines()
        assert f"paybill-policies=={policies.__version__}" in requirements and "--find-links wheels" in requirements
        assert ".." not in (folder / "PulumiPolicy.yaml").read_text() + "\n".join(requirements)
        wheels = list((folder / "wheels").glob("paybill_policies-*.whl"))
        assert [wheel.name for wheel in wheels] == [f"paybill_policies-{policies.__version__}-py3-none-any.whl"]
        names = zipfile.ZipFile(wheels[0]).namelist()
        assert "paybill_policies/rules/aws.py" in names and "paybill_iac/model/resource_facts.py" in names
        assert not [name for name in names if name.startswith("paybill_iac/") and not name.startswith(
            ("paybill_iac/model/", "paybill_iac/__init__.py"))], "only the pure model of the control plane"
        assert "catalog" not in (folder / "__main__.py").read_text().split('"""')[-1]


def test_the_in_repo_packs_pin_the_library_at_their_version() -> None:
    from paybill_policies.build import _pack_source

    for pack in policies.PACKS:
        requirements = (_pack_source(pack) / "requirements.txt").read_text().splitlines()
        assert f"paybill-policies=={policies.__version__}" in requirements


@pytest.fixture(scope="module")
def fresh_pack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The plan-limits pack built into a temporary folder, its requirements installed into a fresh
    virtualenv (pulumi-policy from the package index, the rule library from the pack's own wheel), started
    the way the engine starts it."""
    from paybill_policies.build import build_pack

    root = tmp_path_factory.mktemp("published")
    folder = build_pack("plan-limits", root)
    environment = root / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    python = environment / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", "requirements.txt"], cwd=folder,
                             capture_output=True, text=True, timeout=240)
    assert install.returncode == 0, install.stderr[-2000:]
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHONPATH", "VIRTUAL_ENV"))}
    with running_pack([str(python), "-u", str(folder)], folder, {**clean, "PYTHONUNBUFFERED": "1"},
                      "the built pack") as stub:
        yield stub, python


@pytest.mark.fresh_venv
def test_a_built_pack_loads_in_a_fresh_virtualenv_and_judges_from_its_policy_config(
        fresh_pack: Any, catalog: Any) -> None:
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import analyzer_pb2

    from paybill_iac.policy_context import context_from_catalog

    analyzer, python = fresh_pack
    where = subprocess.run([str(python), "-c", "import paybill_policies, paybill_iac.model, sys; "
                            "print(paybill_policies.__file__); print('pulumi_aws' in sys.modules)"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert str(python.parents[1]) in where[0] and where[1] == "False"
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "plan-limits"
    _configure(analyzer, policies.policy_config(context_from_catalog(catalog, "paybill-tenant", "cyberdyne"),
                                                pack="plan-limits"))
    request = analyzer_pb2.AnalyzeRequest(type="aws:rds/instance:Instance", urn=URN, name="cyberdyne-db",
                                          properties=_struct({"instanceClass": "db.m7g.16xlarge",
                                                              "backupRetentionPeriod": 30}))
    found = analyzer.Analyze(request).diagnostics
    assert [item.policyName for item in found] == ["aws-rds-instance-vcpus-within-plan"]
    _configure(analyzer, {})  # no policy config: the stack is unknown, and fails closed
    stack = analyzer_pb2.AnalyzeStackRequest(resources=[analyzer_pb2.AnalyzerResource(
        type="aws:rds/instance:Instance", urn=URN, name="cyberdyne-db", properties=_struct({}))])
    assert {item.policyName for item in analyzer.AnalyzeStack(stack).diagnostics} == {"any-stack-known-to-catalog"}
