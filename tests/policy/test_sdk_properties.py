"""Every (type token, property) a rule reads exists in the installed provider SDK's input types, so no
rule silently never matches; every deprecated token of a resource a rule reads is matched too."""

from __future__ import annotations

import functools
import importlib
import json
import re
from pathlib import Path
from typing import Any

import paybill_policies as policies
import pytest

from paybill_iac.model import resource_facts

PACKAGES = {"aws": "pulumi_aws", "azure-native": "pulumi_azure_native", "gcp": "pulumi_gcp", "oci": "pulumi_oci"}
TAG_PROPERTIES = ("tags", "labels", "freeformTags", "userLabels")


@functools.cache
def _registry(package: str) -> dict[str, tuple[str, str]]:
    """token -> (module, class) from the provider's resource module registration."""
    module = importlib.import_module(PACKAGES[package])
    text = Path(module.__file__).read_text(encoding="utf-8")
    found = re.search(r'resource_modules="""(.*?)"""', text, re.S)
    assert found, f"{package}: no resource module registry"
    return {token: (entry["fqn"], name) for entry in json.loads(found.group(1))
            for token, name in entry["classes"].items()}


def _provider_class(package: str) -> type:
    module = importlib.import_module(PACKAGES[package])
    provider = module.Provider
    return importlib.import_module(provider.__module__).ProviderArgs


@functools.cache
def args_class(token: str) -> type:
    """The input (Args) class of a resource type token."""
    if token.startswith("pulumi:providers:"):
        return _provider_class(token.split(":")[2])
    package = token.split(":", 1)[0]
    entries = _registry(package)
    if token not in entries:  # an old token the SDK keeps only as a type alias of the current resource
        current = resource_facts.DEPRECATED_TOKENS.get(token)
        assert current in entries, f"{token} is not a resource type of the installed {PACKAGES[package]}"
        fqn, name = entries[current]
        source = Path(importlib.import_module(getattr(importlib.import_module(fqn), name).__module__).__file__)
        assert f'pulumi.Alias(type_="{token}")' in source.read_text(encoding="utf-8"), f"{token} is no alias"
        return args_class(current)
    fqn, name = entries[token]
    resource = getattr(importlib.import_module(fqn), name)
    module = importlib.import_module(resource.__module__)
    for candidate in (f"{name}InitArgs", f"{name}Args"):
        cls = getattr(module, candidate, None)
        if cls is not None and cls.__module__ == module.__name__:
            return cls
    raise AssertionError(f"{token}: no Args class in {module.__name__}")


@functools.cache
def outputs_of(token: str) -> frozenset[str]:
    """The camelCase output properties of a resource type (its class's getters)."""
    package = token.split(":", 1)[0]
    fqn, name = _registry(package)[resource_facts.normal_type(token)]
    resource = getattr(importlib.import_module(fqn), name)
    from pulumi._types import _py_properties

    return frozenset(wire for _, wire, _ in _py_properties(resource))


def _properties(cls: type) -> dict[str, Any]:
    """camelCase wire name -> property object of an input type."""
    from pulumi._types import _py_properties

    return {wire: prop for _, wire, prop in _py_properties(cls)}


def _nested(cls: type, prop: Any) -> type | None:
    annotation = str(prop.fget.__annotations__.get("return", ""))
    names = re.findall(r"([A-Z][A-Za-z0-9]*Args)\b", annotation)
    if not names:
        return None
    inputs = importlib.import_module(cls.__module__.rsplit(".", 1)[0] + "._inputs")
    return getattr(inputs, names[-1], None)


def has_path(token: str, path: str) -> bool:
    cls: type | None = args_class(token)
    for key in path.split("."):
        if cls is None:
            return False
        props = _properties(cls)
        if key not in props:
            return False
        cls = _nested(cls, props[key])
    return True


READS = sorted({(rule.id, token, path) for rule in policies.rules() for token, paths in rule.reads.items()
                for path in paths if not token.startswith("pulumi:pulumi:")})
TYPES = sorted({(rule.id, token) for rule in policies.rules() for token in rule.types
                if not token.endswith("*") and not token.startswith("pulumi:pulumi:")})


@pytest.mark.parametrize(("rule_id", "token"), TYPES)
def test_every_type_a_rule_matches_exists(rule_id: str, token: str) -> None:
    assert args_class(token) is not None


@pytest.mark.parametrize(("rule_id", "token", "path"), READS)
def test_every_property_a_rule_reads_exists(rule_id: str, token: str, path: str) -> None:
    assert has_path(token, path), f"{rule_id} reads {token} .{path}, which the SDK's inputs do not have"


def test_every_rule_declares_what_it_reads_on_types_it_matches() -> None:
    for rule in policies.rules():
        assert set(rule.reads) <= set(rule.types), rule.id


@pytest.mark.parametrize("cloud", sorted(resource_facts.CLOUD_PACKAGE))
def test_taggable_types_are_exactly_those_with_a_tag_property(cloud: str) -> None:
    for token, facts in resource_facts.of_cloud(cloud).items():
        tagged = [name for name in TAG_PROPERTIES if name in _properties(args_class(token))]
        if facts.tag_property is not None:
            assert has_path(token, facts.tag_property), f"{token} has no {facts.tag_property}"
        else:
            assert not tagged, f"{token} takes {tagged} but the resource facts give it no tag property"


def _deprecated_by_replacement() -> dict[str, set[str]]:
    """current token -> tokens the SDK marks as deprecated in its favour or lists as type aliases."""
    found: dict[str, set[str]] = {}
    wanted = {token for rule in policies.rules() for token in rule.types if not token.endswith(":*")
              and not token.startswith("pulumi:")}
    for package in ("aws", "gcp", "oci"):
        entries = _registry(package)
        by_class = {(fqn, name): token for token, (fqn, name) in entries.items()}
        for token, (fqn, name) in entries.items():
            module_dir = Path(importlib.import_module(fqn).__file__).parent
            for path in module_dir.glob("*.py"):
                text = path.read_text(encoding="utf-8")
                if f"class {name}(pulumi.CustomResource)" not in text:
                    continue
                favour = re.search(r'^warnings\.warn\("""[^"]*in favor of ([\w./]+)"""', text, re.M)
                if favour:
                    replacement = favour.group(1).rsplit(".", 1)[-1]
                    current = by_class.get((fqn, replacement))
                    if current in wanted:
                        found.setdefault(current, set()).add(token)
                if token in wanted:
                    for alias in re.findall(r'pulumi\.Alias\(type_="([^"]+)"\)', text):
                        if alias != token:
                            found.setdefault(token, set()).add(alias)
                break
    return found


def test_rules_match_the_deprecated_tokens_of_what_they_read() -> None:
    deprecated = _deprecated_by_replacement()
    assert "aws:s3/bucketV2:BucketV2" in deprecated["aws:s3/bucket:Bucket"]
    for rule in policies.rules():
        for token in rule.types:
            missing = deprecated.get(token, set()) - set(rule.types)
            assert not missing, f"{rule.id} matches {token} but not its deprecated {sorted(missing)}"


def test_azure_native_versioned_tokens_match_their_resource() -> None:
    rule = policies.REGISTRY["azure-storage-account-tls-1-2"]
    assert rule.matches("azure-native:storage/v20230101:StorageAccount")
    assert not rule.matches("azure-native:storage/v20230101:BlobContainer")
