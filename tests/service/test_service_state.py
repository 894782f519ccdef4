"""The service's state folder comes from the catalog's project, never from the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from paybill_iac.errors import UsageError
from paybill_iac.service.core import ServiceConfig


def test_the_state_of_a_project_catalog_is_the_project_s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYBILL_STATE_URL", raising=False)
    (tmp_path / "paybill.yaml").write_text("")
    (tmp_path / "catalog").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = ServiceConfig(catalog_dir=tmp_path / "catalog")
    assert config.state_folder() == tmp_path.resolve() / ".paybill"
    assert config.database_url == f"sqlite:///{tmp_path.resolve() / '.paybill' / 'state.db'}"
    assert not (elsewhere / ".paybill").exists()


def test_a_catalog_outside_any_project_needs_a_named_state_folder(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYBILL_STATE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "catalog").mkdir()
    with pytest.raises(UsageError, match="the service keeps state"):
        _ = ServiceConfig(catalog_dir=tmp_path / "catalog").database_url
    named = ServiceConfig(catalog_dir=tmp_path / "catalog", state_dir=tmp_path / "state")
    assert named.database_url.endswith("state/state.db")
    assert not (tmp_path / ".paybill").exists()
