"""The operator engine's project settings: where the stack programs come from, which Kubernetes
Secrets hold the backend's and the clouds' credentials, and how each stack's workspace is sized.

They are read from the `pko:` section of the project file `paybill.yaml` (project root; `--settings
FILE` or `PAYBILL_SETTINGS` name another). Only that section is read: the rest of the file belongs to
other settings, so this section moves as it is when the project file grows. Example:

    pko:
      namespace: paybill-stacks
      program:
        git: {repo: "https://github.com/acme/paybill-iac.git", branch: main,
              auth: {secret: paybill-git, key: accessToken}}
        # or: flux: {kind: GitRepository, name: paybill-iac}
        tenant_dir: stacks/tenant
        cell_dir: stacks/cell
      backend:
        url: {secret: pulumi-backend, key: url}                  # PULUMI_BACKEND_URL
        access_token: {secret: pulumi-api, key: accessToken}     # PULUMI_ACCESS_TOKEN (Pulumi Cloud)
        passphrase: {secret: pulumi-backend, key: passphrase}    # PULUMI_CONFIG_PASSPHRASE (self-managed)
        secrets_provider: "awskms://alias/paybill-state?region=eu-west-1"
      credentials:                      # per cloud: environment variable -> Secret key; a stack gets its cloud's
        aws: {AWS_ACCESS_KEY_ID: {secret: aws-deployer, key: id},
              AWS_SECRET_ACCESS_KEY: {secret: aws-deployer, key: secret}}
      service_account: paybill-workspace
      workspace: {image: "ghcr.io/acme/paybill-workspace:1.4.0", requests: {cpu: 500m, memory: 1Gi},
                  limits: {memory: 2Gi}}
      retry_max_backoff_seconds: 3600

Backend, secrets and cloud credentials can only be given as Secret references (`{secret, key}`): the
model has no field for an inline value, so none can reach a manifest (the secrets provider is a key's
URL, not a secret). Pure data: no Kubernetes client here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from paybill_iac.errors import UsageError

SETTINGS_FILE = "paybill.yaml"
SETTINGS_ENV = "PAYBILL_SETTINGS"
SECTION = "pko"

# A Kubernetes object name (RFC 1123 subdomain) and a Secret's data key.
_OBJECT_NAME = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
_SECRET_KEY = r"^[-._a-zA-Z0-9]{1,253}$"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Kubernetes quantities (resource.Quantity), as the CRD's own pattern for requests and limits.
_NUMBER = r"(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
_QUANTITY = rf"^(\+|-)?{_NUMBER}(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?{_NUMBER}))?$"
CLOUDS = ("aws", "azure", "gcp", "oci")
_PROVIDER = r"^(awskms|azurekeyvault|gcpkms|hashivault|passphrase)://"
# The environment variables the Pulumi CLI reads for the backend (https://www.pulumi.com/docs/iac/cli/environment-variables/).
BACKEND_URL_ENV = "PULUMI_BACKEND_URL"
ACCESS_TOKEN_ENV = "PULUMI_ACCESS_TOKEN"
PASSPHRASE_ENV = "PULUMI_CONFIG_PASSPHRASE"

Name = Annotated[str, Field(strict=True, pattern=_OBJECT_NAME)]
Quantity = Annotated[str, Field(strict=True, pattern=_QUANTITY)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SecretRef(_Model):
    """A key of a Kubernetes Secret in the stacks' namespace (the operator reads Secrets of the Stack's own
    namespace only: its `ResourceRef` secret selector deprecates `namespace`)."""

    secret: Name
    key: Annotated[str, Field(strict=True, pattern=_SECRET_KEY)]

    def env_ref(self) -> dict[str, Any]:
        """As a Stack's `envRefs` entry (pulumi-kubernetes-operator operator/api/pulumi/shared/stack_types.go,
        ResourceRef with type Secret)."""
        return {"type": "Secret", "secret": {"name": self.secret, "key": self.key}}


class GitSource(_Model):
    """The program's git repository (Stack spec.projectRepo, branch or commit, gitAuth)."""

    repo: Annotated[str, Field(strict=True, min_length=1, pattern=r"^(https://|ssh://|git@)\S+$")]
    branch: Annotated[str, Field(strict=True, min_length=1)] | None = None
    commit: Annotated[str, Field(strict=True, pattern=r"^[0-9a-f]{7,40}$")] | None = None
    auth: SecretRef | None = None
    """A personal access token (gitAuth.accessToken); None for a public repository."""
    ssh_key: SecretRef | None = None
    """An SSH private key (gitAuth.sshAuth.sshPrivateKey)."""

    @model_validator(mode="after")
    def _one_ref(self) -> GitSource:
        # The operator: "Commit ... is mutually exclusive with the Branch setting. Either value needs to be
        # specified." (GitSource in stack_types.go)
        if (self.branch is None) == (self.commit is None):
            raise ValueError("give exactly one of branch and commit")
        if self.auth is not None and self.ssh_key is not None:
            raise ValueError("give one of auth (an access token) and ssh_key, not both")
        return self


class FluxSource(_Model):
    """A Flux source object holding the program (Stack spec.fluxSource.sourceRef)."""

    kind: Annotated[str, Field(strict=True, pattern=r"^(GitRepository|OCIRepository|Bucket)$")]
    name: Name
    api_version: Annotated[str, Field(strict=True, min_length=1)] = "source.toolkit.fluxcd.io/v1"


class Program(_Model):
    git: GitSource | None = None
    flux: FluxSource | None = None
    tenant_dir: Annotated[str, Field(strict=True, min_length=1)] = "stacks/tenant"
    cell_dir: Annotated[str, Field(strict=True, min_length=1)] = "stacks/cell"

    @model_validator(mode="after")
    def _one_source(self) -> Program:
        if (self.git is None) == (self.flux is None):
            raise ValueError("give exactly one program source: git or flux")
        for folder in (self.tenant_dir, self.cell_dir):
            if folder.startswith("/") or ".." in Path(folder).parts:
                raise ValueError(f"'{folder}' must be a folder inside the repository (relative, no '..')")
        return self


class Backend(_Model):
    url: SecretRef | None = None
    """PULUMI_BACKEND_URL; None: Pulumi Cloud."""
    access_token: SecretRef | None = None
    passphrase: SecretRef | None = None
    secrets_provider: Annotated[str, Field(strict=True, pattern=_PROVIDER)] | None = None

    @model_validator(mode="after")
    def _usable(self) -> Backend:
        if self.url is None and self.access_token is None:
            raise ValueError("give the backend's url (a self-managed backend) or an access_token (Pulumi Cloud)")
        return self


class Workspace(_Model):
    image: Annotated[str, Field(strict=True, min_length=1)] | None = None
    """A workspace image with the Pulumi CLI (3.202 or later: structured stack config), Python 3.11 and
    paybill-iac installed; None: the operator's default image (pulumi/pulumi)."""
    requests: dict[str, Quantity] = Field(default_factory=lambda: {"cpu": "500m", "memory": "1Gi"})
    limits: dict[str, Quantity] = Field(default_factory=dict)


class PkoSettings(_Model):
    namespace: Annotated[str, Field(strict=True, pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")] = "paybill-stacks"
    program: Program
    backend: Backend
    credentials: dict[str, dict[str, SecretRef]] = Field(default_factory=dict)
    service_account: Name | None = None
    workspace: Workspace = Workspace()
    retry_max_backoff_seconds: Annotated[int, Field(strict=True, ge=10, le=86400)] = 3600
    """spec.retryMaxBackoffDurationSeconds: the longest wait between retries of a failed update (the operator
    triples a 10 s cooldown per failure up to this; its own default is a day)."""
    resync_seconds: Annotated[int, Field(strict=True, ge=60, le=86400)] | None = None
    """spec.resyncFrequencySeconds (the operator's minimum is 60); None: the operator's default."""

    @model_validator(mode="after")
    def _credentials(self) -> PkoSettings:
        for cloud, refs in self.credentials.items():
            if cloud not in CLOUDS:
                raise ValueError(f"credentials: '{cloud}' is not one of {', '.join(CLOUDS)}")
            for env in refs:
                if not _ENV_NAME.match(env):
                    raise ValueError(f"credentials.{cloud}: '{env}' is not an environment variable name")
        return self


def settings_path(explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit
    return Path(os.environ.get(SETTINGS_ENV) or SETTINGS_FILE)


def parse_settings(data: Any, source: str = SETTINGS_FILE) -> PkoSettings:
    """The `pko:` section of a parsed project file; UsageError naming the field and the value otherwise."""
    if not isinstance(data, dict) or not isinstance(data.get(SECTION), dict):
        raise UsageError(f"{source}: no `{SECTION}:` section (the operator engine's settings: program source, "
                         "backend and credential Secrets; see README, 'Fleets on the Pulumi Kubernetes Operator')")
    try:
        return PkoSettings.model_validate(data[SECTION])
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in (SECTION, *item["loc"]))
            shown = "" if item["type"] == "missing" else f" (got {item.get('input')!r})"
            problems.append(f"  {where}: {item['msg']}{shown}")
        raise UsageError(f"{source}: the `{SECTION}:` settings cannot be used:\n" + "\n".join(problems)) from None


def load_settings(path: Path | None = None) -> PkoSettings:
    from paybill_iac.catalog import yamlio

    found = settings_path(path)
    if not found.is_file():
        raise UsageError(f"{found}: no such project file; the operator engine reads its settings from the "
                         f"`{SECTION}:` section of {SETTINGS_FILE} (or --settings FILE, ${SETTINGS_ENV})")
    try:
        data = yamlio.load_file(found)
    except Exception as error:  # noqa: BLE001 - any YAML problem is the user's file
        raise UsageError(f"{found}: not valid YAML: {error}") from None
    return parse_settings(data, str(found))
