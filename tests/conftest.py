"""Shared fixtures. `stackkit` builds stack configs the way `paybill-iac generate` does and runs the
real stack programs under the mock runtime (paybill_iac.mockrun)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
DEFAULT_REGION = {"aws": "eu-west-1", "azure": "westeurope", "gcp": "europe-west1", "oci": "eu-frankfurt-1"}
DEFAULT_ACCOUNT = {
    "aws": {},
    "azure": {},
    "gcp": {"project": "pb-tenants-prod"},
    "oci": {"parent_compartment_id": "ocid1.tenancy.oc1..aaaaaaaaexampletenancy"},
}
TENANT_PROGRAM = REPO / "stacks" / "tenant" / "__main__.py"
CELL_PROGRAM = REPO / "stacks" / "cell" / "__main__.py"


class StackKit:
    """Builds TenantSpec/CellSpec from plain arguments and runs the stack programs on their configs."""

    org = "pb"
    pulumi_org = "organization"

    def cell_stack(self, cloud: str, cell: str = "cell-a", vcpus: int = 4, storage_gb: int = 128) -> Any:
        from paybill_iac.model import naming, sizing
        from paybill_iac.model.spec import CellSpec, PlanLimits

        return CellSpec(
            org=self.org, cell=cell, cloud=cloud, region=DEFAULT_REGION[cloud],  # type: ignore[arg-type]
            database=sizing.database_size(cloud, vcpus, storage_gb, 14),
            limits=PlanLimits(vcpus, storage_gb, 14, 1, (DEFAULT_REGION[cloud],)),
            names=naming.used_names(cloud, "cell", naming.names_for(cloud, self.org, cell)),
            account=DEFAULT_ACCOUNT[cloud],
        )

    def tenant_stack(
        self, cloud: str, isolation: str, tenant: str = "acme", state: str = "active", plan: str = "pro",
        cell: str = "cell-a", vcpus: int = 2, storage_gb: int = 64,
    ) -> Any:
        from paybill_iac.model import naming, sizing
        from paybill_iac.model.spec import PlanLimits, TenantSpec, cell_stack_name

        shared = isolation in ("pooled", "bridge")
        database = None if isolation == "pooled" else sizing.database_size(cloud, vcpus, storage_gb, 7)
        return TenantSpec(
            org=self.org, tenant=tenant, plan=plan, isolation=isolation, cloud=cloud,  # type: ignore[arg-type]
            region=DEFAULT_REGION[cloud], state=state,  # type: ignore[arg-type]
            limits=PlanLimits(vcpus, storage_gb, 7, 0 if isolation == "pooled" else 1),
            # unshaped: the block tests compare with these
            names=naming.used_names(cloud, isolation, naming.names_for(cloud, self.org, tenant)),
            account=DEFAULT_ACCOUNT[cloud], database=database, cell=cell if shared else None,
            cell_stack=cell_stack_name(self.pulumi_org, cell) if shared else None,
        )

    def run_cell(self, spec: Any) -> Any:
        from paybill_iac.mockrun import run_stack
        from paybill_iac.model.spec import CELL_PROJECT

        return run_stack(CELL_PROGRAM, project=CELL_PROJECT, stack=spec.cell, config=spec.to_config())

    def run_tenant(self, spec: Any, cell_run: Any = None) -> Any:
        """Run the tenant program; pooled and bridge tenants need `cell_run` (their cell's run)."""
        from paybill_iac.mockrun import run_stack
        from paybill_iac.model.spec import TENANT_PROJECT

        references = {spec.cell_stack: cell_run.outputs} if cell_run is not None else {}
        return run_stack(TENANT_PROGRAM, project=TENANT_PROJECT, stack=spec.tenant, config=spec.to_config(),
                         stack_references=references)


@pytest.fixture
def stackkit() -> StackKit:
    return StackKit()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A PostgreSQL server's superuser URL, one for the session: PAYBILL_TEST_POSTGRES_URL (`.ci/run` starts
    a server with tests/automation/pgserver.py and sets it), else a server of the session's own from the
    machine's binaries, stopped at the end. Skipped, with the reason, when PAYBILL_SKIP_POSTGRES is set or
    no server can be had; on CI (CI set) the latter fails instead, so that a machine without one is noticed."""
    from tests.automation import pgserver

    url = os.environ.get(pgserver.URL_ENV)
    if url:
        yield url
        return
    if os.environ.get(pgserver.SKIP_ENV):
        pytest.skip(f"{pgserver.SKIP_ENV} is set: PostgreSQL tests skipped on purpose")
    try:
        server = pgserver.start()
    except pgserver.Unavailable as error:
        reason = (f"no PostgreSQL server: {pgserver.URL_ENV} is not set and none can be started here ({error}); "
                  f"install the PostgreSQL server binaries or set {pgserver.URL_ENV}")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield server.url
    finally:
        pgserver.stop(server.folder)


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh schema on the server for one test, dropped after it (the URL selects it through search_path)."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    plain = postgres_server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{postgres_server_url}?options=-csearch_path%3D{schema}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Caches (generate's memo) in a folder of the test session's, not the user's ~/.cache."""
    previous = os.environ.get("PAYBILL_CACHE_DIR")
    os.environ["PAYBILL_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("PAYBILL_CACHE_DIR", None)
    else:
        os.environ["PAYBILL_CACHE_DIR"] = previous
