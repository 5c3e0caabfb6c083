"""The test control planes behave like real clusters: scheduling, controllers, PDBs, logs."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable

from tests.cluster import binaries, clusters


def wait_for(predicate: Callable[[], bool], *, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.3)


def namespace(cluster: clusters.Cluster) -> str:
    name = f"smoke-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    return name


def running_pods(cluster: clusters.Cluster, ns: str, selector: str) -> list[dict[str, object]]:
    data = json.loads(cluster.kubectl("get", "pods", "-n", ns, "-l", selector, "-o", "json"))
    return [p for p in data["items"] if p["status"].get("phase") == "Running"]


def test_binaries_report_their_pinned_versions(control_plane_binaries: binaries.Binaries) -> None:
    out = subprocess.run([str(control_plane_binaries.kube_apiserver), "--version"], capture_output=True, text=True)
    assert out.stdout.strip() == f"Kubernetes {binaries.KUBERNETES_VERSION}"
    etcd = subprocess.run([str(control_plane_binaries.etcd), "--version"], capture_output=True, text=True)
    assert binaries.ETCD_VERSION.lstrip("v") in etcd.stdout


def test_lower_nodes_are_ready_with_configured_capacity(lower_a: clusters.Cluster, lower_b: clusters.Cluster) -> None:
    for cluster, prefix in ((lower_a, "a"), (lower_b, "b")):
        nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json"))["items"]
        mine = [n for n in nodes if n["metadata"]["name"].startswith(f"{prefix}-node-")]
        assert len(mine) == 3
        for node in mine:
            ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
            assert ready == "True"
            assert node["status"]["allocatable"]["cpu"] == "4"
            assert node["status"]["allocatable"]["memory"] == "8Gi"


def test_upper_kwok_leaves_nodes_without_the_annotation_alone(upper: clusters.Cluster) -> None:
    foreign = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"virtual-{uuid.uuid4().hex[:6]}"}}
    upper.kubectl("create", "-f", "-", input_text=json.dumps(foreign))
    managed = clusters.NodeSpec(name=f"kwok-{uuid.uuid4().hex[:6]}")
    upper.add_nodes([managed])
    try:
        clusters.wait_nodes_ready(upper, [managed.name], timeout=30)
        time.sleep(2)  # give kwok every chance to (wrongly) take the foreign node too
        node = json.loads(upper.kubectl("get", "node", foreign["metadata"]["name"], "-o", "json"))
        assert not node.get("status", {}).get("conditions"), "kwok must not manage nodes without its annotation"
    finally:
        upper.kubectl("delete", "node", foreign["metadata"]["name"], managed.name, "--wait=false")


def test_deployment_in_lower_cluster_gets_running_pods(lower_a: clusters.Cluster) -> None:
    ns = namespace(lower_a)
    lower_a.kubectl("create", "deployment", "web", "-n", ns, "--image=nginx", "--replicas=3")
    wait_for(lambda: len(running_pods(lower_a, ns, "app=web")) == 3, what="3 running pods")
    nodes = {p["spec"]["nodeName"] for p in running_pods(lower_a, ns, "app=web")}  # type: ignore[index]
    assert nodes <= {f"a-node-{i}" for i in range(3)}


def test_eviction_blocked_by_pdb_gets_429(lower_b: clusters.Cluster) -> None:
    ns = namespace(lower_b)
    lower_b.kubectl("create", "deployment", "db", "-n", ns, "--image=postgres", "--replicas=2")
    lower_b.kubectl("create", "poddisruptionbudget", "db", "-n", ns, "--selector=app=db", "--min-available=2")
    wait_for(lambda: len(running_pods(lower_b, ns, "app=db")) == 2, what="2 running pods")

    def pdb_observed() -> bool:
        pdb = json.loads(lower_b.kubectl("get", "pdb", "db", "-n", ns, "-o", "json"))
        return pdb.get("status", {}).get("currentHealthy") == 2

    wait_for(pdb_observed, what="PDB status")
    pod = running_pods(lower_b, ns, "app=db")[0]["metadata"]["name"]  # type: ignore[index]
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": ns}}
    proc = subprocess.run(
        [
            str(lower_b.bins.kubectl),
            "--kubeconfig",
            str(lower_b.kubeconfig),
            "create",
            "--raw",
            f"/api/v1/namespaces/{ns}/pods/{pod}/eviction",
            "-f",
            "-",
            "-v=6",
        ],
        input=json.dumps(eviction),
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "429" in proc.stderr, proc.stderr[-500:]
    assert "disruption budget" in proc.stderr


def test_kubectl_logs_returns_configured_lines(lower_a: clusters.Cluster) -> None:
    ns = namespace(lower_a)
    lower_a.kubectl("run", "talker", "-n", ns, "--image=busybox")
    wait_for(lambda: len(running_pods(lower_a, ns, "run=talker")) == 1, what="talker running")
    out = lower_a.kubectl("logs", "-n", ns, "talker")
    assert out.splitlines() == list(clusters.LOG_LINES)
