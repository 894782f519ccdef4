"""Judging access by what it allows, not by how it is written: the helpers of the principal, network,
condition, cell-target and provider rules of every cloud.

    public_sources()      the sources of an ingress rule that reach past private address space (so
                          0.0.0.0/1 and 128.0.0.0/1 are the internet, each of them)
    own_principals()      the principals of the identities a stack creates (by their outputs)
    cell_identifiers()    every name and id of the tenant's cell a tenant stack may see: the catalog's
                          names of the cell and the strings of its StackReference outputs
    names_any()           whether a value names one of a set of identifiers (whole, or as an ARN or
                          resource-id segment)
    cel_pins()            what a Google Cloud IAM condition pins `resource.name` to (a conjunction of
                          equalities only: `resource.name != "" || true` pins nothing)
    oci_where_pins()      what an OCI policy statement's where-clause pins (`any {...}` pins only what
                          every alternative pins)
    aws_principals()      the principals of an AWS policy statement
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from paybill_iac.model.resource_facts import PRINCIPAL_OUTPUT
from paybill_policies.context import PolicyContext
from paybill_policies.evaluate import ResourceView, get, is_unknown, strings

PRIVATE_NETWORKS = tuple(ipaddress.ip_network(cidr) for cidr in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "fc00::/7", "::1/128"))
"""Address space no one on the internet reaches (RFC 1918, shared address space, loopback, IPv6 ULA)."""

PRIVATE_TAGS = frozenset({"virtualnetwork", "azureloadbalancer"})
"""Azure service tags that name the virtual network (or the platform's load balancer probe) only."""


def public_sources(values: Iterable[Any]) -> list[str]:
    """The sources among `values` that admit addresses outside private address space: a CIDR or address
    that is not inside PRIVATE_NETWORKS (`0.0.0.0/1`, `8.8.8.8/32`), `*`, `Internet`, `Any` or any Azure
    service tag but VirtualNetwork and AzureLoadBalancer. Anything unreadable counts as public."""
    found = []
    for value in values:
        if value is None or value == "":
            continue
        text = str(value).strip()
        if is_unknown(text):
            continue
        if text.lower() in PRIVATE_TAGS:
            continue
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            found.append(text)
            continue
        if not any(network.version == private.version and network.subnet_of(private)  # type: ignore[arg-type]
                   for private in PRIVATE_NETWORKS):
            found.append(text)
    return found


def public_message(sources: Sequence[str], where: str = "ingress") -> list[str]:
    if not sources:
        return []
    return [f"{where} from {', '.join(sources)}: addresses outside private address space (the internet)."]


# --- identities -----------------------------------------------------------------------------------


def own_principals(resources: Sequence[ResourceView]) -> set[str]:
    """The principals the stack's own identities are known by (their PRINCIPAL_OUTPUT outputs,
    lowercase); empty where the shape has no outputs (a preview file)."""
    found = set()
    for resource in resources:
        output = PRINCIPAL_OUTPUT.get(resource.canonical_type)
        if output is None:
            continue
        value = get(resource.outputs, output)
        if isinstance(value, str) and value and not is_unknown(value):
            found.add(value.lower())
    return found


def identities(resources: Sequence[ResourceView], type_token: str) -> list[ResourceView]:
    return [resource for resource in resources if resource.canonical_type == type_token]


# --- the cell -------------------------------------------------------------------------------------

_NOT_RESOURCES = frozenset({"prefix", "dns_label", "db_final_snapshot", "final_backup"})


def cell_identifiers(resources: Sequence[ResourceView], context: PolicyContext) -> tuple[set[str], set[str]]:
    """(names, ids) of the tenant's cell: its physical names from the catalog, and the identifiers among
    the outputs of the stack's reference to the cell stack (ids, ARNs, OCIDs). Empty for a stack
    without a cell."""
    if context.kind != "tenant" or not context.cell_names:
        return set(), set()
    names = {str(value).lower() for key, value in context.cell_names.items() if key not in _NOT_RESOURCES and value}
    ids: set[str] = set()
    for resource in resources:
        if resource.canonical_type != "pulumi:pulumi:StackReference":
            continue
        for value in strings(resource.outputs.get("outputs")):
            if len(value) >= 8 and (value.startswith(("arn:", "ocid1.", "/subscriptions/", "projects/", "sg-",
                                                      "vpc-", "subnet-")) or re.fullmatch(r"[0-9a-f-]{36}", value)):
                ids.add(value.lower())
    return names, ids


_SEGMENT = re.compile(r"[/:]")


def names_any(value: Any, names: set[str], ids: set[str]) -> str | None:
    """The identifier `value` names, if any: equal to one of `ids` or `names`, or an ARN or resource id
    with one of `names` as a whole segment (`arn:aws:s3:::pb-cell-data`,
    `.../storageAccounts/pbcell.../containers/x` names the account)."""
    if not isinstance(value, str) or not value:
        return None
    lowered = value.lower()
    if lowered in ids or lowered in names:
        return value
    for segment in _SEGMENT.split(lowered):
        if segment in names:
            return segment
    return None


# --- conditions -----------------------------------------------------------------------------------

_CEL_EQUALITY = re.compile(r'^\(*\s*(resource\.(?:name|type|service))\s*==\s*"([^"\\]*)"\s*\)*$')


def cel_pins(expression: str) -> dict[str, str] | None:
    """The attributes a Google Cloud IAM condition pins, when it is nothing but a conjunction (`&&`) of
    `resource.name|type|service == "literal"`; None for anything else (an `||`, a `!=`, a function, a
    negation: it may allow more than it seems, so it pins nothing)."""
    text = expression.strip()
    if not text or "||" in text or "!" in text or "?" in text:
        return None
    pins: dict[str, str] = {}
    for part in text.split("&&"):
        match = _CEL_EQUALITY.match(part.strip())
        if match is None or part.count("(") != part.count(")"):
            return None
        attribute, literal = match.groups()
        if attribute in pins and pins[attribute] != literal:
            return None
        pins[attribute] = literal
    return pins


_OCI_WHERE = re.compile(r"\bwhere\b(.*)$", re.IGNORECASE | re.DOTALL)
_OCI_PIN = re.compile(r"^(target\.[a-z.]+)\s*=\s*('[^']*'|/.*/)$", re.IGNORECASE)


def _oci_alternatives(clause: str) -> list[list[str]] | None:
    """The where-clause as alternatives of conjunctions: `all {a, b}` -> [[a, b]], `any {a, b}` ->
    [[a], [b]], `a` -> [[a]]; None when nested or unreadable."""
    clause = clause.strip()
    match = re.fullmatch(r"(all|any)\s*\{(.*)\}", clause, re.IGNORECASE | re.DOTALL)
    if match is None:
        return None if "{" in clause or "}" in clause else [[clause]]
    inner = match.group(2)
    if "{" in inner or "}" in inner:
        return None
    parts = [part.strip() for part in inner.split(",") if part.strip()]
    return [parts] if match.group(1).lower() == "all" else [[part] for part in parts]


def oci_where_pins(statement: str) -> list[dict[str, str]] | None:
    """Per alternative of the statement's where-clause, the `target.* = value` it pins (an alternative
    holding anything else but pins, such as `request.permission != 'NONE'`, pins what its pins pin; an
    alternative without any pin makes the whole clause pin nothing: None). None without a clause."""
    match = _OCI_WHERE.search(statement)
    if match is None:
        return None
    alternatives = _oci_alternatives(match.group(1))
    if not alternatives:
        return None
    found = []
    for conjunction in alternatives:
        pins = {}
        for condition in conjunction:
            pin = _OCI_PIN.match(condition.strip())
            if pin is not None:
                pins[pin.group(1).lower()] = pin.group(2)
        if not pins:
            return None
        found.append(pins)
    return found


# --- AWS policy documents -------------------------------------------------------------------------


def listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def aws_principals(statement: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(kind, value) of every principal a statement names: ("*", "*") for everyone, ("AWS", arn or
    account), ("Service", name), ("Federated", ...), ("CanonicalUser", ...)."""
    principal = statement.get("Principal")
    if principal is None:
        return []
    if principal == "*":
        return [("*", "*")]
    if not isinstance(principal, Mapping):
        return [("?", str(principal))]
    found = []
    for kind, values in principal.items():
        for value in listed(values):
            found.append(("*", "*") if value == "*" else (str(kind), str(value)))
    return found


ACCOUNT_ARN = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):(.+)$")


def account_of(principal: str) -> str | None:
    """The account of an AWS principal (an account id, or an IAM/STS ARN); None when it names none."""
    if re.fullmatch(r"\d{12}", principal):
        return principal
    match = ACCOUNT_ARN.match(principal)
    return match.group(1) if match else None


PRINCIPAL_CONDITION_KEYS = ("aws:principalaccount", "aws:sourceaccount", "aws:resourceaccount", "aws:principalarn",
                            "aws:sourcearn", "aws:sourceowner")
_NARROWING_OPERATORS = ("stringequals", "arnequals", "stringlike", "arnlike")


def condition_accounts(statement: Mapping[str, Any]) -> tuple[set[str], bool]:
    """(accounts, narrowed): the accounts the statement's conditions name through a principal or source
    account key (account ids, or the accounts of ARNs), and whether some such condition narrows it with
    a positive operator (`StringEquals`, `ArnLike`, ...; `IfExists`, `ForAnyValue` and negations do not
    narrow)."""
    condition = statement.get("Condition")
    accounts: set[str] = set()
    narrowed = False
    if not isinstance(condition, Mapping):
        return accounts, narrowed
    for operator, clauses in condition.items():
        if not isinstance(clauses, Mapping):
            continue
        name = str(operator).lower()
        for key, values in clauses.items():
            if str(key).lower() not in PRINCIPAL_CONDITION_KEYS:
                continue
            for value in listed(values):
                text = str(value)
                accounts.add(text if re.fullmatch(r"\d{12}", text) else (re.findall(r":(\d{12}):", text) or ["?"])[0])
            if name in _NARROWING_OPERATORS and "*" not in "".join(str(v) for v in listed(values)):
                narrowed = True
    return accounts, narrowed


def targets_cell(cloud: str, targets: Sequence[str], own_slice: Any,
                 resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
    """Every resource of `cloud` whose target inputs name a resource of the tenant's cell, but its own slice."""
    if context.kind != "tenant" or not context.cell_names:
        return []
    candidates = [resource for resource in resources if resource.cloud == cloud and not resource.is_provider
                  and any(resource.prop(key) for key in targets)]
    if not candidates:
        return []
    names, ids = cell_identifiers(resources, context)
    found = []
    for resource in candidates:
        for key in targets:
            hit = names_any(resource.prop(key), names, ids)
            if hit and not own_slice(resource, context):
                found.append((resource.urn, f"{key} names '{hit}' of cell '{context.cell}': a tenant stack never "
                                            "configures, attaches to or grants on the cell's resources."))
                break
    return found
