"""JSON Schema of each catalog file kind, from the same pydantic models that validate them."""

from __future__ import annotations

from typing import Any

from paybill_iac.model.catalog import Cell, Plan, Settings, Tenant

_DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _listing(key: str, model: Any, title: str) -> dict[str, Any]:
    item = model.model_json_schema()
    return {
        "$schema": _DRAFT, "title": title, "type": "object", "additionalProperties": False,
        "required": [key], "properties": {key: {"type": "array", "items": {"$ref": f"#/$defs/{model.__name__}"}}},
        "$defs": {**item.pop("$defs", {}), model.__name__: item},
    }


def schemas() -> dict[str, dict[str, Any]]:
    """{"catalog": ..., "plans": ..., "cells": ..., "tenant": ...}"""
    settings = {"$schema": _DRAFT, **Settings.model_json_schema()}
    settings["title"] = "catalog.yaml"
    tenant = {"$schema": _DRAFT, **Tenant.model_json_schema()}
    tenant["title"] = "tenants/<id>.yaml"
    return {
        "catalog": settings,
        "plans": _listing("plans", Plan, "plans.yaml"),
        "cells": _listing("cells", Cell, "cells.yaml"),
        "tenant": tenant,
    }
