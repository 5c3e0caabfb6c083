"""Filter latency of tensile-virtual-node extender, and upper scheduling throughput with and without it.

    python tests/bench/bench_extender.py                    # 10 virtual nodes, 1,000 lower nodes, 30,000 lower pods
    python tests/bench/bench_extender.py --virtual-nodes 3 --lower-nodes 20 --lower-pods 300 --filters 200 --pods 100

The extender only ever reads the fit summaries the providers publish, so the lower clusters are
synthetic here: per virtual node, --lower-nodes lower nodes of mixed sizes, zones and taints and
--lower-pods pods on them (seeded), fed through the provider's own NodeRooms and summary code
and published every second by the provider's own FitPublisher to a real upper cluster. The
virtual nodes are kwok nodes labelled as virtual nodes (kwok runs the pods bound to them). A real
extender and a real second kube-scheduler (profile ``tensile-extended``, calling the extender)
run against it. Printed:
- filter latency over one keep-alive mTLS connection, p50/p99/max, next to GET /healthz on the
  same connection (the HTTPS + Python floor), and the extender's own latency histogram;
- scheduling throughput: --pods pods (a burst like a ReplicaSet's: a few shapes, so the extender
  judges each shape once per summary) bound by the cluster's own scheduler (no extender), then by
  the extended one (same client limits), pods/s each and the ratio, and the CPU per pod.
Goals: filter p99 <= 20 ms; throughput with the extender >= 90% of without.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from descheduler import keys  # noqa: E402
from descheduler.kube.client import Kube  # noqa: E402
from provider.fit import summary  # noqa: E402
from provider.kube.informer import Informer, object_key  # noqa: E402
from provider.node.fit_publisher import FitPublisher  # noqa: E402
from provider.node.rooms import NodeRooms  # noqa: E402
from tests.bench.bench_provider import bucket_quantile, cpu_seconds, histogram_buckets, percentile  # noqa: E402
from tests.cluster import binaries, clusters  # noqa: E402
from tests.e2e.support.extender import SCHEDULER_NAME, ExtendedScheduler, ExtenderProcess, extender_pki  # noqa: E402
from tests.e2e.support.providers import wait_for  # noqa: E402

ZONES = ("z1", "z2", "z3")


def lower_cluster(rng: random.Random, nodes: int, pods: int) -> summary.Summary:
    """A synthetic lower cluster through the provider's NodeRooms: mixed node sizes, zones, a few tainted."""
    rooms = NodeRooms()
    names = []
    for i in range(nodes):
        name = f"n{i}"
        names.append(name)
        cpu, memory = rng.choice(((4, 16), (8, 32), (16, 64), (32, 128)))
        taints = [{"key": "gpu", "value": "true", "effect": "NoSchedule"}] if rng.random() < 0.1 else []
        rooms.upsert_node(
            {
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "zone": rng.choice(ZONES)}},
                "spec": {"taints": taints},
                "status": {
                    "allocatable": {"cpu": str(cpu), "memory": f"{memory}Gi", "pods": "110"},
                    "conditions": [{"type": "Ready", "status": "True"}],
                },
            }
        )
    for i in range(pods):
        requests = {"cpu": f"{rng.choice((50, 100, 250, 500, 1000))}m", "memory": f"{rng.choice((64, 256, 1024))}Mi"}
        rooms.upsert_pod(
            {
                "metadata": {"name": f"p{i}", "namespace": "load"},
                "spec": {
                    "nodeName": rng.choice(names),
                    "containers": [{"name": "c", "resources": {"requests": requests}}],
                },
                "status": {"phase": "Running"},
            }
        )
    return summary.summarize(rooms.rooms())


def virtual_nodes(count: int) -> tuple[clusters.NodeSpec, ...]:
    labels = {keys.VIRTUAL_NODE_TYPE_LABEL: keys.VIRTUAL_NODE_TYPE_VALUE}
    return tuple(
        clusters.NodeSpec(
            f"vk-{i}",
            cpu="400",
            memory="1600Gi",
            pods="10000",
            labels={**labels, keys.LOWER_CLUSTER_LABEL: f"lower-{i}"},
        )
        for i in range(count)
    )


def publish_forever(publishers: list[FitPublisher], stop: threading.Event) -> None:
    while not stop.wait(1.0):
        for publisher in publishers:
            publisher.publish()


def upper_pod(name: str, namespace: str, rng: random.Random, *, extended: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "nodeSelector": {keys.VIRTUAL_NODE_TYPE_LABEL: keys.VIRTUAL_NODE_TYPE_VALUE},
        "containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}],
    }
    if extended:
        spec["schedulerName"] = SCHEDULER_NAME
    annotations = {}
    if rng.random() < 0.2:
        annotations[keys.STASHED_CONSTRAINTS_ANNOTATION] = json.dumps({"nodeSelector": {"zone": rng.choice(ZONES)}})
    meta = {"name": name, "namespace": namespace, "annotations": annotations}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def filter_pod(rng: random.Random) -> dict[str, Any]:
    cpu = rng.choice(("100m", "500m", "2", "8", "20"))
    pod = upper_pod("probe", "bench", rng, extended=True)
    # A memory request of its own makes every probe a new shape: no verdict is reused (the worst case).
    pod["spec"]["containers"][0]["resources"]["requests"] = {"cpu": cpu, "memory": f"{rng.randint(1, 4096)}Mi"}
    return pod


def connection(extender: ExtenderProcess) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=str(extender.pki.serving_cert))
    context.load_cert_chain(str(extender.pki.client_cert), str(extender.pki.client_key))
    return http.client.HTTPSConnection("127.0.0.1", extender.port, context=context, timeout=10)


def timed(conn: http.client.HTTPSConnection, method: str, path: str, body: bytes | None) -> float:
    started = time.perf_counter()
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise AssertionError(f"{method} {path}: {response.status}")
    return elapsed


def figures(label: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{label}: {len(ms)} calls, p50 {statistics.median(ms):.2f} ms, p99 {percentile(ms, 99):.2f} ms, "
        f"max {max(ms):.2f} ms"
    )


def throughput(upper: clusters.Cluster, kube: Kube, namespace: str, pods: int, *, extended: bool) -> float:
    """Create ``pods`` pods at once; seconds until the last is bound."""
    upper.kubectl("create", "namespace", namespace)
    bound: dict[Any, float] = {}
    lock = threading.Lock()

    def seen(_event: str, obj: dict[str, Any]) -> None:
        if obj.get("spec", {}).get("nodeName"):
            with lock:
                bound.setdefault(object_key(obj), time.monotonic())

    stop = threading.Event()
    informer = Informer(kube, f"/api/v1/namespaces/{namespace}/pods", namespace, {}, seen)
    informer.start(stop)
    informer.synced.wait(30)
    rng = random.Random(7)
    items = [upper_pod(f"p-{i:05d}", namespace, rng, extended=extended) for i in range(pods)]
    t0 = time.monotonic()
    upper.kubectl("create", "-f", "-", input_text=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    wait_for(lambda: len(bound) >= pods, timeout=900, what=f"{pods} pods bound in {namespace}", every=0.1)
    stop.set()
    elapsed = max(bound.values()) - t0
    # Each round meets the same cluster: the scheduler's snapshot does not grow from round to round.
    upper.kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=300s")
    return elapsed


def run(args: argparse.Namespace, root: Path) -> int:
    started = clusters.start_clusters([clusters.ClusterSpec("upper", virtual_nodes(args.virtual_nodes))], root=root)
    upper = started["upper"]
    kube = Kube.from_kubeconfig(str(upper.kubeconfig))
    extender = ExtenderProcess(upper, extender_pki(root / "pki"), root)
    scheduler = ExtendedScheduler(upper, extender, root)
    stop = threading.Event()
    try:
        rng = random.Random(15)
        t0 = time.perf_counter()
        summaries = [lower_cluster(rng, args.lower_nodes, args.lower_pods) for _ in range(args.virtual_nodes)]
        built = time.perf_counter() - t0
        sizes = [len(summary.to_json(s).encode()) for s in summaries]
        rooms = [sum(len(g.free) for g in s.groups) for s in summaries]
        print(
            f"summaries: {args.virtual_nodes} x ({args.lower_nodes} nodes, {args.lower_pods} pods) built in "
            f"{built * 1000:.0f} ms; {statistics.mean(rooms):.0f} rooms and {statistics.mean(sizes) / 1024:.1f} KiB "
            f"each on average (max {max(sizes) / 1024:.1f} KiB)"
        )
        publishers = [
            FitPublisher(kube, node_name=f"vk-{i}", summarize=lambda s=s: s, live=lambda: True)
            for i, s in enumerate(summaries)
        ]
        for publisher in publishers:
            publisher.publish()
        threading.Thread(target=publish_forever, args=(publishers, stop), daemon=True).start()
        extender.start()
        scheduler.start()
        conn = connection(extender)
        wait_for(lambda: _healthy(conn), timeout=60, what="extender ready")
        names = [f"vk-{i}" for i in range(args.virtual_nodes)]
        bodies = [json.dumps({"Pod": filter_pod(rng), "NodeNames": names}).encode() for _ in range(args.filters)]
        before = extender.metrics()
        filters = [timed(conn, "POST", "/filter", body) for body in bodies]
        health = [timed(conn, "GET", "/healthz", None) for _ in range(args.filters)]
        after = extender.metrics()
        print(figures("filter, 1 pod of a new shape x all virtual nodes", filters) + "  (goal p99 <= 20 ms)")
        print(figures("reference, same connection: GET /healthz", health))
        name, labels = "tensile_extender_call_duration_seconds", 'verb="filter"'
        first, last = histogram_buckets(before, name, labels), histogram_buckets(after, name, labels)
        print(
            f"  inside the extender: p50 {bucket_quantile(first, last, 0.5)}, p99 {bucket_quantile(first, last, 0.99)}"
        )
        assert extender.proc is not None and scheduler.proc is not None
        pids = {"extender": extender.proc.pid, "kube-scheduler (extended)": scheduler.proc.pid}
        ratios = []
        for round_ in range(1, args.rounds + 1):
            plain = throughput(upper, kube, f"without-{round_}", args.pods, extended=False)
            cpu_before = cpu_seconds(pids)
            extended = throughput(upper, kube, f"with-{round_}", args.pods, extended=True)
            cpu = {name: after - cpu_before[name] for name, after in cpu_seconds(pids).items()}
            ratios.append(plain / extended)
            per_pod = ", ".join(f"{name} {seconds / args.pods * 1000:.1f} ms" for name, seconds in cpu.items())
            print(
                f"round {round_}: {args.pods} pods bound at {args.pods / plain:.1f} pods/s without the extender, "
                f"{args.pods / extended:.1f} pods/s with it: ratio {plain / extended:.2f}; CPU per pod: {per_pod}"
            )
        median = statistics.median(ratios)
        print(f"throughput ratio with/without, median of {len(ratios)} rounds: {median:.2f} (goal >= 0.90)")
        return 0 if percentile(filters, 99) <= 0.020 and statistics.median(ratios) >= 0.9 else 1
    finally:
        stop.set()
        scheduler.terminate()
        extender.terminate()
        clusters.stop_clusters(started.values())


def _healthy(conn: http.client.HTTPSConnection) -> bool:
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        return response.status == 200
    except OSError:
        conn.close()
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--virtual-nodes", type=int, default=10)
    parser.add_argument("--lower-nodes", type=int, default=100, help="lower nodes behind each virtual node")
    parser.add_argument("--lower-pods", type=int, default=3000, help="lower pods behind each virtual node")
    parser.add_argument("--filters", type=int, default=2000, help="filter calls timed")
    parser.add_argument("--pods", type=int, default=500, help="pods scheduled per throughput round")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds, each without then with the extender")
    args = parser.parse_args()
    binaries.ensure()
    with tempfile.TemporaryDirectory(prefix="tensile-bench-extender-") as tmp:
        return run(args, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
