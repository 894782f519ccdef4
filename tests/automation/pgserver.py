"""A throwaway PostgreSQL server from the machine's binaries (initdb, pg_ctl, postgres), on a free
loopback port in a temporary folder. Standard library only: `.ci/run` uses it before the virtualenv
exists, and the test fixture uses it when PAYBILL_TEST_POSTGRES_URL is not set.

    python3 tests/automation/pgserver.py start        prints shell `export` lines (URL and folder)
    python3 tests/automation/pgserver.py stop FOLDER  stops the server and removes the folder

initdb refuses to run as root: as root the binaries run as the `postgres` user when it exists, else
as a system user `paybill-pg` created for it (useradd), through runuser.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

URL_ENV = "PAYBILL_TEST_POSTGRES_URL"
DIR_ENV = "PAYBILL_TEST_POSTGRES_DIR"
SKIP_ENV = "PAYBILL_SKIP_POSTGRES"


class Unavailable(RuntimeError):
    """PostgreSQL cannot be started here."""


@dataclass(frozen=True)
class Server:
    url: str
    folder: Path


def binaries() -> dict[str, str]:
    found = {}
    for name in ("initdb", "pg_ctl"):
        path = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)),
                                          None)
        if path is None:
            raise Unavailable(f"the PostgreSQL binary '{name}' is not on PATH nor in /usr/lib/postgresql/*/bin "
                              "(install the postgresql server package)")
        found[name] = path
    return found


def _user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "paybill-pg"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "paybill-pg"],
                   check=True, capture_output=True)
    return "paybill-pg"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(user: str | None, args: list[str]) -> None:
    command = ["runuser", "-u", user, "--", *args] if user else args
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise Unavailable(f"{' '.join(args[:2])} failed: {result.stderr.strip() or result.stdout.strip()}")


def start() -> Server:
    tools = binaries()
    user = _user()
    folder = Path(tempfile.mkdtemp(prefix="paybill-pg-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    data = folder / "data"
    _run(user, [tools["initdb"], "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
    last_error = None
    for _ in range(5):  # a port taken between choosing and binding: choose again
        port = _free_port()
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        try:
            _run(user, [tools["pg_ctl"], "-D", str(data), "-l", str(folder / "server.log"), "-o", options,
                        "-w", "-t", "60", "start"])
            return Server(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", folder)
        except Unavailable as error:
            last_error = error
    shutil.rmtree(folder, ignore_errors=True)
    raise Unavailable(str(last_error))


def stop(folder: Path) -> None:
    data = folder / "data"
    if (data / "postmaster.pid").exists():
        with contextlib.suppress(Unavailable):
            _run(_user(), [binaries()["pg_ctl"], "-D", str(data), "-m", "immediate", "-w", "stop"])
    shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    if argv[:1] == ["start"]:
        server = start()
        print(f"export {URL_ENV}={shlex.quote(server.url)}")
        print(f"export {DIR_ENV}={shlex.quote(str(server.folder))}")
        return 0
    if argv[:1] == ["stop"] and len(argv) == 2:
        stop(Path(argv[1]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
