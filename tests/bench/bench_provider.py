"""Throughput and status-sync latency of tensile-virtual-node on real clusters.

    python tests/bench/bench_provider.py            # 500 pods, a cold round and 3 more
    python tests/bench/bench_provider.py --pods 200 --rounds 1 --details

Starts an upper and a lower cluster (kwok nodes enough for the pods), runs the provider,
then in rounds creates a Deployment of N pods bound to the virtual node and prints per round:
- end-to-end time from creating the Deployment to all N pods Running in the upper cluster,
  and pods/s;
- status-sync latency: for each pod, the time between this process seeing it Running in
  the lower cluster and seeing it Running in the upper cluster (both observed by watches in
  this process, so clocks agree), p50/p99/max.
The first round meets a freshly started upper API server: its watch cache gives watchers
10-event buffers and closes those that fall behind (counted as "watchers closed as
unresponsive"), so it is reported apart from the later rounds. Each round deletes its pods
before the next one. bench_ceiling.py measures the same workload without any provider.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from descheduler.kube.client import Kube  # noqa: E402
from provider.kube.informer import Informer, object_key  # noqa: E402
from tests.cluster import binaries, clusters  # noqa: E402
from tests.e2e.support.providers import ProviderProcess, virtual_deployment, wait_for  # noqa: E402


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

    @classmethod
    def watching(cls, cluster: clusters.Cluster, name: str, namespace: str, stop: threading.Event) -> RunningTimes:
        """Watch ``namespace`` of ``cluster`` until ``stop``; returns once the first list is in."""
        times = cls(Kube.from_kubeconfig(str(cluster.kubeconfig)), name, namespace)
        times.informer.start(stop)
        times.informer.synced.wait(30)
        return times


def plain_deployment(name: str, namespace: str, pods: int) -> dict[str, Any]:
    """The bench's Deployment for a cluster's own (kwok) nodes rather than the virtual node."""
    deployment = virtual_deployment(name, namespace, pods, "unused", cpu="10m")
    deployment["spec"]["template"]["spec"].pop("nodeSelector")
    return deployment


def lower_alone(lower: clusters.Cluster, pods: int, stop: threading.Event) -> float:
    """The same Deployment created directly in the lower cluster: what the clusters alone take."""
    lower.kubectl("create", "namespace", "baseline")
    seen = RunningTimes.watching(lower, "baseline", "baseline", stop)
    t0 = time.monotonic()
    lower.apply([plain_deployment("baseline", "baseline", pods)])
    wait_for(lambda: len(seen.seen) >= pods, timeout=600, what="baseline pods Running", every=0.1)
    elapsed = max(seen.seen.values()) - t0
    lower.kubectl("delete", "namespace", "baseline", "--timeout=300s")  # frees the nodes for the real run
    return elapsed


def bound_pods(count: int, node_name: str, namespace: str) -> dict[str, Any]:
    template = virtual_deployment("bench", namespace, 1, node_name, cpu="10m")["spec"]["template"]
    items = []
    for i in range(count):
        spec = {**template["spec"], "nodeName": node_name}
        spec.pop("nodeSelector")
        meta = {"name": f"bench-{i:04d}", "namespace": namespace, "labels": template["metadata"]["labels"]}
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
    """apiserver_request_total by client-visible verb, resource and subresource, plus the
    watchers the watch cache closed because they fell behind (apiserver_terminated_watchers_total)."""
    counts: dict[str, float] = {}
    for line in cluster.kubectl("get", "--raw", "/metrics").splitlines():
        if line.startswith("apiserver_terminated_watchers_total{"):
            labels_text, _, value = line.rpartition(" ")
            resource = labels_text.partition('resource="')[2].partition('"')[0]
            key = f"watchers closed as unresponsive ({resource})"
            counts[key] = counts.get(key, 0.0) + float(value)
        if not line.startswith("apiserver_request_total{"):
            continue
        labels_text, _, value = line.rpartition(" ")
        labels = dict(part.split("=", 1) for part in labels_text[len("apiserver_request_total{") : -1].split(","))
        labels = {k: v.strip('"') for k, v in labels.items()}
        sub = f"/{labels['subresource']}" if labels.get("subresource") else ""
        key = f"{labels.get('verb')} {labels.get('resource')}{sub}"
        counts[key] = counts.get(key, 0.0) + float(value)
    return counts


def histogram_buckets(text: str, name: str, labels: str = "") -> dict[float, float]:
    """Cumulative bucket counts {upper bound: count} of one histogram in a /metrics page."""
    buckets = {}
    prefix = f'{name}_bucket{{le="'
    for line in text.splitlines():
        if line.startswith(prefix):
            bound, _, rest = line[len(prefix) :].partition('"')
            if labels and f",{labels}}}" not in rest:
                continue
            buckets[float("inf") if bound == "+Inf" else float(bound)] = float(line.rpartition(" ")[2])
    return buckets


def bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> str:
    """The q-quantile of what a histogram observed between two scrapes, as "<= bound" text."""
    deltas = sorted((bound, after[bound] - before.get(bound, 0.0)) for bound in after)
    total = deltas[-1][1] if deltas else 0.0
    if not total:
        return "-"
    for bound, count in deltas:
        if count >= q * total:
            return "> 30 s" if bound == float("inf") else f"<= {bound * 1000:.0f} ms"
    return "-"


PROVIDER_HISTOGRAMS = {
    "status copy: lower change -> written upstairs": ("tensile_provider_status_sync_duration_seconds", ""),
    "status queue: waiting for a worker": ("tensile_provider_workqueue_queue_duration_seconds", 'queue="status"'),
    "status queue: one copy (PATCH included)": ("tensile_provider_workqueue_work_duration_seconds", 'queue="status"'),
    "pods queue: waiting for a worker": ("tensile_provider_workqueue_queue_duration_seconds", 'queue="pods"'),
    "pods queue: one key (create included)": (
        "tensile_provider_workqueue_work_duration_seconds",
        'queue="pods"',
    ),
}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Round:
    """What one round measured."""

    label: str
    pods: int
    elapsed: float
    wall: float
    latencies: list[float]
    stages: dict[str, list[float]]
    cpu: dict[str, float]
    requests: dict[str, dict[str, float]]
    inside: dict[str, tuple[str, str]]
    """Inside the provider, from its /metrics: (p50, p99) bucket bounds per histogram."""

    @property
    def rate(self) -> float:
        return self.pods / self.elapsed

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)

    def summary(self) -> str:
        return (
            f"{self.label}: {self.pods} pods Running upstairs in {self.elapsed:.1f}s = {self.rate:.1f} pods/s; "
            f"status sync p50 {statistics.median(self.latencies) * 1000:.0f} ms, p99 {self.p(99) * 1000:.0f} ms, "
            f"max {max(self.latencies) * 1000:.0f} ms"
        )

    def details(self) -> str:
        lines = [self.summary()]
        for stage, gaps in self.stages.items():
            lines.append(
                f"  {stage:45} p50 {statistics.median(gaps) * 1000:6.0f} ms  p99 {percentile(gaps, 99) * 1000:6.0f} ms"
            )
        lines.append("  inside the provider (histogram buckets):")
        for what, (p50, p99) in self.inside.items():
            lines.append(f"    {what:45} p50 {p50:>10}  p99 {p99:>10}")
        lines.append(f"  CPU seconds during the {self.wall:.1f}s round (2 cores = {2 * self.wall:.1f} available):")
        for name, seconds in sorted(self.cpu.items(), key=lambda item: -item[1]):
            lines.append(f"    {name:45} {seconds:6.1f}")
        for name, counts in self.requests.items():
            busiest = sorted(((v, k) for k, v in counts.items() if v >= 5), reverse=True)
            lines.append(f"  {name} API requests: " + ", ".join(f"{k} {v:.0f}" for v, k in busiest))
        return "\n".join(lines)


@dataclass
class Bench:
    upper: clusters.Cluster
    lower: clusters.Cluster
    node: str
    pids: dict[str, int]
    stop: threading.Event
    provider: ProviderProcess

    def round(self, label: str, namespace: str, pods: int, *, direct: bool) -> Round:
        self.upper.kubectl("create", "namespace", namespace)
        watch_stop = threading.Event()
        lower_seen = RunningTimes.watching(self.lower, "lower", namespace, watch_stop)
        upper_seen = RunningTimes.watching(self.upper, "upper", namespace, watch_stop)
        requests_before = {c.name: request_counts(c) for c in (self.upper, self.lower)}
        metrics_before = self.provider.metrics()
        cpu_before, t0 = cpu_seconds(self.pids), time.monotonic()
        if direct:
            pod_list = json.dumps(bound_pods(pods, self.node, namespace))
            self.upper.kubectl("create", "-f", "-", input_text=pod_list)
        else:
            self.upper.apply([virtual_deployment("bench", namespace, pods, self.node, cpu="10m")])
        wait_for(lambda: len(upper_seen.seen) >= pods, timeout=600, what="all pods Running upstairs", every=0.1)
        elapsed = max(upper_seen.seen.values()) - t0
        cpu_after, wall = cpu_seconds(self.pids), time.monotonic() - t0
        requests = {}
        for c in (self.upper, self.lower):
            after = request_counts(c)
            requests[c.name] = {k: v - requests_before[c.name].get(k, 0.0) for k, v in after.items()}
        time.sleep(1.0)
        metrics_after = self.provider.metrics()
        inside = {}
        for what, (name, labels) in PROVIDER_HISTOGRAMS.items():
            before = histogram_buckets(metrics_before, name, labels)
            after = histogram_buckets(metrics_after, name, labels)
            inside[what] = (bucket_quantile(before, after, 0.5), bucket_quantile(before, after, 0.99))
        watch_stop.set()
        latencies = [upper_seen.seen[k] - lower_seen.seen[k] for k in upper_seen.seen if k in lower_seen.seen]
        stage_ends = {
            "upper created -> bound to the virtual node": (upper_seen.created, upper_seen.bound),
            "upper bound -> mirror created below": (upper_seen.bound, lower_seen.created),
            "mirror created -> Running below": (lower_seen.created, lower_seen.seen),
            "Running below -> Running upstairs": (lower_seen.seen, upper_seen.seen),
        }
        stages = {stage: [end[k] - start[k] for k in end if k in start] for stage, (start, end) in stage_ends.items()}
        cpu = {name: cpu_after[name] - cpu_before[name] for name in self.pids}
        return Round(label, pods, elapsed, wall, latencies, stages, cpu, requests, inside)

    def clean(self, namespace: str) -> None:
        """Delete a round's pods on both sides, so the next round finds the lower nodes empty."""
        self.upper.kubectl("delete", "namespace", namespace, "--timeout=300s")
        lower = Kube.from_kubeconfig(str(self.lower.kubeconfig))

        def lower_empty() -> bool:
            items, _ = lower.list_objects(f"/api/v1/namespaces/{namespace}/pods", lambda obj: obj)
            return not items

        wait_for(lower_empty, timeout=300, what=f"mirrors of {namespace} gone", every=0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=500)
    parser.add_argument(
        "--direct",
        action="store_true",
        help="create bare pods already bound to the virtual node (no ReplicaSet, no scheduler)",
    )
    parser.add_argument("--workers", type=int, default=16, help="the provider's --workers")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds after the cold one")
    parser.add_argument("--details", action="store_true", help="stages, CPU and requests of every round")
    args = parser.parse_args()
    binaries.ensure()
    nodes = max(3, -(-args.pods // 100))
    rounds: list[Round] = []
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
            assert proc.proc is not None
            pids = {**component_pids(upper), **component_pids(lower), "provider": proc.proc.pid}
            pids["bench watchers (this process)"] = psutil.Process().pid
            bench = Bench(upper, lower, "vk-bench", pids, stop, proc)
            for number in range(args.rounds + 1):
                label = "cold (first burst after start)" if number == 0 else f"round {number}"
                namespace = f"bench-{number}"
                rounds.append(bench.round(label, namespace, args.pods, direct=args.direct))
                print(rounds[-1].details() if args.details else rounds[-1].summary(), flush=True)
                if number < args.rounds:
                    bench.clean(namespace)
        finally:
            stop.set()
            proc.terminate()
            clusters.stop_clusters(started.values())
    print(f"the same Deployment directly in the lower cluster: {baseline:.1f}s ({args.pods / baseline:.0f} pods/s)")
    if not args.details:
        print(rounds[-1].details())
    warm = rounds[1:]
    if warm:
        rates = [r.rate for r in warm]
        p99s = [r.p(99) * 1000 for r in warm]
        print(
            f"after the cold round, over {len(warm)} rounds: pods/s median {statistics.median(rates):.1f} "
            f"(min {min(rates):.1f}, max {max(rates):.1f}); status-sync p99 median {statistics.median(p99s):.0f} ms "
            f"(min {min(p99s):.0f}, max {max(p99s):.0f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
