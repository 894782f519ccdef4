"""The drift roll-up over a large fleet: 10,000 tenants, two stored checks each (20,000 reports), the newest of
each read and rolled up by plan, cloud, cell and status against the schedule (what `paybill-iac drift` prints
without checking anything). Target (issue 16): the roll-up of 10,000 stored reports within 2 s.

    python benchmarks/drift_rollup.py [--tenants 10000] [--repeat 5] [--postgres URL]

The reports are written in one transaction (setup, not timed). Timed: `fleet_statuses` (the newest report of
every stack in one statement, each tenant's status against the schedule, from the loaded catalog) and `rollup`.
Loading the catalog is not timed (benchmarks/catalog_scale.py measures it). PostgreSQL with --postgres (or
PAYBILL_TEST_POSTGRES_URL), else SQLite only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 2.0
STATUSES = ("in_sync", "in_sync", "in_sync", "drifted", "error")


def fill(store: object, catalog: object, tenants: list[str], now: float) -> int:
    """Two checks per tenant, the newer a minute to 28 hours ago, the older a day before; one in five drifted, one in
    five failed."""
    from sqlalchemy import insert

    from paybill_iac.automation.store.drift import drift_reports_table

    urn = "urn:pulumi:{t}::paybill-tenant::paybill:tenant:Pooled$aws:secretsmanager/secret:Secret::{t}-p-secret"
    rows = []
    for index, tenant in enumerate(tenants):
        model = catalog.tenants[tenant]  # type: ignore[attr-defined]
        cell = catalog.placements.get(tenant)  # type: ignore[attr-defined]
        newest = float(60 + (index * 37) % 100_000)  # some older than the daily schedule: stale
        for age in (newest + 86400.0, newest):
            status = STATUSES[(index + int(age)) % len(STATUSES)]
            resources = [{"op": "update", "urn": urn.format(t=tenant), "type": "aws:secretsmanager/secret:Secret",
                          "paths": ["description"], "holds_data": True, "protected": True, "rules": [],
                          "first_seen": now - age, "new": False}] if status == "drifted" else []
            rows.append({"stack": f"paybill-tenant/{tenant}", "tenant": tenant, "status": status,
                         "checked_at": now - age, "actor": "human", "plan": model.plan, "cloud": model.cloud,
                         "cell": cell, "drifted": len(resources), "new_drift": 0, "violations": 0,
                         "error": "busy" if status == "error" else None,
                         "report": json.dumps({"resources": resources, "violations": []})})
    with store.db.transaction() as conn:  # type: ignore[attr-defined]
        conn.execute(insert(drift_reports_table), rows)
    return len(rows)


def measure(url: str, catalog: object, repeat: int) -> dict[str, object]:
    from paybill_iac.automation.drift import fleet_statuses, rollup
    from paybill_iac.automation.store import Store
    from paybill_iac.model.lifecycle import HAS_STACK

    store = Store(url)
    try:
        tenants = sorted(tenant_id for tenant_id, tenant in catalog.tenants.items()  # type: ignore[attr-defined]
                         if tenant.state in HAS_STACK)
        now = store.clock()
        stored = fill(store, catalog, tenants, now)
        times, summary = [], {}
        for _ in range(repeat):
            started = time.perf_counter()
            entries = fleet_statuses(store, catalog, now, 86400.0)  # type: ignore[arg-type]
            summary = rollup(entries)
            times.append(time.perf_counter() - started)
        return {"stored": stored, "tenants": len(tenants), "median": statistics.median(times), "worst": max(times),
                "status": summary["status"]}
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", default=os.environ.get("PAYBILL_TEST_POSTGRES_URL"))
    options = parser.parse_args()
    from benchmarks.synthetic import write_catalog
    from paybill_iac.catalog import load_catalog

    failed = 0
    with tempfile.TemporaryDirectory() as folder:
        # a catalog of N tenants, every one with a stack (the synthetic catalog's few onboarding/offboarding
        # states included: the roll-up counts every state with a stack)
        catalog = load_catalog(write_catalog(Path(folder) / "catalog", options.tenants))
        targets = [("SQLite", f"sqlite:///{Path(folder) / 'state.db'}")]
        if options.postgres:
            targets.append(("PostgreSQL", options.postgres))
        for name, url in targets:
            found = measure(url, catalog, options.repeat)
            ok = float(found["worst"]) <= TARGET_SECONDS  # type: ignore[arg-type]
            failed += not ok
            print(f"{name}: roll-up of {found['tenants']} tenants' newest reports ({found['stored']} stored): "
                  f"median {found['median']:.3f} s, worst {found['worst']:.3f} s of {options.repeat} "
                  f"(target {TARGET_SECONDS:.0f} s: {'met' if ok else 'MISSED'}); statuses {found['status']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
