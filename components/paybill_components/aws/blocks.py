"""AWS building blocks (pulumi-aws 7): VPC, KMS, S3, RDS for PostgreSQL, Secrets Manager and IAM.

Each block returns a `Handle` whose `refs` carry these keys (pulumi Inputs; the same keys come back
from a cell's stack output through `cell_handles`):

    scope       {} (the AWS account is the scope; nothing to create)
    network     vpc_id, cidr_block, subnet_ids (list, one private subnet per availability zone),
                security_group_id (PostgreSQL 5432 from inside the VPC only)
    key         key_id, key_arn, alias
    store       bucket, bucket_arn, bucket_regional_domain_name
                + prefix (a pooled tenant's slice of the cell's bucket, e.g. "tenants/acme/")
    database    an instance (silo, bridge, cell):
                    identifier, instance_arn, host, port, endpoint, dbname, username (the application's
                    IAM-authenticated database user), admin_username, db_resource_id,
                    master_user_secret_arn (RDS-managed secret of the admin password, KMS-encrypted with
                    the key; only its ARN is in state)
                a pooled tenant's database in the cell's instance:
                    host, port, dbname, username, secret_arn (its connection-info secret, no password),
                    db_resource_id, instance_arn
    identity    role_arn, role_name, service_principal
    final_backup kind, name, arn, retention_days, taken_by (offboarding: an `aws.rds.Snapshot` of the
                instance, kept until retention end; a retiring shape: the final snapshot RDS takes when
                the instance is deleted, `final_snapshot_identifier`, kept with the shape's key)

No handle has `secrets`: the databases use IAM database authentication (`rds-db:connect`) and the
admin password is generated and kept by RDS in Secrets Manager, so no credential reaches the state.

Identity: an IAM role that `SERVICE_PRINCIPAL` (ECS tasks) may assume, only on behalf of this account
(`aws:SourceAccount`). While the tenant is active it has one inline policy (`names["policy"]`, built
by `paybill_components.aws.iam.tenant_policy`) reaching exactly its bucket or prefix, its key, its
database user and its secret; suspended, the role has no policy at all. An inline policy is used
rather than a managed one so that it cannot be attached to any other principal.

Guards (`self.guards`, paybill_iac.model.spec.Guards): while kept, the instance has
`deletion_protection` and the bucket `force_destroy=False` (S3 refuses to delete a non-empty bucket);
lifted (a retiring shape) both are off and the instance's deletion keeps a final snapshot and its
automated backups (their key is kept too); released (retention end) no final snapshot is taken and the
automated backups go with the instance. The bucket waits for its key (`depends_on`), so a destroy
deletes the bucket before the key that encrypted it.

What Pulumi cannot do here: creating the PostgreSQL database and role inside an instance (`CREATE
DATABASE`, `CREATE ROLE ... ; GRANT rds_iam`) needs a SQL connection to a private endpoint; that is
the tenant bootstrap job's work. The names it must use are in the database handle.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from paybill_components.aws import iam
from paybill_components.blocks import CellHandles, CloudBlocks, Grants, Handle
from paybill_iac.model.sizing import DatabaseSize
from paybill_iac.model.spec import Placement

SERVICE_PRINCIPAL = "ecs-tasks.amazonaws.com"
"""Who runs a tenant's workload and may assume its role (ECS tasks)."""

VPC_CIDR = "10.20.0.0/16"
SUBNET_CIDRS = ("10.20.0.0/20", "10.20.16.0/20")
"""One private subnet per availability zone; RDS needs at least two zones in a subnet group."""

POSTGRES_PORT = 5432
KEY_DELETION_WINDOW_DAYS = 30
KEY_ROTATION_PERIOD_DAYS = 365
SECRET_RECOVERY_WINDOW_DAYS = 30
DB_STORAGE_TYPE = "gp3"
DB_PARAMETERS = (
    # Refuse unencrypted connections, and anything older than TLS 1.2.
    ("rds.force_ssl", "1"),
    ("ssl_min_protocol_version", "TLSv1.2"),
)

HANDLE_KEYS: dict[str, tuple[str, ...]] = {
    "scope": (),
    "network": ("vpc_id", "cidr_block", "subnet_ids", "security_group_id"),
    "key": ("key_id", "key_arn", "alias"),
    "store": ("bucket", "bucket_arn", "bucket_regional_domain_name"),
    "database": ("identifier", "instance_arn", "host", "port", "endpoint", "dbname", "username",
                 "admin_username", "db_resource_id", "master_user_secret_arn"),
}
"""The refs of each cell handle, as `cell_handles` reads them back from the cell's stack output."""


def parameter_group_family(engine_version: str) -> str:
    """The RDS parameter group family of a PostgreSQL version ("16" or "16.4" -> "postgres16")."""
    major = engine_version.strip().split(".", 1)[0]
    if not major.isdigit():
        raise ValueError(f"engine_version '{engine_version}' is not a PostgreSQL version")
    return f"postgres{major}"


def connection_info(host: str, port: int | str, dbname: str, username: str) -> str:
    """What a pooled tenant's secret holds: where to connect and as whom (IAM auth, no password)."""
    return json.dumps({"host": host, "port": int(port), "dbname": dbname, "username": username, "auth": "iam",
                       "sslmode": "verify-full"}, sort_keys=True)


def _zone(index: int, zone_names: list[str]) -> str:
    """The `index`-th availability zone of the region (one subnet per zone)."""
    if len(zone_names) < len(SUBNET_CIDRS):
        raise ValueError(f"the region has {len(zone_names)} availability zones, the database needs "
                         f"{len(SUBNET_CIDRS)}: {zone_names}")
    return zone_names[index]


def _from_output(key: str, value: Any) -> Any:
    """A ref as it was before crossing a StackReference (numbers come back as floats)."""
    if key == "port" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class AwsBlocks(CloudBlocks):
    """pulumi-aws building blocks; see the module docstring for the handles' keys."""

    cloud = "aws"

    @staticmethod
    def provider(name: str, placement: Placement) -> pulumi.ProviderResource:
        return aws.Provider(name, region=placement.region)

    # --- helpers ---------------------------------------------------------------------------------

    def _tags(self, **extra: str) -> dict[str, str]:
        return {**self.tags, **extra}

    def _invoke_opts(self) -> pulumi.InvokeOptions:
        """Invokes resolve the provider the way children do: from the component (parent)."""
        return pulumi.InvokeOptions(parent=self.opts.parent, provider=self.opts.provider)

    # --- building blocks -------------------------------------------------------------------------

    def scope(self, name: str, names: Mapping[str, str]) -> Handle:
        return Handle()

    def network(self, name: str, names: Mapping[str, str], scope: Handle) -> Handle:
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=VPC_CIDR,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=self._tags(Name=names["network"]),
            opts=self.child(),
        )
        # The VPC's default security group lets its members reach each other: take every rule away.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg", vpc_id=vpc.id, tags=self._tags(Name=names["network"]), opts=self.child()
        )
        zones = aws.get_availability_zones_output(
            state="available",
            filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],  # no Local Zones
            opts=self._invoke_opts(),
        )
        subnets = [
            aws.ec2.Subnet(
                f"{name}-subnet-{index}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zones.names.apply(functools.partial(_zone, index)),
                map_public_ip_on_launch=False,
                tags=self._tags(Name=names["network"]),
                opts=self.child(),
            )
            for index, cidr in enumerate(SUBNET_CIDRS)
        ]
        group = aws.ec2.SecurityGroup(
            f"{name}-db-sg",
            name=names["security_group"],
            description="PostgreSQL from inside the VPC only",
            vpc_id=vpc.id,
            tags=self._tags(),
            opts=self.child(),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-db-ingress",
            security_group_id=group.id,
            description="PostgreSQL from inside the VPC",
            ip_protocol="tcp",
            from_port=POSTGRES_PORT,
            to_port=POSTGRES_PORT,
            cidr_ipv4=vpc.cidr_block,
            tags=self._tags(),
            opts=self.child(),
        )
        return Handle({
            "vpc_id": vpc.id,
            "cidr_block": vpc.cidr_block,
            "subnet_ids": [subnet.id for subnet in subnets],
            "security_group_id": group.id,
        })

    def key(self, name: str, names: Mapping[str, str], scope: Handle) -> Handle:
        key = aws.kms.Key(
            f"{name}-key",
            description=f"paybill data key {names['key_alias']}",
            key_usage="ENCRYPT_DECRYPT",
            customer_master_key_spec="SYMMETRIC_DEFAULT",
            enable_key_rotation=True,
            rotation_period_in_days=KEY_ROTATION_PERIOD_DAYS,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            tags=self._tags(),
            opts=self.child(),
        )
        alias = aws.kms.Alias(f"{name}-key-alias", name=names["key_alias"], target_key_id=key.key_id,
                              opts=self.child())
        return Handle({"key_id": key.key_id, "key_arn": key.arn, "alias": alias.name}, resource=key)

    def object_store(self, name: str, names: Mapping[str, str], scope: Handle, key: Handle) -> Handle:
        # No input of the bucket names its key (the encryption configuration does): `depends_on` gives the
        # engine the edge, so the key is never deleted before the data it encrypted.
        after_key = pulumi.ResourceOptions(depends_on=[key.resource]) if key.resource is not None else None
        bucket = aws.s3.Bucket(
            f"{name}-bucket", bucket=names["bucket"], force_destroy=not self.guarded, tags=self._tags(),
            opts=self.child(after_key),
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-bucket-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=self.child(),
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-bucket-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"},
            opts=self.child(),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-bucket-encryption",
            bucket=bucket.id,
            rules=[{
                "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                            "kms_master_key_id": key["key_arn"]},
                "bucket_key_enabled": True,
                "blocked_encryption_types": ["SSE-C"],
            }],
            opts=self.child(),
        )
        aws.s3.BucketVersioning(
            f"{name}-bucket-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"},
            opts=self.child(),
        )
        aws.s3.BucketPolicy(
            f"{name}-bucket-policy",
            bucket=bucket.id,
            policy=bucket.arn.apply(iam.bucket_tls_policy),
            # S3 refuses a policy while the public access block is being changed: one after the other.
            opts=self.child(pulumi.ResourceOptions(depends_on=[public_access])),
        )
        return Handle({
            "bucket": bucket.bucket,
            "bucket_arn": bucket.arn,
            "bucket_regional_domain_name": bucket.bucket_regional_domain_name,
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
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-db-subnets",
            name=names["db_subnet_group"],
            description="private subnets of the database",
            subnet_ids=network["subnet_ids"],
            tags=self._tags(),
            opts=self.child(),
        )
        parameters = aws.rds.ParameterGroup(
            f"{name}-db-params",
            name=names["db_parameter_group"],
            family=parameter_group_family(size.engine_version),
            description="TLS 1.2 or newer required",
            parameters=[
                {"name": parameter, "value": value, "apply_method": "pending-reboot"}
                for parameter, value in DB_PARAMETERS
            ],
            tags=self._tags(),
            opts=self.child(),
        )
        instance = aws.rds.Instance(
            f"{name}-db",
            identifier=names["db_instance"],
            engine="postgres",
            engine_version=size.engine_version,
            instance_class=size.instance_class,
            allocated_storage=size.storage_gb,
            storage_type=DB_STORAGE_TYPE,
            storage_encrypted=True,
            kms_key_id=key["key_arn"],
            db_name=names["database"],
            username=names["db_admin"],
            manage_master_user_password=True,
            master_user_secret_kms_key_id=key["key_arn"],
            iam_database_authentication_enabled=True,
            port=POSTGRES_PORT,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[network["security_group_id"]],
            parameter_group_name=parameters.name,
            publicly_accessible=False,
            deletion_protection=self.guarded,
            backup_retention_period=size.backup_retention_days,
            delete_automated_backups=not self.keeps_backups,
            copy_tags_to_snapshot=True,
            skip_final_snapshot=not self.keeps_backups,
            final_snapshot_identifier=names["db_final_snapshot"],
            auto_minor_version_upgrade=True,
            tags=self._tags(),
            opts=self.child(),
        )
        return Handle({
            "identifier": instance.identifier,
            "instance_arn": instance.arn,
            "host": instance.address,
            "port": instance.port,
            "endpoint": instance.endpoint,
            "dbname": names["database"],
            "username": names["db_user"],
            "admin_username": names["db_admin"],
            "db_resource_id": instance.resource_id,
            "master_user_secret_arn": instance.master_user_secrets.apply(
                lambda secrets: secrets[0].secret_arn if secrets else None
            ),
        }, resource=instance)

    def final_backup(self, name: str, names: Mapping[str, str], scope: Handle, database: Handle,
                     size: DatabaseSize) -> Handle:
        if self.guards == "lifted":
            # The retiring instance's deletion takes it (`final_snapshot_identifier`); the key stays with it.
            return Handle({"kind": "rds final snapshot", "name": names["db_final_snapshot"],
                           "taken_by": "RDS, when the retiring instance is deleted"})
        snapshot = aws.rds.Snapshot(
            f"{name}-db-offboard-snapshot",
            db_instance_identifier=database["identifier"],
            db_snapshot_identifier=names["db_backup"],
            tags=self._tags(),
            opts=self.child(),
        )
        return Handle({"kind": "rds snapshot", "name": snapshot.db_snapshot_identifier,
                       "arn": snapshot.db_snapshot_arn, "retention_days": size.backup_retention_days,
                       "taken_by": "this stack, on offboarding; deleted with it at retention end"})

    def tenant_database(self, name: str, names: Mapping[str, str], scope: Handle, cell: CellHandles) -> Handle:
        # RDS has no resource for a database inside an instance: the tenant gets its connection
        # secret (encrypted with the cell's key); the bootstrap job creates the database and role.
        server = cell.database
        secret = aws.secretsmanager.Secret(
            f"{name}-db-secret",
            name=names["secret"],
            description="connection to the tenant's database (IAM authentication, no password)",
            kms_key_id=cell.key["key_arn"],
            recovery_window_in_days=SECRET_RECOVERY_WINDOW_DAYS,
            tags=self._tags(),
            opts=self.child(),
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-db-secret-version",
            secret_id=secret.id,
            secret_string=pulumi.Output.all(server["host"], server["port"]).apply(
                lambda values: connection_info(values[0], values[1], names["database"], names["db_user"])
            ),
            opts=self.child(),
        )
        return Handle({
            "host": server["host"],
            "port": server["port"],
            "dbname": names["database"],
            "username": names["db_user"],
            "secret_arn": secret.arn,
            "db_resource_id": server["db_resource_id"],
            "instance_arn": server["instance_arn"],
        })

    def store_slice(
        self, name: str, names: Mapping[str, str], scope: Handle, cell: CellHandles, prefix: str
    ) -> Handle:
        # A zero-byte folder marker makes the prefix visible; the grants are what isolate it.
        aws.s3.BucketObjectv2(
            f"{name}-prefix",
            bucket=cell.store["bucket"],
            key=prefix,
            content="",
            content_type="application/x-directory",
            server_side_encryption="aws:kms",
            kms_key_id=cell.key["key_arn"],
            bucket_key_enabled=True,
            tags=self._tags(),
            opts=self.child(),
        )
        return Handle({
            "bucket": cell.store["bucket"],
            "bucket_arn": cell.store["bucket_arn"],
            "bucket_regional_domain_name": cell.store["bucket_regional_domain_name"],
            "prefix": prefix,
        })

    def identity(self, name: str, names: Mapping[str, str], scope: Handle, grants: Grants) -> Handle:
        caller = aws.get_caller_identity_output(opts=self._invoke_opts())
        role = aws.iam.Role(
            f"{name}-role",
            name=names["role"],
            description="the tenant's workload identity",
            assume_role_policy=caller.account_id.apply(
                lambda account: iam.assume_role_policy(SERVICE_PRINCIPAL, account)
            ),
            max_session_duration=3600,
            tags=self._tags(),
            opts=self.child(),
        )
        if grants.active:
            database = grants.database.refs
            prefix = grants.prefix
            policy = pulumi.Output.all(
                bucket_arn=grants.store["bucket_arn"],
                key_arn=grants.key["key_arn"],
                instance_arn=database["instance_arn"],
                db_resource_id=database["db_resource_id"],
                db_user=database["username"],
                secret_arn=database.get("secret_arn"),
            ).apply(lambda values: iam.tenant_policy(prefix=prefix, **values))
            aws.iam.RolePolicy(f"{name}-role-policy", name=names["policy"], role=role.id, policy=policy,
                               opts=self.child())
        return Handle({"role_arn": role.arn, "role_name": role.name, "service_principal": SERVICE_PRINCIPAL})

    def cell_handles(self, cell_output: pulumi.Input[Mapping[str, Any]]) -> CellHandles:
        output = pulumi.Output.from_input(cell_output)

        def pick(part: str, key: str) -> pulumi.Output[Any]:
            return output.apply(lambda cell: _from_output(key, (cell.get(part) or {}).get(key)))

        handles = {part: Handle({key: pick(part, key) for key in keys}) for part, keys in HANDLE_KEYS.items()}
        return CellHandles(**handles)
