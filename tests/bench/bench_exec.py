"""kubectl exec through the virtual node against the same exec straight at the lower cluster, in one run.

    python tests/bench/bench_exec.py                      # 100 short commands, a 256 MiB stream, each route
    python tests/bench/bench_exec.py --commands 30 --mib 64 --routes websocket

Starts an upper and a lower cluster (kwok; ClusterExec runs the command on this machine), a provider
per route, and one pod mirrored per route. For each route and for the direct reference it prints:
- round-trip latency of the stock ``kubectl exec POD -- true``, p50/p99 over N runs (kubectl's own start,
  its GET of the pod and the session, as a user sees it);
- stdout throughput of one long stream, ``head -c SIZE /dev/zero``, read to the end by kubectl (MiB/s).
The reference is ``kubectl exec`` of the same pod in the lower cluster (the lower API server translating to
kwok). Routes: ``websocket`` (the upper API server passes kubectl's WebSocket through), ``translated``
(``--streaming spdy``: the upper API server translates to SPDY). Goals: latency <= 1.5x direct,
throughput >= 50% of direct. Runs are interleaved route by route so machine noise hits both sides alike.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.cluster import binaries, clusters  # noqa: E402
from tests.e2e.support.providers import ProviderProcess, pods, running, virtual_deployment, wait_for  # noqa: E402

ROUTES = {"websocket": [], "translated": ["--streaming", "spdy"]}


@dataclass
class Target:
    """Where one side execs: a cluster's kubectl and a running pod there."""

    label: str
    cluster: clusters.Cluster
    namespace: str
    pod: str
    latencies: list[float]
    rates: list[float]

    def exec(self, *command: str, out: int | None = subprocess.DEVNULL) -> float:
        cmd = [str(self.cluster.bins.kubectl), "--kubeconfig", str(self.cluster.kubeconfig), "exec", "-n",
               self.namespace, self.pod, "--", *command]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, timeout=300)
        took = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{self.label}: kubectl exec failed: {done.stderr.decode().strip()}")
        return took

    def stream(self, mib: int) -> float:
        cmd = [str(self.cluster.bins.kubectl), "--kubeconfig", str(self.cluster.kubeconfig), "exec", "-n",
               self.namespace, self.pod, "--", "head", "-c", str(mib * 1024 * 1024), "/dev/zero"]  # fmt: skip
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        received = 0
        while chunk := proc.stdout.read1(1 << 20):
            received += len(chunk)
        proc.wait(60)
        took = time.perf_counter() - started
        if received != mib * 1024 * 1024:
            raise SystemExit(f"{self.label}: the stream carried {received} bytes, not {mib} MiB")
        return mib / took


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def mirrored_pod(upper: clusters.Cluster, node: str) -> tuple[str, str]:
    namespace = f"bench-{node}-{uuid.uuid4().hex[:4]}"
    upper.kubectl("create", "namespace", namespace)
    upper.apply([virtual_deployment("shell", namespace, 1, node)])
    wait_for(lambda: len(running(pods(upper, namespace))) == 1, timeout=90, what=f"the pod on {node} running")
    return namespace, running(pods(upper, namespace))[0]["metadata"]["name"]


def report(direct: Target, routed: list[Target]) -> None:
    print(f"{'route':<40}{'p50 ms':>8}{'x':>7}{'p99 ms':>8}{'x':>7}{'MiB/s':>8}{'% direct':>10}")
    base50, base99 = statistics.median(direct.latencies), percentile(direct.latencies, 0.99)
    base_rate = statistics.median(direct.rates)
    for target in (direct, *routed):
        p50, p99 = statistics.median(target.latencies), percentile(target.latencies, 0.99)
        rate = statistics.median(target.rates)
        print(f"{target.label:<40}{p50 * 1000:>8.0f}{p50 / base50:>6.2f}x{p99 * 1000:>8.0f}{p99 / base99:>6.2f}x"
              f"{rate:>8.0f}{100 * rate / base_rate:>9.0f}%")  # fmt: skip
    print("goals: latency <= 1.5x direct, throughput >= 50% of direct")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=100, help="short commands per route")
    parser.add_argument("--mib", type=int, default=256, help="size of the long stream")
    parser.add_argument("--streams", type=int, default=3, help="long streams per route (median kept)")
    parser.add_argument("--routes", nargs="+", choices=list(ROUTES), default=list(ROUTES))
    args = parser.parse_args()
    binaries.ensure()
    with tempfile.TemporaryDirectory(prefix="tensile-bench-exec-") as tmp:
        root = Path(tmp)
        started = clusters.start_clusters(
            [clusters.ClusterSpec("upper"), clusters.ClusterSpec("lower", clusters.default_lower_nodes("l", 1))],
            root=root / "clusters",
        )
        upper, lower = started["upper"], started["lower"]
        providers: list[ProviderProcess] = []
        try:
            routed: list[Target] = []
            for route in args.routes:
                node = f"vk-{route}"
                proc = ProviderProcess(upper, lower, node, root, extra_args=ROUTES[route])
                providers.append(proc)
                proc.start()
                proc.wait_ready()
                namespace, pod = mirrored_pod(upper, node)
                routed.append(Target(f"through the virtual node ({route})", upper, namespace, pod, [], []))
            first = routed[0]
            direct = Target("direct to the lower cluster", lower, first.namespace, first.pod, [], [])
            for target in (direct, *routed):
                target.exec("true")  # warm: kubectl's discovery cache, the provider's connections
            for _ in range(args.commands):
                for target in (direct, *routed):
                    target.latencies.append(target.exec("true"))
            for _ in range(args.streams):
                for target in (direct, *routed):
                    target.rates.append(target.stream(args.mib))
            print(f"{args.commands} x kubectl exec -- true; {args.streams} x {args.mib} MiB of stdout; 2 cores")
            report(direct, routed)
        finally:
            for proc in providers:
                proc.terminate()
            clusters.stop_clusters(started.values())
    return 0


if __name__ == "__main__":
    sys.exit(main())
