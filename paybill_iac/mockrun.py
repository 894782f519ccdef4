"""Run a real stack program under the Pulumi mock runtime and collect what it registers.

This is how paybill-iac previews without the Pulumi CLI or cloud credentials: the stack program in
`stacks/` runs unchanged; the mock monitor records every resource (urn, type, name, inputs, parent,
protect, retain_on_delete, delete_before_replace, ignore_changes, provider, and its dependencies: the
explicit ones and those its inputs imply through Output references, per property) and the mocks answer
with provider-shaped outputs (`paybill_iac.mock_outputs`) so stack outputs and cross-stack references
look as they will in the cloud. The dependencies are what the engine orders creates and deletes by;
the offline lifecycle plan and its invariant tests read them.

Importing this module imports pulumi: only the commands that run stacks import it.
"""

from __future__ import annotations

import json
import runpy
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime
import pulumi.runtime.settings
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.proto import resource_pb2

from paybill_iac import mock_outputs


@dataclass
class RegisteredResource:
    """One resource as the engine would see it at registration."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    parent: str
    protect: bool
    retain_on_delete: bool
    provider: str
    custom: bool
    id: str
    secret_inputs: tuple[str, ...] = ()
    """Dotted paths of the inputs that were pulumi secrets (their values above are unwrapped)."""
    dependencies: tuple[str, ...] = ()
    """URNs this resource depends on: `depends_on`, and every resource whose Output an input reads."""
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per input (camelCase), the URNs its value came from."""
    delete_before_replace: bool = False
    ignore_changes: tuple[str, ...] = ()
    replace_on_changes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"urn": self.urn, "type": self.type, "name": self.name, "inputs": self.inputs,
                "parent": self.parent, "protect": self.protect}


@dataclass
class StackRun:
    """What one run of a stack program registered and exported."""

    project: str
    stack: str
    resources: list[RegisteredResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: tuple[str, ...] = ()
    """Dotted paths of the stack outputs that are pulumi secrets (their values above are unwrapped)."""
    duplicate_urns: tuple[str, ...] = ()
    """URNs registered more than once: the engine refuses them, the mock runtime does not."""

    def by_type(self, type_token: str) -> list[RegisteredResource]:
        return [resource for resource in self.resources if resource.type == type_token]

    def one(self, type_token: str) -> RegisteredResource:
        found = self.by_type(type_token)
        if len(found) != 1:
            raise AssertionError(f"expected one {type_token}, found {len(found)}")
        return found[0]


class ProviderShapedMocks(pulumi_mocks.Mocks):
    """Answers registrations and invokes with outputs shaped like the real provider's."""

    def __init__(self, stack: str, stack_references: Mapping[str, Mapping[str, Any]],
                 where: mock_outputs.Where | None = None):
        self.stack = stack
        self.stack_references = stack_references
        self.where = where  # the stack's region and account: ARNs and ids follow them

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ == "pulumi:pulumi:StackReference":
            target = args.inputs.get("name") or args.resource_id or args.name
            if target not in self.stack_references:
                raise KeyError(f"no outputs for the referenced stack '{target}'")
            return target, {"name": target, "outputs": dict(self.stack_references[target]),
                            "secretOutputNames": []}
        return mock_outputs.new_resource(args.typ, args.name, dict(args.inputs), self.stack, self.where)

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        # An empty failure list, not None: MockMonitor.Invoke iterates it.
        return mock_outputs.invoke(args.token, dict(args.args), self.where), []


_ROOT = "pulumi:pulumi:Stack"


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that also keeps what the engine would know: parent, protect, provider."""

    def __init__(self, mocks: pulumi_mocks.Mocks):
        super().__init__(mocks)
        self.registrations: dict[str, dict[str, Any]] = {}
        self.duplicates: list[str] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The URN the engine gives a resource: its type qualified by its parent's whole chain of types
        (the SDK's mock uses only the parent's own type, so two components of different types holding
        children of the same type and name would collide). Children of the root stack keep the mock's
        `pulumi:pulumi:Stack$` qualification, as before."""
        if parent:
            qualified = parent.split("::")[2]
            if qualified.startswith(_ROOT + "$"):
                qualified = qualified[len(_ROOT) + 1:]
            type_ = f"{qualified}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), type_, name])

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if response.urn in self.registrations:
            self.duplicates.append(response.urn)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations[response.urn] = {
                "type": request.type, "name": request.name, "parent": request.parent,
                "protect": bool(request.protect), "retain_on_delete": bool(request.retainOnDelete),
                "provider": request.provider, "custom": bool(request.custom),
                "inputs": pulumi.runtime.rpc.deserialize_properties(request.object),
                "dependencies": tuple(sorted(set(request.dependencies))),
                "property_dependencies": {key: tuple(sorted(set(value.urns)))
                                          for key, value in request.propertyDependencies.items() if value.urns},
                "delete_before_replace": bool(request.deleteBeforeReplace),
                "ignore_changes": tuple(request.ignoreChanges),
                "replace_on_changes": tuple(request.replaceOnChanges),
            }
        return response

    def ReadResource(self, request: Any) -> resource_pb2.ReadResourceResponse:  # noqa: N802
        response = super().ReadResource(request)
        self.registrations[response.urn] = {
            "type": request.type, "name": request.name, "parent": request.parent, "protect": False,
            "retain_on_delete": False, "provider": request.provider, "custom": True,
            "inputs": pulumi.runtime.rpc.deserialize_properties(request.properties),
        }
        return response


def config_values(project_config: Mapping[str, Any]) -> dict[str, str]:
    """Stack config as the engine hands it to a program: objects and numbers as JSON text."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in project_config.items()}


_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(_SIG_KEY) == _SECRET_SIG


def _plain(value: Any) -> Any:
    """Unknowns and secrets unwrapped for reporting (the mock runtime resolves every value)."""
    if isinstance(value, dict):
        if _is_secret(value):
            return _plain(value.get("value"))
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def secret_paths(value: Any, prefix: str = "") -> list[str]:
    """Dotted paths (list items by index) of the secret values inside a deserialized property bag."""
    if _is_secret(value):
        return [prefix]
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += secret_paths(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += secret_paths(item, f"{prefix}.{index}" if prefix else str(index))
    return found


def run_stack(
    program: Path | Callable[[], None],
    *,
    project: str,
    stack: str,
    config: Mapping[str, Any],
    stack_references: Mapping[str, Mapping[str, Any]] | None = None,
    drop_aliases: bool = False,
) -> StackRun:
    """Run `program` (a stack's __main__.py, or a function) as stack `project/stack` with `config`.

    Resets the runtime first, so runs can follow each other in one process. `drop_aliases` leaves out
    the resources' aliases (azure-native declares one per API version of every resource, and the SDK
    turns each into outputs): they only match old state, there is none under mocks, and nothing
    recorded here depends on them; it makes an azure-native stack several times faster.
    """
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_all_config(config_values(config))
    mocks = ProviderShapedMocks(stack, stack_references or {}, mock_outputs.where_from_config(config))
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    exported: dict[str, Any] = {}
    secret_outputs: list[str] = []

    async def find_secret_outputs(outputs: dict[str, Any]) -> None:
        struct = await pulumi.runtime.rpc.serialize_properties(outputs, {})
        secret_outputs.extend(secret_paths(pulumi.runtime.rpc.deserialize_properties(struct)))

    @pulumi.runtime.test  # type: ignore[misc]
    def body() -> pulumi.Output[Any]:
        if drop_aliases:
            pulumi.runtime.register_stack_transformation(_without_aliases)
        if callable(program):
            program()
        else:
            _run_program_file(program)
        root = pulumi.runtime.settings.get_root_resource()
        outputs = dict(getattr(root, "outputs", {}) or {})
        if not outputs:
            return pulumi.Output.from_input(None)
        values = pulumi.Output.all(**outputs).apply(exported.update)
        return pulumi.Output.all(values, find_secret_outputs(outputs))

    body()
    run = StackRun(project, stack)
    registered = monitor.get_registered_resources()
    for urn, registration in monitor.registrations.items():
        state = registered[urn].state if urn in registered else {}
        resource_id = registered[urn].id if urn in registered else ""
        run.resources.append(
            RegisteredResource(
                urn=urn, type=registration["type"], name=registration["name"],
                inputs=_plain(registration["inputs"]), outputs=_plain(dict(state)),
                secret_inputs=tuple(secret_paths(registration["inputs"])),
                parent=registration["parent"], protect=registration["protect"],
                retain_on_delete=registration["retain_on_delete"], provider=registration["provider"],
                custom=registration["custom"], id=resource_id or "",
                dependencies=registration.get("dependencies", ()),
                property_dependencies=dict(registration.get("property_dependencies", {})),
                delete_before_replace=registration.get("delete_before_replace", False),
                ignore_changes=registration.get("ignore_changes", ()),
                replace_on_changes=registration.get("replace_on_changes", ()),
            )
        )
    run.outputs = _plain(exported)
    run.secret_outputs = tuple(secret_outputs)
    run.duplicate_urns = tuple(monitor.duplicates)
    return run


def _without_aliases(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    if not args.opts.aliases:
        return None
    opts = pulumi.ResourceOptions.merge(args.opts, None)
    opts.aliases = None
    return pulumi.ResourceTransformationResult(args.props, opts)


def _run_program_file(path: Path) -> None:
    """Run a stack's __main__.py the way the Python language host does: its folder on sys.path."""
    folder = str(path.parent.resolve())
    sys.path.insert(0, folder)
    try:
        runpy.run_path(str(path), run_name="__main__")
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
