"""tensile-virtual-node end to end: upper cluster + lower cluster(s), provider as a process."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from descheduler import keys
from descheduler.kube.client import Kube
from descheduler.model import node_from_raw, pod_from_raw
from provider.config import ProviderConfig
from provider.kube.informer import Informer
from tests.cluster import clusters
from tests.e2e.support.providers import ProviderProcess, pods, ready_provider, running, virtual_deployment, wait_for

NODE = "vk-lower-a"


@pytest.fixture(scope="module")
def provider(
    upper: clusters.Cluster, lower_a: clusters.Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProviderProcess]:
    with ready_provider(upper, lower_a, NODE, tmp_path_factory.mktemp("provider-logs")) as proc:
        yield proc


def new_namespace(*cluster: clusters.Cluster) -> str:
    name = f"e2e-{uuid.uuid4().hex[:6]}"
    for c in cluster:
        c.kubectl("create", "namespace", name)
    return name


def own_lower_pods(lower: clusters.Cluster, namespace: str, node_name: str = NODE) -> list[dict[str, Any]]:
    return pods(lower, namespace, f"{keys.VIRTUAL_NODE_LABEL}={node_name}")


def expected_allocatable(lower: clusters.Cluster, node_name: str) -> dict[str, int]:
    """The formula of DESIGN.md §3, computed independently from the lower cluster's objects."""
    nodes = [node_from_raw(n) for n in json.loads(lower.kubectl("get", "nodes", "-o", "json"))["items"]]
    counted = {n.name: n for n in nodes if n.ready and not n.unschedulable}
    total: dict[str, int] = {}
    for n in counted.values():
        for name, amount in n.allocatable.items():
            total[name] = total.get(name, 0) + amount
    for raw in json.loads(lower.kubectl("get", "pods", "-A", "-o", "json"))["items"]:
        pod = pod_from_raw(raw)
        own = pod.labels.get(keys.VIRTUAL_NODE_LABEL) == node_name and pod.labels.get(keys.UPPER_CLUSTER_LABEL)
        if pod.node_name in counted and pod.phase not in ("Succeeded", "Failed") and not own:
            for name, amount in pod.requests.items():
                total[name] = total.get(name, 0) - amount
    return total


def node_allocatable(provider: ProviderProcess) -> dict[str, int]:
    found = provider.node()
    assert found is not None
    return node_from_raw(found).allocatable


def test_virtual_node_is_registered_with_contract_labels(provider: ProviderProcess, lower_a: clusters.Cluster) -> None:
    node = provider.node()
    assert node is not None
    labels = node["metadata"]["labels"]
    assert labels["type"] == "virtual-kubelet" and labels["kubernetes.io/role"] == "agent"
    assert labels["kubernetes.io/hostname"] == NODE
    assert {"key": "virtual-kubelet.io/provider", "value": "tensile", "effect": "NoSchedule"} in node["spec"]["taints"]
    assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == provider.port
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.36.3"
    lease = json.loads(provider.upper.kubectl("get", "lease", NODE, "-n", "kube-node-lease", "-o", "json"))
    assert lease["spec"]["holderIdentity"] == NODE


def own_labels(node: dict[str, Any]) -> dict[str, str]:
    """The node's labels without the beta.kubernetes.io/ ones that kube-controller-manager's node
    lifecycle controller copies from the stable labels some time after registration."""
    labels: dict[str, str] = node["metadata"]["labels"]
    return {key: value for key, value in labels.items() if not key.startswith("beta.kubernetes.io/")}


def test_a_deleted_virtual_node_is_registered_again(
    upper: clusters.Cluster, lower_a: clusters.Cluster, tmp_path: Path
) -> None:
    proc = ProviderProcess(upper, lower_a, "vk-again", tmp_path)
    proc.start()
    try:
        proc.wait_ready()
        first = proc.node()
        assert first is not None
        upper.kubectl("delete", "node", "vk-again")

        def registered_again() -> bool:
            found = proc.node()
            return found is not None and found["metadata"]["uid"] != first["metadata"]["uid"]

        wait_for(registered_again, timeout=30, what="vk-again registered again", every=1.0)
        proc.wait_ready(timeout=30)
        again = proc.node()
        assert again is not None
        assert own_labels(again) == own_labels(first)
        assert again["spec"]["taints"] == first["spec"]["taints"]
    finally:
        proc.terminate()
        upper.kubectl("delete", "node", "vk-again", "--ignore-not-found")


def test_node_status_is_written_on_beats_not_on_every_mirror_change(
    provider: ProviderProcess, upper: clusters.Cluster
) -> None:
    """Mirrors do not change capacity; a kubelet writes unchanged status only with its heartbeat."""
    writes: list[float] = []
    nodes = Informer(
        Kube.from_kubeconfig(str(upper.kubeconfig)),
        "/api/v1/nodes",
        "test-node-writes",
        {"fieldSelector": f"metadata.name={NODE}"},
        lambda _event, _obj: writes.append(time.monotonic()),
    )
    stop = threading.Event()
    nodes.start(stop)
    try:
        assert nodes.synced.wait(30)
        time.sleep(2.0)  # a provider that just started may still be taking in its lower caches
        writes.clear()
        started = time.monotonic()
        ns = new_namespace(upper)
        upper.apply([virtual_deployment("quiet", ns, 30, NODE, cpu="10m")])
        wait_for(lambda: len(running(pods(upper, ns))) == 30, timeout=60, what="30 upper pods Running")
        upper.kubectl("delete", "deployment", "quiet", "-n", ns)
        wait_for(lambda: not pods(upper, ns), timeout=60, what="pods gone")
        elapsed = time.monotonic() - started
    finally:
        stop.set()
    beats = int(elapsed // ProviderConfig.renew_interval) + 1
    assert len(writes) <= beats, f"{len(writes)} node writes in {elapsed:.0f}s, with a beat every 10s"


def test_deployment_runs_in_lower_cluster_and_scales_down(
    provider: ProviderProcess, upper: clusters.Cluster, lower_a: clusters.Cluster
) -> None:
    ns = new_namespace(upper)
    upper.apply([virtual_deployment("web", ns, 20, NODE)])
    wait_for(lambda: len(running(pods(upper, ns))) == 20, timeout=90, what="20 upper pods Running")
    upper_pods = running(pods(upper, ns))
    assert all(p["status"].get("podIP") for p in upper_pods)
    lower = own_lower_pods(lower_a, ns)
    assert len(running(lower)) == 20
    assert {p["spec"]["nodeName"] for p in lower} <= {f"a-node-{i}" for i in range(3)}
    by_name = {p["metadata"]["name"]: p for p in lower}
    for pod in upper_pods:
        mirror = by_name[pod["metadata"]["name"]]
        assert mirror["metadata"]["annotations"][keys.UPPER_UID_ANNOTATION] == pod["metadata"]["uid"]
        assert not mirror["metadata"].get("ownerReferences")
        assert not any(v["name"].startswith("kube-api-access-") for v in mirror["spec"].get("volumes", []))
        assert pod["status"]["podIP"] == mirror["status"]["podIP"]
    upper.kubectl("scale", "deployment", "web", "-n", ns, "--replicas=5")
    wait_for(
        lambda: len(own_lower_pods(lower_a, ns)) == 5 and len(pods(upper, ns)) == 5,
        timeout=60,
        what="scale down to 5 on both sides",
    )


def test_metrics_show_mirrors_created_and_status_copied(provider: ProviderProcess, upper: clusters.Cluster) -> None:
    def value(text: str, sample: str) -> float:
        found = [line.rpartition(" ")[2] for line in text.splitlines() if line.startswith(sample + " ")]
        return float(found[0]) if found else 0.0

    before = provider.metrics()
    ns = new_namespace(upper)
    upper.apply([virtual_deployment("counted", ns, 5, NODE, cpu="10m")])
    wait_for(lambda: len(running(pods(upper, ns))) == 5, timeout=60, what="5 upper pods Running")
    after = provider.metrics()
    created = 'tensile_provider_mirror_creates_total{result="created"}'
    assert value(after, created) - value(before, created) == 5
    synced = "tensile_provider_status_sync_duration_seconds_count"
    assert value(after, synced) - value(before, synced) >= 5, "at least the Running status of each pod"
    assert value(after, 'tensile_provider_workqueue_adds_total{queue="status"}') > 0


def test_pod_too_big_for_any_lower_node_shows_unschedulable(provider: ProviderProcess, upper: clusters.Cluster) -> None:
    ns = new_namespace(upper)
    upper.apply([virtual_deployment("big", ns, 1, NODE, cpu="6")])  # fits the 12-CPU sum, no 4-CPU node

    def unschedulable() -> bool:
        for pod in pods(upper, ns):
            for cond in pod["status"].get("conditions", []):
                if (
                    cond["type"] == "PodScheduled"
                    and cond["status"] == "False"
                    and cond.get("reason") == "Unschedulable"
                ):
                    return bool(cond.get("lastTransitionTime") and cond.get("message"))
        return False

    wait_for(unschedulable, timeout=60, what="PodScheduled=False/Unschedulable on the upper pod")


def test_capacity_follows_lower_nodes_and_foreign_pods(provider: ProviderProcess, lower_a: clusters.Cluster) -> None:
    def matches() -> bool:
        want, have = expected_allocatable(lower_a, NODE), node_allocatable(provider)
        return all(have.get(k, 0) == v for k, v in want.items() if k in ("cpu", "memory", "pods"))

    wait_for(matches, timeout=30, what="initial capacity")
    extra = clusters.NodeSpec(name=f"a-extra-{uuid.uuid4().hex[:4]}", cpu="8", memory="16Gi")
    lower_a.add_nodes([extra])
    wait_for(matches, timeout=30, what="capacity after a node joined")
    lower_a.kubectl("cordon", extra.name)
    wait_for(matches, timeout=30, what="capacity after cordon")
    ns = new_namespace(lower_a)
    lower_a.kubectl("create", "deployment", "local", "-n", ns, "--image=nginx", "--replicas=3")
    lower_a.kubectl("set", "resources", "deployment", "local", "-n", ns, "--requests=cpu=500m,memory=256Mi")
    wait_for(lambda: len(running(pods(lower_a, ns))) == 3, timeout=60, what="foreign pods running")
    wait_for(matches, timeout=30, what="capacity with foreign pods")
    lower_a.kubectl("delete", "namespace", ns, "--wait=false")
    lower_a.kubectl("delete", "node", extra.name)
    wait_for(matches, timeout=60, what="capacity after node removal and foreign pods gone")


def test_configmap_changes_reach_the_lower_copy(
    provider: ProviderProcess, upper: clusters.Cluster, lower_a: clusters.Cluster
) -> None:
    ns = new_namespace(upper)
    upper.kubectl("create", "configmap", "settings", "-n", ns, "--from-literal=mode=blue")
    volume = {"volumes": [{"name": "cfg", "configMap": {"name": "settings"}}]}
    upper.apply([virtual_deployment("cfg", ns, 1, NODE, extra_spec=volume)])
    wait_for(lambda: len(running(pods(upper, ns))) == 1, timeout=60, what="pod with configmap running")

    def lower_mode() -> str:
        out = lower_a.kubectl("get", "configmap", "settings", "-n", ns, "-o", "json", check=False)
        return json.loads(out)["data"]["mode"] if out.strip() else ""

    assert lower_mode() == "blue"
    upper.kubectl("patch", "configmap", "settings", "-n", ns, "-p", '{"data": {"mode": "green"}}')
    wait_for(lambda: lower_mode() == "green", timeout=15, what="configmap change in the lower copy")
    upper.kubectl("delete", "deployment", "cfg", "-n", ns)
    wait_for(lambda: lower_mode() == "", timeout=60, what="unused copy removed")


def test_kubectl_logs_through_the_upper_cluster(provider: ProviderProcess, upper: clusters.Cluster) -> None:
    ns = new_namespace(upper)
    upper.apply([virtual_deployment("talk", ns, 1, NODE)])
    wait_for(lambda: len(running(pods(upper, ns))) == 1, timeout=60, what="talker running")
    name = running(pods(upper, ns))[0]["metadata"]["name"]
    assert upper.kubectl("logs", "-n", ns, name).splitlines() == list(clusters.LOG_LINES)
    assert upper.kubectl("logs", "-n", ns, name, "--tail=1").splitlines() == [clusters.LOG_LINES[-1]]
    since = upper.kubectl("logs", "-n", ns, name, "--since-time=2024-01-01T00:00:01Z", "-c", "app")
    assert since.splitlines() == list(clusters.LOG_LINES[1:])
    assert upper.kubectl("logs", "-n", ns, name, "--since=1h") == ""  # the lines are from 2024; no crash


def test_sigkill_churn_keeps_exactly_one_mirror_and_spares_other_upper_clusters(
    provider: ProviderProcess,
    upper: clusters.Cluster,
    lower_a: clusters.Cluster,
    make_cluster: Callable[[clusters.ClusterSpec], clusters.Cluster],
    tmp_path: Path,
) -> None:
    other_upper = make_cluster(clusters.ClusterSpec("upper-two"))
    other = ProviderProcess(other_upper, lower_a, "vk-shared", tmp_path, upper_cluster_id="upper-two")
    other.start()
    try:
        other.wait_ready()
        other_ns = new_namespace(other_upper)
        other_upper.apply([virtual_deployment("theirs", other_ns, 4, "vk-shared")])
        wait_for(lambda: len(running(pods(other_upper, other_ns))) == 4, timeout=90, what="other upper's pods")
        theirs = {p["metadata"]["uid"] for p in own_lower_pods(lower_a, other_ns, "vk-shared")}
        ns = new_namespace(upper)
        upper.apply([virtual_deployment("churn", ns, 10, NODE)])
        rng = random.Random(7)
        for round_ in range(5):
            upper.kubectl("scale", "deployment", "churn", "-n", ns, f"--replicas={rng.choice([3, 8, 12, 15])}")
            time.sleep(rng.uniform(0.2, 1.5))
            provider.kill()
            time.sleep(0.3)
            provider.start()
            assert provider.proc is not None, f"restart {round_}"
        provider.wait_ready()

        def converged() -> bool:
            upper_pods = [p for p in pods(upper, ns) if not p["metadata"].get("deletionTimestamp")]
            lower_pods = own_lower_pods(lower_a, ns)
            uids = sorted(p["metadata"]["annotations"][keys.UPPER_UID_ANNOTATION] for p in lower_pods)
            return uids == sorted(p["metadata"]["uid"] for p in upper_pods) and len(running(upper_pods)) == len(
                upper_pods
            )

        wait_for(converged, timeout=120, what="exactly one lower pod per upper pod")
        assert {p["metadata"]["uid"] for p in own_lower_pods(lower_a, other_ns, "vk-shared")} == theirs
    finally:
        other.terminate()


def test_lower_outage_makes_node_not_ready_and_back(
    upper: clusters.Cluster, make_cluster: Callable[[clusters.ClusterSpec], clusters.Cluster], tmp_path: Path
) -> None:
    lower = make_cluster(clusters.ClusterSpec("lower-c", clusters.default_lower_nodes("c", 1)))
    proc = ProviderProcess(upper, lower, "vk-lower-c", tmp_path)
    proc.start()
    try:
        proc.wait_ready()
        ns = new_namespace(upper)
        upper.apply([virtual_deployment("steady", ns, 3, "vk-lower-c")])
        wait_for(lambda: len(running(pods(upper, ns))) == 3, timeout=60, what="3 pods running")
        before = sorted(p["metadata"]["uid"] for p in pods(upper, ns))
        lower.stop_component("kube-apiserver")
        started = time.monotonic()
        wait_for(lambda: proc.ready() in ("False", "Unknown"), timeout=60, what="NotReady", every=1.0)
        not_ready_after = time.monotonic() - started
        lower.start_component("kube-apiserver")
        proc.wait_ready(timeout=60)
        assert not_ready_after <= 60
        wait_for(lambda: len(running(pods(upper, ns))) == 3, timeout=60, what="pods still running")
        assert sorted(p["metadata"]["uid"] for p in pods(upper, ns)) == before, "no pod lost or replaced"
    finally:
        proc.terminate()


def test_a_provider_started_while_its_lower_cluster_is_down_waits_for_it(
    upper: clusters.Cluster, make_cluster: Callable[[clusters.ClusterSpec], clusters.Cluster], tmp_path: Path
) -> None:
    lower = make_cluster(clusters.ClusterSpec("lower-d", clusters.default_lower_nodes("d", 1)))
    lower.stop_component("kube-apiserver")
    proc = ProviderProcess(upper, lower, "vk-lower-d", tmp_path)
    proc.start()
    try:
        wait_for(lambda: proc.ready() == "False", timeout=60, what="vk-lower-d registered NotReady", every=1.0)
        registered = proc.node()
        assert registered is not None
        advertised = node_from_raw(registered).allocatable
        assert not any(advertised.values()), f"capacity advertised before the lower cluster answered: {advertised}"
        lower.start_component("kube-apiserver")
        proc.wait_ready(timeout=60)
        wait_for(
            lambda: node_allocatable(proc) == expected_allocatable(lower, "vk-lower-d"),
            timeout=30,
            what="the lower cluster's capacity advertised",
        )
    finally:
        proc.terminate()
        upper.kubectl("delete", "node", "vk-lower-d", "--ignore-not-found")


def test_a_lower_outage_is_told_in_a_few_lines_and_its_end_in_one(
    upper: clusters.Cluster, make_cluster: Callable[[clusters.ClusterSpec], clusters.Cluster], tmp_path: Path
) -> None:
    lower = make_cluster(clusters.ClusterSpec("lower-e", clusters.default_lower_nodes("e", 1)))
    proc = ProviderProcess(upper, lower, "vk-lower-e", tmp_path, extra_args=["--lower-cluster-name", "lower-e"])
    proc.start()
    try:
        proc.wait_ready()
        before = len(proc.logs().splitlines())
        lower.stop_component("kube-apiserver")
        time.sleep(10)  # the outage itself: what the log says while it lasts is the claim
        during = proc.logs().splitlines()[before:]
        lower.start_component("kube-apiserver")
        wait_for(
            lambda: "lower cluster lower-e reachable again after " in proc.logs(),
            timeout=60,
            what=f"the recovery line\n{proc.logs()[-3000:]}",
        )
        recovered = [line for line in proc.logs().splitlines() if "reachable again" in line]
    finally:
        proc.terminate()
        upper.kubectl("delete", "node", "vk-lower-e", "--ignore-not-found")
    server = urlparse(lower.apiserver_url).netloc
    about_lower = [line for line in during if "lower-e" in line or server in line]
    assert 1 <= len(about_lower) <= 5, "\n".join(during)
    assert (
        f"WARNING provider.kube.reachability: lower cluster lower-e at https://{server} unreachable for 0s: "
        in (about_lower[0])
    ), about_lower[0]
    # Killing the server may reset a connection in flight, or leave one unconnected (ENOTCONN),
    # before new ones are refused: the first line names whichever the provider met first.
    reasons = ("connection refused", "connection reset by peer", "transport endpoint is not connected")
    assert about_lower[0].endswith(tuple(f"{reason}; retrying every 2s" for reason in reasons)), about_lower[0]
    assert len(recovered) == 1 and " INFO " in recovered[0], recovered


def test_a_lower_create_that_keeps_failing_shows_its_reason_upstairs(
    provider: ProviderProcess, upper: clusters.Cluster, lower_a: clusters.Cluster
) -> None:
    ns = new_namespace(upper)
    name = f"upper-only-{uuid.uuid4().hex[:6]}"
    upper.apply(
        [{"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name}, "value": 100}]
    )
    upper.apply([virtual_deployment("picky", ns, 1, NODE, extra_spec={"priorityClassName": name})])

    def failure_shown() -> str:
        for pod in pods(upper, ns):
            for cond in pod["status"].get("conditions", []):
                if (
                    cond["type"] == "PodScheduled"
                    and cond["status"] == "False"
                    and cond.get("reason") != "Unschedulable"
                ):
                    return str(cond.get("message", ""))
        return ""

    wait_for(lambda: bool(failure_shown()), timeout=60, what="the lower create failure on the upper pod")
    assert name in failure_shown()
    assert own_lower_pods(lower_a, ns) == []
