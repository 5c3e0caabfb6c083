"""What this machine can do for bench_provider.py's workload with no provider at all.

    python tests/bench/bench_ceiling.py             # 500 pods in each cluster, 3 rounds after a cold one

bench_provider.py's pods cost work in both clusters: upstairs a ReplicaSet creates them, the
scheduler binds them, their status is written once; below the same again for the mirrors
(kwok writes their status). This script starts the same two clusters, gives the upper one
kwok nodes too, and creates a Deployment of N pods in each cluster at the same moment: the
clusters then do at least the work of a provider run, minus the provider. Printed per round:
- the time until all N pods run in both clusters, and pods/s: no provider, however cheap,
  can beat it on this machine;
- kwok's "watch event -> status PATCH -> event" latency (pod bound -> Running), p50/p99: the
  same kind of step as the provider's status copy, taken by a Go controller under this load;
- CPU seconds of every component.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from tests.bench.bench_provider import (  # noqa: E402
    RunningTimes,
    component_pids,
    cpu_seconds,
    percentile,
    plain_deployment,
)
from tests.cluster import binaries, clusters  # noqa: E402
from tests.e2e.support.providers import wait_for  # noqa: E402


def side_by_side(started: dict[str, clusters.Cluster], namespace: str, pods: int) -> dict[str, RunningTimes]:
    """Create the Deployment in every cluster at once; return when all pods run everywhere."""
    stop = threading.Event()
    seen = {}
    for cluster in started.values():
        cluster.kubectl("create", "namespace", namespace)
        seen[cluster.name] = RunningTimes.watching(cluster, cluster.name, namespace, stop)
    deployment = plain_deployment("ceiling", namespace, pods)
    creators = [threading.Thread(target=c.apply, args=([deployment],)) for c in started.values()]
    for creator in creators:
        creator.start()
    for creator in creators:
        creator.join()
    wait_for(lambda: all(len(s.seen) >= pods for s in seen.values()), timeout=600, what="all pods Running", every=0.1)
    stop.set()
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds after the cold one")
    args = parser.parse_args()
    binaries.ensure()
    nodes = max(3, -(-args.pods // 100))
    rates: list[float] = []
    with tempfile.TemporaryDirectory(prefix="tensile-bench-ceiling-") as tmp:
        started = clusters.start_clusters(
            [
                clusters.ClusterSpec("upper", clusters.default_lower_nodes("u", nodes)),
                clusters.ClusterSpec("lower", clusters.default_lower_nodes("l", nodes)),
            ],
            root=Path(tmp) / "clusters",
        )
        try:
            pids = {name: pid for c in started.values() for name, pid in component_pids(c).items()}
            pids["bench watchers (this process)"] = psutil.Process().pid
            for number in range(args.rounds + 1):
                label = "cold (first burst after start)" if number == 0 else f"round {number}"
                namespace = f"ceiling-{number}"
                cpu_before, t0 = cpu_seconds(pids), time.monotonic()
                seen = side_by_side(started, namespace, args.pods)
                elapsed = max(max(s.seen.values()) for s in seen.values()) - t0
                cpu_after = cpu_seconds(pids)
                print(
                    f"{label}: {args.pods} pods Running in both clusters in {elapsed:.1f}s = "
                    f"{args.pods / elapsed:.1f} pods/s"
                )
                for name, times in seen.items():
                    gaps = [times.seen[k] - times.bound[k] for k in times.seen if k in times.bound]
                    print(
                        f"  {name}: kwok bound -> Running p50 {statistics.median(gaps) * 1000:.0f} ms, "
                        f"p99 {percentile(gaps, 99) * 1000:.0f} ms"
                    )
                busiest = sorted(pids, key=lambda n: cpu_before[n] - cpu_after[n])
                used = sum(cpu_after[n] - cpu_before[n] for n in pids)
                print(
                    f"  CPU seconds {used:.1f}: "
                    + ", ".join(f"{n} {cpu_after[n] - cpu_before[n]:.1f}" for n in busiest)
                )
                if number:
                    rates.append(args.pods / elapsed)
                for cluster in started.values():
                    cluster.kubectl("delete", "namespace", namespace, "--timeout=300s")
        finally:
            clusters.stop_clusters(started.values())
    if rates:
        print(
            f"after the cold round, over {len(rates)} rounds: pods/s median {statistics.median(rates):.1f} "
            f"(min {min(rates):.1f}, max {max(rates):.1f}) with no provider at all"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
