"""Azure building blocks (pulumi-azure-native 3.x).

What each block creates, and the keys of the `Handle.refs` it returns (no block puts anything in
`Handle.secrets`: nothing has a password; databases use Microsoft Entra authentication only):

scope            resources.ResourceGroup names["resource_group"] (stateful: deleting a resource group
                 deletes everything in it, retained data included)
    resource_group_name, resource_group_id, location
network          network.NetworkSecurityGroup names["network_security_group"] (PostgreSQL from the VNet
                 only, Internet denied), network.VirtualNetwork names["network"], network.Subnet
                 names["subnet"] delegated to Microsoft.DBforPostgreSQL/flexibleServers (no default
                 outbound access, no public IPs anywhere), privatedns.PrivateZone names["dns_zone"]
                 (`*.private.postgres.database.azure.com`) and its privatedns.VirtualNetworkLink
                 names["network"] to the VNet
    resource_group_name, virtual_network_id, virtual_network_name, subnet_id, private_dns_zone_id,
    private_dns_zone_name
key              keyvault.Vault names["key_vault"] (premium, RBAC authorization, purge protection, 90 days
                 soft delete, public network access disabled, trusted Azure services only),
                 keyvault.Key names["key"] (RSA-HSM 3072, wrap/unwrap only, rotated every 90 days,
                 versions expire after a year), the encryption identity
                 managedidentity.UserAssignedIdentity names["key_identity"] that storage accounts and
                 database servers use to reach the key, and its authorization.RoleAssignment (Key Vault
                 Crypto Service Encryption User on the key only)
    resource_group_name, vault_id, vault_name, vault_uri, key_id, key_name, key_uri (versionless, so
    services follow rotations), key_uri_with_version, encryption_identity_id,
    encryption_identity_principal_id, encryption_identity_client_id
object_store     storage.StorageAccount names["storage_account"] (StorageV2, customer-managed key through
                 the encryption identity, infrastructure encryption, HTTPS only, TLS 1.2, no shared keys,
                 no public blob access, public network access disabled), storage.BlobServiceProperties
                 (versioning, blob and container soft delete, change feed) and storage.BlobContainer
                 names["container"]
    resource_group_name, storage_account, storage_account_id, blob_endpoint, container, container_id
database_instance
                 dbforpostgresql.Server names["db_server"] (the flexible server: VNet-integrated in the
                 delegated subnet, private DNS zone, no public access, customer-managed key, Entra-only
                 authentication), managedidentity.UserAssignedIdentity names["db_admin"] and
                 dbforpostgresql.AdministratorsMicrosoftEntra making it the server's Entra administrator
                 (the platform's migration jobs run as it to create the tenants' roles),
                 dbforpostgresql.Configuration require_secure_transport=on and
                 ssl_min_protocol_version=TLSv1.2, dbforpostgresql.Database names["database"], and
                 authorization.ManagementLockByScope names["db_lock"] (CanNotDelete: Azure has no
                 deletion-protection flag on flexible servers)
    resource_group_name, server_id, server_name, host, database, username, admin_identity_id,
    admin_client_id, admin_principal_name
tenant_database  dbforpostgresql.Database names["database"] in the cell's server
    server_id, server_name, host, database, username
store_slice      storage.BlobContainer names["container"] in the cell's storage account
    storage_account, blob_endpoint, container, container_id (the resource id: the role scope)
identity         managedidentity.UserAssignedIdentity names["identity"] in the tenant's resource group and,
                 while active, authorization.RoleAssignment(s) from paybill_components.azure.iam:
                 Storage Blob Data Contributor on its container (pooled) or its storage account
                 (silo, bridge), Key Vault Crypto User on its key (silo, bridge)
    identity_id, identity_name, client_id, principal_id, tenant_id, roles
final_backup     (offboarding) dbforpostgresql.BackupsAutomaticAndOnDemand names["db_backup"]: an on-demand
                 backup of the server, which Azure keeps for the server's backup retention ("a full backup
                 triggered by the customer ... retained for a period of time as defined by the backup
                 retention policy", PostgreSqlFlexibleServerBackupOrigin.CustomerOnDemand); the server is
                 kept until retention end, so the backup lives as long as the retention
    kind, name, retention_days, taken_by

Guards: the delete lock (CanNotDelete on the server) stays in every render; the engine deletes it
before the server it locks (it depends on the server), so a retiring shape or a released stack goes in
one `up`/`destroy` once `protect` is lifted. A database inside a server is never deleted by the engine
(`retain_on_delete`, resource facts `dropped_by_data_plane`): a pooled tenant's lives in the cell's
server, which the cell's lock covers (ARM refuses), so the data plane's db-drop removes it
(`DROP DATABASE`, which management locks do not govern); a dedicated server's goes with the server.

The tenant's PostgreSQL role (`username`) is created inside the server by the platform, mapped to the
identity's principal id (`pgaadauth_create_principal_with_oid`): ARM has no resource for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_azure_native as azure_native
from pulumi_azure_native import (
    authorization,
    dbforpostgresql,
    keyvault,
    managedidentity,
    network,
    privatedns,
    resources,
    storage,
)

from paybill_components.azure import iam
from paybill_components.blocks import CellHandles, CloudBlocks, Grants, Guards, Handle
from paybill_iac.model.sizing import DatabaseSize
from paybill_iac.model.spec import Placement

# The keys of each handle a cell exports (and cell_handles reads back).
CELL_KEYS: dict[str, tuple[str, ...]] = {
    "scope": ("resource_group_name", "resource_group_id", "location"),
    "network": ("resource_group_name", "virtual_network_id", "virtual_network_name", "subnet_id",
                "private_dns_zone_id", "private_dns_zone_name"),
    "key": ("resource_group_name", "vault_id", "vault_name", "vault_uri", "key_id", "key_name", "key_uri",
            "key_uri_with_version", "encryption_identity_id", "encryption_identity_principal_id",
            "encryption_identity_client_id"),
    "store": ("resource_group_name", "storage_account", "storage_account_id", "blob_endpoint", "container",
              "container_id"),
    "database": ("resource_group_name", "server_id", "server_name", "host", "database", "username",
                 "admin_identity_id", "admin_client_id", "admin_principal_name"),
}

VNET_ADDRESS_SPACE = "10.64.0.0/16"
DB_SUBNET_PREFIX = "10.64.0.0/24"
POSTGRES_DELEGATION = "Microsoft.DBforPostgreSQL/flexibleServers"
KEY_SIZE = 3072
KEY_ROTATE_AFTER = "P90D"
KEY_VERSION_EXPIRY = "P1Y"
KEY_NOTIFY_BEFORE_EXPIRY = "P30D"
VAULT_SOFT_DELETE_DAYS = 90
BLOB_SOFT_DELETE_DAYS = 30
SERVER_PARAMETERS = (("require_secure_transport", "on"), ("ssl_min_protocol_version", "TLSv1.2"))


def _after(value: pulumi.Input[Any], *resources_: pulumi.Resource) -> pulumi.Output[Any]:
    """`value`, known only once `resources_` exist: a reader of the value waits for them too."""
    return pulumi.Output.all(value, *(resource.urn for resource in resources_)).apply(lambda values: values[0])


class AzureBlocks(CloudBlocks):
    """Azure's building blocks: resource groups, VNet-integrated PostgreSQL flexible servers, Key Vault
    keys and storage accounts with customer-managed keys, managed identities with RBAC grants."""

    cloud = "azure"

    def __init__(self, placement: Placement, markers: Mapping[str, str], *, retain_data: bool = False,
                 guards: Guards = "kept", opts: pulumi.ResourceOptions | None = None):
        super().__init__(placement, markers, retain_data=retain_data, guards=guards, opts=opts)
        self._client_config: pulumi.Output[Any] | None = None

    @staticmethod
    def provider(name: str, placement: Placement) -> pulumi.ProviderResource:
        return azure_native.Provider(name, location=placement.region)

    # --- helpers ---------------------------------------------------------------------------------

    def client_config(self) -> pulumi.Output[Any]:
        """The deploying principal's subscription and Entra tenant (one invoke per component)."""
        if self._client_config is None:
            self._client_config = authorization.get_client_config_output(
                opts=pulumi.InvokeOutputOptions(parent=self.opts.parent, provider=self.opts.provider)
            )
        return self._client_config

    def _role_assignment(
        self, name: str, role: str, kind: iam.ScopeKind, scope: pulumi.Input[str],
        principal_id: pulumi.Input[str], principal_name: str, description: str,
    ) -> authorization.RoleAssignment:
        checked = pulumi.Output.from_input(scope).apply(lambda value: iam.checked_scope(value, kind, role))
        return authorization.RoleAssignment(
            name,
            principal_id=principal_id,
            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=self.client_config().apply(
                lambda config: iam.role_definition_id(config.subscription_id, role)
            ),
            scope=checked,
            role_assignment_name=checked.apply(lambda value: iam.role_assignment_name(value, role, principal_name)),
            description=description,
            opts=self.child(),
        )

    # --- building blocks -------------------------------------------------------------------------

    def scope(self, name: str, names: Mapping[str, str]) -> Handle:
        group = resources.ResourceGroup(
            f"{name}-rg",
            resource_group_name=names["resource_group"],
            location=self.placement.region,
            tags=self.tags,
            opts=self.child(),
        )
        return Handle({"resource_group_name": group.name, "resource_group_id": group.id,
                       "location": self.placement.region})

    def network(self, name: str, names: Mapping[str, str], scope: Handle) -> Handle:
        group = scope["resource_group_name"]
        nsg = network.NetworkSecurityGroup(
            f"{name}-nsg",
            network_security_group_name=names["network_security_group"],
            resource_group_name=group,
            location=scope["location"],
            security_rules=[
                network.SecurityRuleArgs(
                    name="allow-postgres-from-vnet", priority=100, direction="Inbound", access="Allow",
                    protocol="Tcp", source_address_prefix="VirtualNetwork", source_port_range="*",
                    destination_address_prefix=DB_SUBNET_PREFIX, destination_port_range="5432",
                ),
                network.SecurityRuleArgs(
                    name="deny-internet-inbound", priority=4000, direction="Inbound", access="Deny",
                    protocol="*", source_address_prefix="Internet", source_port_range="*",
                    destination_address_prefix="*", destination_port_range="*",
                ),
            ],
            tags=self.tags,
            opts=self.child(),
        )
        vnet = network.VirtualNetwork(
            f"{name}-vnet",
            virtual_network_name=names["network"],
            resource_group_name=group,
            location=scope["location"],
            address_space=network.AddressSpaceArgs(address_prefixes=[VNET_ADDRESS_SPACE]),
            tags=self.tags,
            opts=self.child(),
        )
        subnet = network.Subnet(
            f"{name}-db-subnet",
            subnet_name=names["subnet"],
            virtual_network_name=vnet.name,
            resource_group_name=group,
            address_prefix=DB_SUBNET_PREFIX,
            default_outbound_access=False,
            delegations=[network.DelegationArgs(name="postgres-flexible-servers", service_name=POSTGRES_DELEGATION)],
            network_security_group=network.NetworkSecurityGroupArgs(id=nsg.id),
            opts=self.child(),
        )
        zone = privatedns.PrivateZone(
            f"{name}-dns-zone",
            private_zone_name=names["dns_zone"],
            resource_group_name=group,
            location="global",
            tags=self.tags,
            opts=self.child(),
        )
        link = privatedns.VirtualNetworkLink(
            f"{name}-dns-link",
            virtual_network_link_name=names["network"],
            private_zone_name=zone.name,
            resource_group_name=group,
            location="global",
            virtual_network=privatedns.SubResourceArgs(id=vnet.id),
            registration_enabled=False,
            tags=self.tags,
            opts=self.child(),
        )
        return Handle({
            "resource_group_name": group,
            "virtual_network_id": vnet.id,
            "virtual_network_name": vnet.name,
            "subnet_id": subnet.id,
            # a server may use the zone only once it is linked to the VNet
            "private_dns_zone_id": _after(zone.id, link),
            "private_dns_zone_name": zone.name,
        })

    def key(self, name: str, names: Mapping[str, str], scope: Handle) -> Handle:
        group = scope["resource_group_name"]
        vault = keyvault.Vault(
            f"{name}-vault",
            vault_name=names["key_vault"],
            resource_group_name=group,
            location=scope["location"],
            properties=keyvault.VaultPropertiesArgs(
                tenant_id=self.client_config().apply(lambda config: config.tenant_id),
                sku=keyvault.SkuArgs(family=keyvault.SkuFamily.A, name=keyvault.SkuName.PREMIUM),
                enable_rbac_authorization=True,
                enable_purge_protection=True,
                enable_soft_delete=True,
                soft_delete_retention_in_days=VAULT_SOFT_DELETE_DAYS,
                enabled_for_deployment=False,
                enabled_for_disk_encryption=False,
                enabled_for_template_deployment=False,
                public_network_access="Disabled",
                network_acls=keyvault.NetworkRuleSetArgs(
                    default_action=keyvault.NetworkRuleAction.DENY,
                    bypass=keyvault.NetworkRuleBypassOptions.AZURE_SERVICES,
                ),
            ),
            tags=self.tags,
            opts=self.child(),
        )
        key = keyvault.Key(
            f"{name}-key",
            key_name=names["key"],
            vault_name=vault.name,
            resource_group_name=group,
            properties=keyvault.KeyPropertiesArgs(
                kty=keyvault.JsonWebKeyType.RS_A_HSM,
                key_size=KEY_SIZE,
                key_ops=[keyvault.JsonWebKeyOperation.WRAP_KEY, keyvault.JsonWebKeyOperation.UNWRAP_KEY],
                attributes=keyvault.KeyAttributesArgs(enabled=True),
                rotation_policy=keyvault.RotationPolicyArgs(
                    attributes=keyvault.KeyRotationPolicyAttributesArgs(expiry_time=KEY_VERSION_EXPIRY),
                    lifetime_actions=[
                        keyvault.LifetimeActionArgs(
                            trigger=keyvault.TriggerArgs(time_after_create=KEY_ROTATE_AFTER),
                            action=keyvault.ActionArgs(type=keyvault.KeyRotationPolicyActionType.ROTATE),
                        ),
                        keyvault.LifetimeActionArgs(
                            trigger=keyvault.TriggerArgs(time_before_expiry=KEY_NOTIFY_BEFORE_EXPIRY),
                            action=keyvault.ActionArgs(type=keyvault.KeyRotationPolicyActionType.NOTIFY),
                        ),
                    ],
                ),
            ),
            tags=self.tags,
            opts=self.child(),
        )
        encryption_identity = managedidentity.UserAssignedIdentity(
            f"{name}-cmk-identity",
            resource_name_=names["key_identity"],
            resource_group_name=group,
            location=scope["location"],
            tags=self.tags,
            opts=self.child(),
        )
        grants = [
            self._role_assignment(
                f"{name}-cmk-key-access", assignment.role, assignment.scope, key.id,
                encryption_identity.principal_id, names["key_identity"],
                "paybill-iac: storage and database encryption with the customer-managed key",
            )
            for assignment in iam.encryption_assignments()
        ]
        return Handle({
            "resource_group_name": group,
            "vault_id": vault.id,
            "vault_name": vault.name,
            "vault_uri": vault.properties.apply(lambda properties: properties.vault_uri),
            "key_id": key.id,
            "key_name": key.name,
            "key_uri": key.key_uri,
            "key_uri_with_version": key.key_uri_with_version,
            # services configured with this identity need its grant on the key first
            "encryption_identity_id": _after(encryption_identity.id, *grants),
            "encryption_identity_principal_id": encryption_identity.principal_id,
            "encryption_identity_client_id": encryption_identity.client_id,
        }, resource=key)

    def object_store(self, name: str, names: Mapping[str, str], scope: Handle, key: Handle) -> Handle:
        group = scope["resource_group_name"]
        encryption_identity = key["encryption_identity_id"]
        account = storage.StorageAccount(
            f"{name}-storage",
            account_name=names["storage_account"],
            resource_group_name=group,
            location=scope["location"],
            kind=storage.Kind.STORAGE_V2,
            sku=storage.SkuArgs(name=storage.SkuName.STANDARD_ZRS),
            access_tier=storage.AccessTier.HOT,
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            allowed_copy_scope=storage.AllowedCopyScope.AAD,
            is_local_user_enabled=False,
            is_sftp_enabled=False,
            minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
            enable_https_traffic_only=True,
            public_network_access=storage.PublicNetworkAccess.DISABLED,
            network_rule_set=storage.NetworkRuleSetArgs(
                default_action=storage.DefaultAction.DENY, bypass=storage.Bypass.AZURE_SERVICES
            ),
            identity=storage.IdentityArgs(
                type=storage.IdentityType.USER_ASSIGNED, user_assigned_identities=[encryption_identity]
            ),
            encryption=storage.EncryptionArgs(
                key_source=storage.KeySource.MICROSOFT_KEYVAULT,
                key_vault_properties=storage.KeyVaultPropertiesArgs(
                    key_name=key["key_name"], key_vault_uri=key["vault_uri"]
                ),
                encryption_identity=storage.EncryptionIdentityArgs(
                    encryption_user_assigned_identity=encryption_identity
                ),
                require_infrastructure_encryption=True,
                services=storage.EncryptionServicesArgs(
                    blob=storage.EncryptionServiceArgs(enabled=True, key_type=storage.KeyType.ACCOUNT),
                    file=storage.EncryptionServiceArgs(enabled=True, key_type=storage.KeyType.ACCOUNT),
                    queue=storage.EncryptionServiceArgs(enabled=True, key_type=storage.KeyType.ACCOUNT),
                    table=storage.EncryptionServiceArgs(enabled=True, key_type=storage.KeyType.ACCOUNT),
                ),
            ),
            tags=self.tags,
            opts=self.child(),
        )
        storage.BlobServiceProperties(
            f"{name}-blob-service",
            account_name=account.name,
            resource_group_name=group,
            blob_services_name="default",
            is_versioning_enabled=True,
            delete_retention_policy=storage.DeleteRetentionPolicyArgs(
                enabled=True, days=BLOB_SOFT_DELETE_DAYS, allow_permanent_delete=False
            ),
            container_delete_retention_policy=storage.DeleteRetentionPolicyArgs(
                enabled=True, days=BLOB_SOFT_DELETE_DAYS
            ),
            change_feed=storage.ChangeFeedArgs(enabled=True, retention_in_days=BLOB_SOFT_DELETE_DAYS),
            opts=self.child(),
        )
        container = storage.BlobContainer(
            f"{name}-container",
            container_name=names["container"],
            account_name=account.name,
            resource_group_name=group,
            public_access=storage.PublicAccess.NONE,
            opts=self.child(),
        )
        return Handle({
            "resource_group_name": group,
            "storage_account": account.name,
            "storage_account_id": account.id,
            "blob_endpoint": account.primary_endpoints.apply(lambda endpoints: endpoints.blob),
            "container": container.name,
            "container_id": container.id,
        })

    def database_instance(
        self,
        name: str,
        names: Mapping[str, str],
        scope: Handle,
        network: Handle,
        key: Handle,
        size: DatabaseSize,
    ) -> Handle:
        group = scope["resource_group_name"]
        tenant_id = self.client_config().apply(lambda config: config.tenant_id)
        encryption_identity = pulumi.Output.from_input(key["encryption_identity_id"])
        admin = managedidentity.UserAssignedIdentity(
            f"{name}-db-admin",
            resource_name_=names["db_admin"],
            resource_group_name=group,
            location=scope["location"],
            tags=self.tags,
            opts=self.child(),
        )
        server = dbforpostgresql.Server(
            f"{name}-db",
            server_name=names["db_server"],
            resource_group_name=group,
            location=scope["location"],
            version=size.engine_version,
            sku=dbforpostgresql.SkuArgs(name=size.instance_class, tier=size.tier),
            storage=dbforpostgresql.StorageArgs(
                storage_size_gb=size.storage_gb, auto_grow=dbforpostgresql.StorageAutoGrow.DISABLED
            ),
            backup=dbforpostgresql.BackupArgs(
                backup_retention_days=size.backup_retention_days,
                # a customer-managed key in one region cannot encrypt geo-redundant backups
                geo_redundant_backup=dbforpostgresql.GeographicallyRedundantBackup.DISABLED,
            ),
            network=dbforpostgresql.NetworkArgs(
                delegated_subnet_resource_id=network["subnet_id"],
                private_dns_zone_arm_resource_id=network["private_dns_zone_id"],
                public_network_access=dbforpostgresql.ServerPublicNetworkAccessState.DISABLED,
            ),
            identity=dbforpostgresql.UserAssignedIdentityArgs(
                type=dbforpostgresql.IdentityType.USER_ASSIGNED,
                user_assigned_identities=encryption_identity.apply(
                    lambda identity: {identity: dbforpostgresql.UserIdentityArgs()}
                ),
            ),
            data_encryption=dbforpostgresql.DataEncryptionArgs(
                type=dbforpostgresql.DataEncryptionType.AZURE_KEY_VAULT,
                primary_key_uri=key["key_uri"],
                primary_user_assigned_identity_id=encryption_identity,
            ),
            auth_config=dbforpostgresql.AuthConfigArgs(
                active_directory_auth=dbforpostgresql.MicrosoftEntraAuth.ENABLED,
                password_auth=dbforpostgresql.PasswordBasedAuth.DISABLED,
                tenant_id=tenant_id,
            ),
            tags=self.tags,
            opts=self.child(),
        )
        # Operations on one flexible server run one at a time: each waits for the previous.
        previous: pulumi.Resource = dbforpostgresql.AdministratorsMicrosoftEntra(
            f"{name}-db-entra-admin",
            resource_group_name=group,
            server_name=server.name,
            object_id=admin.principal_id,
            principal_name=admin.name,
            principal_type=dbforpostgresql.PrincipalType.SERVICE_PRINCIPAL,
            tenant_id=tenant_id,
            opts=self.child(),
        )
        for parameter, value in SERVER_PARAMETERS:
            previous = dbforpostgresql.Configuration(
                f"{name}-db-{parameter.replace('_', '-')}",
                configuration_name=parameter,
                server_name=server.name,
                resource_group_name=group,
                value=value,
                source="user-override",
                opts=self.child(pulumi.ResourceOptions(depends_on=[previous])),
            )
        database = dbforpostgresql.Database(
            f"{name}-db-database",
            database_name=names["database"],
            server_name=server.name,
            resource_group_name=group,
            charset="UTF8",
            collation="en_US.utf8",
            opts=self.child(pulumi.ResourceOptions(depends_on=[previous])),
        )
        authorization.ManagementLockByScope(
            f"{name}-db-lock",
            lock_name=names["db_lock"],
            scope=server.id,
            level=authorization.LockLevel.CAN_NOT_DELETE,
            notes="paybill-iac: deletion protection of the PostgreSQL server and its databases",
            opts=self.child(pulumi.ResourceOptions(depends_on=[database])),
        )
        return Handle({
            "resource_group_name": group,
            "server_id": server.id,
            "server_name": server.name,
            "host": server.fully_qualified_domain_name,
            "database": database.name,
            "username": names["db_user"],
            "admin_identity_id": admin.id,
            "admin_client_id": admin.client_id,
            "admin_principal_name": admin.name,
        }, resource=server)

    def final_backup(self, name: str, names: Mapping[str, str], scope: Handle, database: Handle,
                     size: DatabaseSize) -> Handle:
        if self.guards == "lifted":
            return Handle({"kind": "none", "taken_by": "Azure keeps a deleted flexible server's backups only for its "
                                                       "restore window: the plan change moved the data first"})
        backup = dbforpostgresql.BackupsAutomaticAndOnDemand(
            f"{name}-db-offboard-backup",
            backup_name=names["db_backup"],
            server_name=database["server_name"],
            resource_group_name=database["resource_group_name"],
            opts=self.child(),
        )
        return Handle({"kind": "flexible server on-demand backup", "name": backup.name,
                       "retention_days": size.backup_retention_days,
                       "taken_by": "this stack, on offboarding; Azure keeps it for the server's backup retention"})

    def tenant_database(self, name: str, names: Mapping[str, str], scope: Handle, cell: CellHandles) -> Handle:
        database = dbforpostgresql.Database(
            f"{name}-database",
            database_name=names["database"],
            server_name=cell.database["server_name"],
            resource_group_name=cell.database["resource_group_name"],
            charset="UTF8",
            collation="en_US.utf8",
            opts=self.child(),
        )
        return Handle({
            "server_id": cell.database["server_id"],
            "server_name": cell.database["server_name"],
            "host": cell.database["host"],
            "database": database.name,
            "username": names["db_user"],
        })

    def store_slice(
        self, name: str, names: Mapping[str, str], scope: Handle, cell: CellHandles, prefix: str
    ) -> Handle:
        # The slice is a whole container of the cell's account: Azure RBAC scopes to a container,
        # not to a prefix, so `prefix` (the other clouds' slice) has no part here.
        container = storage.BlobContainer(
            f"{name}-container",
            container_name=names["container"],
            account_name=cell.store["storage_account"],
            resource_group_name=cell.store["resource_group_name"],
            public_access=storage.PublicAccess.NONE,
            opts=self.child(),
        )
        return Handle({
            "storage_account": cell.store["storage_account"],
            "blob_endpoint": cell.store["blob_endpoint"],
            "container": container.name,
            "container_id": container.id,
        })

    def identity(self, name: str, names: Mapping[str, str], scope: Handle, grants: Grants) -> Handle:
        identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_name_=names["identity"],
            resource_group_name=scope["resource_group_name"],
            location=scope["location"],
            tags=self.tags,
            opts=self.child(),
        )
        assignments = iam.tenant_assignments(active=grants.active, shared_store=grants.prefix is not None)
        scopes: dict[str, Any] = {
            "container": lambda: grants.store["container_id"],
            "storage_account": lambda: grants.store["storage_account_id"],
            "key": lambda: grants.key["key_id"],
        }
        for assignment in assignments:
            self._role_assignment(
                f"{name}-{assignment.scope.replace('_', '-')}-access", assignment.role, assignment.scope,
                scopes[assignment.scope](), identity.principal_id, names["identity"],
                f"paybill-iac: the tenant's workload identity ({assignment.role})",
            )
        return Handle({
            "identity_id": identity.id,
            "identity_name": identity.name,
            "client_id": identity.client_id,
            "principal_id": identity.principal_id,
            "tenant_id": identity.tenant_id,
            "roles": [assignment.role for assignment in assignments],
        })

    def cell_handles(self, cell_output: pulumi.Input[Mapping[str, Any]]) -> CellHandles:
        cell = pulumi.Output.from_input(cell_output)

        def pick(part: str, key: str) -> pulumi.Output[Any]:
            return cell.apply(lambda value: value[part][key])

        parts = {part: Handle({key: pick(part, key) for key in keys}) for part, keys in CELL_KEYS.items()}
        return CellHandles(**parts)
