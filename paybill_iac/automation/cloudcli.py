"""The cloud CLI commands the lifecycle workflows run where no Pulumi resource does the job, built as plain
argument lists (tested without the CLIs) and run through a `CommandRunner`.

    gcp_backup_commands(instance, project, description)   Cloud SQL has no on-demand backup resource in the
                                                          provider: `gcloud sql backups create` (synchronous),
                                                          then the backup found by its description
    oci_empty_bucket_command(namespace, bucket)           OCI deletes only an empty bucket and has no force
                                                          option: every object version goes first
    final_backup(...), empty_buckets(...)                 the steps (journaled by workflows through
                                                          outside.run_outside_step)

`Settings.cloud_cli` (default `run_command`: the CLI on this machine, its own credentials) runs them; tests
give a runner double that records the argument lists and answers as the CLI would.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from paybill_iac.errors import OperationError, UsageError

CommandRunner = Callable[[Sequence[str]], str]
"""Runs one CLI command (an argument list) and returns its standard output; raises OperationError when it
fails and UsageError when the CLI is not installed."""

COMMAND_TIMEOUT = 3600.0
"""A final backup of a large database takes long; a command that hangs longer is stopped."""


class CloudCommandFailed(OperationError):
    """A cloud CLI command exited with an error (its message names the command and quotes the CLI)."""


def run_command(argv: Sequence[str]) -> str:
    """Run `argv` with the CLI installed here (its own login and configuration)."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=COMMAND_TIMEOUT)
    except FileNotFoundError:
        raise UsageError(f"the `{argv[0]}` CLI is not installed on this machine, and `{' '.join(argv[:4])} ...` "
                         "needs it: install it and log in, or give the automation a cloud_cli runner") from None
    except subprocess.TimeoutExpired:
        raise CloudCommandFailed(f"`{' '.join(argv)}` did not finish within {COMMAND_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise CloudCommandFailed(f"`{' '.join(argv)}` failed (exit {done.returncode}): {' '.join(said)}")
    return done.stdout


def gcp_backup_commands(instance: str, project: str, description: str) -> tuple[list[str], list[str]]:
    """The on-demand backup of a Cloud SQL instance, and the listing that finds it by its description (the
    create command answers with its operation, whose backup id is not always filled in)."""
    create = ["gcloud", "sql", "backups", "create", f"--instance={instance}", f"--project={project}",
              f"--description={description}", "--format=json"]
    find = ["gcloud", "sql", "backups", "list", f"--instance={instance}", f"--project={project}",
            f"--filter=description={json.dumps(description)}", "--sort-by=~windowStartTime", "--limit=1",
            "--format=json"]
    return create, find


def oci_empty_bucket_command(namespace: str, bucket: str) -> list[str]:
    """Delete every object version of an OCI bucket (all of them: the bucket keeps versions), unprompted."""
    return ["oci", "os", "object", "bulk-delete-versions", "--namespace-name", namespace, "--bucket-name", bucket,
            "--force"]


@dataclass(frozen=True)
class FinalBackup:
    """A tenant's final backup as the journal and the workflow record keep it."""

    kind: str
    id: str
    taken_by: str
    details: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "taken_by": self.taken_by, **dict(self.details)}


def _loads(text: str, argv: Sequence[str]) -> Any:
    try:
        return json.loads(text or "null")
    except ValueError:
        raise CloudCommandFailed(f"`{' '.join(argv)}` did not answer JSON: {text[:200]!r}") from None


def gcp_final_backup(run: CommandRunner, instance: str, project: str, description: str) -> FinalBackup:
    """Take the on-demand backup of `instance` and return it with the id Cloud SQL gave it."""
    create, find = gcp_backup_commands(instance, project, description)
    answer = _loads(run(create), create)
    backup_id = ""
    if isinstance(answer, Mapping):
        context = answer.get("backupContext")
        backup_id = str((context or {}).get("backupId") or "") if isinstance(context, Mapping) else ""
    if not backup_id:
        listed = _loads(run(find), find)
        if isinstance(listed, list) and listed and isinstance(listed[0], Mapping):
            backup_id = str(listed[0].get("id") or "")
    if not backup_id:
        raise CloudCommandFailed(f"the on-demand backup of Cloud SQL instance '{instance}' was requested, but no "
                                 f"backup with description '{description}' is listed: check `{' '.join(find)}`")
    return FinalBackup("cloud sql on-demand backup", backup_id, "the offboarding workflow (gcloud)",
                       {"instance": instance, "project": project, "description": description,
                        "commands": [" ".join(create)]})


def from_outputs(final_backup: Mapping[str, Any] | None) -> FinalBackup | None:
    """The final backup a stack took itself (its `final_backup` output: RDS snapshot, Azure on-demand backup,
    OCI psql backup, a pooled tenant's dump), or None when the stack exports none."""
    if not isinstance(final_backup, Mapping) or not final_backup:
        return None
    identifier = final_backup.get("id") or final_backup.get("arn") or final_backup.get("name") or ""
    rest = {key: value for key, value in final_backup.items() if key not in ("kind", "id", "taken_by")}
    return FinalBackup(str(final_backup.get("kind") or "backup"), str(identifier),
                       str(final_backup.get("taken_by") or "the stack"), rest)


def empty_buckets(run: CommandRunner, buckets: Sequence[tuple[str, str]]) -> list[str]:
    """Empty each (namespace, bucket); returns the commands run, for the journal."""
    ran = []
    for namespace, bucket in buckets:
        command = oci_empty_bucket_command(namespace, bucket)
        run(command)
        ran.append(" ".join(command))
    return ran
