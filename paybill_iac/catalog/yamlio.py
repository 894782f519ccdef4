"""Safe YAML for catalog files: plain data only, every surprise refused with a clear reason.

Refused: duplicate keys, anchors and aliases (alias bombs), tags that construct objects (SafeLoader's
constructors only), files over MAX_FILE_BYTES, several documents in one file. YAML 1.1 surprises
(`no` read as false, `0123` as an octal number) load as the types YAML gives them; the catalog's
strict schema then refuses a non-string where it wants a string and says how to quote it.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

MAX_FILE_BYTES = 256 * 1024
MAX_LEDGER_BYTES = 64 * 1024 * 1024
"""The placement ledger grows with the fleet (about 90 bytes a tenant): 64 MiB is some 700,000 tenants."""

try:  # libyaml's parser is ~10x faster; the pure-Python one behaves the same
    _Base: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Base = yaml.SafeLoader


class YamlProblem(ValueError):
    """Why a file could not be read as plain YAML data; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        super().__init__(message if line is None else f"line {line}: {message}")


class _PlainLoader(_Base):  # type: ignore[misc, valid-type]
    """Refuses duplicate and non-text keys. Used when the text has no '&', '*' or '<<', so it cannot
    hold an anchor, an alias or a merge key."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        """PyYAML's resolution (which libyaml's parser calls for every node), remembered for plain scalars:
        their tag depends on their text alone, and keys and common values repeat in every file."""
        if self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)  # type: ignore[no-any-return]
        if kind is not yaml.ScalarNode:
            return _MAP if kind is yaml.MappingNode else _SEQ
        if not implicit[0]:
            return _STR  # quoted
        tag = _PLAIN_TAGS.get(value)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(_PLAIN_TAGS) < 65536:
                _PLAIN_TAGS[value] = tag
        return tag  # type: ignore[no-any-return]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        _check_keys(node)
        return super().construct_mapping(node, deep)  # type: ignore[no-any-return]

    def construct_tree(self, node: yaml.Node) -> Any:
        """What construct_document gives for a document without anchors and aliases (each node is used once),
        with text, mappings and lists built here: PyYAML's constructor spends more on its bookkeeping for
        them (recursion guards, generators, a lookup per node) than on the values, a third of loading a
        catalog. Other values (numbers, booleans, null, any tag) are PyYAML's to construct."""
        tag = node.tag
        if tag == _STR and type(node) is yaml.ScalarNode:
            return node.value
        if tag == _MAP and type(node) is yaml.MappingNode:
            _check_keys(node)
            return {key_node.value: self.construct_tree(value_node) for key_node, value_node in node.value}
        if tag == _SEQ and type(node) is yaml.SequenceNode:
            return [self.construct_tree(item) for item in node.value]
        return self.construct_object(node, deep=True)


_PLAIN_TAGS: dict[str, str] = {}  # plain scalar -> its tag, for _PlainLoader and _StrictLoader (same resolvers)
_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


def _check_keys(node: yaml.MappingNode) -> None:
    """Refuse a mapping's non-text and duplicate keys."""
    keys = node.value
    for key_node, _ in keys:
        if type(key_node) is not yaml.ScalarNode or key_node.tag != _STR:
            shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else "a collection"
            raise YamlProblem(f"key {shown!r} is not text: quote it", key_node.start_mark.line + 1)
    if len({key_node.value for key_node, _ in keys}) != len(keys):
        seen: dict[str, int] = {}
        for key_node, _ in keys:
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                raise YamlProblem(f"duplicate key '{key_node.value}' (first at line {seen[key_node.value]})", line)
            seen[key_node.value] = line


# Dates stay text: the schema parses them and can then name the field of an impossible date.
_PlainLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _Base.yaml_implicit_resolvers.items()
}


class _StrictLoader(_PlainLoader):
    """Also refuses anchors, aliases (alias bombs) and merge keys."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node in self.constructed_objects:
            raise YamlProblem("anchors and aliases (&, *) are not allowed in catalog files",
                              node.start_mark.line + 1)
        return super().construct_object(node, deep)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlProblem("merge keys (<<) are not allowed in catalog files", key_node.start_mark.line + 1)
        return super().construct_mapping(node, deep)


def load_text(text: str) -> Any:
    """Parse one YAML document of plain data."""
    # Anchors need '&', aliases '*', merge keys '<<': text without them takes the cheaper loader.
    strict = "&" in text or "*" in text or "<<" in text
    try:
        loader = (_StrictLoader if strict else _PlainLoader)(text)
        try:
            if not loader.check_node():
                return None
            node = loader.get_node()
            if loader.check_node():
                raise YamlProblem("a catalog file holds one YAML document; found a second '---'")
            return loader.construct_document(node) if strict else loader.construct_tree(node)
        finally:
            loader.dispose()
    except YamlProblem:
        raise
    except yaml.constructor.ConstructorError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else None
        tag = f" ({error.problem})" if error.problem else ""
        raise YamlProblem(f"tags that construct objects are not allowed{tag}", line) from None
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else None
        raise YamlProblem(f"malformed YAML: {error.problem or error.context}", line) from None
    except yaml.YAMLError as error:
        raise YamlProblem(f"malformed YAML: {error}") from None
    except (ValueError, TypeError, RecursionError) as error:  # a constructor refused a value
        raise YamlProblem(f"cannot be read: {error}") from None


def read_text(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The text of `path`, refusing oversized (over `max_bytes`) and non-UTF-8 files before parsing."""
    handle = os.open(path, os.O_RDONLY)  # os.open, fstat, read: a third of open()'s cost, 10,000 files a load
    try:
        size = os.fstat(handle).st_size
        if size > max_bytes:
            raise YamlProblem(f"file is {size} bytes; catalog files are at most {max_bytes}")
        chunks: list[bytes] = []
        read, want = 0, size + 1  # one byte more than its size: the read comes back short, at the end
        while read <= max_bytes:
            chunks.append(os.read(handle, want))
            read += len(chunks[-1])
            if len(chunks[-1]) < want:  # a regular file reads short only at its end
                break
            want = 65536  # it grew since the fstat
    finally:
        os.close(handle)
    if read > max_bytes:
        raise YamlProblem(f"file is over {max_bytes} bytes; catalog files are at most {max_bytes}")
    raw = b"".join(chunks)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise YamlProblem(f"not UTF-8 text (byte {error.start})") from None


def load_file(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """Read and parse `path` (read_text's refusals first)."""
    return load_text(read_text(path, max_bytes=max_bytes))


class _Dumper(yaml.SafeDumper):
    """Block style, insertion order, no aliases: byte-for-byte stable output."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_presenter)


def dump(data: Any) -> str:
    """Deterministic YAML text for generated files."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=False,
                     width=120)


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/-]*")
_PLAIN_TEXT = re.compile(r"[A-Za-z_/][-A-Za-z0-9_./]*")
NOT_TEXT = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n"})
"""Plain words (in any case) that some YAML reader takes for a boolean or null: written quoted."""


@lru_cache(maxsize=65536)
def _quote(value: str) -> str:
    """A YAML double-quoted scalar: a JSON string, but for characters beyond U+FFFF, which JSON escapes as a
    surrogate pair that YAML refuses, and YAML as one \\U escape."""
    if value.isascii() or max(value) <= "\uffff":
        return json.dumps(value)
    return '"' + "".join(json.dumps(char)[1:-1] if char <= "\uffff" else f"\\U{ord(char):08x}" for char in value) + '"'


def scalar(value: Any) -> str:
    """One value as a YAML scalar that reads back as the same value and type (text double-quoted)."""
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, float):
        return _float(value)
    raise TypeError(f"cannot render {type(value).__name__} in a generated file")


def _plain_scalar(value: Any) -> str:
    """scalar(), with text plain where it cannot read back as anything else (Kubernetes manifests)."""
    if isinstance(value, str) and _PLAIN_TEXT.fullmatch(value) and value.lower() not in NOT_TEXT:
        return value
    return scalar(value)


def _float(value: float) -> str:
    """A float as YAML 1.1 reads one: with a '.' (`1e+20` would read back as text) and .inf / .nan."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    if "." in text:
        return text
    mantissa, _, exponent = text.partition("e")
    return f"{mantissa}.0e{exponent}" if exponent else f"{text}.0"


def key(name: str) -> str:
    """A mapping key: plain where YAML reads it back as this text, else double-quoted."""
    return name if _PLAIN_KEY.fullmatch(name) and name.lower() not in NOT_TEXT else _quote(name)


def dump_config(data: dict[str, Any], indent: int = 0, *, plain_text: bool = False) -> str:
    """Deterministic YAML for generated files (mappings of mappings, lists and scalars), in insertion order.

    Much faster than yaml.dump for thousands of small files. Strings are double-quoted, so that no value
    is ever re-read as another type, or with `plain_text` plain wherever they cannot be.
    """
    lines: list[str] = []
    _emit(data, indent, lines, _plain_scalar if plain_text else scalar)
    return "".join(lines)


def _emit(data: dict[str, Any], indent: int, lines: list[str], shown: Callable[[Any], str]) -> None:
    pad = " " * indent
    for name, value in data.items():
        if isinstance(value, dict):
            if value:
                lines.append(f"{pad}{key(name)}:\n")
                _emit(value, indent + 2, lines, shown)
            else:
                lines.append(f"{pad}{key(name)}: {{}}\n")
        elif isinstance(value, list):
            if not value:
                lines.append(f"{pad}{key(name)}: []\n")
                continue
            lines.append(f"{pad}{key(name)}:\n")
            for item in value:
                if isinstance(item, dict) and item:  # a mapping in a list: its first key on the item's line
                    nested: list[str] = []
                    _emit(item, indent + 4, nested, shown)
                    nested[0] = f"{pad}  - {nested[0][indent + 4:]}"
                    lines.extend(nested)
                elif isinstance(item, (dict, list)):
                    lines.append(f"{pad}  - {_flow(item)}\n")  # empty, or a list in a list
                else:
                    lines.append(f"{pad}  - {shown(item)}\n")
        else:
            lines.append(f"{pad}{key(name)}: {shown(value)}\n")


def _flow(value: Any) -> str:
    """A collection in flow style ([...], {...}), every text double-quoted."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_quote(name)}: {_flow(item)}" for name, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    return scalar(value)
