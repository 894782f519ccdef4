"""Stack specs: built once from the catalog, a strict round trip through stack config."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from paybill_iac.catalog import load_catalog
from paybill_iac.model import naming
from paybill_iac.model.errors import SpecError
from paybill_iac.model.spec import (
    DIGEST_KEY,
    CellSpec,
    TenantSpec,
    cell_spec,
    cells_in_use,
    config_digest,
    stack_spec,
    tenant_spec,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalog() -> Any:
    return load_catalog(REPO / "stacks" / "catalog")


def as_pulumi_passes_it(config: dict[str, Any]) -> dict[str, str]:
    """Config values as the program reads them: text, objects and numbers as JSON text."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}


def resigned(config: dict[str, Any]) -> dict[str, Any]:
    """`config` with its digest recomputed, as if generate had written it (to test one check alone)."""
    return config | {DIGEST_KEY: config_digest(config)}


def test_every_example_stack_round_trips(catalog: Any) -> None:
    specs = [tenant_spec(catalog, tenant) for tenant in sorted(catalog.tenants)]
    specs = [spec for spec in specs if spec is not None] + [cell_spec(catalog, cell) for cell in cells_in_use(catalog)]
    assert len(specs) == 18
    for spec in specs:
        kind = type(spec)
        config = spec.to_config()
        assert kind.from_config(spec.stack, config) == spec
        assert kind.from_config(spec.stack, as_pulumi_passes_it(config)) == spec
        assert kind.from_config(spec.stack, as_pulumi_passes_it(config).get) == spec


def test_the_generated_files_are_the_specs(catalog: Any) -> None:
    """What is committed under stacks/ is what the specs write (generate --check would say so too)."""
    import yaml

    for path in sorted((REPO / "stacks" / "tenant").glob("Pulumi.*.yaml")):
        stack = path.name.split(".")[1]
        config = yaml.safe_load(path.read_text())["config"]
        assert TenantSpec.from_config(stack, config) == tenant_spec(catalog, stack)


def test_config_carries_only_the_names_the_program_reads(catalog: Any) -> None:
    spec = tenant_spec(catalog, "acme")
    assert spec is not None and (spec.cloud, spec.isolation) == ("aws", "pooled")
    assert set(spec.names) == set(naming.NAMES_USED[("aws", "pooled")])
    assert len(spec.names) < len(spec.all_names)
    config = spec.to_config()
    assert "paybill:cellNames" not in config and "paybill:markers" not in config
    assert spec.markers["paybill-tenant"] == "acme"
    assert spec.cell_names["bucket"] == naming.names_for("aws", spec.org, spec.cell or "")["bucket"]


def test_one_rule_finds_a_pinned_tenants_cell(catalog: Any) -> None:
    """The spec's cell is the placement's: the same for generate, the policy context and the preview."""
    for tenant_id, cell_id in catalog.placements.items():
        spec = stack_spec(catalog, "paybill-tenant", tenant_id)
        if spec is not None:
            assert isinstance(spec, TenantSpec) and spec.cell == cell_id
    assert stack_spec(catalog, "paybill-tenant", "no-such-tenant") is None
    assert isinstance(stack_spec(catalog, "paybill-cell", "aws-euw1-a"), CellSpec)


def _config(catalog: Any, tenant: str = "acme") -> dict[str, Any]:
    spec = tenant_spec(catalog, tenant)
    assert spec is not None
    return spec.to_config()


@pytest.mark.parametrize(("change", "expected"), [
    (lambda c: c.pop("paybill:names"), "config key 'paybill:names' is missing"),
    (lambda c: c.pop("paybill:limits"), "config key 'paybill:limits' is missing (expected a mapping of db_vcpus"),
    (lambda c: c.pop("paybill:state"), "config key 'paybill:state' is missing (expected one of onboarding"),
    (lambda c: c.update({"paybill:isolation": "silos"}),
     "config key 'paybill:isolation' must be one of pooled, bridge, silo, got \"silos\""),
    (lambda c: c.update({"paybill:limits": "{db_vcpus"}), "config key 'paybill:limits' is not valid JSON"),
    (lambda c: c.update({"paybill:limits": dict(c["paybill:limits"], db_vcpus=True)}),
     "config key 'paybill:limits' must be a mapping"),
    (lambda c: c.update({"paybill:names": {"database": "x"}}), "config key 'paybill:names' lacks"),
    (lambda c: c["paybill:names"].update({"bucket": "b"}), "has bucket, which a aws pooled stack does not use"),
    (lambda c: c.update({"paybill:database": {"instance_class": "db.t4g.micro"}}),
     "config key 'paybill:database' must not be set"),
    (lambda c: c.update({"paybill:limits": {"db_vcpus": 2}}), "config key 'paybill:limits' must be a mapping"),
    (lambda c: c.update({"paybill:tenant": "globex"}),
     "config key 'paybill:tenant' is 'globex' but the stack is 'acme'"),
    (lambda c: c.update({"aws:region": "us-east-1"}), "config key 'aws:region' is 'us-east-1' but 'paybill:region'"),
])
def test_a_broken_config_names_the_stack_and_the_key(catalog: Any, change: Any, expected: str) -> None:
    config = _config(catalog)
    change(config)
    with pytest.raises(SpecError) as error:
        TenantSpec.from_config("acme", resigned(config))
    assert "stack 'paybill-tenant/acme'" in str(error.value)
    assert expected in str(error.value)


def test_a_hand_edit_is_refused(catalog: Any) -> None:
    config = _config(catalog)
    config["paybill:plan"] = "enterprise"  # a valid value, but not what generate wrote
    with pytest.raises(SpecError, match="'paybill:digest' does not match the other values: the file was edited"):
        TenantSpec.from_config("acme", config)
    config.pop(DIGEST_KEY)
    with pytest.raises(SpecError, match="'paybill:digest' is missing"):
        TenantSpec.from_config("acme", config)


def test_a_cell_config_is_strict_too(catalog: Any) -> None:
    spec = cell_spec(catalog, "gcp-euw1-a")
    config = spec.to_config()
    config["paybill:database"] = dict(config["paybill:database"], instance_class="db-custom-999-1")
    with pytest.raises(SpecError, match="names instance class 'db-custom-999-1', which gcp does not offer"):
        CellSpec.from_config(spec.cell, resigned(config))
    assert CellSpec.from_config(spec.cell, spec.to_config()) == spec
    assert replace(spec, region="x").to_config()[DIGEST_KEY] != config[DIGEST_KEY]


def test_the_stack_program_stops_on_a_broken_config_before_any_resource(catalog: Any) -> None:
    from paybill_iac.mockrun import run_stack

    config = _config(catalog, "wonka")
    config.pop("paybill:names")
    with pytest.raises(SpecError, match="config key 'paybill:names' is missing"):
        run_stack(REPO / "stacks" / "tenant" / "__main__.py", project="paybill-tenant", stack="wonka",
                  config=resigned(config))


# --- lifecycle: guards, generations, a retiring shape ------------------------------------------------


def test_a_plan_change_round_trips_its_retiring_shape(catalog: Any) -> None:
    old, new = tenant_spec(catalog, "hooli"), tenant_spec(catalog, "cyberdyne")  # bridge, silo (aws)
    assert old is not None and new is not None
    moving = replace(new, tenant="hooli", region=old.region, generation=1).with_retiring(old, "lifted")
    config = moving.to_config()
    assert config["paybill:retiring"]["guards"] == "lifted" and config["paybill:generation"] == 1
    back = TenantSpec.from_config("hooli", as_pulumi_passes_it(config))
    assert back == moving
    old_again = back.retiring_spec()
    assert old_again is not None and (old_again.isolation, old_again.names) == (old.isolation, old.names)
    assert old_again.markers == old.markers  # the old shape keeps its plan's and model's markers


def test_guards_released_only_at_retention_end(catalog: Any) -> None:
    offboarding = tenant_spec(catalog, "wayne")
    assert offboarding is not None and offboarding.state == "offboarding"
    released = offboarding.released()
    assert TenantSpec.from_config("wayne", released.to_config()) == released
    assert not released.retain_data and released.offboarding
    active = tenant_spec(catalog, "hooli")
    assert active is not None
    with pytest.raises(SpecError, match="retention end"):
        active.released()
    with pytest.raises(SpecError, match="only a retiring shape"):
        replace(active, guards="lifted")


def test_a_retiring_shape_is_another_model_and_its_config_is_checked(catalog: Any) -> None:
    hooli = tenant_spec(catalog, "hooli")
    assert hooli is not None
    with pytest.raises(SpecError, match="updates the shape in place"):
        hooli.with_retiring(hooli)
    silo = tenant_spec(catalog, "cyberdyne")
    assert silo is not None
    moving = replace(silo, tenant="hooli", region=hooli.region, generation=1).with_retiring(hooli)
    config = moving.to_config()
    for broken, message in [
        ({**config["paybill:retiring"], "isolation": "silo"}, "other than silo"),
        ({**config["paybill:retiring"], "guards": "released"}, "kept or lifted"),
        ({**config["paybill:retiring"], "names": {}}, "names must be exactly"),
        ({k: v for k, v in config["paybill:retiring"].items() if k != "database"}, "needs database"),
    ]:
        with pytest.raises(SpecError, match=message):
            TenantSpec.from_config("hooli", resigned({**config, "paybill:retiring": broken}))


def test_the_generation_moves_only_the_names_the_cloud_never_frees(catalog: Any) -> None:
    spec = tenant_spec(catalog, "soylent")  # gcp silo
    assert spec is not None
    catalog.generations["soylent"] = 2
    try:
        moved = tenant_spec(catalog, "soylent")
    finally:
        del catalog.generations["soylent"]
    assert moved is not None and moved.generation == 2
    changed = {key for key in spec.names if spec.names[key] != moved.names[key]}
    assert changed == {"key_ring", "key"} == set(naming.NEVER_FREED["gcp"])
    assert moved.names["key_ring"].endswith("-g2")
    assert TenantSpec.from_config("soylent", moved.to_config()) == moved
    assert "paybill:generation" not in spec.to_config()  # generation 0: the config as it always was


def test_the_oci_home_region_reaches_the_stack(catalog: Any) -> None:
    spec = tenant_spec(catalog, "oscorp")
    assert spec is not None and spec.account["home_region"] == catalog.settings.accounts.oci_home_region
