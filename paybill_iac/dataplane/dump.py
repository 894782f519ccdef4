"""A ready-made final-dump hook for `offboard`: `pg_dump --format=custom` of the tenant database.

The password travels in the child's environment (PGPASSWORD), never on its command line (which
other users of the machine can read in the process list); pg_dump's messages are scrubbed of it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from paybill_iac.dataplane.errors import DumpFailed
from paybill_iac.dataplane.model import AdminConnection
from paybill_iac.dataplane.ops import DumpHook
from paybill_iac.dataplane.secretstore import SecretStore, read_secret

__all__ = ["pg_dump_hook"]


def pg_dump_hook(directory: Path | str, secrets: SecretStore | None = None, *, pg_dump: str = "pg_dump",
                 timeout: float = 3600.0) -> DumpHook:
    """A hook writing `<directory>/<database>.dump` (custom format, restorable with pg_restore)."""
    folder = Path(directory)

    def hook(database: str, where: AdminConnection) -> None:
        binary = shutil.which(pg_dump) or (pg_dump if Path(pg_dump).is_file() else None)
        if binary is None:
            raise DumpFailed(f"pg_dump ('{pg_dump}') is not installed here: install the PostgreSQL client")
        password: str | None = None
        if where.password_secret is not None:
            if secrets is None:
                raise DumpFailed(f"the admin password secret '{where.password_secret}' needs a secret store")
            password = read_secret(secrets, where.password_secret, where.password_field)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{database}.dump"
        env = {**os.environ, "PGSSLMODE": where.sslmode, "PGCONNECT_TIMEOUT": str(where.connect_timeout)}
        if password is not None:
            env["PGPASSWORD"] = password
        command = [binary, "--format=custom", f"--file={target}", f"--host={where.host}", f"--port={where.port}",
                   f"--username={where.user}", f"--dbname={database}", "--no-password"]
        try:
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise DumpFailed(f"pg_dump of '{database}' did not finish within {timeout:.0f} s") from None
        if result.returncode != 0:
            message = (result.stderr or result.stdout).strip().splitlines()
            text = message[-1] if message else f"exit status {result.returncode}"
            if password:
                text = text.replace(password, "***")
            raise DumpFailed(f"pg_dump of '{database}' failed: {text}")

    return hook
