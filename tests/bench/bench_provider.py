"""Throughput and status-sync latency of tensile-virtual-node on real clusters.

    python tests/bench/bench_provider.py            # 500 pods
    python tests/bench/bench_provider.py --pods 200

Starts an upper and a lower cluster (kwok nodes enough for the pods), runs the provider,
creates a Deployment of N pods bound to the virtual node and prints:
- end-to-end time from creating the Deployment to all N pods Running in the upper cluster,
  and pods/s;
- status-sync latency: for each pod, the time between this process seeing it Running in
  the lower cluster and seeing it Running in the upper cluster (both observed by watches in
  this process, so clocks agree), p50/p99/max.
Goal on this machine: >= 50 pods/s end to end and p99 <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from descheduler.kube.client import Kube  # noqa: E402
from provider.watching import Informer, object_key  # noqa: E402
from tests.cluster import binaries, clusters  # noqa: E402
from tests.e2e.providers import ProviderProcess, virtual_deployment, wait_for  # noqa: E402


class RunningTimes:
    """First time each pod is seen bound, and Running (not deleting), through a watch."""

    def __init__(self, kube: Kube, name: str, namespace: str) -> None:
        self.seen: dict[str, float] = {}
        self.created: dict[str, float] = {}
        self.bound: dict[str, float] = {}
        self.lock = threading.Lock()
        self.informer = Informer(kube, f"/api/v1/namespaces/{namespace}/pods", name, {}, self.on_event)

    def on_event(self, _event: str, obj: dict[str, Any]) -> None:
        now, key = time.monotonic(), object_key(obj)
        with self.lock:
            self.created.setdefault(key, now)
            if obj.get("spec", {}).get("nodeName"):
                self.bound.setdefault(key, now)
            if obj.get("status", {}).get("phase") == "Running" and not obj["metadata"].get("deletionTimestamp"):
                self.seen.setdefault(key, now)


def lower_alone(lower: clusters.Cluster, pods: int, stop: threading.Event) -> float:
    """The same Deployment created directly in the lower cluster: what the clusters alone take."""
    lower.kubectl("create", "namespace", "baseline")
    seen = RunningTimes(Kube.from_kubeconfig(str(lower.kubeconfig)), "baseline", "baseline")
    seen.informer.start(stop)
    seen.informer.synced.wait(30)
    deployment = virtual_deployment("baseline", "baseline", pods, "unused", cpu="10m")
    deployment["spec"]["template"]["spec"].pop("nodeSelector")
    t0 = time.monotonic()
    lower.apply([deployment])
    wait_for(lambda: len(seen.seen) >= pods, timeout=600, what="baseline pods Running", every=0.1)
    elapsed = max(seen.seen.values()) - t0
    lower.kubectl("delete", "namespace", "baseline", "--timeout=300s")  # frees the nodes for the real run
    return elapsed


def bound_pods(count: int, node_name: str) -> dict[str, Any]:
    template = virtual_deployment("bench", "bench", 1, node_name, cpu="10m")["spec"]["template"]
    items = []
    for i in range(count):
        spec = {**template["spec"], "nodeName": node_name}
        spec.pop("nodeSelector")
        meta = {"name": f"bench-{i:04d}", "namespace": "bench", "labels": template["metadata"]["labels"]}
        items.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
    return {"apiVersion": "v1", "kind": "List", "items": items}


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User+system CPU seconds so far of each named process (0 when it is gone)."""
    found = {}
    for name, pid in pids.items():
        try:
            times = psutil.Process(pid).cpu_times()
            found[name] = times.user + times.system
        except psutil.Error:
            found[name] = 0.0
    return found


def component_pids(cluster: clusters.Cluster) -> dict[str, int]:
    pid_dir = cluster.workdir / "clusters" / cluster.name / "pids"
    return {f"{cluster.name} {p.stem}": int(p.read_text().strip()) for p in sorted(pid_dir.glob("*.pid"))}


def request_counts(cluster: clusters.Cluster) -> dict[str, float]:
    """apiserver_request_total by client-visible verb, resource and subresource."""
    counts: dict[str, float] = {}
    for line in cluster.kubectl("get", "--raw", "/metrics").splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels_text, _, value = line.rpartition(" ")
        labels = dict(part.split("=", 1) for part in labels_text[len("apiserver_request_total{") : -1].split(","))
        labels = {k: v.strip('"') for k, v in labels.items()}
        sub = f"/{labels['subresource']}" if labels.get("subresource") else ""
        key = f"{labels.get('verb')} {labels.get('resource')}{sub}"
        counts[key] = counts.get(key, 0.0) + float(value)
    return counts


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=500)
    parser.add_argument(
        "--direct",
        action="store_true",
        help="create bare pods already bound to the virtual node (no ReplicaSet, no scheduler)",
    )
    parser.add_argument("--workers", type=int, default=16, help="the provider's --workers")
    args = parser.parse_args()
    binaries.ensure()
    nodes = max(3, -(-args.pods // 100))
    with tempfile.TemporaryDirectory(prefix="tensile-bench-provider-") as tmp:
        root = Path(tmp)
        started = clusters.start_clusters(
            [clusters.ClusterSpec("upper"), clusters.ClusterSpec("lower", clusters.default_lower_nodes("l", nodes))],
            root=root / "clusters",
        )
        upper, lower = started["upper"], started["lower"]
        proc = ProviderProcess(upper, lower, "vk-bench", root, extra_args=["--workers", str(args.workers)])
        stop = threading.Event()
        try:
            baseline = lower_alone(lower, args.pods, stop)
            proc.start()
            proc.wait_ready()
            upper.kubectl("create", "namespace", "bench")
            lower_seen = RunningTimes(Kube.from_kubeconfig(str(lower.kubeconfig)), "lower", "bench")
            upper_seen = RunningTimes(Kube.from_kubeconfig(str(upper.kubeconfig)), "upper", "bench")
            for watcher in (lower_seen, upper_seen):
                watcher.informer.start(stop)
                watcher.informer.synced.wait(30)
            assert proc.proc is not None
            pids = {**component_pids(upper), **component_pids(lower), "provider": proc.proc.pid}
            pids["bench watchers (this process)"] = psutil.Process().pid
            requests_before = {c.name: request_counts(c) for c in (upper, lower)}
            cpu_before, t0 = cpu_seconds(pids), time.monotonic()
            if args.direct:
                upper.kubectl("create", "-f", "-", input_text=json.dumps(bound_pods(args.pods, "vk-bench")))
            else:
                upper.apply([virtual_deployment("bench", "bench", args.pods, "vk-bench", cpu="10m")])
            wait_for(
                lambda: len(upper_seen.seen) >= args.pods, timeout=600, what="all pods Running upstairs", every=0.1
            )
            elapsed = max(upper_seen.seen.values()) - t0
            cpu_after, wall = cpu_seconds(pids), time.monotonic() - t0
            requests = {}
            for c in (upper, lower):
                after = request_counts(c)
                requests[c.name] = {k: v - requests_before[c.name].get(k, 0.0) for k, v in after.items()}
            time.sleep(1.0)
            latencies = [upper_seen.seen[k] - lower_seen.seen[k] for k in upper_seen.seen if k in lower_seen.seen]
            stages = {
                "upper created -> bound to the virtual node": (upper_seen.created, upper_seen.bound),
                "upper bound -> mirror created below": (upper_seen.bound, lower_seen.created),
                "mirror created -> Running below": (lower_seen.created, lower_seen.seen),
                "Running below -> Running upstairs": (lower_seen.seen, upper_seen.seen),
            }
            assert proc.proc is not None
            cpu = psutil.Process(proc.proc.pid).cpu_times()
            provider_cpu = cpu.user + cpu.system
        finally:
            stop.set()
            proc.terminate()
            clusters.stop_clusters(started.values())
    print(
        f"{args.pods} pods Running in the upper cluster {elapsed:.1f}s after creating them: "
        f"{args.pods / elapsed:.0f} pods/s"
    )
    print(f"provider CPU time over the whole run: {provider_cpu:.1f}s")
    print(f"the same Deployment directly in the lower cluster: {baseline:.1f}s ({args.pods / baseline:.0f} pods/s)")
    for stage, (start, end) in stages.items():
        gaps = [end[k] - start[k] for k in end if k in start]
        print(f"  {stage:45} p50 {statistics.median(gaps) * 1000:6.0f} ms  p99 {percentile(gaps, 99) * 1000:6.0f} ms")
    print(f"CPU seconds used during the {wall:.1f}s run (2 cores = {2 * wall:.1f} available):")
    for name in sorted(pids, key=lambda n: cpu_before[n] - cpu_after[n]):
        print(f"  {name:45} {cpu_after[name] - cpu_before[name]:6.1f}")
    for name, counts in requests.items():
        busiest = sorted(((v, k) for k, v in counts.items() if v >= args.pods / 10), reverse=True)
        print(f"{name} API requests during the run: " + ", ".join(f"{k} {v:.0f}" for v, k in busiest))
    print(
        f"status-sync latency over {len(latencies)} pods: p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {percentile(latencies, 99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
