"""The memo of current stack files lets a no-op `generate` skip rendering; it must never hide a file that is
not what the catalog renders."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from paybill_iac import generate as generation
from paybill_iac.catalog import load_catalog
from paybill_iac.generate import generate
from paybill_iac.model import spec as specs


@pytest.fixture
def memo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The memo on for the example catalog (a small one), in a folder of this test's own."""
    monkeypatch.setattr(generation, "MEMO_THRESHOLD", 1)
    monkeypatch.setenv("PAYBILL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "generate.memo"


def _rendering(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tenants whose files the next generate renders."""
    rendered: list[str] = []
    original = generation._tenant_source

    def counting(spec: specs.TenantSpec) -> str:
        rendered.append(spec.tenant)
        return original(spec)

    monkeypatch.setattr(generation, "_tenant_source", counting)
    return rendered


def test_a_no_op_generate_renders_nothing_and_still_finds_every_edit(
        catalog_dir: Path, tmp_path: Path, memo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    first = generate(load_catalog(catalog_dir), out)
    assert memo.is_file() and first.written
    rendered = _rendering(monkeypatch)
    again = generate(load_catalog(catalog_dir), out)
    assert again.written == [] and rendered == []

    hooli = out / "tenant" / "Pulumi.hooli.yaml"
    hooli.write_text(hooli.read_text().replace('"eu-west-1"', '"eu-west-2"'))  # a hand edit
    (out / "tenant" / "Pulumi.acme.yaml").unlink()
    tenant_file = catalog_dir / "tenants" / "globex.yaml"
    tenant_file.write_text(tenant_file.read_text().replace("state: active", "state: suspended"))  # a catalog edit
    edited = generate(load_catalog(catalog_dir), out)
    assert {path.name for path in edited.written} == {"Pulumi.hooli.yaml", "Pulumi.acme.yaml", "Pulumi.globex.yaml"}
    assert sorted(rendered) == ["acme", "globex", "hooli"]
    assert generate(load_catalog(catalog_dir), out, check=True).stale == []


def test_another_tenant_s_file_under_a_name_is_rendered_again(catalog_dir: Path, tmp_path: Path, memo: Path) -> None:
    out = tmp_path / "out"
    generate(load_catalog(catalog_dir), out)
    tenant = out / "tenant"
    (tenant / "Pulumi.hooli.yaml").write_bytes((tenant / "Pulumi.initech.yaml").read_bytes())
    assert [path.name for path in generate(load_catalog(catalog_dir), out).written] == ["Pulumi.hooli.yaml"]


@pytest.mark.parametrize("damage", [
    lambda raw: raw[:-3],  # torn
    lambda raw: raw.replace(b"memo 1", b"memo 0"),  # another version of the memo
    lambda raw: raw[:generation.MEMO_VERSION.__len__()] + b"0" * 32 + raw[generation.MEMO_VERSION.__len__() + 32:],
])
def test_a_memo_of_other_code_or_a_torn_one_is_ignored(catalog_dir: Path, tmp_path: Path, memo: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       damage: typing.Callable[[bytes], bytes]) -> None:
    out = tmp_path / "out"
    generate(load_catalog(catalog_dir), out)
    memo.write_bytes(damage(memo.read_bytes()))
    rendered = _rendering(monkeypatch)
    assert generate(load_catalog(catalog_dir), out).written == []
    assert rendered  # nothing was taken from it
    assert generation._read_memo(memo)  # and it was written again


def test_check_writes_no_memo_and_small_catalogs_use_none(catalog_dir: Path, tmp_path: Path, memo: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    generate(load_catalog(catalog_dir), tmp_path / "out", check=True)
    assert not memo.exists()
    monkeypatch.setattr(generation, "MEMO_THRESHOLD", 1000)
    generate(load_catalog(catalog_dir), tmp_path / "out")
    assert not memo.exists()
    monkeypatch.setenv("PAYBILL_CACHE_DIR", "")
    monkeypatch.setattr(generation, "MEMO_THRESHOLD", 1)
    generate(load_catalog(catalog_dir), tmp_path / "out")
    assert not memo.exists()


def _held_types(hint: object) -> typing.Iterator[type]:
    for arg in typing.get_args(hint):
        yield from _held_types(arg)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        yield hint


def test_a_spec_s_repr_shows_every_field_of_everything_it_holds() -> None:
    """The memo keys a file by the repr of its spec: a field left out of a repr could change a file unseen."""
    seen: set[type] = set()
    waiting: list[type] = [specs.TenantSpec]
    while waiting:
        cls = waiting.pop()
        if cls in seen:
            continue
        seen.add(cls)
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        assert params.repr and "__repr__" in cls.__dict__, f"{cls.__name__}: its repr is not the dataclass's"
        hints = typing.get_type_hints(cls)
        for item in dataclasses.fields(cls):
            assert item.repr, f"{cls.__name__}.{item.name} is left out of its repr"
            waiting.extend(_held_types(hints[item.name]))
    assert {specs.PlanLimits, specs.RetiringShape} <= seen


def test_stack_files_are_read_whole_whatever_their_size(tmp_path: Path) -> None:
    for size in (0, 1, 65535, 65536, 65537, 200_000):
        path = tmp_path / f"f{size}"
        path.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
        assert generation._read_if_any(str(path)) == path.read_bytes()
    assert generation._read_if_any(str(tmp_path / "missing")) is None
