"""Changes the policy tests make to a compliant example stack: each returns (resources, context)."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import paybill_policies as policies
from paybill_policies.evaluate import get

from paybill_iac.policy_context import context_from_catalog

Change = Callable[[list[Any], Any], tuple[list[Any], Any]]

DB = {"aws": "aws:rds/instance:Instance", "azure": "azure-native:dbforpostgresql:Server",
      "gcp": "gcp:sql/databaseInstance:DatabaseInstance", "oci": "oci:Psql/dbSystem:DbSystem"}

_STACKS: dict[str, Any] = {}
_CATALOG: list[Any] = []


# --- changes -----------------------------------------------------------------------------------


def _set(inputs: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    for key in keys[:-1]:
        inputs = inputs.setdefault(key, {})
    if value is None:
        inputs.pop(keys[-1], None)
    else:
        inputs[keys[-1]] = value


def set_input(type_token: str, path: str, value: Any, which: int = 0) -> Change:
    """Set (None: remove) input `path` of the `which`-th resource of `type_token`, in its outputs too where
    they hold it (a stack export has both); a literal value has no dependencies, so the input's property
    dependencies go."""
    def change(resources: list[Any], context: Any) -> tuple[list[Any], Any]:
        matching = [index for index, item in enumerate(resources) if item.type == type_token]
        assert matching, f"no {type_token} in the stack"
        index = matching[which]
        resource = resources[index]
        inputs = copy.deepcopy(resource.inputs)
        _set(inputs, path, value)
        outputs = copy.deepcopy(resource.outputs)
        if path.split(".")[0] in outputs:
            _set(outputs, path, value)
        top = path.split(".")[0]
        gone = set(resource.property_dependencies.get(top, ()))
        kept = {urn for key, urns in resource.property_dependencies.items() if key != top for urn in urns}
        properties = {key: urns for key, urns in resource.property_dependencies.items() if key != top}
        dependencies = tuple(urn for urn in resource.dependencies if urn not in gone - kept)
        resources[index] = dataclasses.replace(resource, inputs=inputs, outputs=outputs,
                                               property_dependencies=properties, dependencies=dependencies)
        return resources, context
    return change


def edit_input(type_token: str, edit: Callable[[dict[str, Any]], None]) -> Change:
    def change(resources: list[Any], context: Any) -> tuple[list[Any], Any]:
        index = next(index for index, item in enumerate(resources) if item.type == type_token)
        inputs = copy.deepcopy(resources[index].inputs)
        edit(inputs)
        resources[index] = dataclasses.replace(resources[index], inputs=inputs)
        return resources, context
    return change


def edit_document(type_token: str, key: str, edit: Callable[[dict[str, Any]], None]) -> Change:
    def change_inputs(inputs: dict[str, Any]) -> None:
        document = json.loads(inputs[key])
        edit(document)
        inputs[key] = json.dumps(document)
    return edit_input(type_token, change_inputs)


def set_option(type_token: str, **options: Any) -> Change:
    def change(resources: list[Any], context: Any) -> tuple[list[Any], Any]:
        index = next(index for index, item in enumerate(resources) if item.type == type_token)
        resources[index] = dataclasses.replace(resources[index], **options)
        return resources, context
    return change


def drop(type_token: str) -> Change:
    def change(resources: list[Any], context: Any) -> tuple[list[Any], Any]:
        return [item for item in resources if item.type != type_token], context
    return change


def add(type_token: str, inputs: dict[str, Any], name: str = "added") -> Change:
    def change(resources: list[Any], context: Any) -> tuple[list[Any], Any]:
        urn = f"urn:pulumi:{context.stack}::{context.project}::{type_token}::{name}"
        return [*resources, policies.ResourceView(urn, type_token, name, copy.deepcopy(inputs), protect=True)], context
    return change


def duplicate(type_token: str) -> Change:
    def change(resources: list[Any], context: Any) -> tuple[list[Any], Any]:
        original = next(item for item in resources if item.type == type_token)
        return [*resources, dataclasses.replace(original, urn=original.urn + "-copy", name=original.name + "-copy")], \
            context
    return change


def with_context(**fields: Any) -> Change:
    def change(resources: list[Any], context: Any) -> tuple[list[Any], Any]:
        return resources, dataclasses.replace(context, **fields)
    return change


def unknown_stack() -> Change:
    def change(resources: list[Any], context: Any) -> tuple[list[Any], Any]:
        return resources, policies.unknown_context(context.project, context.stack, context.actor)
    return change


def become(stack: str) -> Change:
    """Swap in another example stack (the cell), keeping the actor."""
    def change(resources: list[Any], context: Any) -> tuple[list[Any], Any]:
        return list(_STACKS[stack].resources), context_from_catalog(
            _CATALOG[0], _STACKS[stack].project, stack, context.actor)
    return change


def both(*changes: Change) -> Change:
    def change(resources: list[Any], context: Any) -> tuple[list[Any], Any]:
        for step in changes:
            resources, context = step(resources, context)
        return resources, context
    return change


def foreign_reference(cloud: str) -> Change:
    def change(resources: list[Any], context: Any) -> tuple[list[Any], Any]:
        other = sorted(name for name in context.foreign_names if "-" in name)[0]
        index = next(index for index, item in enumerate(resources) if item.type == DB[cloud])
        inputs = copy.deepcopy(resources[index].inputs)
        inputs["description"] = f"restore from {other}"
        resources[index] = dataclasses.replace(resources[index], inputs=inputs)
        return resources, context
    return change


def marker(cloud: str, key: str, value: Any) -> Change:
    from paybill_iac.model.resource_facts import facts_for

    def tag_property(type_token: str) -> str | None:
        facts = facts_for(type_token)
        return facts.tag_property if facts is not None and facts.cloud == cloud else None

    def change(resources: list[Any], context: Any) -> tuple[list[Any], Any]:
        index = next(index for index, item in enumerate(resources) if tag_property(item.type))
        path = tag_property(resources[index].type)
        assert path is not None
        inputs = copy.deepcopy(resources[index].inputs)
        tags = dict(get(inputs, path) or {})
        if value is None:
            tags.pop(key)
        else:
            tags[key] = value
        _set(inputs, path, tags)
        resources[index] = dataclasses.replace(resources[index], inputs=inputs)
        return resources, context
    return change
