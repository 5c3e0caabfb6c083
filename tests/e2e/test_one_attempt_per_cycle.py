"""A pod that two plugins select, under a PodDisruptionBudget allowing no disruption: one
eviction request per cycle, ``blocked (PDB)`` in the dry run and in the real run, and no
avoidance record left behind by an eviction the API server refused."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from descheduler import avoidance, keys, model
from descheduler.evictor import limits
from descheduler.evictor.evictor import Evictor
from descheduler.evictor.writers import ApiWriter
from descheduler.kube.client import Kube, load_configuration
from descheduler.policy.types import Limits
from descheduler.report import Result
from tests.cluster import clusters
from tests.cluster.test_smoke import wait_for
from tests.e2e.support import workloads

NODES = [clusters.NodeSpec(name=f"o-node-{i}") for i in range(3)]
EVICTION_REQUESTS = re.compile(r'^apiserver_request_total\{[^}]*subresource="eviction"[^}]*\} (\d+)', re.MULTILINE)


@pytest.fixture(scope="module")
def cluster(control_plane_binaries: object, clusters_root: Path) -> Iterator[clusters.Cluster]:
    with clusters.running(clusters.ClusterSpec("once", tuple(NODES)), root=clusters_root / "once") as started:
        yield started


def eviction_requests(cluster: clusters.Cluster) -> int:
    """Eviction requests the API server has answered so far, whatever the answer (its own metric)."""
    return sum(int(n) for n in EVICTION_REQUESTS.findall(cluster.kubectl("get", "--raw", "/metrics")))


def guarded_pair(cluster: clusters.Cluster) -> str:
    """Two replicas on one node, under a PodDisruptionBudget that allows no disruption."""
    ns = workloads.pile_up(cluster, 2, node="o-node-0", others=("o-node-1", "o-node-2"), prefix="once")
    cluster.kubectl("create", "poddisruptionbudget", "web", "-n", ns, "--selector=app=web", "--max-unavailable=0")

    def observed() -> bool:
        status = json.loads(cluster.kubectl("get", "pdb", "web", "-n", ns, "-o", "json")).get("status", {})
        return status.get("currentHealthy") == 2 and status.get("disruptionsAllowed") == 0

    wait_for(observed, what="PDB observed by the disruption controller")
    return ns


def two_plugin_policy(tmp_path: Path, ns: str) -> Path:
    """PodLifeTime selects both pods; RemoveDuplicates (a Balance plugin, so later) selects one of them again."""
    path = tmp_path / "policy.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            apiVersion: descheduler/v1alpha2
            kind: DeschedulerPolicy
            profiles:
              - name: age
                pluginConfig:
                  - name: PodLifeTime
                    args: {{maxPodLifeTimeSeconds: 1, namespaces: {{include: [{ns}]}}}}
                plugins:
                  deschedule: {{enabled: [PodLifeTime]}}
              - name: spread
                pluginConfig:
                  - name: RemoveDuplicates
                    args: {{namespaces: {{include: [{ns}]}}}}
                plugins:
                  balance: {{enabled: [RemoveDuplicates]}}
            """
        )
    )
    return path


def run(cluster: clusters.Cluster, policy: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        workloads.descheduler_command(cluster, policy, *extra), capture_output=True, text=True, timeout=120
    )


def test_two_plugins_one_request_per_pod_and_blocked_in_both_runs(cluster: clusters.Cluster, tmp_path: Path) -> None:
    ns = guarded_pair(cluster)
    policy = two_plugin_policy(tmp_path, ns)
    time.sleep(1.5)  # PodLifeTime's one second
    before = eviction_requests(cluster)

    dry = run(cluster, policy, "--dry-run", "-o", "json")
    assert dry.returncode == 0, dry.stderr
    planned: list[dict[str, Any]] = json.loads(dry.stdout)["evictions"]
    assert [(e["plugin"], e["result"]) for e in planned] == [("PodLifeTime", "blocked")] * 2
    assert eviction_requests(cluster) == before, "a dry run sends no eviction"
    assert "blocked (PDB)" in run(cluster, policy, "--dry-run").stdout

    real = run(cluster, policy)
    assert real.returncode == 0, real.stderr
    rows = [line.split() for line in real.stdout.splitlines() if line.startswith(ns)]
    assert len(rows) == 2 and all(line[-2:] == ["blocked", "(PDB)"] for line in rows), real.stdout
    assert {line[3] for line in rows} == {"PodLifeTime"}, "RemoveDuplicates must not try the blocked pods again"
    assert eviction_requests(cluster) == before + 2, "exactly one eviction request per pod"
    assert workloads.running_on(cluster, ns) == {"o-node-0": 2}


def test_a_refused_eviction_leaves_no_avoidance_record(cluster: clusters.Cluster) -> None:
    ns = guarded_pair(cluster)
    raw_pods = json.loads(cluster.kubectl("get", "pods", "-n", ns, "-o", "json"))["items"]
    pods = [model.pod_from_raw(p) for p in raw_pods]
    owner = pods[0].controller
    assert owner is not None and owner.kind == "ReplicaSet"
    earlier = avoidance.encode({"vk-b": time.time() + 3600})
    cluster.kubectl("annotate", "replicaset", owner.name, "-n", ns, f"{keys.AVOID_NODES_ANNOTATION}={earlier}")
    state = _state(cluster, pods)
    kube = Kube(load_configuration(str(cluster.kubeconfig)))
    evictor = Evictor(state, ApiWriter(kube), limits.LimitCounter(Limits()))

    assert not evictor.evict(pods[0], plugin="P", profile="p", reason="r", avoid_node="vk-a", avoid_seconds=600)

    assert evictor.decisions[0].result is Result.BLOCKED
    rs = json.loads(cluster.kubectl("get", "replicaset", owner.name, "-n", ns, "-o", "json"))
    record = avoidance.decode(rs["metadata"]["annotations"].get(keys.AVOID_NODES_ANNOTATION))
    assert set(record) == {"vk-b"}, "vk-a was withdrawn; the earlier record of vk-b is untouched"


def _state(cluster: clusters.Cluster, pods: list[model.Pod]) -> Any:
    from descheduler.cluster.state import ClusterState

    nodes = [model.node_from_raw(n) for n in json.loads(cluster.kubectl("get", "nodes", "-o", "json"))["items"]]
    return ClusterState(nodes={n.name: n for n in nodes}, pods=pods, now=time.time())
