"""Event-triggered stuck pods on real clusters: evicted within 2 s of the threshold, not an interval later.

An upper cluster, lower A whose free CPU is split over two real nodes (a 2-CPU pod fits A's
virtual node but no node below), lower B, their providers. A long-lived ``tensile-deschedule``
with a 1-hour interval runs its first cycle at start, before any pod is stuck; the pod's
``PodScheduled=False/Unschedulable`` reaches the daemon by its watch cache, and the timer set at
``lastTransitionTime + minTimeSinceLastTransitionSeconds`` runs PendingOnVirtualNode then.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from descheduler.model import parse_time
from tests.cluster import clusters
from tests.e2e.support import tensile_env as te
from tests.e2e.support import workloads
from tests.e2e.support.providers import wait_for
from tests.e2e.test_stuck_pods import fill_lower_a, write_policy

LOWER_A = tuple(clusters.NodeSpec(f"stuck-a-node-{i}", cpu="2") for i in range(2))
LOWER_B = (clusters.NodeSpec("stuck-b-node-0", cpu="4"),)
NS = "events"
THRESHOLD = 6


@pytest.fixture(scope="module")
def env(
    control_plane_binaries: object, clusters_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[te.TensileEnv]:
    logs = tmp_path_factory.mktemp("events-logs")
    with te.tensile_env(clusters_root / "events", "events", {"vk-a": LOWER_A, "vk-b": LOWER_B}, log_dir=logs) as env:
        yield env


def json_logs(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def logged_at(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(entry["ts"]).replace("Z", "+00:00")).timestamp()


def test_a_stuck_pod_is_evicted_within_2s_of_its_threshold(env: te.TensileEnv, tmp_path: Path) -> None:
    upper = env.upper
    fill_lower_a(env)
    policy = write_policy(tmp_path, namespace=NS, after=THRESHOLD, pending=3600, avoid=0)
    log = tmp_path / "daemon.log"
    cmd = workloads.descheduler_command(
        upper, policy, "-v", "--logging-format", "json", "--descheduling-interval", "1h", "--metrics-address", ""
    )
    with log.open("wb") as sink:
        daemon = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=sink, env={**os.environ, "KUBECONFIG": ""})
    try:
        wait_for(
            lambda: any(str(e["msg"]).startswith("cycle done") for e in json_logs(log)), timeout=60, what="cycle 1"
        )
        stuck = te.stuck_checkout(upper, NS)
        since = parse_time(te.scheduled_condition(stuck)["lastTransitionTime"]) or 0.0
        due = since + THRESHOLD

        def evicted() -> list[dict[str, Any]]:
            return [e for e in json_logs(log) if e.get("result") == "evicted"]

        wait_for(lambda: bool(evicted()), timeout=THRESHOLD + 30, what="the stuck pod evicted")
        (eviction,) = evicted()
        assert eviction["pod"] == f"{NS}/{stuck['metadata']['name']}"
        at = logged_at(eviction)
        assert due <= at + 0.01, "never before its threshold"
        assert at - due <= 2.0, f"evicted {at - due:.2f}s after its threshold"
        starts = [str(e["msg"]) for e in json_logs(log) if str(e["msg"]).startswith("cycle 2 starting")]
        assert starts == ["cycle 2 starting: PendingOnVirtualNode for 1 pod(s) past their threshold"], starts
    finally:
        daemon.terminate()
        daemon.wait(60)
