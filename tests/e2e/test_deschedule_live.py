"""tensile-deschedule against a real cluster: evictions through the Eviction API that
controllers replace, PDBs that block, and a dry run that changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import clusters
from tests.cluster.test_smoke import wait_for
from tests.e2e.support import workloads
from tests.e2e.support.workloads import running_on

NODES = [clusters.NodeSpec(name=f"d-node-{i}") for i in range(3)]


@pytest.fixture(scope="module")
def cluster(control_plane_binaries: object, clusters_root: Path) -> Iterator[clusters.Cluster]:
    with clusters.running(clusters.ClusterSpec("desched", tuple(NODES)), root=clusters_root / "desched") as started:
        yield started


def policy_file(tmp_path: Path, namespace: str, *, failure_events: bool = False) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            apiVersion: descheduler/v1alpha2
            kind: DeschedulerPolicy
            evictionFailureEventNotification: {str(failure_events).lower()}
            profiles:
              - name: dedupe
                pluginConfig:
                  - name: RemoveDuplicates
                    args:
                      namespaces:
                        include: [{namespace}]
                plugins:
                  balance:
                    enabled: [RemoveDuplicates]
            """
        )
    )
    return path


def deschedule(cluster: clusters.Cluster, policy: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    cmd = workloads.descheduler_command(cluster, policy, "-o", "json", *extra)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "KUBECONFIG": ""})
    report = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
    return proc.returncode, report, proc.stderr


def pods(cluster: clusters.Cluster, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(cluster.kubectl("get", "pods", "-n", ns, "-o", "json"))["items"]
    return items


@pytest.fixture
def piled_up(cluster: clusters.Cluster) -> Callable[[int], str]:
    """A Deployment whose replicas all run on d-node-0 (the other nodes cordoned meanwhile)."""

    def make(replicas: int) -> str:
        return workloads.pile_up(cluster, replicas, node="d-node-0", others=("d-node-1", "d-node-2"))

    return make


def resource_versions(cluster: clusters.Cluster) -> dict[str, str]:
    data = json.loads(cluster.kubectl("get", "pods,nodes,replicasets,deployments,pdb", "-A", "-o", "json"))
    return {
        f"{i['kind']}/{i['metadata'].get('namespace', '')}/{i['metadata']['name']}": i["metadata"]["resourceVersion"]
        for i in data["items"]
    }


def test_dry_run_plans_evictions_and_changes_nothing(
    cluster: clusters.Cluster, piled_up: Callable[[int], str], tmp_path: Path
) -> None:
    ns = piled_up(6)
    before = resource_versions(cluster)
    code, report, stderr = deschedule(cluster, policy_file(tmp_path, ns), "--dry-run")
    assert code == 0, stderr
    assert report["dryRun"] is True
    assert [e["result"] for e in report["evictions"]] == ["planned"] * 4
    assert {e["plugin"] for e in report["evictions"]} == {"RemoveDuplicates"}
    assert resource_versions(cluster) == before
    events = json.loads(cluster.kubectl("get", "events", "-n", ns, "-o", "json"))["items"]
    assert not [e for e in events if e.get("reason") == "Descheduled"]


def test_real_run_evicts_through_the_api_and_replicaset_replaces(
    cluster: clusters.Cluster, piled_up: Callable[[int], str], tmp_path: Path
) -> None:
    ns = piled_up(6)
    code, report, stderr = deschedule(cluster, policy_file(tmp_path, ns))
    assert code == 0, stderr
    evicted = [e["pod"] for e in report["evictions"] if e["result"] == "evicted"]
    assert len(evicted) == 4, report
    wait_for(
        lambda: sum(running_on(cluster, ns).values()) == 6 and running_on(cluster, ns).get("d-node-0", 0) <= 2,
        what="replacements running elsewhere",
    )
    names = {p["metadata"]["name"] for p in pods(cluster, ns)}
    assert not names & set(evicted), "evicted pods must be gone, replaced by new ones"
    events = json.loads(cluster.kubectl("get", "events", "-n", ns, "-o", "json"))["items"]
    descheduled = {
        e["regarding"]["name"] if "regarding" in e else e["involvedObject"]["name"]
        for e in events
        if e.get("reason") == "Descheduled"
    }
    assert descheduled == set(evicted)


def test_pdb_blocks_evictions_and_the_report_says_so(
    cluster: clusters.Cluster, piled_up: Callable[[int], str], tmp_path: Path
) -> None:
    ns = piled_up(4)
    cluster.kubectl("create", "poddisruptionbudget", "web", "-n", ns, "--selector=app=web", "--max-unavailable=0")

    def pdb_ready() -> bool:
        pdb = json.loads(cluster.kubectl("get", "pdb", "web", "-n", ns, "-o", "json"))
        return pdb.get("status", {}).get("currentHealthy") == 4

    wait_for(pdb_ready, what="PDB observed")
    code, report, stderr = deschedule(cluster, policy_file(tmp_path, ns, failure_events=True))
    assert code == 0, stderr
    results = [e["result"] for e in report["evictions"]]
    assert results and set(results) == {"blocked"}, report
    assert running_on(cluster, ns) == {"d-node-0": 4}
    events = json.loads(cluster.kubectl("get", "events", "-n", ns, "-o", "json"))["items"]
    warned = {
        e["regarding"]["name"] if "regarding" in e else e["involvedObject"]["name"]
        for e in events
        if e.get("reason") == "EvictionFailed" and e.get("type") == "Warning"
    }
    assert warned == {e["pod"] for e in report["evictions"]}, "evictionFailureEventNotification records a Warning"
    table = subprocess.run(
        workloads.descheduler_command(cluster, policy_file(tmp_path, ns)),
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "blocked (PDB)" in table
