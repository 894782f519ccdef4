"""Who acts when the command line runs an operation locally: the OS user, as `human:<user>`. The journal
and approvals record it; no option or environment variable can name someone else (agents act through the
service, with a token: paybill_iac.service)."""

from __future__ import annotations

import getpass
import os
import pwd
import re

_INVALID = re.compile(r"[^a-z0-9._-]+")


def os_user() -> str:
    """The login name of the process's real user (its uid, not $USER, which a caller can set)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid without a passwd entry (containers)
        return f"uid{os.getuid()}" if hasattr(os, "getuid") else getpass.getuser()


def local_actor(user: str | None = None) -> str:
    """`human:<user>` for the OS user (lowercased; characters an actor name cannot hold become '-')."""
    name = _INVALID.sub("-", (user or os_user()).lower()).strip("-._")[:63] or "unknown"
    if not name[0].isalnum():
        name = f"u{name}"[:63]
    return f"human:{name}"
