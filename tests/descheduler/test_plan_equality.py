"""The whole plan on generated snapshots equals the plan recorded before the snapshot path was
made faster (issue 17): every decision, every field, in order. A changed decision fails here.

Record anew (only for an intended change of behaviour, and say why in the commit):
    TENSILE_RECORD_GOLDEN=1 .venv/bin/pytest tests/descheduler/test_plan_equality.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from descheduler import plugins, runner
from descheduler.cluster import snapshot as snapshots
from descheduler.evictor import writers
from descheduler.policy import loading
from tests.bench import gen_snapshot

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
POLICY = ROOT / "policies" / "bench-all-plugins.yaml"
NOW = 1_780_000_000.0
"""The clock of both the generated objects and the cycle, so ages (PodLifeTime) never drift."""


def _plan(snapshot: Path) -> dict[str, Any]:
    registry = plugins.default_registry()
    policy = loading.load_policy_file(str(POLICY), registry=registry)
    source = snapshots.SnapshotSource(snapshot)
    result = runner.run_cycle(policy, registry, source, writers.DryRunRecorder(), now=NOW, timeout=None)
    document = result.to_dict(show_nodes=True)
    del document["summary"]["durationSeconds"]
    return document


@pytest.mark.parametrize(
    ("nodes", "pods", "seed"),
    [(50, 1500, 1), (200, 6000, 2), (300, 9000, 3), (1000, 30000, 4)],
    ids=[
        "50 nodes, 1500 pods, seed 1",
        "200 nodes, 6000 pods, seed 2",
        "300 nodes, 9000 pods, seed 3",
        "1000 nodes, 30000 pods, seed 4",
    ],
)
def test_plan_equals_recorded_plan(tmp_path: Path, nodes: int, pods: int, seed: int) -> None:
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_bytes(orjson.dumps(gen_snapshot.generate(nodes, pods, seed, now=NOW)))
    plan = _plan(snapshot)
    golden = GOLDEN / f"plan-{nodes}x{pods}-seed{seed}.json"
    if os.environ.get("TENSILE_RECORD_GOLDEN"):
        golden.write_text(json.dumps(plan, separators=(",", ":"), sort_keys=True).replace('},{"', '},\n{"') + "\n")
    recorded = json.loads(golden.read_text())
    assert plan["summary"] == recorded["summary"]
    assert plan["evictions"] == recorded["evictions"]
    assert plan["nodes"] == recorded["nodes"]
    assert plan == recorded


def test_yaml_snapshot_plans_as_its_json(tmp_path: Path) -> None:
    """YAML items are decoded from parsed mappings, JSON items from bytes: the plan is the same."""
    snapshot = tmp_path / "snapshot.yaml"
    snapshot.write_text(yaml.safe_dump(gen_snapshot.generate(50, 1500, 1, now=NOW), sort_keys=False))
    assert _plan(snapshot) == json.loads((GOLDEN / "plan-50x1500-seed1.json").read_text())
