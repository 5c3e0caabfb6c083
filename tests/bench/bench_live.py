"""Time a live dry-run cycle against a real API server holding many kwok nodes and pods, next to
references measured in the same run on the same cluster:

* the raw paginated LISTs a cycle sends (the same paths and page size, bodies read and
  discarded): the floor of a listing cycle; goal: cycle <= 1.3x;
* `kubectl get pods -A -o json`;
* the long-lived mode on watch caches (`--descheduling-interval 1s --dry-run`): every warm
  cycle's duration and the process's RSS after each of ``--cycles`` cycles; goal: <= 1 s a cycle
  at 1,000 nodes / 20,000 pods, and RSS steady.

    python tests/bench/bench_live.py                         # 1,000 nodes, 20,000 pods
    python tests/bench/bench_live.py --nodes 100 --pods 2000 --runs 1 --cycles 20

Starts its own cluster (kwokctl, binaries from tests/cluster/binaries.py), fills it with
Deployments that the real scheduler places on kwok nodes, measures, and stops it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench import watched_cycles  # noqa: E402
from tests.bench.bench_snapshot import POLICY, peak_rss_of  # noqa: E402
from tests.cluster import binaries, clusters  # noqa: E402

REPLICAS_PER_DEPLOYMENT = 200
RAISED_QPS = ("--client-connection-qps=1000", "--client-connection-burst=2000")


def deployments(count: int, total_pods: int) -> list[dict[str, object]]:
    items = []
    for i in range(count):
        replicas = min(REPLICAS_PER_DEPLOYMENT, total_pods - i * REPLICAS_PER_DEPLOYMENT)
        labels = {"app": f"bench-{i}"}
        items.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": f"bench-{i}", "namespace": "bench"},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [
                                {
                                    "name": "app",
                                    "image": "registry.k8s.io/pause:3.10",
                                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                                }
                            ]
                        },
                    },
                },
            }
        )
    return items


def running_pods(cluster: clusters.Cluster) -> int:
    out = cluster.kubectl(
        "get",
        "pods",
        "-n",
        "bench",
        "--field-selector=status.phase=Running",
        "-o",
        "jsonpath={.items[*].metadata.name}",
        "--chunk-size=2000",
    )
    return len(out.split())


def fill(cluster: clusters.Cluster, pods: int) -> float:
    started = time.monotonic()
    cluster.kubectl("create", "namespace", "bench")
    count = -(-pods // REPLICAS_PER_DEPLOYMENT)
    cluster.kubectl(
        "create",
        "-f",
        "-",
        input_text=json.dumps({"apiVersion": "v1", "kind": "List", "items": deployments(count, pods)}),
    )
    last = -1
    while (running := running_pods(cluster)) < pods:
        if running != last:
            print(f"  {running}/{pods} pods running ({time.monotonic() - started:.0f}s)", file=sys.stderr)
            last = running
        time.sleep(5)
    return time.monotonic() - started


def time_kubectl(kubectl: Path, kubeconfig: Path, runs: int) -> list[float]:
    walls = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [str(kubectl), "--kubeconfig", str(kubeconfig), "get", "pods", "-A", "-o", "json"],
            stdout=subprocess.DEVNULL,
            check=True,
        )
        walls.append(time.perf_counter() - started)
    return walls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cycles", type=int, default=100, help="long-lived cycles on watch caches")
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        help="measure this already filled cluster instead of starting one (--nodes/--pods unused)",
    )
    args = parser.parse_args()
    binaries.ensure()
    if args.kubeconfig:
        return measure(args.kubeconfig, args, Path(tempfile.mkdtemp(prefix="tensile-bench-")))
    nodes = tuple(clusters.NodeSpec(name=f"bench-node-{i:04d}", cpu="32", memory="128Gi") for i in range(args.nodes))
    with tempfile.TemporaryDirectory(prefix="tensile-bench-") as tmp:
        started = time.monotonic()
        cluster = clusters.start_clusters([clusters.ClusterSpec("bench", nodes)], root=Path(tmp))["bench"]
        try:
            print(f"cluster with {args.nodes} Ready nodes in {time.monotonic() - started:.1f}s")
            print(f"{args.pods} pods Running in {fill(cluster, args.pods):.1f}s")
            return measure(cluster.kubeconfig, args, Path(tmp))
        finally:
            cluster.stop()


def measure(kubeconfig: Path, args: argparse.Namespace, tmp: Path) -> int:
    """Every figure of the bench on the cluster behind ``kubeconfig``, printed side by side."""
    kubectl = time_kubectl(binaries.locate().kubectl, kubeconfig, args.runs)
    cmd = [sys.executable, "-m", "descheduler", "--dry-run", "--kubeconfig", str(kubeconfig),
           "--policy-config-file", str(POLICY), "-o", "json"]  # fmt: skip
    raw: list[float] = []
    cycles: list[tuple[float, int, str]] = []
    for _ in range(args.runs):  # in pairs, so a slow spell of the machine weighs on both sides
        raw.append(watched_cycles.raw_lists(kubeconfig))
        cycles.append(peak_rss_of(cmd))
    upstream_binary = binaries.upstream_descheduler()
    upstream_only = watched_cycles.upstream_policy(POLICY, tmp / "upstream-policy.yaml")
    upstream_cmd = [*cmd[:-4], "--policy-config-file", str(upstream_only), "-o", "json"]
    ours_upstream = [peak_rss_of(upstream_cmd) for _ in range(args.runs)]
    upstream = {
        "default client QPS": [
            watched_cycles.upstream_run(upstream_binary, kubeconfig, upstream_only) for _ in range(args.runs)
        ],
        "QPS 1000, burst 2000": [
            watched_cycles.upstream_run(upstream_binary, kubeconfig, upstream_only, *RAISED_QPS)
            for _ in range(args.runs)
        ],
    }
    # Last: the long-lived process's log is the largest thing this bench reads.
    warm = watched_cycles.run(kubeconfig, POLICY, cycles=args.cycles)
    walls = [c[0] for c in cycles]
    cycle, lists = statistics.median(walls), statistics.median(raw)
    print(f"raw paginated LISTs of a cycle: best {min(raw):.2f}s median {lists:.2f}s")
    print(f"kubectl get pods -A -o json: best {min(kubectl):.2f}s median {statistics.median(kubectl):.2f}s")
    print(
        f"tensile-deschedule --dry-run (live, all plugins): best {min(walls):.2f}s "
        f"median {cycle:.2f}s peak RSS {max(c[1] for c in cycles) / 2**20:.0f} MiB "
        f"planned {json.loads(cycles[-1][2])['summary']['evictions']}"
    )
    insides = [json.loads(c[2])["summary"]["durationSeconds"] for c in cycles]
    inside = statistics.median(insides)
    versus_kubectl = cycle / statistics.median(kubectl)
    print(
        f"  the cycle itself (the report's duration, no interpreter start-up): median {inside:.2f}s, "
        f"{inside / lists:.2f}x the raw LISTs (goal <= 1.3x); the whole process {cycle / lists:.2f}x"
    )
    print(f"  pair by pair, cycle / raw LISTs: {' '.join(f'{c / r:.2f}x' for c, r in zip(insides, raw, strict=True))}")
    print(f"  whole process / kubectl get pods -A -o json: {versus_kubectl:.2f}x")
    watched_cycles.report(warm, single_cycle=cycle)
    ours_wall = statistics.median(c[0] for c in ours_upstream)
    ours_planned = json.loads(ours_upstream[-1][2])["summary"]["evictions"]
    print(
        f"same policy, upstream plugins only: tensile-deschedule --dry-run median {ours_wall:.2f}s "
        f"peak RSS {max(c[1] for c in ours_upstream) / 2**20:.0f} MiB planned {ours_planned}"
    )
    for flags, runs in upstream.items():
        wall = statistics.median(r.wall for r in runs)
        print(
            f"  upstream descheduler {binaries.UPSTREAM_DESCHEDULER_VERSION} --dry-run ({flags}): median {wall:.2f}s "
            f"peak RSS {max(r.rss for r in runs) / 2**20:.0f} MiB planned {[r.planned for r in runs]}; "
            f"upstream / tensile {wall / ours_wall:.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
