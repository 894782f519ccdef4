"""Provider-shaped mock outputs for oci resources (see paybill_iac.mock_outputs).

Ids are OCIDs, `ocid1.<resource type>.oc1.<region>.<unique>`, deterministic from (stack, type, name).
The region part of the OCIDs is left empty, as OCI itself writes it for global resources (compartments,
dynamic groups, policies); the vault endpoints carry the vault's unique part and the stack's region
(common.current(), from its stack config) the way OCI's do, and a key's `vaultId` is read back from the
management endpoint it was created with. Pure Python: no pulumi import.
"""

from __future__ import annotations

import re
from typing import Any

from paybill_iac.mock_outputs.common import current, stable_hex

MOCK_NAMESPACE = "pbtenancy"
"""The Object Storage namespace getNamespace answers (a tenancy's namespace is one fixed string)."""

# The resource-type part of each type's OCID (as OCI spells it).
_OCID_KIND = {
    "oci:Identity/compartment:Compartment": "compartment",
    "oci:Identity/dynamicGroup:DynamicGroup": "dynamicgroup",
    "oci:Identity/policy:Policy": "policy",
    "oci:Core/vcn:Vcn": "vcn",
    "oci:Core/subnet:Subnet": "subnet",
    "oci:Core/securityList:SecurityList": "securitylist",
    "oci:Core/networkSecurityGroup:NetworkSecurityGroup": "networksecuritygroup",
    "oci:Kms/vault:Vault": "vault",
    "oci:Kms/key:Key": "key",
    "oci:ObjectStorage/bucket:Bucket": "bucket",
    "oci:Vault/secret:Secret": "vaultsecret",
    "oci:Psql/dbSystem:DbSystem": "postgresqldbsystem",
    "oci:Psql/backup:Backup": "postgresqlbackup",
}

# Types whose only computed output of interest is their lifecycle state.
_ACTIVE_ON_CREATE = frozenset({
    "oci:Identity/compartment:Compartment", "oci:Identity/dynamicGroup:DynamicGroup",
    "oci:Identity/policy:Policy", "oci:Psql/backup:Backup",
})

_ENDPOINT = re.compile(r"https://([a-z0-9]+)-management\.kms\.")


def ocid(kind: str, *parts: str) -> str:
    """A deterministic OCID of `kind` for the given identity parts."""
    return f"ocid1.{kind}.oc1..aaaaaaaa{stable_hex(*parts, length=32)}"


def _vault_unique(stack: str, name: str) -> str:
    """The short unique part OCI puts in a vault's OCID and in its endpoints' host names."""
    return stable_hex(stack, "oci:Kms/vault:Vault", name, length=13)


def _region() -> str:
    """The stack's region as a host name part ("eu-frankfurt-1."), or "" when it is not known."""
    region = current().region
    return f"{region}." if region else ""


def vault_ocid(unique: str) -> str:
    """A vault's OCID from the unique part its endpoints carry."""
    return f"ocid1.vault.oc1..{unique}.aaaaaaaa{stable_hex('vault', unique, length=32)}"


def shape(type_token: str, name: str, inputs: dict[str, Any], stack: str) -> tuple[str, dict[str, Any]]:
    """(id, computed outputs) of a oci resource."""
    kind = _OCID_KIND.get(type_token)
    if kind:
        resource_id = ocid(kind, stack, type_token, name)
    else:
        resource_id = f"{name}-{stable_hex(stack, type_token, name, length=8)}"
    computed: dict[str, Any] = {"id": resource_id}

    if type_token in _ACTIVE_ON_CREATE:
        computed["state"] = "ACTIVE"
    elif type_token == "oci:Core/vcn:Vcn":
        computed.update(
            state="AVAILABLE",
            defaultSecurityListId=ocid("securitylist", stack, type_token, name, "default"),
            defaultRouteTableId=ocid("routetable", stack, type_token, name, "default"),
            defaultDhcpOptionsId=ocid("dhcpoptions", stack, type_token, name, "default"),
            vcnDomainName=f"{inputs.get('dnsLabel', 'vcn')}.oraclevcn.com",
        )
    elif type_token == "oci:Core/defaultSecurityList:DefaultSecurityList":
        # The provider adopts the VCN's default list: its id is the one it manages.
        resource_id = inputs.get("manageDefaultResourceId") or resource_id
        computed.update(id=resource_id, state="AVAILABLE")
    elif type_token == "oci:Core/networkSecurityGroupSecurityRule:NetworkSecurityGroupSecurityRule":
        resource_id = stable_hex(stack, type_token, name, length=6).upper()  # NSG rules have short ids
        computed.update(id=resource_id, isValid=True)
    elif type_token in ("oci:Core/subnet:Subnet", "oci:Core/securityList:SecurityList",
                        "oci:Core/networkSecurityGroup:NetworkSecurityGroup"):
        computed["state"] = "AVAILABLE"
    elif type_token == "oci:Kms/vault:Vault":
        unique = _vault_unique(stack, name)
        resource_id = vault_ocid(unique)
        computed.update(
            id=resource_id,
            state="ACTIVE",
            managementEndpoint=f"https://{unique}-management.kms.{_region()}oraclecloud.com",
            cryptoEndpoint=f"https://{unique}-crypto.kms.{_region()}oraclecloud.com",
        )
    elif type_token == "oci:Kms/key:Key":
        match = _ENDPOINT.match(str(inputs.get("managementEndpoint") or ""))
        computed.update(
            state="ENABLED",
            currentKeyVersion=ocid("keyversion", stack, type_token, name, "1"),
            vaultId=vault_ocid(match.group(1)) if match else None,
        )
    elif type_token == "oci:ObjectStorage/bucket:Bucket":
        # The provider's id of a bucket is "n/<namespace>/b/<name>"; the OCID is `bucketId`.
        computed.update(
            id=f"n/{inputs.get('namespace')}/b/{inputs.get('name')}",
            bucketId=ocid("bucket", stack, type_token, name),
            etag=stable_hex(stack, type_token, name, "etag"),
            isReadOnly=False,
            objectLifecyclePolicyEtag=None,
        )
        resource_id = computed["id"]
    elif type_token == "oci:Vault/secret:Secret":
        computed.update(
            state="ACTIVE",
            currentVersionNumber=1,
            isAutoGenerationEnabled=bool(inputs.get("enableAutoGeneration")),
        )
    elif type_token == "oci:Psql/dbSystem:DbSystem":
        details = dict(inputs.get("networkDetails") or {})
        octet = 10 + int(stable_hex(stack, type_token, name, length=4), 16) % 200
        details.setdefault("primaryDbEndpointPrivateIp", f"10.0.1.{octet}")
        credentials = inputs.get("credentials") or {}
        computed.update(
            state="ACTIVE",
            networkDetails=details,
            adminUsername=credentials.get("username"),
            systemType="OCI_OPTIMIZED_STORAGE",
            instances=[{"id": ocid("postgresqldbinstance", stack, type_token, name, "0"),
                        "state": "ACTIVE"}],
        )
    return resource_id, computed


def invoke(token: str, args: dict[str, Any]) -> dict[str, Any]:
    """Results of oci data-source invokes."""
    if token == "oci:ObjectStorage/getNamespace:getNamespace":
        return {"id": MOCK_NAMESPACE, "namespace": MOCK_NAMESPACE, "compartmentId": args.get("compartmentId")}
    return {}
