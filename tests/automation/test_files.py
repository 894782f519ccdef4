"""paybill_iac.files.atomic_write: the file's mode is kept, the data and the rename reach the disk."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import paybill_iac.files as files


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text("state: active\n")
    path.chmod(0o644)
    files.atomic_write(path, b"state: suspended\n")
    assert path.read_bytes() == b"state: suspended\n" and _mode(path) == 0o644
    path.chmod(0o640)
    files.atomic_write(path, b"state: active\n")
    assert _mode(path) == 0o640


def test_a_new_file_gets_what_open_would_give_it(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        files.atomic_write(tmp_path / "new.yaml", b"x: 1\n")
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "new.yaml") == 0o644  # not the 0600 of a temporary file
    files.atomic_write(tmp_path / "secret.yaml", b"x: 1\n", mode=0o600)
    assert _mode(tmp_path / "secret.yaml") == 0o600


def test_the_file_and_its_folder_are_flushed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real = os.fsync

    def fsync(handle: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(handle).st_mode) else "file")
        real(handle)

    monkeypatch.setattr(os, "fsync", fsync)
    files.atomic_write(tmp_path / "ledger.yaml", b"placements: {}\n")
    assert synced == ["file", "dir"]  # the data before the rename, then the rename itself


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text("old\n")

    def broken(source: str, target: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        files.atomic_write(path, b"new\n")
    assert path.read_text() == "old\n" and [entry.name for entry in tmp_path.iterdir()] == ["acme.yaml"]
