"""A drift run's check Stacks go through the same apply path as the fleet's Stacks: the engine over the official
client's StackApi, whose REST layer records the requests (no cluster)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("kubernetes", reason="the `pko` extra (kubernetes client) is not installed")

from paybill_iac.automation.fleet import FleetPlan, plan_waves, tasks_of  # noqa: E402
from paybill_iac.pko.engine import PkoFleetRunner  # noqa: E402
from paybill_iac.pko.kube import APPLY_PATCH, FIELD_MANAGER  # noqa: E402
from paybill_iac.pko.manifests import RECONCILE_REQUEST  # noqa: E402
from tests.pko.test_kube import _api  # noqa: E402


def test_the_engine_server_side_applies_check_stacks_as_paybill_iac(catalog: Any, settings: Any) -> None:
    waves = plan_waves(catalog, None, ["acme"])
    plan = FleetPlan("run-9", "drift", tasks_of("run-9", "drift", waves, "human"))
    applied = {"metadata": {"name": "drift-acme", "generation": 1}}
    listed = {"items": [{"metadata": {"name": "drift-acme", "generation": 1,
                                      "annotations": {RECONCILE_REQUEST: "paybill-drift-run-9"}},
                         "status": {"observedGeneration": 1,
                                    "conditions": [{"type": "Ready", "status": "True", "reason": "ProcessingCompleted",
                                                    "message": ""}],
                                    "lastUpdate": {"state": "succeeded", "generation": 1,
                                                   "reconcileRequest": "paybill-drift-run-9"}}}],
              "metadata": {}}
    api, rest = _api([(200, applied), (200, listed)])
    engine = PkoFleetRunner(api, catalog, settings, actor="human", poll=1, sleep=lambda _s: None)
    report = engine.run(plan)
    assert [(o.tenant, o.result) for o in report.outcomes] == [("acme", "succeeded")]
    assert [check.status for check in engine.drift_checks] == ["in_sync"]
    patch, listing = rest.requests
    url = urlsplit(patch["url"])
    assert (patch["method"], url.path) == ("PATCH", "/apis/pulumi.com/v1/namespaces/paybill-stacks/stacks/drift-acme")
    assert parse_qs(url.query) == {"fieldManager": [FIELD_MANAGER]} and FIELD_MANAGER == "paybill-iac"
    assert patch["headers"]["Content-Type"] == APPLY_PATCH
    sent = patch["body"] if isinstance(patch["body"], dict) else json.loads(patch["body"])
    assert sent["spec"]["preview"] is True
    assert sent["metadata"]["annotations"][RECONCILE_REQUEST] == "paybill-drift-run-9"
    assert listing["method"] == "GET"
