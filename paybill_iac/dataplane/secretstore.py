"""Where passwords live: the `SecretStore` protocol and its implementations.

A store gives and keeps strings by name; nothing else in the data plane holds a password longer than
one call. Implementations:

    InMemorySecretStore       tests and one-off runs; its repr lists names, never values
    EnvSecretStore            read-only: secrets the job's platform injected as environment variables
                              (Kubernetes secretKeyRef, ECS `secrets`, Cloud Run `--set-secrets`)
    AwsSecretsManagerStore    AWS Secrets Manager (needs boto3)
    GcpSecretManagerStore     Google Secret Manager (needs google-cloud-secret-manager)
    OciVaultStore             OCI Vault (needs oci)
    AzureKeyVaultStore        Azure Key Vault (needs azure-keyvault-secrets and azure-identity)
    AzureEntraTokenSource     read-only: a Microsoft Entra access token for Azure Database for
                              PostgreSQL, in place of a password (Azure servers refuse passwords)

The cloud adapters import their SDK when first used, not at import time, and raise
SecretStoreUnavailable naming the package to install when it is missing. Their errors never carry
the secret's value (SDK exceptions are summarised by their type and code, then dropped).
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

from paybill_iac.dataplane.errors import SecretMissing, SecretStoreUnavailable

__all__ = [
    "AwsSecretsManagerStore",
    "AzureEntraTokenSource",
    "AzureKeyVaultStore",
    "EnvSecretStore",
    "GcpSecretManagerStore",
    "InMemorySecretStore",
    "OciVaultStore",
    "SecretStore",
    "read_secret",
]


@runtime_checkable
class SecretStore(Protocol):
    """Gives and keeps secrets by name. `get` raises SecretMissing when there is no such secret."""

    def get(self, name: str) -> str: ...

    def put(self, name: str, value: str) -> None: ...


def read_secret(store: SecretStore, name: str, field: str | None = None) -> str:
    """The secret `name` from `store`, or its JSON `field` when the secret is a JSON document.

    Raises SecretMissing (never showing the value) when the secret or the field is absent."""
    value = store.get(name)
    if field is None:
        return value
    try:
        document = json.loads(value)
    except ValueError:
        raise SecretMissing(f"secret '{name}' is not a JSON document, so it has no field '{field}'") from None
    found = document.get(field) if isinstance(document, dict) else None
    if not isinstance(found, str) or not found:
        raise SecretMissing(f"secret '{name}' has no text field '{field}'")
    return found


class InMemorySecretStore:
    """A dict of secrets. For tests and one-off runs: nothing survives the process."""

    def __init__(self, initial: dict[str, str] | None = None) -> None:
        self._values: dict[str, str] = dict(initial or {})

    def get(self, name: str) -> str:
        try:
            return self._values[name]
        except KeyError:
            raise SecretMissing(f"secret '{name}' is not in the in-memory store") from None

    def put(self, name: str, value: str) -> None:
        self._values[name] = value

    def delete(self, name: str) -> None:
        self._values.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._values)

    def __repr__(self) -> str:
        return f"InMemorySecretStore(names={self.names()!r})"


class EnvSecretStore:
    """Read-only: the secret `name` is the environment variable `prefix + NAME` (upper case, every
    character other than a letter or digit made `_`), e.g. `pb/acme/p-db` -> PAYBILL_SECRET_PB_ACME_P_DB."""

    def __init__(self, prefix: str = "PAYBILL_SECRET_", environ: dict[str, str] | None = None) -> None:
        self.prefix = prefix
        self._environ = environ

    def variable(self, name: str) -> str:
        return self.prefix + re.sub(r"[^A-Za-z0-9]", "_", name).upper()

    def get(self, name: str) -> str:
        environ = self._environ if self._environ is not None else os.environ
        value = environ.get(self.variable(name))
        if not value:
            raise SecretMissing(f"secret '{name}' is not set (environment variable {self.variable(name)})")
        return value

    def put(self, name: str, value: str) -> None:
        raise SecretStoreUnavailable(
            f"cannot store secret '{name}': the environment store is read-only; use a cloud secret store"
        )

    def __repr__(self) -> str:
        return f"EnvSecretStore(prefix={self.prefix!r})"


def _sdk(module: str, package: str, store: str) -> ModuleType:
    """Import `module` or say which package `store` needs."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise SecretStoreUnavailable(
            f"{store} needs the Python package '{package}', which is not installed (pip install {package})"
        ) from None


def _summary(error: BaseException) -> str:
    """What an SDK error was (its type and code), without its message, which may quote a request."""
    code = getattr(error, "code", None)
    response = getattr(error, "response", None)
    if code is None and isinstance(response, dict):  # botocore ClientError
        code = response.get("Error", {}).get("Code")
    if code is None:
        code = getattr(error, "status_code", None) or getattr(error, "status", None)
    return type(error).__name__ + (f" ({code})" if isinstance(code, str | int) and code else "")


@contextmanager
def _cloud_call(store: str, action: str, name: str) -> Iterator[None]:
    """Turn an SDK failure into SecretStoreUnavailable (SecretMissing passes through)."""
    failure: str | None = None
    try:
        yield
    except (SecretMissing, SecretStoreUnavailable):
        raise
    except Exception as error:  # SDKs raise many types; every one is summarised, never shown
        failure = _summary(error)
    if failure is not None:
        raise SecretStoreUnavailable(f"{store}: {action} secret '{name}' failed: {failure}")


class AwsSecretsManagerStore:
    """AWS Secrets Manager. `get` reads SecretString of the current version (a name or an ARN);
    `put` adds a version, creating the secret (with `kms_key_id` when given) if it does not exist."""

    def __init__(self, region: str | None = None, kms_key_id: str | None = None, client: Any = None) -> None:
        self.region = region
        self.kms_key_id = kms_key_id
        self._client = client

    def _api(self) -> Any:
        if self._client is None:
            boto3 = _sdk("boto3", "boto3", "AwsSecretsManagerStore")
            self._client = boto3.client("secretsmanager", region_name=self.region)
        return self._client

    def get(self, name: str) -> str:
        api = self._api()
        missing = False
        with _cloud_call("AWS Secrets Manager", "reading", name):
            try:
                value = api.get_secret_value(SecretId=name).get("SecretString")
            except api.exceptions.ResourceNotFoundException:
                missing, value = True, None
        if missing or not value:
            raise SecretMissing(f"secret '{name}' is not in AWS Secrets Manager (or has no SecretString)")
        return str(value)

    def put(self, name: str, value: str) -> None:
        api = self._api()
        with _cloud_call("AWS Secrets Manager", "storing", name):
            try:
                api.put_secret_value(SecretId=name, SecretString=value)
            except api.exceptions.ResourceNotFoundException:
                extra = {"KmsKeyId": self.kms_key_id} if self.kms_key_id else {}
                api.create_secret(Name=name, SecretString=value, **extra)

    def __repr__(self) -> str:
        return f"AwsSecretsManagerStore(region={self.region!r})"


class GcpSecretManagerStore:
    """Google Secret Manager in `project`: `get` reads the latest version; `put` adds a version,
    creating the secret (automatic replication) if it does not exist."""

    def __init__(self, project: str, client: Any = None) -> None:
        self.project = project
        self._client = client

    def _api(self) -> Any:
        if self._client is None:
            module = _sdk("google.cloud.secretmanager", "google-cloud-secret-manager", "GcpSecretManagerStore")
            self._client = module.SecretManagerServiceClient()
        return self._client

    def get(self, name: str) -> str:
        api = self._api()
        exceptions = _sdk("google.api_core.exceptions", "google-api-core", "GcpSecretManagerStore")
        missing = False
        with _cloud_call("Google Secret Manager", "reading", name):
            try:
                response = api.access_secret_version(
                    name=f"projects/{self.project}/secrets/{name}/versions/latest"
                )
                value = response.payload.data.decode("utf-8")
            except exceptions.NotFound:
                missing, value = True, ""
        if missing:
            raise SecretMissing(f"secret '{name}' is not in Google Secret Manager project '{self.project}'")
        return str(value)

    def put(self, name: str, value: str) -> None:
        api = self._api()
        exceptions = _sdk("google.api_core.exceptions", "google-api-core", "GcpSecretManagerStore")
        parent = f"projects/{self.project}/secrets/{name}"
        with _cloud_call("Google Secret Manager", "storing", name):
            try:
                api.add_secret_version(request={"parent": parent, "payload": {"data": value.encode("utf-8")}})
            except exceptions.NotFound:
                api.create_secret(request={
                    "parent": f"projects/{self.project}", "secret_id": name,
                    "secret": {"replication": {"automatic": {}}},
                })
                api.add_secret_version(request={"parent": parent, "payload": {"data": value.encode("utf-8")}})

    def __repr__(self) -> str:
        return f"GcpSecretManagerStore(project={self.project!r})"


class OciVaultStore:
    """OCI Vault: secrets by name in `vault_id` (or by OCID). `get` reads the current bundle (base64);
    `put` updates the secret's content, creating it in `compartment_id` with `key_id` when absent.
    Secrets OCI Vault generates itself (enable_auto_generation) are read, never written."""

    def __init__(
        self, vault_id: str, compartment_id: str | None = None, key_id: str | None = None,
        config: dict[str, Any] | None = None, signer: Any = None,
    ) -> None:
        self.vault_id = vault_id
        self.compartment_id = compartment_id
        self.key_id = key_id
        self._config = config
        self._signer = signer

    def _oci(self) -> Any:
        return _sdk("oci", "oci", "OciVaultStore")

    def _clients(self) -> tuple[Any, Any]:
        oci = self._oci()
        config = self._config if self._config is not None else ({} if self._signer else oci.config.from_file())
        extra = {"signer": self._signer} if self._signer is not None else {}
        return oci.secrets.SecretsClient(config, **extra), oci.vault.VaultsClient(config, **extra)

    def get(self, name: str) -> str:
        oci = self._oci()
        secrets_client, _ = self._clients()
        missing = False
        with _cloud_call("OCI Vault", "reading", name):
            try:
                if name.startswith("ocid1.vaultsecret."):  # a secret's OCID (what the stacks export)
                    bundle = secrets_client.get_secret_bundle(secret_id=name)
                else:
                    bundle = secrets_client.get_secret_bundle_by_name(secret_name=name, vault_id=self.vault_id)
                content = bundle.data.secret_bundle_content.content
                value = base64.b64decode(content).decode("utf-8")
            except oci.exceptions.ServiceError as error:
                if getattr(error, "status", None) != 404:
                    raise
                missing, value = True, ""
        if missing:
            raise SecretMissing(f"secret '{name}' is not in OCI Vault '{self.vault_id}'")
        return str(value)

    def put(self, name: str, value: str) -> None:
        oci = self._oci()
        _, vaults = self._clients()
        content = oci.vault.models.Base64SecretContentDetails(
            content_type="BASE64", content=base64.b64encode(value.encode("utf-8")).decode("ascii")
        )
        with _cloud_call("OCI Vault", "storing", name):
            if self.compartment_id is None:
                raise SecretStoreUnavailable(f"OciVaultStore needs compartment_id to store secret '{name}'")
            found = vaults.list_secrets(compartment_id=self.compartment_id, name=name, vault_id=self.vault_id).data
            if found:
                vaults.update_secret(found[0].id, oci.vault.models.UpdateSecretDetails(secret_content=content))
            else:
                if self.key_id is None:
                    raise SecretStoreUnavailable(f"OciVaultStore needs key_id to create secret '{name}'")
                vaults.create_secret(oci.vault.models.CreateSecretDetails(
                    compartment_id=self.compartment_id, vault_id=self.vault_id, key_id=self.key_id,
                    secret_name=name, secret_content=content,
                ))

    def __repr__(self) -> str:
        return f"OciVaultStore(vault_id={self.vault_id!r})"


class AzureKeyVaultStore:
    """Azure Key Vault at `vault_url` with DefaultAzureCredential (the job's managed identity).
    Key Vault secret names allow letters, digits and hyphens only."""

    def __init__(self, vault_url: str, client: Any = None) -> None:
        self.vault_url = vault_url
        self._client = client

    def _api(self) -> Any:
        if self._client is None:
            secrets_module = _sdk("azure.keyvault.secrets", "azure-keyvault-secrets", "AzureKeyVaultStore")
            identity = _sdk("azure.identity", "azure-identity", "AzureKeyVaultStore")
            self._client = secrets_module.SecretClient(self.vault_url, credential=identity.DefaultAzureCredential())
        return self._client

    def get(self, name: str) -> str:
        api = self._api()
        exceptions = _sdk("azure.core.exceptions", "azure-core", "AzureKeyVaultStore")
        missing = False
        with _cloud_call("Azure Key Vault", "reading", name):
            try:
                value = api.get_secret(name).value
            except exceptions.ResourceNotFoundError:
                missing, value = True, None
        if missing or not value:
            raise SecretMissing(f"secret '{name}' is not in Azure Key Vault {self.vault_url}")
        return str(value)

    def put(self, name: str, value: str) -> None:
        api = self._api()
        with _cloud_call("Azure Key Vault", "storing", name):
            api.set_secret(name, value)

    def __repr__(self) -> str:
        return f"AzureKeyVaultStore(vault_url={self.vault_url!r})"


AZURE_POSTGRES_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"


class AzureEntraTokenSource:
    """Read-only: `get(name)` returns a fresh Microsoft Entra access token for Azure Database for
    PostgreSQL (whatever the name), from DefaultAzureCredential: the job's managed identity, which
    is the server's Entra administrator. Use it as the admin's store on Azure, where the cell's
    server refuses passwords (password_auth DISABLED)."""

    def __init__(self, credential: Any = None, scope: str = AZURE_POSTGRES_SCOPE) -> None:
        self._credential = credential
        self.scope = scope

    def get(self, name: str) -> str:
        if self._credential is None:
            identity = _sdk("azure.identity", "azure-identity", "AzureEntraTokenSource")
            self._credential = identity.DefaultAzureCredential()
        token = ""
        with _cloud_call("Microsoft Entra", "getting a token for", name):
            token = str(self._credential.get_token(self.scope).token)
        return token

    def put(self, name: str, value: str) -> None:
        raise SecretStoreUnavailable(f"cannot store secret '{name}': an Entra token source is read-only")

    def __repr__(self) -> str:
        return f"AzureEntraTokenSource(scope={self.scope!r})"
