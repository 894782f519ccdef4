"""Reading a refresh preview from the engine's output: the engine events and the `--json` document, as fixtures
built from their published definitions (labelled so in each file), and through the Python SDK's own classes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from paybill_iac.automation.drift_events import (
    RefreshedResource,
    changed_paths,
    from_engine_events,
    from_preview_json,
    sdk_event_dict,
)

FIXTURES = Path(__file__).parent / "fixtures"
DB = "aws:rds/instance:Instance"


def _fixture(name: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / name).read_text())
    assert data["_fixture"].startswith("NOT captured from a CLI run")  # labelled for what it is
    return data


def _by_name(found: list[RefreshedResource]) -> dict[str, RefreshedResource]:
    return {item.name: item for item in found}


def test_engine_events_give_each_resource_its_refresh_result_and_changed_paths() -> None:
    found = _by_name(from_engine_events(_fixture("refresh_preview_events.json")["events"]))
    assert set(found) == {"paybill-tenant-cyberdyne", "cyberdyne", "cyberdyne-s-db", "cyberdyne-s-data",
                          "cyberdyne-s-role"}
    db = found["cyberdyne-s-db"]
    assert (db.op, db.type, db.paths, db.protect) == ("update", DB, ("publiclyAccessible", "tags.owner"), True)
    assert db.old["outputs"]["publiclyAccessible"] is False and db.new is not None
    assert db.new["outputs"]["publiclyAccessible"] is True
    bucket = found["cyberdyne-s-data"]
    assert (bucket.op, bucket.new, bucket.paths, bucket.drifted) == ("delete", None, (), True)
    assert [item.op for name, item in found.items() if name not in ("cyberdyne-s-db", "cyberdyne-s-data")] == \
        ["same"] * 3
    assert not any(item.drifted for name, item in found.items() if item.op == "same")


def test_the_sdk_s_own_event_classes_read_back_to_the_same_resources() -> None:
    from pulumi.automation.events import EngineEvent

    events = _fixture("refresh_preview_events.json")["events"]
    through_sdk = [sdk_event_dict(EngineEvent.from_json(event)) for event in events]
    assert from_engine_events(through_sdk) == from_engine_events(events)


def test_a_pre_event_alone_is_judged_from_its_states() -> None:
    events = [event for event in _fixture("refresh_preview_events.json")["events"] if "resOutputsEvent" not in event]
    found = _by_name(from_engine_events(events))
    assert {name: item.op for name, item in found.items()} == dict.fromkeys(found, "same")  # pre: new == old
    changed = json.loads(json.dumps(events))
    db = next(event for event in changed if event.get("resourcePreEvent", {}).get("metadata", {}).get("type") == DB)
    db["resourcePreEvent"]["metadata"]["new"]["outputs"]["storageEncrypted"] = False
    db_found = _by_name(from_engine_events(changed))["cyberdyne-s-db"]
    assert (db_found.op, db_found.paths) == ("update", ("storageEncrypted",))


def test_the_json_document_of_a_refresh_preview() -> None:
    found = _by_name(from_preview_json(_fixture("refresh_preview.json")))
    db = found["cyberdyne-s-db"]
    assert (db.op, db.paths, db.protect, db.type) == ("update", ("publiclyAccessible", "tags.owner"), True, DB)
    assert (found["cyberdyne-s-data"].op, found["cyberdyne-s-data"].new) == ("delete", None)
    older = found["cyberdyne-s-role2"]  # an older display's 'refresh' step: decided from its states
    assert (older.op, older.paths, older.type) == ("update", ("maxSessionDuration",), "aws:iam/role:Role")
    assert found["cyberdyne-s-role"].op == "same"


@pytest.mark.parametrize("document", [{"steps": {"not": "a list"}}, {"steps": [{"op": "same"}]}])
def test_a_document_that_is_not_a_refresh_preview_is_refused(document: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="steps"):
        from_preview_json(document)


@pytest.mark.parametrize(("old", "new", "paths"), [
    ({"a": 1}, {"a": 1}, []),
    ({"a": 1}, {"a": 2}, ["a"]),
    ({"tags": {"x": "1"}}, {"tags": {"x": "1", "owner": "me"}}, ["tags.owner"]),
    ({"ingress": [{"cidr": "10.0.0.0/8"}]}, {"ingress": [{"cidr": "0.0.0.0/0"}]}, ["ingress[0].cidr"]),
    ({"ingress": [1]}, {"ingress": [1, 2]}, ["ingress"]),
    ({"gone": True, "kept": 1}, {"kept": 1}, ["gone"]),
])
def test_changed_paths_use_pulumi_s_property_path_syntax(old: Any, new: Any, paths: list[str]) -> None:
    assert changed_paths(old, new) == paths
