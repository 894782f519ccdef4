"""The packs let the lifecycle lift guards on purpose, and only then: a plan change's retiring shape at its
lift step (guards lifted) and a stack at retention end (guards released) carry no deletion-protection
violation; the same resources judged as if their guards were kept are flagged. A retiring shape's own
database instance counts on top of the new plan's, and its grants on its own instance are its own."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from paybill_iac.model.spec import TenantSpec
from paybill_iac.policy_context import context_from_spec
from tests.lifecycle.conftest import CLOUDS, runner, tenant

LIFECYCLE_RULES = ("deletion-protection", "database-instance-count", "iam-member-scoped")


def _views(spec: TenantSpec) -> list[Any]:
    from paybill_policies import ResourceView

    snapshot = runner(spec.cloud).tenant(spec)
    return [ResourceView(urn=item.urn, type=item.type, name=item.name, inputs=dict(item.inputs),
                         protect=item.protect, retain_on_delete=item.retain_on_delete,
                         dependencies=tuple(item.dependencies)) for item in snapshot.resources.values()]


def _lifecycle_violations(views: list[Any], spec: TenantSpec) -> list[tuple[str, str]]:
    from paybill_policies import check

    found = check(views, context_from_spec(spec)).violations
    return sorted((violation.policy, violation.urn.rsplit("::", 1)[-1]) for violation in found
                  if any(part in violation.policy for part in LIFECYCLE_RULES))


@pytest.mark.parametrize("cloud", CLOUDS)
def test_a_retiring_shape_s_lifted_guards_pass_and_only_at_the_lift(cloud: str) -> None:
    old, new = tenant(cloud, "silo"), tenant(cloud, "pooled", generation=1)
    lifted = new.with_retiring(old, "lifted")
    views = _views(lifted)
    assert _lifecycle_violations(views, lifted) == []
    assert _lifecycle_violations(_views(new.with_retiring(old, "kept")), new.with_retiring(old, "kept")) == []
    if cloud in ("aws", "gcp", "oci"):  # judged as if still kept, the lifted instance is a violation
        flagged = _lifecycle_violations(views, new.with_retiring(old, "kept"))
        assert any("deletion-protection" in policy for policy, _ in flagged), flagged


@pytest.mark.parametrize("cloud", CLOUDS)
def test_released_guards_pass_only_at_retention_end(cloud: str) -> None:
    offboarding = dataclasses.replace(tenant(cloud, "silo"), state="offboarding")
    released = offboarding.released()
    views = _views(released)
    assert _lifecycle_violations(views, released) == []
    if cloud in ("aws", "gcp"):  # the same resources while the tenant is merely offboarding: guards must hold
        flagged = _lifecycle_violations(views, offboarding)
        assert any("deletion-protection" in policy for policy, _ in flagged), flagged


def test_released_in_a_context_is_honoured_only_while_offboarding() -> None:
    from paybill_policies import PolicyContext

    assert PolicyContext("paybill-tenant", "acme", state="offboarding", guards="released").guards_released()
    assert not PolicyContext("paybill-tenant", "acme", state="active", guards="released").guards_released()
    assert not PolicyContext("paybill-cell", "c", kind="cell", state="offboarding", guards="released").guards_released()
    context = context_from_spec(dataclasses.replace(tenant("aws", "silo"), state="offboarding").released())
    assert PolicyContext.from_dict(context.as_dict()).guards == "released"  # survives the pack's policy config
