"""The chart's values.schema.json checks ``deschedulerPolicy`` with policies/deschedulerpolicy.schema.json.

Helm validates values against one self-contained schema, so the policy schema is embedded in it:
its ``$defs`` beside the chart's and its body as ``properties.deschedulerPolicy``, without
``apiVersion`` and ``kind`` (the chart writes those from ``deschedulerPolicyAPIVersion``), and
empty allowed (the chart then installs its default policy).
:func:`embedded` computes that part; ``tests/helm/test_chart_schema.py`` checks the chart holds it,
and ``python -m tests.helm.values_schema`` rewrites it after the policy schema changed.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
POLICY_SCHEMA = ROOT / "policies" / "deschedulerpolicy.schema.json"
VALUES_SCHEMA = ROOT / "cronjobs" / "helm" / "tensile" / "values.schema.json"
WRAPPER_KEYS = ("apiVersion", "kind")


def embedded(policy_schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the ``deschedulerPolicy`` property, the ``$defs`` it refers to) for the values schema."""
    body = copy.deepcopy(policy_schema)
    defs = body.pop("$defs", {})
    for key in ("$id", "$schema"):
        body.pop(key, None)
    for key in WRAPPER_KEYS:
        body.get("properties", {}).pop(key, None)
    required = [r for r in body.pop("required", []) if r not in WRAPPER_KEYS]
    if required:
        # Empty means "the chart's default policy"; anything else is a whole policy.
        body["if"] = {"minProperties": 1}
        body["then"] = {"required": required}
    return body, defs


def rewrite() -> None:
    values = json.loads(VALUES_SCHEMA.read_text())
    policy, defs = embedded(json.loads(POLICY_SCHEMA.read_text()))
    values["properties"]["deschedulerPolicy"] = policy
    values["$defs"] = {**values.get("$defs", {}), **defs}
    VALUES_SCHEMA.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    rewrite()
    print(f"wrote {VALUES_SCHEMA.relative_to(ROOT)}", file=sys.stderr)
