"""Writing files that other tools read: never half a file where a whole one was, and never a file that a
power cut can take back.

`atomic_write` writes a temporary file beside the target, flushes it to the disk (fsync), gives it the
target's permission bits (a new file gets what `open` would give it: 0666 less the umask, not the 0600
of a temporary file), renames it over the target, then flushes the folder so that the rename itself
survives a crash. A reader sees the old bytes or the new ones, never a mix, and after a crash the file
is the old one or the new one, never empty.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def file_mode(path: Path) -> int:
    """The permission bits `path` has, or those a new file would get (0666 less the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename or a new file in it) to the disk, where the platform can."""
    try:
        handle = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # a platform that cannot open folders (Windows): its rename is durable enough
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace `path` with `data`: a temporary file in the same folder, fsync, the target's mode (or
    `mode`), rename, fsync of the folder."""
    path = Path(path)
    wanted = file_mode(path) if mode is None else mode
    import tempfile  # here: comparing generated files (a no-op generate) needs neither tempfile nor shutil

    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fchmod(stream.fileno(), wanted)
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    fsync_dir(path.parent)


def compare_bytes(path: Path, data: bytes) -> tuple[bytes | None, bool]:
    """(the bytes to write, or None when the file holds them already; whether a file exists there)."""
    try:
        current: bytes | None = path.read_bytes()
    except FileNotFoundError:
        current = None
    return (None if current == data else data), current is not None


def write_generated(path: Path, data: bytes, *, replace: bool) -> None:
    """Write a generated file (a stack file, a manifest). An existing file is replaced atomically, so a crash
    never leaves half of it where a whole one was; a new file is created exclusively without a sync per file
    (a crash leaves at most a partial new file, which the next run, or --check, finds stale)."""
    if replace:
        atomic_write(path, data)
        return
    with open(path, "xb") as stream:
        stream.write(data)
