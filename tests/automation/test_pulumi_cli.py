"""The real runner against the real Pulumi CLI with a local file backend.

Skipped when `pulumi` is not on PATH: the CLI is not a Python package and cannot be installed on the
machines this project is built on (see PULUMI_NOTES). Nothing here needs cloud credentials or provider
plugins: the stacks stay empty.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from paybill_iac.automation import PulumiRunner, StackRef
from tests.automation.conftest import Env

pytestmark = [
    pytest.mark.pulumi_cli,
    pytest.mark.skipif(shutil.which("pulumi") is None,
                       reason="the Pulumi CLI is not on PATH (not installable here); these tests run the real CLI "
                              "with a local file backend wherever it is installed"),
]


def test_a_stack_is_created_in_its_own_work_dir_on_the_file_backend(env: Env) -> None:
    auto = env.make(runner=PulumiRunner())
    invocation = auto.invocation("refresh", StackRef.tenant("acme"))
    runner = PulumiRunner()
    assert runner.resources(invocation) == []
    assert runner.outputs(invocation) == {}
    listed = subprocess.run(["pulumi", "stack", "ls", "--json"], cwd=invocation.work_dir, env={
        **os.environ, **invocation.env}, capture_output=True, text=True, check=True).stdout
    assert '"name": "acme"' in listed or '"acme"' in listed
    assert (env.state / "backend" / ".pulumi").is_dir()


def test_refresh_of_an_empty_stack_is_journaled(env: Env) -> None:
    auto = env.make(runner=PulumiRunner())
    result = auto.refresh(tenant="acme")
    assert result.summary.changed == 0
    assert auto.journal()[0].result == "succeeded"
