"""JSON Schema of DeschedulerPolicy, generated from the same Args definitions that
validation uses, so editors and the loader never disagree. Written to
policies/deschedulerpolicy.schema.json by ``tensile-deschedule schema``; a test checks
that the file is current."""

from __future__ import annotations

from typing import Any

from descheduler.policy import argspec
from descheduler.policy.loading import API_VERSION, KIND
from descheduler.policy.types import EXTENSION_POINTS, Specs

SCHEMA_ID = "https://tensile.io/schemas/deschedulerpolicy.schema.json"


def _plugin_set(names: list[str]) -> dict[str, Any]:
    name_list = {"type": "array", "items": {"enum": names}}
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {"enabled": name_list, "disabled": {"type": "array", "items": {"enum": [*names, "*"]}}},
    }


def _plugin_config(registry: Specs) -> dict[str, Any]:
    variants = []
    for spec in registry:
        args = argspec.json_schema(spec.args_type)
        args["description"] = f"Arguments of {spec.name}."
        variants.append(
            {
                "if": {"properties": {"name": {"const": spec.name}}},
                "then": {"properties": {"args": args}},
            }
        )
    return {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {"name": {"enum": registry.names()}, "args": {"type": "object"}},
        "allOf": variants,
    }


def policy_schema(registry: Specs) -> dict[str, Any]:
    points = {
        point: _plugin_set(sorted(s.name for s in registry if point in s.extension_points))
        for point in EXTENSION_POINTS
    }
    limit = {"type": "integer", "minimum": 0}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "DeschedulerPolicy (descheduler/v1alpha2) as accepted by tensile-deschedule",
        "type": "object",
        "required": ["apiVersion", "kind", "profiles"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": KIND},
            "nodeSelector": {"type": "string", "description": "Label selector string for the nodes to process."},
            "maxNoOfPodsToEvictPerNode": limit,
            "maxNoOfPodsToEvictPerNamespace": limit,
            "maxNoOfPodsToEvictTotal": limit,
            "gracePeriodSeconds": limit,
            "evictionFailureEventNotification": {"type": "boolean"},
            "metricsCollector": {"type": "object", "properties": {"enabled": {"const": False}}},
            "profiles": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "pluginConfig": {"type": "array", "items": _plugin_config(registry)},
                        "plugins": {"type": "object", "additionalProperties": False, "properties": points},
                    },
                },
            },
        },
        "$defs": {"labelSelector": argspec.LABEL_SELECTOR_SCHEMA},
    }
