"""The project root: `paybill.yaml`, and where everything a command reads or writes lives.

A project is the folder holding `paybill.yaml`, found by walking up from the working directory (or
given with `paybill-iac -C DIR`). The file names the catalog, the stacks folder (the tenant/ and cell/
Pulumi projects), the state location and the Pulumi backend; every key is optional:

    catalog: stacks/catalog        # the catalog folder
    stacks: stacks                 # holds tenant/ and cell/ (each a Pulumi project: Pulumi.yaml, __main__.py)
    state:
      dir: .paybill                # work dirs, saved plans, the default database and the default file backend
      url: postgresql+psycopg://paybill@db.internal/paybill   # default: sqlite:///<state.dir>/state.db
    backend: s3://acme-pulumi-state   # any Pulumi backend URL; default: file://<state.dir>/backend
    pull_requests: {agents: []}    # read by the pull-request workflow
    pko: {...}                     # the operator engine's settings (paybill_iac.pko.settings)

Relative paths in the file are resolved against the project root, never the working directory; paths
typed on the command line (or in PAYBILL_* variables) against the working directory, as a shell user
expects. Resolution order of each value: the command line (or its PAYBILL_* variable), then
paybill.yaml, then the project's default. Without a project, the catalog and stacks default to
`stacks/catalog` and `stacks` under the working directory (today's layout), and there is no state
location: a command that writes state refuses until one is given (`--state-dir`, PAYBILL_STATE_URL) or
a paybill.yaml exists. Pure apart from reading that one file and looking at the folders named.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paybill_iac.errors import UsageError

PROJECT_FILE = "paybill.yaml"
DEFAULT_CATALOG = Path("stacks/catalog")
DEFAULT_STACKS = Path("stacks")
DEFAULT_STATE_DIR = Path(".paybill")
STACK_KINDS = ("tenant", "cell")
CATALOG_ENV = "PAYBILL_CATALOG"
STATE_DIR_ENV = "PAYBILL_STATE_DIR"
STATE_URL_ENV = "PAYBILL_STATE_URL"
BACKEND_ENV = "PAYBILL_BACKEND_URL"

# paybill.yaml's keys: (expected type, what it is). One table for validation, messages and the README.
_KEYS: dict[str, tuple[type, str]] = {
    "catalog": (str, "a folder path"),
    "stacks": (str, "a folder path"),
    "state": (dict, "a mapping with dir and url"),
    "backend": (str, "a Pulumi backend URL"),
    "pull_requests": (dict, "a mapping (agents: [...])"),
    "pko": (dict, "a mapping (the operator engine's settings)"),
    "drift": (dict, "a mapping (schedule_hours, hook: drift checks, paybill_iac.automation.drift)"),
}
_STATE_KEYS: dict[str, tuple[type, str]] = {
    "dir": (str, "a folder path"),
    "url": (str, "a database URL (sqlite:///path or postgresql+psycopg://...)"),
}


@dataclass(frozen=True)
class Project:
    """Where one command's files live, every path absolute."""

    root: Path | None
    """The folder holding paybill.yaml; None when there is none (explicit arguments only)."""
    catalog: Path
    stacks: Path
    state_dir: Path | None
    """None: no project and no --state-dir; a command that writes state refuses (`require_state_dir`)."""
    state_url: str | None = None
    backend_url: str = ""
    settings: Mapping[str, Any] | None = None
    """paybill.yaml's content as read (validated), for the sections other modules own (pko, pull_requests)."""

    @property
    def file(self) -> Path | None:
        return self.root / PROJECT_FILE if self.root is not None else None

    def describe(self) -> str:
        """One line saying which project a command used."""
        if self.root is None:
            return ("no project (no paybill.yaml in the working directory or above): paths from the command line "
                    f"and the defaults; catalog {self.catalog}")
        return f"project {self.root} (paybill.yaml); catalog {self.catalog}"

    def require_state_dir(self, what: str = "this command") -> Path:
        """The state folder, or a UsageError saying how to name one: state never lands in an arbitrary
        working directory."""
        if self.state_dir is None:
            raise no_state_folder(what)
        return self.state_dir

    def database_url(self, what: str = "this command") -> str:
        """The state database: state_url, else the SQLite file in the state folder (refused without one)."""
        return self.state_url or f"sqlite:///{self.require_state_dir(what) / 'state.db'}"

    def missing_database(self) -> str | None:
        """Why a read-only command has nothing to read, found without creating anything: no state named at all,
        or a SQLite state file that does not exist yet. None: it exists (or is a server's database)."""
        if self.state_url is None and self.state_dir is None:
            return (f"no project ({PROJECT_FILE}) and no --state-dir or {STATE_URL_ENV}: no state to read")
        url = self.database_url()
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
            return f"no state database at {url.removeprefix('sqlite:///')} yet: nothing has run with this state"
        return None

    def stack_programs(self) -> dict[str, Path]:
        """The tenant and cell program folders under `stacks`, checked (see `check_stack_programs`)."""
        return check_stack_programs(self.stacks)


def no_state_folder(what: str) -> UsageError:
    """The refusal of a command that would write state with nowhere named to keep it."""
    return UsageError(f"{what} keeps state (leases, journal, work dirs) and there is no project to keep it in: no "
                      f"{PROJECT_FILE} in {Path.cwd()} or above. Run it from your project (or `-C DIR`), create a "
                      f"{PROJECT_FILE} at the project root, or name the state folder with --state-dir DIR or "
                      f"${STATE_DIR_ENV}")


def check_stack_programs(stacks: Path) -> dict[str, Path]:
    """{kind: folder} of the tenant and cell Pulumi projects under `stacks`; a UsageError naming the first
    missing folder or file (Pulumi.yaml, __main__.py) otherwise."""
    return {kind: check_program(stacks / kind) for kind in STACK_KINDS}


def check_program(folder: Path) -> Path:
    """`folder` (stacks/tenant or stacks/cell), absolute, once checked to be a Pulumi project with its program."""
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder: the stacks folder {folder.parent} must hold the tenant/ and "
                         f"cell/ Pulumi projects (set `stacks:` in {PROJECT_FILE}, or copy stacks/{folder.name} "
                         "from the paybill-iac repository)")
    for name in ("Pulumi.yaml", "__main__.py"):
        if not (folder / name).is_file():
            raise UsageError(f"{folder / name}: missing: {folder} is not a stack program (a Pulumi project with "
                             "Pulumi.yaml and __main__.py)")
    return folder.resolve()


def find_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` holding paybill.yaml."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    return None


def read_settings(file: Path) -> dict[str, Any]:
    """paybill.yaml, validated: an unknown key or a wrong type is a UsageError naming the file and the key."""
    import yaml

    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"{file}: cannot read the project file: {error.strerror or error}") from None
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
    except yaml.YAMLError as error:
        raise UsageError(f"{file}: not valid YAML: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{file}: expected a mapping of settings ({', '.join(_KEYS)}), got {type(data).__name__}")
    _check_keys(file, data, _KEYS, "")
    state = data.get("state")
    if isinstance(state, dict):
        _check_keys(file, state, _STATE_KEYS, "state.")
    return data


def _check_keys(file: Path, data: dict[Any, Any], known: dict[str, tuple[type, str]], prefix: str) -> None:
    for key, value in data.items():
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean '{prefix}{close[0]}'?" if close else f"; known keys: {', '.join(known)}"
            raise UsageError(f"{file}: unknown key '{prefix}{key}'{hint}")
        expected, what = known[key]
        if value is not None and not isinstance(value, expected):
            raise UsageError(f"{file}: key '{prefix}{key}' must be {what}, got {type(value).__name__} {value!r}")


def resolve(*, directory: Path | None = None, catalog: Path | None = None, stacks: Path | None = None,
            state_dir: Path | None = None, state_url: str | None = None, backend_url: str | None = None,
            environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Project:
    """The Project of one command. `directory`: `-C DIR` (the project root, or a folder inside it);
    otherwise the working directory, walking up. The other arguments are what the command line gave
    (None: not given); PAYBILL_CATALOG, PAYBILL_STATE_DIR, PAYBILL_STATE_URL and PAYBILL_BACKEND_URL come
    next, then paybill.yaml, then the defaults."""
    env = os.environ if environ is None else environ
    here = (cwd or Path.cwd()).resolve()
    if directory is not None:
        given = here / directory
        if not given.is_dir():
            raise UsageError(f"-C {directory}: no such folder ({given})")
        root = find_root(given)
        if root is None:
            raise UsageError(f"-C {directory}: no {PROJECT_FILE} in {given.resolve()} or above; create one at the "
                             "project root (see README, 'Where things live')")
    else:
        root = find_root(here)

    def from_user(value: Path | None, variable: str | None) -> Path | None:
        if value is None and variable and env.get(variable):
            value = Path(env[variable])
        return (here / value).resolve() if value is not None else None

    typed_catalog = from_user(catalog, CATALOG_ENV)
    if typed_catalog is not None and root is not None and not typed_catalog.is_relative_to(root):
        # A catalog of another folder is not this project's: its stacks and state are those of the project it
        # lies in (or none), so that generated files and state never mix two catalogs.
        root = find_root(typed_catalog)
    settings = read_settings(root / PROJECT_FILE) if root is not None else {}
    state_settings = settings.get("state") or {}

    def from_file(value: str | None, default: Path | None) -> Path | None:
        base = root if root is not None else here
        chosen = Path(value) if value else default
        return (base / chosen).resolve() if chosen is not None else None

    return Project(
        root=root,
        catalog=typed_catalog or from_file(settings.get("catalog"), DEFAULT_CATALOG) or here,
        stacks=from_user(stacks, None) or _stacks(settings.get("stacks"), root, typed_catalog, here),
        state_dir=from_user(state_dir, STATE_DIR_ENV)
        or (from_file(state_settings.get("dir"), DEFAULT_STATE_DIR) if root is not None else None),
        state_url=state_url or env.get(STATE_URL_ENV) or _sqlite_in_root(state_settings.get("url"), root),
        backend_url=backend_url or env.get(BACKEND_ENV) or _file_url_in_root(settings.get("backend"), root) or "",
        settings=settings,
    )


def _stacks(configured: str | None, root: Path | None, typed_catalog: Path | None, here: Path) -> Path:
    """paybill.yaml's stacks, else <root>/stacks; without a project, the folder beside a typed catalog (the
    layout stacks/catalog), else ./stacks."""
    if root is not None:
        return (root / (configured or DEFAULT_STACKS)).resolve()
    if typed_catalog is not None:
        return typed_catalog.parent
    return (here / DEFAULT_STACKS).resolve()


def _sqlite_in_root(url: str | None, root: Path | None) -> str | None:
    """A relative SQLite path in paybill.yaml (sqlite:///state/x.db) is relative to the project root."""
    prefix = "sqlite:///"
    if url and root is not None and url.startswith(prefix) and not url[len(prefix):].startswith("/"):
        return f"{prefix}{(root / url[len(prefix):]).resolve()}"
    return url


def _file_url_in_root(url: str | None, root: Path | None) -> str | None:
    """A relative file backend in paybill.yaml (file://state/backend) is relative to the project root."""
    prefix = "file://"
    if url and root is not None and url.startswith(prefix) and not url[len(prefix):].startswith(("/", "~")):
        return f"{prefix}{(root / url[len(prefix):]).resolve()}"
    return url


def for_catalog(catalog: Path) -> Project:
    """The project a catalog folder belongs to (walking up from it), for library callers that name only a
    catalog: its stacks and state; without a paybill.yaml above it, the folder beside the catalog."""
    catalog = Path(catalog).resolve()
    return resolve(catalog=catalog, environ={}, cwd=catalog)
