"""Provider-shaped mock outputs for gcp resources (see paybill_iac.mock_outputs).

Ids, self links, emails and endpoints in the formats pulumi-gcp returns, derived deterministically
from the resource's inputs (project, region, name) and, where the cloud would pick a value (a private
IP, a project number), from a stable hash. Pure Python: no pulumi import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paybill_iac.mock_outputs.common import current, stable_hex

MOCK_PROJECT = "mock-project"
COMPUTE = "https://www.googleapis.com/compute/v1"
STORAGE = "https://www.googleapis.com/storage/v1"
SQLADMIN = "https://sqladmin.googleapis.com/sql/v1beta4"


def project_number(project: str) -> str:
    """A stable 12-digit project number for `project` (Google derives service agents from it)."""
    return str(100_000_000_000 + int(stable_hex("project-number", project, length=10), 16) % 900_000_000_000)


def storage_agent_email(project: str) -> str:
    """The Cloud Storage service agent of `project`."""
    return f"service-{project_number(project)}@gs-project-accounts.iam.gserviceaccount.com"


def service_agent_email(project: str, service: str) -> str:
    """The service agent `projects.ServiceIdentity` returns for `service` (sqladmin.googleapis.com...)."""
    agent = {"sqladmin.googleapis.com": "gcp-sa-cloud-sql"}.get(service, f"gcp-sa-{service.split('.', 1)[0]}")
    return f"service-{project_number(project)}@{agent}.iam.gserviceaccount.com"


def _private_ip(*parts: str) -> str:
    digits = int(stable_hex(*parts, length=4), 16)
    return f"10.{64 + digits % 64}.{(digits // 64) % 256}.{2 + digits % 250}"


def _network(name: str, inputs: dict[str, Any], project: str, stack: str) -> tuple[str, dict[str, Any]]:
    path = f"projects/{project}/global/networks/{inputs.get('name', name)}"
    return path, {"selfLink": f"{COMPUTE}/{path}", "networkId": str(int(stable_hex(stack, path, length=12), 16))}


def _subnetwork(name: str, inputs: dict[str, Any], project: str, stack: str) -> tuple[str, dict[str, Any]]:
    region = inputs.get("region") or current().region or "us-central1"
    path = f"projects/{project}/regions/{region}/subnetworks/{inputs.get('name', name)}"
    return path, {"selfLink": f"{COMPUTE}/{path}", "gatewayAddress": "10.0.0.1"}


def _global_address(name: str, inputs: dict[str, Any], project: str, stack: str) -> tuple[str, dict[str, Any]]:
    path = f"projects/{project}/global/addresses/{inputs.get('name', name)}"
    return path, {"selfLink": f"{COMPUTE}/{path}", "address": inputs.get("address") or "10.128.0.0"}


def _connection(name: str, inputs: dict[str, Any], project: str, stack: str) -> tuple[str, dict[str, Any]]:
    network = inputs.get("network", "")
    return f"{network}:{inputs.get('service', '')}", {"peering": "servicenetworking-googleapis-com"}


def _key_ring(name: str, inputs: dict[str, Any], project: str, stack: str) -> tuple[str, dict[str, Any]]:
    return f"projects/{project}/locations/{inputs.get('location', 'global')}/keyRings/{inputs.get('name', name)}", {}


def _crypto_key(name: str, inputs: dict[str, Any], project: str, stack: str) -> tuple[str, dict[str, Any]]:
    key_id = f"{inputs.get('keyRing', '')}/cryptoKeys/{inputs.get('name', name)}"
    return key_id, {"primary": [{"name": f"{key_id}/cryptoKeyVersions/1", "state": "ENABLED"}]}


def _bucket(name: str, inputs: dict[str, Any], project: str, stack: str) -> tuple[str, dict[str, Any]]:
    bucket = inputs.get("name", name)
    return bucket, {"url": f"gs://{bucket}", "selfLink": f"{STORAGE}/b/{bucket}", "project": project,
                    "projectNumber": project_number(project)}


def _managed_folder(name: str, inputs: dict[str, Any], project: str, stack: str) -> tuple[str, dict[str, Any]]:
    bucket, folder = inputs.get("bucket", ""), inputs.get("name", name)
    return f"{bucket}/{folder}", {"selfLink": f"{STORAGE}/b/{bucket}/managedFolders/{folder}",
                                  "createTime": "2024-01-01T00:00:00Z", "metageneration": "1"}


def _sql_instance(name: str, inputs: dict[str, Any], project: str, stack: str) -> tuple[str, dict[str, Any]]:
    instance, region = inputs.get("name", name), inputs.get("region", "us-central1")
    private_ip = _private_ip(stack, project, instance)
    return instance, {
        "connectionName": f"{project}:{region}:{instance}",
        "privateIpAddress": private_ip,
        "ipAddresses": [{"ipAddress": private_ip, "type": "PRIVATE"}],
        "selfLink": f"{SQLADMIN}/projects/{project}/instances/{instance}",
        "serviceAccountEmailAddress": f"p{project_number(project)}-{stable_hex(instance, length=6)}"
                                      "@gcp-sa-cloud-sql.iam.gserviceaccount.com",
        "dnsName": f"{stable_hex(stack, instance, length=12)}.{region}.sql.goog.",
        "project": project,
    }


def _sql_database(name: str, inputs: dict[str, Any], project: str, stack: str) -> tuple[str, dict[str, Any]]:
    path = f"projects/{project}/instances/{inputs.get('instance', '')}/databases/{inputs.get('name', name)}"
    return path, {"selfLink": f"{SQLADMIN}/{path}", "project": project}


def _sql_user(name: str, inputs: dict[str, Any], project: str, stack: str) -> tuple[str, dict[str, Any]]:
    return f"{inputs.get('name', name)}//{inputs.get('instance', '')}", {"project": project}


def _account(name: str, inputs: dict[str, Any], project: str, stack: str) -> tuple[str, dict[str, Any]]:
    email = f"{inputs.get('accountId', name)}@{project}.iam.gserviceaccount.com"
    return f"projects/{project}/serviceAccounts/{email}", {
        "email": email, "member": f"serviceAccount:{email}", "name": f"projects/{project}/serviceAccounts/{email}",
        "uniqueId": str(int(stable_hex(stack, email, length=14), 16)), "project": project,
    }


def _service_identity(name: str, inputs: dict[str, Any], project: str, stack: str) -> tuple[str, dict[str, Any]]:
    email = service_agent_email(project, inputs.get("service", ""))
    return f"projects/{project}/services/{inputs.get('service', '')}", {
        "email": email, "member": f"serviceAccount:{email}", "project": project,
    }


def _iam_member(name: str, inputs: dict[str, Any], project: str, stack: str) -> tuple[str, dict[str, Any]]:
    target = next((str(inputs[key]) for key in ("cryptoKeyId", "managedFolder", "bucket", "project") if key in inputs),
                  project)
    etag = "BwY" + stable_hex(stack, target, str(inputs.get("role")), str(inputs.get("member")), length=9)
    return f"{target}/{inputs.get('role', '')}/{inputs.get('member', '')}", {"etag": etag}


_SHAPES: dict[str, Callable[[str, dict[str, Any], str, str], tuple[str, dict[str, Any]]]] = {
    "gcp:compute/network:Network": _network,
    "gcp:compute/subnetwork:Subnetwork": _subnetwork,
    "gcp:compute/globalAddress:GlobalAddress": _global_address,
    "gcp:servicenetworking/connection:Connection": _connection,
    "gcp:kms/keyRing:KeyRing": _key_ring,
    "gcp:kms/cryptoKey:CryptoKey": _crypto_key,
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": _iam_member,
    "gcp:storage/bucket:Bucket": _bucket,
    "gcp:storage/managedFolder:ManagedFolder": _managed_folder,
    "gcp:storage/managedFolderIamMember:ManagedFolderIamMember": _iam_member,
    "gcp:storage/bucketIAMMember:BucketIAMMember": _iam_member,
    "gcp:sql/databaseInstance:DatabaseInstance": _sql_instance,
    "gcp:sql/database:Database": _sql_database,
    "gcp:sql/user:User": _sql_user,
    "gcp:serviceaccount/account:Account": _account,
    "gcp:projects/serviceIdentity:ServiceIdentity": _service_identity,
    "gcp:projects/iAMMember:IAMMember": _iam_member,
}


def shape(type_token: str, name: str, inputs: dict[str, Any], stack: str) -> tuple[str, dict[str, Any]]:
    """(id, computed outputs) of a gcp resource."""
    project = str(inputs.get("project") or current().account or MOCK_PROJECT)
    shaper = _SHAPES.get(type_token)
    if shaper is None:
        return f"{name}-{stable_hex(stack, type_token, name, length=8)}", {}
    return shaper(name, inputs, project, stack)


def invoke(token: str, args: dict[str, Any]) -> dict[str, Any]:
    """Results of gcp data-source invokes."""
    project = str(args.get("project") or current().account or MOCK_PROJECT)
    if token == "gcp:storage/getProjectServiceAccount:getProjectServiceAccount":
        email = storage_agent_email(project)
        return {"emailAddress": email, "member": f"serviceAccount:{email}", "project": project,
                "id": email, "userProject": args.get("userProject")}
    return {}
