"""The long-lived mode's watch caches on a real cluster: the plan a fresh run makes, through an outage.

A dry-run daemon (``--descheduling-interval``) lists once and then follows the cluster by watches
(descheduler/cluster/watched.py). Each of its cycles must plan exactly what a fresh single
``--dry-run`` plans on the same cluster at that moment; after kube-apiserver is killed and started
again (every watch cut), pods created and deleted afterwards must all be seen, none missed.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cluster import clusters
from tests.cluster.test_smoke import wait_for
from tests.e2e.support import workloads
from tests.e2e.test_daemon import Daemon

NODES = tuple(clusters.NodeSpec(name=f"wc-node-{i}") for i in range(3))
DEDUPE_EVERYWHERE = {
    "apiVersion": "descheduler/v1alpha2",
    "kind": "DeschedulerPolicy",
    "profiles": [
        {
            "name": "dedupe",
            "pluginConfig": [{"name": "RemoveDuplicates", "args": {"namespaces": {"exclude": ["kube-system"]}}}],
            "plugins": {"balance": {"enabled": ["RemoveDuplicates"]}},
        }
    ],
}


@pytest.fixture
def cluster(make_cluster: Callable[[clusters.ClusterSpec], clusters.Cluster]) -> clusters.Cluster:
    return make_cluster(clusters.ClusterSpec(f"watch-{uuid.uuid4().hex[:4]}", NODES))


@pytest.fixture
def daemon(cluster: clusters.Cluster, tmp_path: Path) -> Iterator[Daemon]:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(DEDUPE_EVERYWHERE))
    started = Daemon(cluster, policy, tmp_path / "daemon.log", "--dry-run", "--descheduling-interval", "1s")
    yield started
    if started.proc.poll() is None:
        started.proc.kill()
        started.proc.wait(30)


def pile_up(cluster: clusters.Cluster, prefix: str) -> str:
    return workloads.pile_up(cluster, 6, node="wc-node-0", others=("wc-node-1", "wc-node-2"), prefix=prefix)


def fresh_plan(cluster: clusters.Cluster, tmp_path: Path) -> list[str]:
    """What a fresh single dry run plans now: the planned pods, in plan order."""
    policy = tmp_path / "fresh-policy.json"
    policy.write_text(json.dumps(DEDUPE_EVERYWHERE))
    cmd = workloads.descheduler_command(cluster, policy, "--dry-run", "-o", "json")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [f"{e['namespace']}/{e['pod']}" for e in json.loads(proc.stdout)["evictions"] if e["result"] == "planned"]


def cycle_plans(daemon: Daemon) -> list[list[str]]:
    """The pods each finished cycle planned, in plan order (one list per cycle)."""
    plans: list[list[str]] = []
    current: list[str] = []
    for entry in daemon.logs():
        if entry.get("result") == "planned":
            current.append(str(entry["pod"]))
        elif str(entry.get("msg", "")).startswith("cycle done"):
            plans.append(current)
            current = []
    return plans


def next_plan(daemon: Daemon) -> list[str]:
    """The plan of a cycle that starts after now."""
    seen = daemon.cycles_done()
    wait_for(lambda: daemon.cycles_done() >= seen + 2, timeout=60, what="a cycle that started after now")
    return cycle_plans(daemon)[-1]


def test_each_cycle_plans_what_a_fresh_run_plans_through_an_api_server_restart(
    cluster: clusters.Cluster, daemon: Daemon, tmp_path: Path
) -> None:
    first = pile_up(cluster, "wc-a")
    wait_for(lambda: daemon.cycles_done() >= 1, timeout=60, what="a first cycle")
    expected = fresh_plan(cluster, tmp_path)
    assert len(expected) == 4 and all(p.startswith(f"{first}/") for p in expected), expected
    assert next_plan(daemon) == expected
    # Pods created after the daemon started reach it by the watch.
    second = pile_up(cluster, "wc-b")
    expected = fresh_plan(cluster, tmp_path)
    assert sum(p.startswith(f"{second}/") for p in expected) == 4
    assert next_plan(daemon) == expected
    # Every watch cut: kube-apiserver killed and started again.
    cluster.stop_component("kube-apiserver")
    try:
        wait_for(
            lambda: any("has lost the API server" in m for m in daemon.messages()),
            timeout=60,
            what="a cycle refusing to plan on a cache that lost the API server",
        )
    finally:
        cluster.start_component("kube-apiserver")
    wait_for(lambda: _api_up(cluster), timeout=60, what="kube-apiserver back")
    # Changes after the restart: a new pile-up, and the first one deleted.
    third = pile_up(cluster, "wc-c")
    cluster.kubectl("delete", "namespace", first, "--wait=true", "--timeout=60s")
    expected = fresh_plan(cluster, tmp_path)
    assert {p.split("/")[0] for p in expected} == {second, third}, expected
    wait_for(lambda: cycle_plans(daemon)[-1] == expected, timeout=60, what="the daemon to plan the fresh plan")
    assert next_plan(daemon) == expected
    assert "watch-Pod: listed again after" in "\n".join(daemon.messages()), "the pod cache listed again"
    assert daemon.stop() == 0


def _api_up(cluster: clusters.Cluster) -> bool:
    return cluster.kubectl("get", "--raw", "/readyz", check=False).strip() == "ok"
