"""How fast, and how cheaply, lower clusters follow upper Services' endpoints under churn.

    python tests/bench/bench_services.py                           # 200 Services x 10 endpoints, 60 s of churn
    python tests/bench/bench_services.py --services 40 --seconds 20  # a quick look

Starts an upper and a lower cluster and one provider, creates N Deployments of E pods bound to
the virtual node and a Service selecting each, waits until every lower copy holds its upper
endpoints, then measures in two phases:
- quiet (--quiet-seconds, longer than two provider resyncs): nothing changes upstairs; the
  provider must write nothing below (lower write events counted by watches, and the provider's
  own tensile_provider_reflection_writes);
- churn (--seconds): Deployments are scaled down by 3 and back up at --changes-per-second.
  For every change of a Service's endpoints upstairs (each endpoint's address and conditions,
  over all its upper EndpointSlices), the lag until the lower slices show the same endpoints;
  and writes below per upper change.
Both sides are watched from this process, so clocks agree. The reference printed next to it is
the upper control plane's own step in the same run: a pod turning Ready upstairs -> the upper
EndpointSlice listing it as ready (the endpointslice controller's lag), which every reflected
change waits for anyway. Goal: p99 <= 2 s, and no write when nothing changed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from descheduler import keys  # noqa: E402
from descheduler.kube.client import Kube  # noqa: E402
from provider.kube.informer import Informer  # noqa: E402
from tests.bench.bench_provider import component_pids, cpu_seconds, percentile  # noqa: E402
from tests.cluster import binaries, clusters  # noqa: E402
from tests.e2e.support.providers import ProviderProcess, virtual_deployment, wait_for  # noqa: E402

NAMESPACE = "bench-svc"
NODE = "vk-bench"
SLICES = f"/apis/discovery.k8s.io/v1/namespaces/{NAMESPACE}/endpointslices"
State = frozenset[tuple[str, bool, bool, bool]]
"""A Service's endpoints as a client sees them: (address, ready, serving, terminating) each."""


def endpoint_state(slices: list[dict[str, Any]]) -> State:
    found: set[tuple[str, bool, bool, bool]] = set()
    for piece in slices:
        for endpoint in piece.get("endpoints") or ():
            conditions = endpoint.get("conditions") or {}
            ready = conditions.get("ready") is not False
            flags = (ready, conditions.get("serving", ready) is not False, bool(conditions.get("terminating")))
            found.update((address, *flags) for address in endpoint.get("addresses") or ())
    return frozenset(found)


@dataclass
class SliceWatch:
    """One cluster's EndpointSlices of the bench namespace, turned into per-Service states with times."""

    side: str
    on_change: Any
    """Called as on_change(side, service, state, now) whenever a Service's endpoints change."""
    slices: dict[str, dict[str, Any]] = field(default_factory=dict)
    states: dict[str, State] = field(default_factory=dict)
    events: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, event: str, obj: dict[str, Any]) -> None:
        now = time.monotonic()
        meta = obj["metadata"]
        service = (meta.get("labels") or {}).get(keys.SERVICE_NAME_LABEL)
        if not service:
            return
        with self.lock:
            self.events += 1
            if event == "DELETED":
                self.slices.pop(meta["name"], None)
            else:
                self.slices[meta["name"]] = obj
            mine = [s for s in self.slices.values() if s["metadata"]["labels"].get(keys.SERVICE_NAME_LABEL) == service]
            state = endpoint_state(mine)
            if self.states.get(service) == state:
                return
            self.states[service] = state
        self.on_change(self.side, service, state, now)


@dataclass
class LagTracker:
    """Pairs each upper endpoint state of a Service with the first time the lower one equals it
    (or equals a newer upper state: the provider may coalesce changes that come close together)."""

    pending: dict[str, list[tuple[float, State]]] = field(default_factory=lambda: defaultdict(list))
    lower_now: dict[str, tuple[State, float]] = field(default_factory=dict)
    lags: list[float] = field(default_factory=list)
    superseded: int = 0
    upper_changes: int = 0
    recording: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def changed(self, side: str, service: str, state: State, now: float) -> None:
        with self.lock:
            if side == "lower":
                self._lower(service, state, now)
            else:
                self._upper(service, state, now)

    def _upper(self, service: str, state: State, now: float) -> None:
        if not self.recording:
            return
        self.upper_changes += 1
        lower = self.lower_now.get(service)
        if lower is not None and lower[0] == state:
            self.lags.append(0.0)  # this process heard the lower write before the upper change itself
            return
        self.pending[service].append((now, state))

    def _lower(self, service: str, state: State, now: float) -> None:
        self.lower_now[service] = (state, now)
        queue = self.pending.get(service) or []
        for index, (_since, wanted) in enumerate(queue):
            if wanted == state:
                # Older upper states were superseded before the lower cluster showed them: they
                # count as caught up now, with their own (longer) lags.
                self.lags.extend(now - older for older, _state in queue[: index + 1])
                self.superseded += index
                del queue[: index + 1]
                return

    def unmatched(self) -> int:
        with self.lock:
            return sum(len(queue) for queue in self.pending.values())


@dataclass
class ReadyReference:
    """The upper control plane's own lag: pod Ready upstairs -> listed ready in its upper slice."""

    ready_at: dict[str, float] = field(default_factory=dict)
    listed: dict[str, set[str]] = field(default_factory=dict)
    """The ready addresses of each Service's upper slices, as last seen."""
    lags: list[float] = field(default_factory=list)
    recording: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def pod(self, event: str, obj: dict[str, Any]) -> None:
        now, status = time.monotonic(), obj.get("status") or {}
        ip = status.get("podIP")
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ())
        with self.lock:
            if ip and ready and event != "DELETED":
                self.ready_at.setdefault(ip, now)
            elif ip:
                self.ready_at.pop(ip, None)

    def upper_state(self, service: str, state: State, now: float) -> None:
        ready = {address for address, is_ready, _serving, _terminating in state if is_ready}
        with self.lock:
            if self.recording:
                new = ready - self.listed.get(service, set())
                self.lags.extend(now - self.ready_at[ip] for ip in new if ip in self.ready_at)
            self.listed[service] = ready


@dataclass
class Watches:
    """Everything this process watches, started once and read by the phases."""

    tracker: LagTracker
    reference: ReadyReference
    upper_slices: SliceWatch
    lower_slices: SliceWatch
    lower_service_events: list[int]

    def lower_writes(self) -> int:
        return self.lower_slices.events + self.lower_service_events[0]


def start_watches(upper: Kube, lower: Kube, stop: threading.Event) -> Watches:
    tracker, reference = LagTracker(), ReadyReference()

    def upper_changed(side: str, service: str, state: State, now: float) -> None:
        tracker.changed(side, service, state, now)
        reference.upper_state(service, state, now)

    upper_slices, lower_slices = SliceWatch("upper", upper_changed), SliceWatch("lower", tracker.changed)
    service_events = [0]

    def lower_service(_event: str, _obj: dict[str, Any]) -> None:
        service_events[0] += 1

    managed = {"labelSelector": f"{keys.ENDPOINTSLICE_MANAGED_BY_LABEL}={keys.ENDPOINTSLICE_MANAGED_BY}"}
    informers = [
        Informer(upper, f"/api/v1/namespaces/{NAMESPACE}/pods", "upper-pods", {}, reference.pod),
        Informer(upper, SLICES, "upper-slices", {}, upper_slices.handle),
        Informer(lower, SLICES, "lower-slices", managed, lower_slices.handle),
        Informer(lower, f"/api/v1/namespaces/{NAMESPACE}/services", "lower-services", {}, lower_service),
    ]
    for informer in informers:
        informer.start(stop)
    for informer in informers:
        informer.synced.wait(30)
    return Watches(tracker, reference, upper_slices, lower_slices, service_events)


def provider_writes(provider: ProviderProcess) -> float:
    return sum(
        float(line.rpartition(" ")[2])
        for line in provider.metrics().splitlines()
        if line.startswith("tensile_provider_reflection_writes_total{")
    )


def all_follow(watches: Watches, services: int) -> bool:
    upper, lower = watches.upper_slices, watches.lower_slices
    with upper.lock, lower.lock:
        if len(upper.states) < services:
            return False
        return all(lower.states.get(name) == state for name, state in upper.states.items())


def churn(upper: Kube, names: list[str], replicas: int, seconds: float, rate: float) -> int:
    """Scale random Deployments down by 3 and back up, ``rate`` times a second; returns the scalings."""
    low = max(0, replicas - 3)
    current = dict.fromkeys(names, replicas)
    picker, done, start = random.Random(14), 0, time.monotonic()
    while time.monotonic() - start < seconds:
        name = picker.choice(names)
        current[name] = low if current[name] == replicas else replicas
        path = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{name}/scale"
        upper.patch(path, {"spec": {"replicas": current[name]}})
        done += 1
        time.sleep(max(0.0, start + done / rate - time.monotonic()))
    for name, now in current.items():  # end where we started, so the cluster settles at the full size
        if now != replicas:
            upper.patch(
                f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{name}/scale", {"spec": {"replicas": replicas}}
            )
            done += 1
    return done


def service(name: str) -> dict[str, Any]:
    spec = {"selector": {"app": name}, "ports": [{"name": "http", "port": 80}]}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NAMESPACE}, "spec": spec}


def figures(label: str, lags: list[float]) -> str:
    if not lags:
        return f"{label}: no samples"
    return (
        f"{label}: {len(lags)} changes, p50 {statistics.median(lags) * 1000:.0f} ms, "
        f"p99 {percentile(lags, 99) * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms"
    )


def run(args: argparse.Namespace, root: Path) -> int:
    total = args.services * args.endpoints
    lower_nodes = clusters.default_lower_nodes("l", -(-total // 100) + 2)
    started = clusters.start_clusters(
        [clusters.ClusterSpec("upper"), clusters.ClusterSpec("lower", lower_nodes)], root=root / "clusters"
    )
    upper, lower = started["upper"], started["lower"]
    provider = ProviderProcess(upper, lower, NODE, root)
    stop = threading.Event()
    try:
        provider.start()
        provider.wait_ready()
        assert provider.proc is not None
        upper.kubectl("create", "namespace", NAMESPACE)
        upper_kube, lower_kube = (Kube.from_kubeconfig(str(c.kubeconfig)) for c in (upper, lower))
        watches = start_watches(upper_kube, lower_kube, stop)
        names = [f"svc-{i:03d}" for i in range(args.services)]
        t0 = time.monotonic()
        upper.apply([virtual_deployment(name, NAMESPACE, args.endpoints, NODE, cpu="10m") for name in names])
        upper.apply([service(name) for name in names])

        def settled() -> bool:
            full = watches.upper_slices.states
            counts = [sum(1 for e in full.get(n, ()) if e[1]) for n in names]
            return all(c == args.endpoints for c in counts) and all_follow(watches, args.services)

        wait_for(settled, timeout=900, what="every Service's endpoints ready upstairs and copied below", every=0.5)
        print(
            f"setup: {args.services} Services x {args.endpoints} endpoints copied below in {time.monotonic() - t0:.1f}s"
        )

        writes_before, metric_before = watches.lower_writes(), provider_writes(provider)
        upper_before = watches.upper_slices.events
        time.sleep(args.quiet_seconds)
        quiet_writes, quiet_metric = watches.lower_writes() - writes_before, provider_writes(provider) - metric_before
        quiet_upper = watches.upper_slices.events - upper_before
        print(
            f"quiet {args.quiet_seconds:.0f}s (provider resyncs every 10s): {quiet_upper} upper slice events; "
            f"{quiet_writes} lower write events, provider counted {quiet_metric:.0f} writes (goal 0)"
        )

        pids = {**component_pids(upper), **component_pids(lower), "provider": provider.proc.pid}
        cpu_before, writes_before = cpu_seconds(pids), watches.lower_writes()
        watches.tracker.recording = watches.reference.recording = True
        t1 = time.monotonic()
        scalings = churn(upper_kube, names, args.endpoints, args.seconds, args.changes_per_second)
        wait_for(lambda: all_follow(watches, args.services), timeout=120, what="lower copies settled after churn")
        wall = time.monotonic() - t1
        watches.tracker.recording = watches.reference.recording = False
        cpu = {name: after - cpu_before[name] for name, after in cpu_seconds(pids).items()}
        writes = watches.lower_writes() - writes_before
        tracker = watches.tracker
        print(
            f"churn {args.seconds:.0f}s: {scalings} scalings -> {tracker.upper_changes} upper endpoint changes; "
            f"{writes} lower write events = {writes / max(1, tracker.upper_changes):.2f} per upper change"
        )
        print(figures("  lower follows the upper endpoints (provider)", tracker.lags) + "  (goal p99 <= 2000 ms)")
        print(f"  of which superseded upstairs before shown below (lag to the newer state): {tracker.superseded}")
        print(f"  upper states never matched below: {tracker.unmatched()}")
        reference = "  reference, same run: pod Ready upstairs -> in its upper slice (control plane)"
        print(figures(reference, watches.reference.lags))
        print(f"  CPU seconds over the {wall:.1f}s churn (2 cores = {2 * wall:.1f} available):")
        for name, seconds in sorted(cpu.items(), key=lambda item: -item[1])[:6]:
            print(f"    {name:40} {seconds:6.1f}")
        rss = psutil.Process(provider.proc.pid).memory_info().rss / 2**20
        print(f"  provider RSS at the end: {rss:.0f} MiB")
        ok = quiet_writes == 0 and tracker.lags and percentile(tracker.lags, 99) <= 2.0
        return 0 if ok else 1
    finally:
        stop.set()
        provider.terminate()
        clusters.stop_clusters(started.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--endpoints", type=int, default=10, help="pods behind each Service")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the churn phase")
    parser.add_argument("--quiet-seconds", type=float, default=25.0, help="length of the quiet phase")
    parser.add_argument("--changes-per-second", type=float, default=2.0, help="Deployment scalings per second")
    args = parser.parse_args()
    binaries.ensure()
    with tempfile.TemporaryDirectory(prefix="tensile-bench-services-") as tmp:
        return run(args, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
