"""yamlio builds text, mappings and lists itself (PyYAML the rest): the data must be what PyYAML's constructor
gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from paybill_iac.catalog import yamlio

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts | st.dates().map(str),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4), max_leaves=20)


class _Reference(yaml.CSafeLoader):
    """PyYAML's own resolution and construction, with yamlio's implicit types (dates stay text)."""

    yaml_implicit_resolvers = yamlio._PlainLoader.yaml_implicit_resolvers


def _pyyaml(text: str) -> object:
    loader = _Reference(text)
    try:
        return loader.construct_document(loader.get_single_node())
    finally:
        loader.dispose()


@settings(max_examples=300, deadline=None)
@given(plain, st.sampled_from([{}, {"default_flow_style": True}, {"default_style": '"'}, {"canonical": True}]))
def test_the_tree_yamlio_builds_is_pyyaml_s(data: object, style: dict[str, object]) -> None:
    text = yaml.safe_dump({"v": data}, allow_unicode=True, **style)  # type: ignore[call-overload]
    assert yamlio.load_text(text) == _pyyaml(text)


@pytest.mark.parametrize("text", [
    "a: 0o17\nb: 017\nc: 1_000\nd: 0x1F\ne: 1:30\nf: .inf\ng: ~\nh: yes\ni: 2026-01-31\n",
    "a: !!str 12\nb: !!int '12'\nc: !!binary aGk=\nd: !!set {x, y}\ne: !!omap [{a: 1}]\nf: !!float 1\n",
    "a: [1, [2, {b: c}]]\nb: {}\nc: []\nd: ''\ne: |\n  text\n",
])
def test_tagged_and_implicit_values_are_pyyaml_s(text: str) -> None:
    assert yamlio.load_text(text) == _pyyaml(text)
    assert yamlio.load_text(text) == _pyyaml(text)  # again: the plain scalars' tags are remembered now


documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3), max_leaves=15)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(texts, documents, max_size=4), st.booleans())
def test_what_dump_config_writes_reads_back_the_same(data: dict[str, object], plain_text: bool) -> None:
    text = yamlio.dump_config({"config": data}, plain_text=plain_text)
    assert yaml.safe_load(text) == {"config": data}
    assert yamlio.load_text(text) == {"config": data}


def test_read_text_reads_whole_files_and_refuses_big_ones(tmp_path: Path) -> None:
    for size in (0, 1, 65535, 65536, 65537, 200_000):
        path = tmp_path / f"f{size}.yaml"
        path.write_bytes(b"a" * size)
        assert yamlio.read_text(path, max_bytes=200_000) == "a" * size
    with pytest.raises(yamlio.YamlProblem, match="200000 bytes; catalog files are at most 199999"):
        yamlio.read_text(tmp_path / "f200000.yaml", max_bytes=199_999)
    with pytest.raises(IsADirectoryError):
        yamlio.read_text(tmp_path)
    with pytest.raises(FileNotFoundError):
        yamlio.read_text(tmp_path / "missing.yaml")
