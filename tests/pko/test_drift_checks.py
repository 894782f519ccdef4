"""Drift checks on the operator: the check Stacks (against the operator's published CRD schema), their names, the
requests the engine makes, the status-to-report mapping against a cluster double that answers as the operator
does (an outcome per reconciliation request), and the reports stored in the real state database."""

from __future__ import annotations

from typing import Any

import pytest

from paybill_iac.automation.fleet import FleetPlan, plan_waves, tasks_of
from paybill_iac.errors import UsageError
from paybill_iac.pko.drift import NO_CHANGES_EXPECTED, check_manifest, check_name, check_request
from paybill_iac.pko.engine import PkoFleetRunner
from paybill_iac.pko.kube import ApplyOutcome
from paybill_iac.pko.manifests import MAX_NAME, RECONCILE_REQUEST, Rollout
from paybill_iac.pko.manifests import check_name as check_dns_label
from paybill_iac.pko.settings import parse_settings
from tests.automation.conftest import Env, env  # noqa: F401 - the fixture
from tests.drift.test_cli_drift import Run, run, runner  # noqa: F401 - the command's fixtures
from tests.pko.conftest import SETTINGS
from tests.pko.test_status_rollout import _c

DRIFTED = ("error: no changes were expected but changes were proposed\n"
           "  ~ aws:rds/instance:Instance acme-db update [diff: ~publiclyAccessible]")


class FakeOperator:
    """Applies succeed (or fail by name). A check Stack's outcome is scripted per name as the operator writes it:
    `ready`, `drifted` (the preview's expect-no-changes failure), `failed` (another failure), `stalled`; it
    answers the reconciliation request it was applied with, unless `late` (then it still shows an earlier run's)."""

    def __init__(self, outcomes: dict[str, str] | None = None, refuse: frozenset[str] = frozenset(),
                 late: frozenset[str] = frozenset()):
        self.outcomes, self.refuse, self.late = outcomes or {}, refuse, late
        self.applied: dict[str, dict[str, Any]] = {}

    def apply(self, manifest: dict[str, Any], *, force: bool = False, dry_run: bool = False) -> ApplyOutcome:
        name = manifest["metadata"]["name"]
        if name in self.refuse:
            return ApplyOutcome(name, False, error="HTTP 422: Stack name must be no more than 42 characters")
        self.applied[name] = manifest
        return ApplyOutcome(name, True, 1)

    def list(self) -> list[dict[str, Any]]:
        return [self._status(name, manifest) for name, manifest in self.applied.items()]

    def _status(self, name: str, manifest: dict[str, Any]) -> dict[str, Any]:
        request = manifest["metadata"]["annotations"][RECONCILE_REQUEST]
        outcome = self.outcomes.get(name, "ready")
        last: dict[str, Any] = {"generation": 1, "type": "preview", "permalink": f"https://app.pulumi.com/{name}/1",
                                "reconcileRequest": "an-earlier-run" if name in self.late else request}
        if outcome == "ready":
            conditions = [_c("Ready", "True", "ProcessingCompleted")]
            last.update(state="succeeded")
        elif outcome == "stalled":
            conditions = [_c("Ready", "False", "NotReadyStalled"), _c("Stalled", "True", "SourceUnavailable",
                                                                       "could not resolve sourceRef")]
            last.update(state="failed", failures=1, message="")
        else:
            conditions = [_c("Ready", "False"), _c("Reconciling", "True", "PreviewFailed", "1 update failure(s)")]
            last.update(state="failed", failures=1,
                        message=DRIFTED if outcome == "drifted" else "error: could not load plugin aws")
        return {"metadata": {"name": name, "generation": 1, "labels": manifest["metadata"]["labels"],
                             "annotations": manifest["metadata"]["annotations"]},
                "status": {"observedGeneration": 1, "conditions": conditions, "lastUpdate": last}}


def _rollout(settings: Any) -> Rollout:
    return Rollout(settings, settings.namespace, "acme")


def _plan(catalog: Any, tenants: list[str], actor: str = "human") -> FleetPlan:
    waves = plan_waves(catalog, None, tenants)
    return FleetPlan("run-7", "drift", tasks_of("run-7", "drift", waves, actor), max_failures=len(tenants))


def _engine(cluster: Any, catalog: Any, settings: Any, **options: Any) -> PkoFleetRunner:
    return PkoFleetRunner(cluster, catalog, settings, actor="human", poll=1, timeout=3, sleep=lambda _s: None,
                          clock=iter(range(10**6)).__next__, **options)


# --- the check Stacks ---------------------------------------------------------------------------------------


def test_check_stacks_are_the_tenant_s_stack_as_a_refreshed_preview_and_valid_for_the_crd(
        catalog: Any, settings: Any, crd_validator: Any) -> None:
    from paybill_iac.model.spec import tenant_spec

    rollout = _rollout(settings)
    tenants = [tid for tid in sorted(catalog.tenants) if tenant_spec(catalog, tid) is not None]
    assert tenants
    for tenant in tenants:
        spec = tenant_spec(catalog, tenant)
        assert spec is not None
        own, check = rollout.manifest(spec, 2), check_manifest(rollout, spec, 2, check_request("run-7"))
        errors = sorted(crd_validator.iter_errors(check), key=lambda error: list(error.path))
        assert not errors, f"{tenant}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors)
        body = check["spec"]
        assert check["metadata"]["name"] == check_name(spec.stack) == f"drift-{spec.stack}"
        for same in ("stack", "projectRepo", "repoDir", "branch", "gitAuth", "config", "envRefs", "secretsProvider",
                     "serviceAccountName", "workspaceTemplate"):
            assert body[same] == own["spec"][same], same
        assert (body["preview"], body["refresh"], body["expectNoRefreshChanges"]) == (True, True, True)
        assert body["updateTemplate"] == {"spec": {"expectNoChanges": True}}
        assert (body["workspaceReclaimPolicy"], body["destroyOnFinalize"]) == ("Delete", False)
        assert "prerequisites" not in body  # a preview reads its cell's outputs from the backend
        labels = check["metadata"]["labels"]
        assert labels["paybill.io/kind"] == "drift-check" and labels["paybill.io/tenant"] == tenant
        assert check["metadata"]["annotations"][RECONCILE_REQUEST] == "paybill-drift-run-7"
        assert own["metadata"]["name"] != check["metadata"]["name"] and "preview" not in own["spec"]


def test_check_names_keep_the_42_character_dns_label_rule() -> None:
    assert check_name("acme") == "drift-acme"
    longest = "a" * 30  # the longest id the catalog accepts
    assert len(check_name(longest)) <= MAX_NAME
    wider = [check_name("t" * 40 + suffix) for suffix in ("x", "y")]
    assert all(len(name) <= MAX_NAME and name.startswith("drift-") for name in wider)
    assert wider[0] != wider[1]  # shortened with a hash: still one name per stack
    for name in [*wider, check_name(longest)]:
        check_dns_label(name)


# --- the engine's requests and the status-to-report mapping -----------------------------------------------------


@pytest.mark.parametrize(("outcome", "status", "said"), [
    ("ready", "in_sync", "proposed no changes"),
    ("drifted", "drifted", NO_CHANGES_EXPECTED),
    ("failed", "error", "could not load plugin aws"),
    ("stalled", "error", "stalled: SourceUnavailable"),
])
def test_each_check_stack_s_outcome_becomes_the_tenant_s_status(catalog: Any, settings: Any, outcome: str,
                                                                status: str, said: str) -> None:
    cluster = FakeOperator({"drift-acme": outcome})
    engine = _engine(cluster, catalog, settings)
    report = engine.run(_plan(catalog, ["acme"]))
    [check] = engine.drift_checks
    assert (check.tenant, check.stack, check.status) == ("acme", "drift-acme", status)
    assert said in check.message
    [result] = report.outcomes
    assert result.result == ("failed" if status == "error" else "succeeded")
    assert list(cluster.applied) == ["drift-acme"]  # the check Stack only: no cell, not the tenant's own Stack


def test_an_outcome_of_an_earlier_request_is_not_read_and_a_refused_stack_is_an_error(
        catalog: Any, settings: Any) -> None:
    cluster = FakeOperator(late=frozenset({"drift-acme"}), refuse=frozenset({"drift-hooli"}))
    engine = _engine(cluster, catalog, settings)
    engine.run(_plan(catalog, ["acme", "hooli", "cyberdyne"]))
    checks = {check.tenant: check for check in engine.drift_checks}
    assert checks["acme"].status == "error" and "did not finish in time" in checks["acme"].message
    assert checks["hooli"].status == "error" and "HTTP 422" in checks["hooli"].message
    assert checks["cyberdyne"].status == "in_sync"


def test_a_check_needs_a_real_apply_and_waiting_and_an_agent_s_is_refused(catalog: Any, settings: Any) -> None:
    with pytest.raises(UsageError, match="no dry run"):
        _engine(FakeOperator(), catalog, settings, dry_run=True).run(_plan(catalog, ["acme"]))
    cluster = FakeOperator()
    report = _engine(cluster, catalog, settings).run(_plan(catalog, ["acme"], actor="agent:bot"))
    assert [outcome.result for outcome in report.outcomes] == ["refused"] and cluster.applied == {}


# --- stored reports (real SQLite) ----------------------------------------------------------------------------


def test_operator_checks_are_stored_as_drift_reports_with_a_note(env: Env) -> None:  # noqa: F811
    from paybill_iac.automation.drift import check_fleet, stored_report

    human = env.make()
    catalog = human.reload()
    stack = "paybill-tenant/hooli"
    urn = "urn:pulumi:hooli::paybill-tenant::aws:rds/instance:Instance::hooli-db"
    human.store.drift.record(stack=stack, tenant="hooli", status="drifted", actor="human", plan=None, cloud=None,
                             cell=None, drifted=[(urn, "update", ("publiclyAccessible",))], report={"resources": []})
    first_seen = human.store.drift.seen(stack)
    cluster = FakeOperator({"drift-hooli": "drifted", "drift-cyberdyne": "failed"})
    engine = _engine(cluster, catalog, parse_settings(SETTINGS))
    report, newly = check_fleet(human, tenants=["acme", "hooli", "cyberdyne"], runner=engine)
    assert sorted((o.tenant, o.result) for o in report.outcomes) == [
        ("acme", "succeeded"), ("cyberdyne", "failed"), ("hooli", "succeeded")]
    assert not any(name.startswith("cell-") for name in cluster.applied)  # no cell checked on the operator
    latest = human.store.drift.latest(with_report=True)
    assert {key: item.status for key, item in latest.items()} == {
        "paybill-tenant/acme": "in_sync", stack: "drifted", "paybill-tenant/cyberdyne": "error"}
    drifted = stored_report(latest[stack])
    assert drifted.resources == () and drifted.error is None and drifted.plan == catalog.tenants["hooli"].plan
    assert drifted.note is not None and "not which resources drifted" in drifted.note
    assert "paybill-iac drift --tenant hooli" in drifted.note and NO_CHANGES_EXPECTED in drifted.note
    assert latest[stack].report["engine"] == "pko" and latest[stack].report["check_stack"] == "drift-hooli"
    assert human.store.drift.seen(stack) == first_seen  # drift without resources forgets no first-seen time
    failed = stored_report(latest["paybill-tenant/cyberdyne"])
    assert failed.error is not None and "could not load plugin aws" in failed.error
    assert newly == []  # no resource is newly seen: the operator does not say which
    check_fleet(human, tenants=["hooli"], runner=_engine(FakeOperator(), catalog, parse_settings(SETTINGS)))
    assert human.store.drift.latest()[stack].status == "in_sync" and human.store.drift.seen(stack) == {}


# --- settings and the command line -----------------------------------------------------------------------------


def test_the_drift_section_names_the_engine() -> None:
    from paybill_iac.automation.drift import parse_drift_settings

    assert parse_drift_settings({}, "paybill.yaml").engine == "local"
    assert parse_drift_settings({"drift": {"engine": "pko"}}, "paybill.yaml").engine == "pko"
    with pytest.raises(UsageError, match=r"paybill.yaml: drift.engine must be one of local, pko, got 'k8s'"):
        parse_drift_settings({"drift": {"engine": "k8s"}}, "paybill.yaml")


def test_the_command_shows_the_operator_s_note_and_refuses_pko_for_one_tenant(env: Env, run: Run) -> None:  # noqa: F811
    from paybill_iac.automation.drift import record_operator_check
    from paybill_iac.pko.drift import DriftCheck

    code, _, err = run("drift", "--tenant", "acme", "--engine", "pko")
    assert code == 2 and "--engine pko checks the fleet (--fleet)" in err
    human = env.make()
    record_operator_check(human.store, human.reload(), DriftCheck("hooli", "drift-hooli", "drifted", DRIFTED), "human")
    human.close()
    code, out, _ = run("drift")
    assert code == 1
    assert "paybill-tenant/hooli" in out and "drifted" in out
    assert "not which resources drifted; `paybill-iac drift --tenant hooli` checks it here" in out


def test_fleet_status_leaves_the_check_stacks_out_and_reads_only_answered_requests(
        catalog: Any, settings: Any) -> None:
    from paybill_iac.pko.status import classify, deployments

    cluster = FakeOperator({"drift-acme": "drifted"}, late=frozenset({"drift-hooli"}))
    _engine(cluster, catalog, settings).run(_plan(catalog, ["acme", "hooli"]))
    tenant_stack = {"metadata": {"name": "tenant-acme", "generation": 1, "labels": {"paybill.io/kind": "tenant"}},
                    "status": {"observedGeneration": 1, "conditions": [_c("Ready", "True", "ProcessingCompleted")],
                               "lastUpdate": {"state": "succeeded", "generation": 1}}}
    statuses = {item.name: item for item in map(classify, [*cluster.list(), tenant_stack])}
    assert (statuses["drift-acme"].state, statuses["drift-hooli"].state) == ("failing", "pending")
    assert NO_CHANGES_EXPECTED in statuses["drift-acme"].last_message
    assert [item.name for item in deployments(statuses.values())] == ["tenant-acme"]
