"""Oracle Cloud Infrastructure building blocks (pulumi-oci 5.x).

What each block creates, and the keys of the `Handle.refs` it returns (every value a pulumi Input):

scope              identity.Compartment under `account["parent_compartment_id"]`, `enable_delete=False`
                   while the shape's guards are kept or lifted (a destroy forgets the compartment and never
                   deletes it, so what a retiring shape keeps, its vault, keeps its home); released at
                   retention end, it is deleted with everything else.
                   refs: compartment_id
network            core.Vcn (no internet, NAT or service gateway: nothing routes in or out), its default
                   security list emptied, a private regional core.Subnet (`prohibit_public_ip_on_vnic`,
                   `prohibit_internet_ingress`) with a core.SecurityList, and a core.NetworkSecurityGroup
                   for the database; both allow TCP 5432 from (and, for replication, to) the VCN's CIDR
                   only. Offboarding keeps them (retain_on_delete) with the retained DB system.
                   refs: vcn_id, subnet_id, nsg_id, cidr, compartment_id
key                kms.Vault (VIRTUAL_PRIVATE: OCI rotates keys automatically only in private vaults) and
                   kms.Key (AES-256, HSM-protected, auto-rotated every KEY_ROTATION_DAYS days).
                   refs: vault_id, key_id, management_endpoint, crypto_endpoint, compartment_id
store              objectstorage.Bucket (NoPublicAccess, versioned, Standard tier, encrypted with the key)
                   and the identity.Policy letting the region's Object Storage service use that key
                   (needed before a bucket may name a customer-managed key; kept on offboarding, or
                   the retained objects could not be decrypted). The namespace comes from
                   the objectstorage.getNamespace invoke.
                   refs: namespace, bucket, compartment_id
database           psql.DbSystem (OCI Database with PostgreSQL) in the network's private subnet and
                   NSG, storage regionally durable and encrypted with the key, daily backups kept
                   `size.backup_retention_days`; its administrator password is a vault.Secret that OCI
                   Vault generates itself (enable_auto_generation), so no password is ever in code or in
                   Pulumi state. The DB system's own identity: an identity.DynamicGroup of the
                   compartment's PostgreSQL DB systems and an identity.Policy letting them use the storage
                   key and read the administrator secret (the DB system waits for it). A tenant's
                   application login gets its own Vault-generated secret (names["db_app_secret"]: silo and
                   bridge; the pooled tenant's is its tenant database secret), the only secret its
                   identity may read: never the administrator's.
                   Rotation never replaces the DB system: `credentials` is create-only (pulumi-oci marks
                   it not "(Updatable)"; Terraform would force a new DB system), so the DB system ignores
                   changes to it, and a rotation resets the password through the API
                   (`oci psql db-system reset-master-user-password-vault-secret-password-details
                   --db-system-id ... --password-details-secret-id ... --password-details-secret-version N`,
                   ResetMasterUserPassword; terraform-provider-oci#2098).
                   refs: db_system_id, host, port, admin_username, secret_id (the application login's
                   secret; the administrator's for a cell), admin_secret_id, compartment_id
final backup       psql.Backup names["final_backup"] on offboarding and for a retiring shape (OCI has no
                   final-backup-on-delete), kept `size.backup_retention_days` (retention_period), after
                   which OCI deletes it; a retiring shape's is retained on delete with its key.
                   refs: kind, name, id, retention_days, taken_by
tenant database    (pooled) OCI has no per-database resource for PostgreSQL: a vault.Secret in the
                   cell's vault, encrypted with the cell's key, placed in the tenant's compartment,
                   holding the connection details of the tenant's role as JSON with a Vault-generated
                   password. The role and database themselves are created inside the cell's server by
                   the platform's bootstrap job from that secret (no OCI API or pulumi-oci resource
                   creates PostgreSQL roles or databases).
                   refs: host, port, database, username, secret_id, compartment_id, db_system_id
store slice        (pooled) the prefix `names["prefix"]` of the cell's bucket; nothing is created: the
                   tenant's policy confines it with `target.object.name = /<prefix>*/`.
                   refs: namespace, bucket, prefix, compartment_id
identity           identity.DynamicGroup matching every instance and resource in the tenant's compartment
                   (`instance.compartment.id` and `resource.compartment.id`) and, while
                   the tenant is active, an identity.Policy (statements from `iam.tenant_statements`):
                   object read/write on its bucket (pooled: only under its prefix), `read secret-bundles`
                   on its database secret, `use keys` on its own key (not on a pooled cell's shared key).
                   Suspended: the dynamic group stays, the policy is gone.
                   refs: dynamic_group_id, dynamic_group, policy_id (only while active)

No block puts a credential in `Handle.secrets`: the only credentials are the Vault-generated secrets,
whose OCIDs (not contents) are exported; a service reads them with its own identity.

TLS: OCI Database with PostgreSQL accepts only `hostssl` connections and pins
`ssl_min_protocol_version = TLSv1.2` as a read-only system setting, so there is no TLS property or
psql.Configuration override to set (and none could lower it). Deletion protection: psql.DbSystem has
no deletion-protection flag; the DB system, its secret, key, vault and bucket are protected with
pulumi's `protect` and, on offboarding, `retain_on_delete` (from paybill_iac.model.resource_facts).

The dynamic group is created in the tenancy (OCI keeps dynamic groups there): `account["tenancy_id"]`
when the catalog gives one, otherwise `account["parent_compartment_id"]`, which must then be the
tenancy itself.

Home region: OCI creates, changes and deletes compartments, dynamic groups and policies only in the
tenancy's home region (403 elsewhere). When the catalog names it (`accounts.oci_home_region`) and it
is not the stack's region, those resources go through a second provider in the home region. In the
home region itself the stack's own provider serves (changing a resource's explicit provider makes
the Pulumi engine replace it, so stacks that already work are left as they are). Dynamic groups and
policies are replaced delete-first: their names are unique in the tenancy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import pulumi
import pulumi_oci as oci

from paybill_components.blocks import CellHandles, CloudBlocks, Grants, Guards, Handle
from paybill_components.oci import iam
from paybill_iac.model.sizing import DatabaseSize
from paybill_iac.model.spec import Placement

VCN_CIDR = "10.0.0.0/16"
"""Each tenant or cell VCN is isolated (no peering is created), so the same range serves them all."""
DB_SUBNET_CIDR = "10.0.1.0/24"
POSTGRES_PORT = 5432
TCP = "6"

VAULT_TYPE = "VIRTUAL_PRIVATE"
"""Automatic key rotation exists only for keys in a (virtual) private vault; a DEFAULT vault would
leave rotation to hand. A private vault is billed per hour: the price of rotating keys unattended."""
KEY_ROTATION_DAYS = 90
"""OCI accepts 60 to 365 days."""
KEY_LENGTH_BYTES = 32
"""AES-256 (OCI gives the key length in bytes)."""

PASSWORD_LENGTH = 30
"""Generated passwords: within the 8-32 characters OCI Database with PostgreSQL accepts."""
PASSWORD_TEMPLATE = "DBAAS_DEFAULT_PASSWORD"
"""OCI Vault's passphrase generation template meant for database passwords (the other one,
SECRETS_DEFAULT_PASSWORD, is not tailored to database password rules)."""

BACKUP_START = "02:00"

# The refs each cell part carries across the cell stack's `cell` output (see the module docstring).
CELL_REFS: dict[str, tuple[str, ...]] = {
    "scope": ("compartment_id",),
    "network": ("vcn_id", "subnet_id", "nsg_id", "cidr", "compartment_id"),
    "key": ("vault_id", "key_id", "management_endpoint", "crypto_endpoint", "compartment_id"),
    "store": ("namespace", "bucket", "compartment_id"),
    "database": ("db_system_id", "host", "port", "admin_username", "secret_id", "admin_secret_id", "compartment_id"),
}


def connection_template(host: str, port: float, database: str, username: str) -> str:
    """The secret template of a tenant's database role: its connection details as JSON, the password
    left to OCI Vault's generator (`%GENERATED_PASSPHRASE%`)."""
    return json.dumps(
        {"host": host, "port": int(port), "database": database, "username": username,
         "password": "%GENERATED_PASSPHRASE%"},
        sort_keys=True,
    )


def _private_ip(details: Any) -> Any:
    """The primary endpoint's private IP from a DB system's network details (typed or plain)."""
    if details is None:
        return None
    if hasattr(details, "primary_db_endpoint_private_ip"):
        return details.primary_db_endpoint_private_ip
    return details.get("primary_db_endpoint_private_ip", details.get("primaryDbEndpointPrivateIp"))


class OciBlocks(CloudBlocks):
    """Compartments, VCNs, Vault keys, Object Storage, OCI Database with PostgreSQL, dynamic groups."""

    cloud: ClassVar[str] = "oci"

    @staticmethod
    def provider(name: str, placement: Placement) -> pulumi.ProviderResource:
        return oci.Provider(name, region=placement.region)

    def __init__(self, placement: Placement, markers: Mapping[str, str], *, retain_data: bool = False,
                 guards: Guards = "kept", opts: pulumi.ResourceOptions | None = None):
        super().__init__(placement, markers, retain_data=retain_data, guards=guards, opts=opts)
        self._home_provider: pulumi.ProviderResource | None = None

    # --- account settings ------------------------------------------------------------------------

    def _identity_opts(self, name: str, extra: pulumi.ResourceOptions | None = None) -> pulumi.ResourceOptions:
        """Options of an identity resource (compartment, dynamic group, policy): through the home region's
        provider when the stack runs elsewhere; dynamic groups and policies replaced delete-first."""
        home = self.placement.account.get("home_region")
        options = pulumi.ResourceOptions()
        if home and home != self.placement.region:
            if self._home_provider is None:
                self._home_provider = oci.Provider(f"{name}-home-provider", region=home,
                                                   opts=pulumi.ResourceOptions(parent=self.opts.parent))
            options = pulumi.ResourceOptions(provider=self._home_provider)
        return self.child(pulumi.ResourceOptions.merge(options, extra))

    def _parent_compartment(self) -> str:
        parent = self.placement.account.get("parent_compartment_id")
        if not parent:
            raise ValueError(
                "oci placement needs account.parent_compartment_id (the tenancy or a compartment OCID)"
            )
        return parent

    def _tenancy(self) -> str:
        return self.placement.account.get("tenancy_id") or self._parent_compartment()

    def _invoke_opts(self) -> pulumi.InvokeOutputOptions:
        return pulumi.InvokeOutputOptions(parent=self.opts.parent, provider=self.opts.provider)

    # --- building blocks -------------------------------------------------------------------------

    def scope(self, name: str, names: Mapping[str, str]) -> Handle:
        compartment = oci.identity.Compartment(
            f"{name}-compartment",
            compartment_id=self._parent_compartment(),
            name=names["compartment"],
            description="paybill-iac: the resources of one tenant or cell",
            enable_delete=self.guards == "released",
            freeform_tags=self.tags,
            opts=self._identity_opts(name),
        )
        return Handle({"compartment_id": compartment.id})

    def network(self, name: str, names: Mapping[str, str], scope: Handle) -> Handle:
        compartment_id = scope["compartment_id"]
        vcn = oci.core.Vcn(
            f"{name}-vcn",
            compartment_id=compartment_id,
            display_name=names["network"],
            dns_label=names["dns_label"],
            cidr_blocks=[VCN_CIDR],
            freeform_tags=self.tags,
            opts=self.child(),
        )
        # The VCN's default security list opens SSH to the internet; no subnet here uses it, and it is
        # emptied so none ever can by default.
        oci.core.DefaultSecurityList(
            f"{name}-default-security-list",
            manage_default_resource_id=vcn.default_security_list_id,
            compartment_id=compartment_id,
            ingress_security_rules=[],
            egress_security_rules=[],
            freeform_tags=self.tags,
            opts=self.child(),
        )
        security_list = oci.core.SecurityList(
            f"{name}-db-security-list",
            compartment_id=compartment_id,
            vcn_id=vcn.id,
            display_name=names["security_list"],
            ingress_security_rules=[
                oci.core.SecurityListIngressSecurityRuleArgs(
                    protocol=TCP, source=VCN_CIDR, source_type="CIDR_BLOCK", stateless=False,
                    tcp_options=oci.core.SecurityListIngressSecurityRuleTcpOptionsArgs(
                        min=POSTGRES_PORT, max=POSTGRES_PORT),
                    description="PostgreSQL from inside the VCN",
                ),
            ],
            egress_security_rules=[
                oci.core.SecurityListEgressSecurityRuleArgs(
                    protocol=TCP, destination=VCN_CIDR, destination_type="CIDR_BLOCK", stateless=False,
                    tcp_options=oci.core.SecurityListEgressSecurityRuleTcpOptionsArgs(
                        min=POSTGRES_PORT, max=POSTGRES_PORT),
                    description="PostgreSQL replication inside the VCN",
                ),
            ],
            freeform_tags=self.tags,
            opts=self.child(),
        )
        subnet = oci.core.Subnet(
            f"{name}-db-subnet",
            compartment_id=compartment_id,
            vcn_id=vcn.id,
            cidr_block=DB_SUBNET_CIDR,
            display_name=names["subnet"],
            prohibit_public_ip_on_vnic=True,
            prohibit_internet_ingress=True,
            security_list_ids=[security_list.id],
            freeform_tags=self.tags,
            opts=self.child(),
        )
        nsg = oci.core.NetworkSecurityGroup(
            f"{name}-db-nsg",
            compartment_id=compartment_id,
            vcn_id=vcn.id,
            display_name=names["nsg"],
            freeform_tags=self.tags,
            opts=self.child(),
        )
        port_range = oci.core.NetworkSecurityGroupSecurityRuleTcpOptionsArgs(
            destination_port_range=oci.core.NetworkSecurityGroupSecurityRuleTcpOptionsDestinationPortRangeArgs(
                min=POSTGRES_PORT, max=POSTGRES_PORT),
        )
        oci.core.NetworkSecurityGroupSecurityRule(
            f"{name}-db-nsg-ingress",
            network_security_group_id=nsg.id,
            direction="INGRESS",
            protocol=TCP,
            source=VCN_CIDR,
            source_type="CIDR_BLOCK",
            stateless=False,
            tcp_options=port_range,
            description="PostgreSQL from inside the VCN",
            opts=self.child(),
        )
        oci.core.NetworkSecurityGroupSecurityRule(
            f"{name}-db-nsg-egress",
            network_security_group_id=nsg.id,
            direction="EGRESS",
            protocol=TCP,
            destination=VCN_CIDR,
            destination_type="CIDR_BLOCK",
            stateless=False,
            tcp_options=port_range,
            description="PostgreSQL replication inside the VCN",
            opts=self.child(),
        )
        return Handle({"vcn_id": vcn.id, "subnet_id": subnet.id, "nsg_id": nsg.id, "cidr": VCN_CIDR,
                       "compartment_id": compartment_id})

    def key(self, name: str, names: Mapping[str, str], scope: Handle) -> Handle:
        compartment_id = scope["compartment_id"]
        vault = oci.kms.Vault(
            f"{name}-vault",
            compartment_id=compartment_id,
            display_name=names["vault"],
            vault_type=VAULT_TYPE,
            freeform_tags=self.tags,
            opts=self.child(),
        )
        key = oci.kms.Key(
            f"{name}-key",
            compartment_id=compartment_id,
            display_name=names["key"],
            management_endpoint=vault.management_endpoint,
            key_shape={"algorithm": "AES", "length": KEY_LENGTH_BYTES},
            protection_mode="HSM",
            is_auto_rotation_enabled=True,
            auto_key_rotation_details={"rotation_interval_in_days": KEY_ROTATION_DAYS},
            freeform_tags=self.tags,
            opts=self.child(),
        )
        return Handle({"vault_id": vault.id, "key_id": key.id, "management_endpoint": vault.management_endpoint,
                       "crypto_endpoint": vault.crypto_endpoint, "compartment_id": compartment_id}, resource=key)

    def object_store(self, name: str, names: Mapping[str, str], scope: Handle, key: Handle) -> Handle:
        compartment_id = scope["compartment_id"]
        region = self.placement.region
        service_policy = oci.identity.Policy(
            f"{name}-service-policy",
            compartment_id=compartment_id,
            name=names["service_policy"],
            description="paybill-iac: Object Storage may encrypt this compartment's bucket with its key",
            statements=pulumi.Output.all(compartment_id, key["key_id"]).apply(
                lambda ids: [iam.object_storage_service_statement(region, ids[0], ids[1])]
            ),
            freeform_tags=self.tags,
            opts=self._identity_opts(name, pulumi.ResourceOptions(delete_before_replace=True)),
        )
        namespace = oci.objectstorage.get_namespace_output(opts=self._invoke_opts()).namespace
        bucket = oci.objectstorage.Bucket(
            f"{name}-bucket",
            compartment_id=compartment_id,
            namespace=namespace,
            name=names["bucket"],
            access_type="NoPublicAccess",
            kms_key_id=key["key_id"],
            versioning="Enabled",
            storage_tier="Standard",
            freeform_tags=self.tags,
            opts=self.child(pulumi.ResourceOptions(depends_on=[service_policy])),
        )
        return Handle({"namespace": bucket.namespace, "bucket": bucket.name, "compartment_id": compartment_id})

    def database_instance(
        self,
        name: str,
        names: Mapping[str, str],
        scope: Handle,
        network: Handle,
        key: Handle,
        size: DatabaseSize,
    ) -> Handle:
        compartment_id = scope["compartment_id"]
        admin_secret = oci.vault.Secret(
            f"{name}-db-admin-secret",
            compartment_id=compartment_id,
            vault_id=key["vault_id"],
            key_id=key["key_id"],
            secret_name=names["secret"],
            description="paybill-iac: the PostgreSQL administrator password, generated by OCI Vault",
            enable_auto_generation=True,
            secret_generation_context={
                "generation_type": "PASSPHRASE",
                "generation_template": PASSWORD_TEMPLATE,
                "passphrase_length": PASSWORD_LENGTH,
            },
            freeform_tags=self.tags,
            opts=self.child(),
        )
        # The DB system's own identity: its resource principal may use the storage key and read the
        # administrator secret, and nothing else.
        db_group = oci.identity.DynamicGroup(
            f"{name}-db-dynamic-group",
            compartment_id=self._tenancy(),
            name=names["db_dynamic_group"],
            description="paybill-iac: the PostgreSQL DB systems of one compartment",
            matching_rule=pulumi.Output.from_input(compartment_id).apply(iam.db_system_matching_rule),
            freeform_tags=self.tags,
            opts=self._identity_opts(name, pulumi.ResourceOptions(delete_before_replace=True)),
        )
        db_policy = oci.identity.Policy(
            f"{name}-db-policy",
            compartment_id=compartment_id,
            name=names["db_policy"],
            description="paybill-iac: the DB system may use its storage key and read its administrator secret",
            statements=pulumi.Output.all(db_group.id, compartment_id, key["key_id"], admin_secret.id).apply(
                lambda ids: iam.db_system_statements(ids[0], ids[1], ids[2], ids[3])
            ),
            freeform_tags=self.tags,
            opts=self._identity_opts(name, pulumi.ResourceOptions(delete_before_replace=True)),
        )
        db_system = oci.psql.DbSystem(
            f"{name}-db",
            compartment_id=compartment_id,
            display_name=names["db_system"],
            description="paybill-iac: PostgreSQL",
            db_version=size.engine_version,
            shape=size.instance_class,
            instance_count=1,
            instance_ocpu_count=size.ocpus,
            instance_memory_size_in_gbs=size.memory_gb,
            network_details={
                "subnet_id": network["subnet_id"],
                "nsg_ids": [network["nsg_id"]],
                "is_reader_endpoint_enabled": False,
            },
            storage_details={
                "is_regionally_durable": True,
                "system_type": "OCI_OPTIMIZED_STORAGE",
                "kms_key_id": key["key_id"],
            },
            management_policy={
                "backup_policy": {
                    "kind": "DAILY",
                    "backup_start": BACKUP_START,
                    "retention_days": size.backup_retention_days,
                },
            },
            credentials={
                "username": names["db_admin"],
                "password_details": {
                    "password_type": "VAULT_SECRET",
                    "secret_id": admin_secret.id,
                    "secret_version": admin_secret.current_version_number.apply(lambda number: str(int(number))),
                },
            },
            freeform_tags=self.tags,
            # `credentials` are create-only (a change would replace the DB system): a rotation resets
            # the password through the API instead (module docstring).
            opts=self.child(pulumi.ResourceOptions(depends_on=[db_policy], ignore_changes=["credentials"])),
        )
        host = db_system.network_details.apply(_private_ip)
        refs: dict[str, Any] = {
            "db_system_id": db_system.id,
            "host": host,
            "port": POSTGRES_PORT,
            "admin_username": names["db_admin"],
            "secret_id": admin_secret.id,
            "admin_secret_id": admin_secret.id,
            "compartment_id": compartment_id,
        }
        if "db_app_secret" in names:  # a tenant's own instance: its application login's secret
            database, username = names["database"], names["db_user"]
            app_secret = oci.vault.Secret(
                f"{name}-db-app-secret",
                compartment_id=compartment_id,
                vault_id=key["vault_id"],
                key_id=key["key_id"],
                secret_name=names["db_app_secret"],
                description="paybill-iac: the tenant's PostgreSQL login, password generated by OCI Vault",
                enable_auto_generation=True,
                secret_generation_context={
                    "generation_type": "PASSPHRASE",
                    "generation_template": PASSWORD_TEMPLATE,
                    "passphrase_length": PASSWORD_LENGTH,
                    "secret_template": host.apply(
                        lambda value: connection_template(value, POSTGRES_PORT, database, username)),
                },
                metadata={"host": host, "port": str(POSTGRES_PORT), "database": database, "username": username,
                          "db_system_id": db_system.id},
                freeform_tags=self.tags,
                opts=self.child(),
            )
            refs.update(secret_id=app_secret.id, database=database, username=username)
        return Handle(refs, resource=db_system)

    def final_backup(self, name: str, names: Mapping[str, str], scope: Handle, database: Handle,
                     size: DatabaseSize) -> Handle:
        # OCI keeps no backup of a deleted DB system on its own: an on-demand backup outlives it, for
        # the plan's retention (OCI deletes it after retention_period).
        backup = oci.psql.Backup(
            f"{name}-db-final-backup",
            compartment_id=scope["compartment_id"],
            db_system_id=database["db_system_id"],
            display_name=names["final_backup"],
            description=("paybill-iac: taken when the tenant was offboarded" if self.guards != "lifted"
                         else "paybill-iac: taken when a plan change retired this shape"),
            retention_period=size.backup_retention_days,
            freeform_tags=self.tags,
            opts=self.child(),
        )
        return Handle({"kind": "psql backup", "name": names["final_backup"], "id": backup.id,
                       "retention_days": size.backup_retention_days,
                       "taken_by": "this stack; OCI deletes it once its retention period ends"})

    def tenant_database(self, name: str, names: Mapping[str, str], scope: Handle, cell: CellHandles) -> Handle:
        compartment_id = scope["compartment_id"]
        database, username = names["database"], names["db_user"]
        host, port = cell.database["host"], cell.database["port"]
        template = pulumi.Output.all(host, port).apply(
            lambda values: connection_template(values[0], values[1], database, username)
        )
        secret = oci.vault.Secret(
            f"{name}-db-secret",
            compartment_id=compartment_id,
            vault_id=cell.key["vault_id"],
            key_id=cell.key["key_id"],
            secret_name=names["secret"],
            description="paybill-iac: the tenant's PostgreSQL role in its cell, password generated by OCI Vault",
            enable_auto_generation=True,
            secret_generation_context={
                "generation_type": "PASSPHRASE",
                "generation_template": PASSWORD_TEMPLATE,
                "passphrase_length": PASSWORD_LENGTH,
                "secret_template": template,
            },
            metadata={
                "host": host,
                "port": pulumi.Output.from_input(port).apply(lambda value: str(int(value))),
                "database": database,
                "username": username,
                "db_system_id": cell.database["db_system_id"],
            },
            freeform_tags=self.tags,
            opts=self.child(),
        )
        return Handle({
            "host": host,
            "port": port,
            "database": database,
            "username": username,
            "secret_id": secret.id,
            "compartment_id": compartment_id,
            "db_system_id": cell.database["db_system_id"],
        })

    def store_slice(
        self, name: str, names: Mapping[str, str], scope: Handle, cell: CellHandles, prefix: str
    ) -> Handle:
        iam.prefix_pattern(prefix)  # refuse a prefix no policy could confine, before anything deploys
        return Handle({
            "namespace": cell.store["namespace"],
            "bucket": cell.store["bucket"],
            "prefix": prefix,
            "compartment_id": cell.store["compartment_id"],
        })

    def identity(self, name: str, names: Mapping[str, str], scope: Handle, grants: Grants) -> Handle:
        compartment_id = scope["compartment_id"]
        dynamic_group = oci.identity.DynamicGroup(
            f"{name}-dynamic-group",
            compartment_id=self._tenancy(),
            name=names["dynamic_group"],
            description="paybill-iac: the workloads in one tenant's compartment",
            matching_rule=pulumi.Output.from_input(compartment_id).apply(iam.dynamic_group_matching_rule),
            freeform_tags=self.tags,
            opts=self._identity_opts(name, pulumi.ResourceOptions(delete_before_replace=True)),
        )
        refs: dict[str, Any] = {"dynamic_group_id": dynamic_group.id, "dynamic_group": names["dynamic_group"]}
        if not grants.active:
            return Handle(refs)

        shared_store = grants.prefix is not None
        values: dict[str, Any] = {
            "dynamic_group_id": dynamic_group.id,
            "store_compartment_id": grants.store["compartment_id"],
            "bucket": grants.store["bucket"],
            "secret_compartment_id": grants.database["compartment_id"],
            "secret_id": grants.database["secret_id"],
        }
        if not shared_store:
            values["key_compartment_id"] = grants.key["compartment_id"]
            values["key_id"] = grants.key["key_id"]
        prefix = grants.prefix
        statements = pulumi.Output.all(**values).apply(
            lambda resolved: iam.tenant_statements(prefix=prefix, **resolved)
        )
        # A policy may only name its own compartment and those below it: a pooled tenant's reaches
        # into the cell's compartment too, so it is attached to their common parent.
        policy = oci.identity.Policy(
            f"{name}-policy",
            compartment_id=self._parent_compartment() if shared_store else compartment_id,
            name=names["policy"],
            description="paybill-iac: what one tenant's workloads may reach",
            statements=statements,
            freeform_tags=self.tags,
            opts=self._identity_opts(name, pulumi.ResourceOptions(delete_before_replace=True)),
        )
        refs["policy_id"] = policy.id
        return Handle(refs)

    def cell_handles(self, cell_output: pulumi.Input[Mapping[str, Any]]) -> CellHandles:
        output = pulumi.Output.from_input(cell_output)

        def pick(part: str, key: str) -> pulumi.Output[Any]:
            # Numbers cross a StackReference as floats: the port is an int again here.
            convert = (lambda value: int(value)) if key == "port" else (lambda value: value)
            return output.apply(lambda cell: convert(cell[part][key]))

        handles = {part: Handle({key: pick(part, key) for key in keys}) for part, keys in CELL_REFS.items()}
        return CellHandles(**handles)
