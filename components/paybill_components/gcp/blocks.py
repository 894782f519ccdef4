"""Google Cloud building blocks (pulumi-gcp 10): VPC with private services access, Cloud KMS,
Cloud Storage, Cloud SQL for PostgreSQL and IAM service accounts.

Keys each handle's `refs` carries (all exported as stack outputs; GCP handles have no secrets, since
tenants reach Cloud SQL with IAM database authentication and Cloud Storage with IAM, never a password):

    scope     project          the project every resource lives in (GCP has no resource group)
    network   project          the network's project
              network          VPC network name
              network_id       projects/<p>/global/networks/<name>
              self_link        the network's self link (Cloud SQL `private_network`)
              subnetwork       the subnetwork's self link
              private_range    name of the range reserved for private services access (read from the
                               peering connection, so an instance using it waits for the peering)
    key       key_ring         projects/<p>/locations/<region>/keyRings/<ring>
              key_id           .../keyRings/<ring>/cryptoKeys/<key> (CMEK of the bucket and instance)
    store     bucket           bucket name
              url              gs://<bucket> (pooled: gs://<bucket>/<folder>)
              folder           pooled only: the tenant's managed folder (`tenants/<id>/`)
    database  project          the instance's project
              instance         Cloud SQL instance name
              connection_name  <project>:<region>:<instance> (Cloud SQL connectors / Auth Proxy)
              private_ip       the instance's private IP
              database         pooled only: the tenant's database in the cell's instance
    identity  service_account  the tenant's service account email
              member           serviceAccount:<email>
              db_user          its Cloud SQL IAM user (the email without `.gserviceaccount.com`)

The tenant's Cloud SQL user is made in `identity()`, next to the service account it logs in as, on the
instance `grants.database` names: the tenant's own instance (silo, bridge) or the cell's (pooled, where
`tenant_database` makes the tenant's database). One place makes the login for every isolation, and it
exists before anything grants it. A suspended tenant keeps its service account (disabled) and its
database user (which may own the tenant's tables, so dropping it would fail or lose data) but holds no
IAM binding: without roles/cloudsql.instanceUser the user cannot log in.

The Cloud Storage and Cloud SQL service agents get roles/cloudkms.cryptoKeyEncrypterDecrypter on the one
key they use (never on the ring or project); the bucket and instance wait for those grants.

    final_backup  kind, instance, retention_days, taken_by: pulumi-gcp 10 has no resource that takes a
              Cloud SQL backup (only the `sql.getBackupRun` data source), so on offboarding the workflow
              takes an on-demand backup (`gcloud sql backups create`), which Cloud SQL keeps with the
              instance, itself kept until retention end; a retiring shape's deletion keeps its final
              backup (`settings.finalBackupConfig`) and retained backups (`retainBackupsOnDelete`)

Guards (`self.guards`): kept, the instance has both deletion protections (Pulumi's and the Cloud SQL
API's) and buckets and managed folders refuse a forced delete; lifted (a retiring shape) both are
off while the deletion still keeps a final backup and the retained backups, encrypted with the key
the retiring shape keeps; released (retention end) no backup outlives the instance. KMS key rings and
keys are never deleted by Google Cloud (a destroy only destroys the key versions): their names carry
the shape's generation (naming.NEVER_FREED) so that a shape provisioned again never collides.
The tenant's Cloud SQL user and a pooled tenant's database are abandoned, not deleted, when they leave
the program (`deletion_policy="ABANDON"`: Cloud SQL cannot delete a PostgreSQL role or database that
owns objects); the data plane drops them (db-drop).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_gcp as gcp

from paybill_components.blocks import CellHandles, CloudBlocks, Grants, Guards, Handle
from paybill_components.gcp import iam
from paybill_iac.model.sizing import DatabaseSize
from paybill_iac.model.spec import Placement

KEY_ROTATION_PERIOD = "7776000s"  # 90 days
SUBNET_CIDR = "10.0.0.0/20"
PRIVATE_RANGE_PREFIX_LENGTH = 16  # the range Cloud SQL instances of a network (a cell's bridge tenants too) use
BUCKET_SOFT_DELETE_SECONDS = 7 * 24 * 3600
BACKUP_START_TIME = "02:00"
MAX_LOG_RETENTION_DAYS = 7  # point-in-time recovery logs on the ENTERPRISE edition: 1 to 7 days
SQL_SERVICE = "sqladmin.googleapis.com"
SERVICE_NETWORKING = "servicenetworking.googleapis.com"

# The refs of each part of the cell's `cell` output (CellHandles.as_output), read back by cell_handles.
CELL_REFS: dict[str, tuple[str, ...]] = {
    "scope": ("project",),
    "network": ("project", "network", "network_id", "self_link", "subnetwork", "private_range"),
    "key": ("key_ring", "key_id"),
    "store": ("bucket", "url"),
    "database": ("project", "instance", "connection_name", "private_ip"),
}


def backup_retention(days: int) -> tuple[int, int]:
    """(retained daily backups, point-in-time log days) keeping backups at least `days`: Cloud SQL
    wants more retained backups than log days, and at most 7 log days on ENTERPRISE."""
    if days < 1:
        raise ValueError(f"backup retention must be at least 1 day, got {days}")
    log_days = max(1, min(MAX_LOG_RETENTION_DAYS, days - 1))
    return max(days, log_days + 1), log_days


def _project(placement: Placement) -> str:
    project = placement.account.get("project")
    if not project:
        raise ValueError(
            f"gcp placement in '{placement.region}' needs account['project'] (got {dict(placement.account)})"
        )
    return project


class GcpBlocks(CloudBlocks):
    """Google Cloud building blocks: one instance per component."""

    cloud = "gcp"

    def __init__(self, placement: Placement, markers: Mapping[str, str], *, retain_data: bool = False,
                 guards: Guards = "kept", opts: pulumi.ResourceOptions | None = None):
        super().__init__(placement, markers, retain_data=retain_data, guards=guards, opts=opts)
        self.project = _project(placement)
        self._agent_grants: dict[int, dict[str, pulumi.Resource]] = {}

    @staticmethod
    def provider(name: str, placement: Placement) -> pulumi.ProviderResource:
        return gcp.Provider(name, project=_project(placement), region=placement.region)

    def _invoke_opts(self) -> pulumi.InvokeOutputOptions:
        return pulumi.InvokeOutputOptions(parent=self.opts.parent, provider=self.opts.provider)

    # --- building blocks -------------------------------------------------------------------------

    def scope(self, name: str, names: Mapping[str, str]) -> Handle:
        return Handle({"project": self.project})

    def network(self, name: str, names: Mapping[str, str], scope: Handle) -> Handle:
        from pulumi_gcp import compute  # the slowest module of the SDK: only stacks with a network load it

        network = compute.Network(
            f"{name}-network", name=names["network"], project=self.project, auto_create_subnetworks=False,
            routing_mode="REGIONAL", description="paybill private network (no public ingress)",
            opts=self.child(),
        )
        subnetwork = compute.Subnetwork(
            f"{name}-subnetwork", name=names["subnetwork"], project=self.project, region=self.placement.region,
            network=network.id, ip_cidr_range=SUBNET_CIDR, private_ip_google_access=True,
            opts=self.child(),
        )
        private_range = compute.GlobalAddress(
            f"{name}-private-range", name=names["private_range"], project=self.project, network=network.id,
            purpose="VPC_PEERING", address_type="INTERNAL", prefix_length=PRIVATE_RANGE_PREFIX_LENGTH,
            labels=self.tags, opts=self.child(),
        )
        peering = gcp.servicenetworking.Connection(
            f"{name}-private-services", network=network.id, service=SERVICE_NETWORKING,
            reserved_peering_ranges=[private_range.name], opts=self.child(),
        )
        return Handle({
            "project": network.project,
            "network": network.name,
            "network_id": network.id,
            "self_link": network.self_link,
            "subnetwork": subnetwork.self_link,
            "private_range": peering.reserved_peering_ranges.apply(lambda ranges: ranges[0]),
        })

    def key(self, name: str, names: Mapping[str, str], scope: Handle) -> Handle:
        ring = gcp.kms.KeyRing(
            f"{name}-key-ring", name=names["key_ring"], project=self.project, location=self.placement.region,
            opts=self.child(),
        )
        key = gcp.kms.CryptoKey(
            f"{name}-key", name=names["key"], key_ring=ring.id, purpose="ENCRYPT_DECRYPT",
            rotation_period=KEY_ROTATION_PERIOD,
            version_template=gcp.kms.CryptoKeyVersionTemplateArgs(
                algorithm="GOOGLE_SYMMETRIC_ENCRYPTION", protection_level="SOFTWARE"
            ),
            labels=self.tags, opts=self.child(),
        )
        storage_agent = gcp.storage.get_project_service_account_output(project=self.project, opts=self._invoke_opts())
        sql_agent = gcp.projects.ServiceIdentity(
            f"{name}-sql-agent", project=self.project, service=SQL_SERVICE, opts=self.child()
        )
        agents = {"storage": storage_agent.email_address, "sql": sql_agent.email}
        grants: dict[str, pulumi.Resource] = {
            agent: gcp.kms.CryptoKeyIAMMember(
                f"{name}-key-{agent}-agent", crypto_key_id=key.id, role=iam.ROLE_KEY_USER,
                member=email.apply(lambda value: iam.service_account_member(str(value))),
                opts=self.child(),
            )
            for agent, email in agents.items()
        }
        handle = Handle({"key_ring": ring.id, "key_id": key.id}, resource=key)
        self._agent_grants[id(handle)] = grants
        return handle

    def _after_agent(self, key: Handle, agent: str) -> pulumi.ResourceOptions:
        """Wait for the service agent's grant on `key` when this component made it (a cell's key,
        read from its stack output, was granted by the cell)."""
        grant = self._agent_grants.get(id(key), {}).get(agent)
        return pulumi.ResourceOptions(depends_on=[grant]) if grant is not None else pulumi.ResourceOptions()

    def object_store(self, name: str, names: Mapping[str, str], scope: Handle, key: Handle) -> Handle:
        bucket = gcp.storage.Bucket(
            f"{name}-bucket", name=names["bucket"], project=self.project, location=self.placement.region.upper(),
            storage_class="STANDARD", uniform_bucket_level_access=True, public_access_prevention="enforced",
            versioning=gcp.storage.BucketVersioningArgs(enabled=True),
            encryption=gcp.storage.BucketEncryptionArgs(default_kms_key_name=key["key_id"]),
            soft_delete_policy=gcp.storage.BucketSoftDeletePolicyArgs(
                retention_duration_seconds=BUCKET_SOFT_DELETE_SECONDS
            ),
            force_destroy=not self.guarded, labels=self.tags,
            opts=self.child(self._after_agent(key, "storage")),
        )
        return Handle({"bucket": bucket.name, "url": bucket.url})

    def database_instance(
        self,
        name: str,
        names: Mapping[str, str],
        scope: Handle,
        network: Handle,
        key: Handle,
        size: DatabaseSize,
    ) -> Handle:
        retained_backups, log_days = backup_retention(size.backup_retention_days)
        sql = gcp.sql
        instance = sql.DatabaseInstance(
            f"{name}-db", name=names["db_instance"], project=self.project, region=self.placement.region,
            database_version=size.engine_version, deletion_protection=self.guarded, encryption_key_name=key["key_id"],
            final_backup_description=f"final backup of {names['db_instance']}",
            settings=sql.DatabaseInstanceSettingsArgs(
                tier=size.instance_class,
                edition="ENTERPRISE",
                disk_type="PD_SSD",
                disk_size=size.storage_gb,
                # The plan's storage is a ceiling: the disk never grows past it on its own; a plan
                # change (or an override in the catalog) resizes it.
                disk_autoresize=False,
                deletion_protection_enabled=self.guarded,
                retain_backups_on_delete=self.keeps_backups,
                ip_configuration=sql.DatabaseInstanceSettingsIpConfigurationArgs(
                    ipv4_enabled=False,
                    private_network=network["self_link"],
                    allocated_ip_range=network["private_range"],
                    ssl_mode="ENCRYPTED_ONLY",
                ),
                backup_configuration=sql.DatabaseInstanceSettingsBackupConfigurationArgs(
                    enabled=True,
                    start_time=BACKUP_START_TIME,
                    point_in_time_recovery_enabled=True,
                    transaction_log_retention_days=log_days,
                    backup_retention_settings=sql.DatabaseInstanceSettingsBackupConfigurationBackupRetentionSettingsArgs(
                        retained_backups=retained_backups, retention_unit="COUNT"
                    ),
                ),
                final_backup_config=sql.DatabaseInstanceSettingsFinalBackupConfigArgs(
                    enabled=self.keeps_backups, retention_days=size.backup_retention_days
                ),
                database_flags=[sql.DatabaseInstanceSettingsDatabaseFlagArgs(name="cloudsql.iam_authentication",
                                                                             value="on")],
                user_labels=self.tags,
            ),
            opts=self.child(self._after_agent(key, "sql")),
        )
        return Handle({
            "project": instance.project,
            "instance": instance.name,
            "connection_name": instance.connection_name,
            "private_ip": instance.private_ip_address,
        }, resource=instance)

    def final_backup(self, name: str, names: Mapping[str, str], scope: Handle, database: Handle,
                     size: DatabaseSize) -> Handle:
        if self.guards == "lifted":
            return Handle({"kind": "cloud sql final backup", "instance": database["instance"],
                           "retention_days": size.backup_retention_days,
                           "taken_by": "Cloud SQL, when the retiring instance is deleted (finalBackupConfig; "
                                       "retainBackupsOnDelete keeps its automated backups)"})
        return Handle({"kind": "cloud sql on-demand backup", "instance": database["instance"],
                       "retention_days": size.backup_retention_days,
                       "taken_by": "the offboarding workflow (gcloud sql backups create --instance <instance>); "
                                   "Cloud SQL keeps it with the instance until retention end"})

    def tenant_database(self, name: str, names: Mapping[str, str], scope: Handle, cell: CellHandles) -> Handle:
        server = cell.database
        database = gcp.sql.Database(
            f"{name}-database", name=names["database"], instance=server["instance"], project=server["project"],
            deletion_policy="ABANDON", opts=self.child(),
        )
        return Handle({
            "project": server["project"],
            "instance": database.instance,
            "connection_name": server["connection_name"],
            "private_ip": server["private_ip"],
            "database": database.name,
        })

    def store_slice(
        self, name: str, names: Mapping[str, str], scope: Handle, cell: CellHandles, prefix: str
    ) -> Handle:
        folder = gcp.storage.ManagedFolder(
            f"{name}-folder", bucket=cell.store["bucket"], name=iam.managed_folder_name(prefix),
            force_destroy=not self.guarded, opts=self.child(),
        )
        return Handle({
            "bucket": folder.bucket,
            "folder": folder.name,
            "url": pulumi.Output.concat("gs://", folder.bucket, "/", folder.name),
        })

    def identity(self, name: str, names: Mapping[str, str], scope: Handle, grants: Grants) -> Handle:
        """The tenant's service account, its Cloud SQL IAM user on `grants.database`'s instance, and
        the IAM members `iam.tenant_grants` lists (none while suspended, when the account is also
        disabled). See the module docstring for why the database user is made here."""
        account = gcp.serviceaccount.Account(
            f"{name}-identity", account_id=names["service_account"], project=self.project,
            display_name=f"paybill workload {names['service_account']}",
            description="A tenant's workload identity: its own store, key and database only",
            disabled=not grants.active, opts=self.child(),
        )
        member = account.email.apply(iam.service_account_member)
        database = grants.database
        db_user = gcp.sql.User(
            f"{name}-db-user", instance=database["instance"], project=database["project"],
            name=account.email.apply(iam.sql_iam_user_name), type="CLOUD_IAM_SERVICE_ACCOUNT",
            deletion_policy="ABANDON", opts=self.child(),
        )
        for grant in iam.tenant_grants(shared_store=grants.prefix is not None, active=grants.active):
            self._grant(name, grant, member, grants)
        return Handle({"service_account": account.email, "member": member, "db_user": db_user.name})

    def _grant(self, name: str, grant: iam.Grant, member: pulumi.Output[str], grants: Grants) -> None:
        """One IAM member resource for `grant` on the tenant's own resource."""
        role_slug = grant.role.rsplit(".", 1)[-1].lower()
        logical = f"{name}-{grant.target}-{role_slug}"
        if grant.target == "folder":
            gcp.storage.ManagedFolderIamMember(
                logical, bucket=grants.store["bucket"], managed_folder=grants.store["folder"], role=grant.role,
                member=member, opts=self.child(),
            )
        elif grant.target == "bucket":
            gcp.storage.BucketIAMMember(
                logical, bucket=grants.store["bucket"], role=grant.role, member=member, opts=self.child()
            )
        elif grant.target == "key":
            gcp.kms.CryptoKeyIAMMember(
                logical, crypto_key_id=grants.key["key_id"], role=grant.role, member=member, opts=self.child()
            )
        else:
            database = grants.database
            condition = pulumi.Output.all(database["project"], database["instance"]).apply(
                lambda values: iam.sql_instance_condition(str(values[0]), str(values[1]))
            )
            gcp.projects.IAMMember(
                logical, project=database["project"], role=grant.role, member=member,
                condition=gcp.projects.IAMMemberConditionArgs(
                    title=condition.apply(lambda c: c["title"]),
                    description=condition.apply(lambda c: c["description"]),
                    expression=condition.apply(lambda c: c["expression"]),
                ),
                opts=self.child(),
            )

    def cell_handles(self, cell_output: pulumi.Input[Mapping[str, Any]]) -> CellHandles:
        cell = pulumi.Output.from_input(cell_output)

        def part(name: str) -> Handle:
            return Handle({
                key: cell.apply(lambda value, p=name, k=key: value[p][k])  # type: ignore[misc]
                for key in CELL_REFS[name]
            })

        return CellHandles(part("scope"), part("network"), part("key"), part("store"), part("database"))
