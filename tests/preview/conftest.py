"""Shared preview runs: the example catalog previewed once per test worker, serially and in a pool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
EXAMPLE = REPO / "stacks" / "catalog"


def preview(catalog: Path = EXAMPLE, **options: Any) -> dict[str, Any]:
    from paybill_iac.preview import Options, run_preview

    options.setdefault("jobs", 1)
    options.setdefault("progress", False)
    return run_preview(Options(catalog=catalog, **options))


@pytest.fixture(scope="session")
def example_report() -> dict[str, Any]:
    """The whole example catalog, in this process (jobs=1)."""
    return preview()


@pytest.fixture(scope="session")
def example_report_parallel() -> dict[str, Any]:
    """The whole example catalog in a pool of two forked workers."""
    return preview(jobs=2)


def copy_catalog(target: Path) -> Path:
    shutil.copytree(EXAMPLE, target)
    return target


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.com",
                           "-c", "commit.gpgsign=false", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def catalog_repo(tmp_path: Path) -> Path:
    """A git repository holding a copy of the example catalog at stacks/catalog, committed."""
    repo = tmp_path / "repo"
    copy_catalog(repo / "stacks" / "catalog")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "catalog")
    return repo


def add_tenant_on_a_new_cell(catalog: Path, tenant: str = "initrode") -> None:
    """A pooled tenant in us-east-1: it brings cell aws-use1-a into use, a stack the agent guardrails
    forbid an AI agent to deploy (a cell is shared by many tenants)."""
    (catalog / "tenants" / f"{tenant}.yaml").write_text(
        f"id: {tenant}\nname: Initrode\nplan: starter\ncloud: aws\nregion: us-east-1\nstate: onboarding\n"
        "subscription: {seats: 10, start: 2026-03-01}\n")
