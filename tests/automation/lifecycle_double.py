"""The stateful engine double (engine_double.StatefulRunner: protect and retain flags, refusals, partial
applies, what is lost and what is kept in the cloud) running a tenant program that follows the components'
lifecycle (paybill_components.topology), on each cloud's own resource types (resource_facts), and reads the
stack config strictly (`TenantSpec.from_config`: a config a workflow deploys must be one the real program
accepts, digest included):

    active, suspended   the Access (identity; granted nothing while suspended) and the data: a pooled tenant's
                        database on its cell, or a dedicated instance, its network and its bucket; data protected
    offboarding         no Access; a final backup of a dedicated instance (a resource of the stack, except on GCP,
                        where the workflow takes it with gcloud); everything else protected and retained on delete
    guards released     retention end: nothing protected, nothing retained, deletion protection off
    retiring shape      a plan change: the old shape beside the new one (its own component type and names), with
                        its guards kept, or lifted (protect and deletion protection off)

Outputs as the real stacks export them: identity, database, store (an OCI bucket's namespace and name),
final_backup while offboarding, and the retiring shape's under `retiring`. A cloud CLI double answers the
commands the workflows run (cloudcli), recording them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paybill_iac.automation.invocation import Invocation
from paybill_iac.automation.runner import ChangeSummary, RunResult
from paybill_iac.model.resource_facts import facts_for
from paybill_iac.model.spec import TenantSpec
from tests.automation.doubles import OBJECT_ID
from tests.automation.engine_double import STACK_TYPE, StatefulRunner, declared

TYPES: dict[str, dict[str, str | None]] = {
    "aws": {"db": "aws:rds/instance:Instance", "bucket": "aws:s3/bucket:Bucket",
            "secret": "aws:secretsmanager/secret:Secret", "access": "aws:iam/role:Role",
            "network": "aws:rds/subnetGroup:SubnetGroup", "backup": "aws:rds/snapshot:Snapshot"},
    "azure": {"db": "azure-native:dbforpostgresql:Server", "bucket": "azure-native:storage:StorageAccount",
              "secret": "azure-native:dbforpostgresql:Database",
              "access": "azure-native:managedidentity:UserAssignedIdentity", "network": "azure-native:network:Subnet",
              "backup": "azure-native:dbforpostgresql:BackupsAutomaticAndOnDemand"},
    "gcp": {"db": "gcp:sql/databaseInstance:DatabaseInstance", "bucket": "gcp:storage/bucket:Bucket",
            "secret": "gcp:sql/database:Database", "access": "gcp:serviceaccount/account:Account",
            "network": "gcp:compute/subnetwork:Subnetwork", "backup": None},
    "oci": {"db": "oci:Psql/dbSystem:DbSystem", "bucket": "oci:ObjectStorage/bucket:Bucket",
            "secret": "oci:Vault/secret:Secret", "access": "oci:Identity/dynamicGroup:DynamicGroup",
            "network": "oci:Core/subnet:Subnet", "backup": "oci:Psql/backup:Backup"},
}
assert all(facts_for(token) is not None for types in TYPES.values() for token in types.values() if token)

NAMESPACE = "paybillns"


def _urn(stack: str, project: str, chain: str, name: str) -> str:
    return f"urn:pulumi:{stack}::{project}::{chain}::{name}"


def _shape(resources: dict[str, Any], spec: TenantSpec, guards: str, stack: str, project: str) -> dict[str, Any]:
    """Register one shape of the tenant (its component and children); returns its outputs."""
    types = TYPES[spec.cloud]
    letter = spec.isolation[0]
    component = f"paybill:tenant:{spec.isolation.title()}"
    offboarding = spec.state == "offboarding"
    released = guards in ("lifted", "released")

    def add(chain: str, name: str, inputs: dict[str, Any], *, protected: bool) -> None:
        resources[_urn(stack, project, chain, name)] = {
            "type": chain.rsplit("$", 1)[-1], "inputs": inputs, "protect": protected and not released,
            "retain": offboarding and not released}

    add(component, f"{stack}-{letter}", {}, protected=False)
    if not offboarding:
        add(f"{component}$paybill:tenant:Access${types['access']}", f"{stack}-{letter}-access",
            {"granted": spec.state == "active"}, protected=False)
    outputs: dict[str, Any] = {"identity": {"principal_id": OBJECT_ID, "identity_name": f"{stack}-identity"},
                               "isolation": spec.isolation}
    database_name = f"pb_{stack}_{letter}_db"
    if spec.isolation == "pooled":
        add(f"{component}${types['secret']}", f"{stack}-{letter}-database", {"cell": spec.cell}, protected=True)
        outputs["database"] = {"name": database_name, "cell": spec.cell}
        # a slice of the cell's bucket, exported as the real stacks do: never a bucket of the tenant's own
        outputs["store"] = {"bucket": f"{spec.cell}-bucket", "prefix": f"tenants/{stack}/",
                            **({"namespace": NAMESPACE} if spec.cloud == "oci" else {})}
        if offboarding:
            outputs["final_backup"] = {"kind": "logical dump", "taken_by": "the data plane's db-offboard step"}
        return outputs
    add(f"{component}${types['network']}", f"{stack}-{letter}-network", {"cell": spec.cell}, protected=False)
    add(f"{component}${types['db']}", f"{stack}-{letter}-db", {"cell": spec.cell, "deletionProtection": not released},
        protected=True)
    bucket = f"{stack}-{letter}-data-g{spec.generation}"
    add(f"{component}${types['bucket']}", f"{stack}-{letter}-data", {"name": bucket, "forceDestroy": released},
        protected=True)
    outputs["database"] = {"name": database_name, "instance": f"{stack}-{letter}-db", "project": "pb-tenants-prod",
                           "cell": spec.cell}
    outputs["store"] = {"bucket": bucket, **({"namespace": NAMESPACE} if spec.cloud == "oci" else {})}
    if offboarding and types["backup"]:  # the final backup stays in the stack until its destroy
        add(f"{component}${types['backup']}", f"{stack}-{letter}-final-backup", {}, protected=True)
        outputs["final_backup"] = {"kind": f"{spec.cloud} final backup", "id": f"{stack}-{letter}-final-backup-id",
                                   "taken_by": "this stack, on offboarding"}
    elif offboarding:
        outputs["final_backup"] = {"kind": "cloud sql on-demand backup", "instance": f"{stack}-{letter}-db",
                                   "taken_by": "the offboarding workflow (gcloud sql backups create)"}
    elif guards == "lifted":
        outputs["final_backup"] = {"kind": f"{spec.cloud} final backup on delete", "name": f"{stack}-{letter}-final",
                                   "taken_by": "the cloud, when the retiring instance is deleted"}
    return outputs


def lifecycle_declared(invocation: Invocation) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """What the tenant program registers for this invocation's config (cells: engine_double.declared)."""
    if invocation.stack.kind == "cell":
        return declared(invocation)
    stack, project = invocation.stack.name, invocation.stack.project
    spec = TenantSpec.from_config(stack, invocation.stack_config["config"])
    resources: dict[str, dict[str, Any]] = {
        _urn(stack, project, STACK_TYPE, f"{project}-{stack}"): {"type": STACK_TYPE, "inputs": {}}}
    outputs = _shape(resources, spec, spec.guards, stack, project)
    outputs["tenant"] = {"plan": spec.plan, "state": spec.state, "guards": spec.guards,
                         "generation": spec.generation}
    old = spec.retiring_spec()
    if old is not None and spec.retiring is not None:
        outputs["retiring"] = _shape(resources, old, spec.retiring.guards, stack, project)
    return resources, outputs


@dataclass
class LifecycleRunner(StatefulRunner):
    """StatefulRunner running the lifecycle tenant program above."""

    def run(self, invocation: Invocation) -> RunResult:
        if invocation.operation not in ("preview", "up") or invocation.stack.kind != "tenant":
            return super().run(invocation)
        key, operation = invocation.stack.key, invocation.operation
        failing = self.fail.get(key, [])
        if operation in failing:
            return super().run(invocation)
        with self._state() as data:
            stack = data["stacks"].setdefault(key, {"resources": {}, "outputs": {}})
            wanted, outputs = lifecycle_declared(invocation)
            steps = self._plan(stack["resources"], wanted, set(invocation.excludes))
            if operation == "preview":
                if invocation.plan_file:
                    Path(invocation.plan_file).parent.mkdir(parents=True, exist_ok=True)
                    Path(invocation.plan_file).write_text(json.dumps({"stack": key}))
                self._refuse_protected(invocation, stack["resources"], steps)
                return RunResult(ChangeSummary.from_steps(steps))
            self._apply(data, stack, wanted, steps, invocation)
            stack["outputs"] = outputs
            data.setdefault("deployed", []).append({"stack": key, "guards": outputs["tenant"]["guards"],
                                                    "retiring": (outputs.get("retiring") or {}).get("isolation")})
            return RunResult(ChangeSummary.from_steps(steps), dict(outputs))


@dataclass
class CloudCliDouble:
    """Answers the cloud CLI commands the workflows run (cloudcli) and records them in `commands`. `fail`:
    the first word after the CLI's name of commands that fail once (e.g. "sql")."""

    commands: list[list[str]] = field(default_factory=list)
    fail: list[str] = field(default_factory=list)
    answer_with_id: bool = True

    def __call__(self, argv: Sequence[str]) -> str:
        from paybill_iac.automation.cloudcli import CloudCommandFailed

        command = list(argv)
        self.commands.append(command)
        if command[1] in self.fail:
            self.fail.remove(command[1])
            raise CloudCommandFailed(f"`{' '.join(command)}` failed (exit 1): ERROR: the cloud said no")
        if command[:4] == ["gcloud", "sql", "backups", "create"]:
            operation: dict[str, Any] = {"kind": "sql#operation", "operationType": "BACKUP_VOLUME", "status": "DONE"}
            if self.answer_with_id:
                operation["backupContext"] = {"backupId": "1764590000000", "kind": "sql#backupContext"}
            return json.dumps(operation)
        if command[:4] == ["gcloud", "sql", "backups", "list"]:
            return json.dumps([{"id": "1764590000001", "status": "SUCCESSFUL", "type": "ON_DEMAND"}])
        if command[:4] == ["oci", "os", "object", "bulk-delete-versions"]:
            return json.dumps({"deleted-objects": ["a", "b"], "delete-failures": {}})
        raise AssertionError(f"unexpected command {command}")
