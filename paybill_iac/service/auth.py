"""Authorisation: what a principal may do (its role and kind), and on which tenants (its selectors). The
principal comes from its bearer token (paybill_iac.automation.store.principals), never from a request.

    role       reads   preview, up, refresh, lifecycle   approve, reject (humans only)
    viewer     yes     -                                  -
    operator   yes     yes                                -
    approver   yes     -                                  yes
    admin      yes     yes                                yes

Selectors: a tenant id, `plan:ID`, `cloud:ID`, `cell:ID` (the cell a tenant is placed on or pinned to),
or `*`. A tenant no selector matches does not exist for the principal: 404, exactly as an unknown id.
Cell stacks (and their approvals and journal entries) are visible to `*` and to `cell:ID`.
"""

from __future__ import annotations

from paybill_iac.automation.store.principals import Principal
from paybill_iac.model.catalog import Catalog

READS = ("tenants", "tenant", "journal", "approvals")
STACK_OPERATIONS = ("preview", "up", "refresh")
LIFECYCLE = ("onboard", "change-plan", "suspend", "resume", "offboard")
DECISIONS = ("approve", "reject")
OPERATIONS = READS + STACK_OPERATIONS + LIFECYCLE + DECISIONS

_ALLOWED = {
    "viewer": frozenset(READS),
    "operator": frozenset(READS + STACK_OPERATIONS + LIFECYCLE),
    "approver": frozenset(READS + DECISIONS),
    "admin": frozenset(OPERATIONS),
}


def refusal(principal: Principal, operation: str) -> str | None:
    """Why `principal` may not perform `operation` at all; None when its role and kind allow it."""
    if operation not in _ALLOWED.get(principal.role, frozenset()):
        return f"{principal.actor} has the {principal.role} role, which does not allow {operation}"
    if operation in DECISIONS and principal.kind != "human":
        return f"{principal.actor} is an agent: only a human approver decides approval requests"
    return None


def selects(principal: Principal, catalog: Catalog, tenant_id: str, *, plan: str | None = None) -> bool:
    """Whether one of `principal`'s selectors matches tenant `tenant_id` of `catalog` (as it is, or with its
    plan changed to `plan`)."""
    tenant = catalog.tenants.get(tenant_id)
    if tenant is None:
        return False
    cells = {cell for cell in (catalog.placements.get(tenant_id), tenant.cell) if cell}
    for selector in principal.tenants:
        kind, _, value = selector.partition(":")
        if (selector == "*" or (not value and selector == tenant_id)
                or (kind == "plan" and value == (plan or tenant.plan))
                or (kind == "cloud" and value == tenant.cloud) or (kind == "cell" and value in cells)):
            return True
    return False


def selects_stack(principal: Principal, catalog: Catalog, stack_kind: str, name: str) -> bool:
    """Whether `principal` sees stack `name` of kind tenant or cell."""
    if stack_kind == "tenant":
        return selects(principal, catalog, name)
    return "*" in principal.tenants or f"cell:{name}" in principal.tenants


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None when there is none."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token and len(token) <= 200 else None
