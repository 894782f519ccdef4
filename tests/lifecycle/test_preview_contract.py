"""The preview JSON contract the lifecycle relies on: every resource carries its dependencies (URNs,
Output references included, per input too), `protect`, `retain_on_delete` and `delete_before_replace`."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_resource_carries_its_dependencies_and_engine_options() -> None:
    from paybill_iac.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(["preview", str(REPO / "stacks" / "catalog"), "--tenant", "hooli", "--tenant", "wonka",
                  "--format", "json", "--output", "-", "--jobs", "1", "--no-progress"])
        except SystemExit as done:
            assert not done.code, out.getvalue()[-2000:]
    text = out.getvalue()
    report = json.loads(text[text.index("{"):])
    stacks = {stack["stack"]: stack for stack in report["tenants"] + report["cells"]}
    for stack in stacks.values():
        urns = {resource["urn"] for resource in stack["resources"]}
        for resource in stack["resources"]:
            assert {"dependencies", "property_dependencies", "protect", "retain_on_delete",
                    "delete_before_replace"} <= set(resource), resource["urn"]
            implied = {urn for values in resource["property_dependencies"].values() for urn in values}
            assert implied <= set(resource["dependencies"]), resource["urn"]  # the union, as the engine sees it
            assert resource["dependencies"] == sorted(resource["dependencies"])
            assert set(resource["dependencies"]) - urns <= {r for r in resource["dependencies"]
                                                             if "StackReference" in r or "providers" in r}
    hooli = {resource["name"]: resource for resource in stacks["hooli"]["resources"]}
    # an Output reference is a dependency: the instance reads the key's ARN and the subnet group's name
    assert hooli["hooli-key"]["urn"] in hooli["hooli-db"]["property_dependencies"]["kmsKeyId"]
    assert hooli["hooli-db-subnets"]["urn"] in hooli["hooli-db"]["dependencies"]
    assert hooli["hooli-db"]["protect"] is True and hooli["hooli-db"]["retain_on_delete"] is False
    wonka = {resource["name"]: resource for resource in stacks["wonka"]["resources"]}
    assert wonka["wonka-policy"]["delete_before_replace"] is True  # OCI policy names are unique
