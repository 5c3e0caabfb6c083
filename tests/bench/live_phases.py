"""Where one live dry-run cycle's time goes, next to the raw LISTs it needs, in this process.

    python tests/bench/live_phases.py --kubeconfig KUBECONFIG            # 3 rounds
    python tests/bench/live_phases.py --kubeconfig KUBECONFIG --cprofile 25

Each round first sends the cycle's raw paginated LISTs (bodies read, only continue tokens
decoded: tests/bench/watched_cycles.py), then loads the state as a cycle does
(descheduler/cluster/live.py), plans on it with every plugin enabled and renders ``-o json``;
it prints each phase and the ratio of load and of load + plan to the raw LISTs. It also prints
the CPU each side spent (kube-apiserver and etcd, found by the ports they listen on, and this
process): on a 2-core machine that runs the control plane too, the server's share of the cores
during the raw LISTs bounds how much of the cycle's own CPU can hide behind them. Run it from two
checkouts against one cluster (bench_live.py --kubeconfig keeps none; `make clusters-up`, or a
cluster filled by bench_live's helpers) to compare code before and after a change.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from descheduler import plugins, runner  # noqa: E402
from descheduler import report as reporting  # noqa: E402
from descheduler.cluster import live  # noqa: E402
from descheduler.evictor import writers  # noqa: E402
from descheduler.kube import client  # noqa: E402
from descheduler.policy import loading  # noqa: E402
from tests.bench import watched_cycles  # noqa: E402
from tests.bench.snapshot_phases import POLICY, _Loaded, _PluginTimes  # noqa: E402


def server_processes(kube: client.Kube) -> list[psutil.Process]:
    """kube-apiserver (listening on the kubeconfig's port) and etcd (on the port of its --etcd-servers)."""
    listeners = {c.laddr.port: c.pid for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.pid}
    apiserver = psutil.Process(listeners[urlparse(kube.host).port or 443])
    found = [apiserver]
    for arg in apiserver.cmdline():
        if arg.startswith("--etcd-servers="):
            found += [psutil.Process(listeners[urlparse(url).port or 2379]) for url in arg.split("=", 1)[1].split(",")]
    return found


class CpuMeter:
    """CPU seconds (user + system) the server processes and this process spend between marks."""

    def __init__(self, servers: list[psutil.Process]) -> None:
        self.servers = servers

    def now(self) -> tuple[float, float]:
        server = sum(sum(p.cpu_times()[:2]) for p in self.servers)
        mine = os.times()
        return server, mine.user + mine.system


def one_round(kubeconfig: Path, meter: CpuMeter) -> dict[str, float]:
    """One round's phases, in seconds, with the per-plugin times under ``plugin:NAME`` and the CPU
    of server and client during the raw LISTs and during load + plan under ``cpu:...``."""
    before = meter.now()
    raw = watched_cycles.raw_lists(kubeconfig)
    after_raw = meter.now()
    kube = client.Kube.from_kubeconfig(str(kubeconfig), None)
    registry = plugins.default_registry()
    policy = loading.load_policy_file(str(POLICY), registry=registry)
    now = time.time()
    with runner.paused_gc():  # as run_cycle does around the whole cycle
        started = time.perf_counter()
        state = live.LiveSource(kube).load(now=now)
        loaded = time.perf_counter()
    timer = _PluginTimes()
    report = runner.run_cycle(policy, registry, _Loaded(state), writers.DryRunRecorder(), now=now, metrics=timer)
    planned = time.perf_counter()
    after_cycle = meter.now()
    with runner.paused_gc():
        reporting.render(report, "json")
    rendered = time.perf_counter()
    phases = {"raw LISTs": raw, "load": loaded - started, "plan": planned - loaded, "render": rendered - planned}
    phases |= {f"plugin:{name}": seconds for name, seconds in timer.times}
    phases["cpu:raw server"], phases["cpu:raw client"] = (a - b for a, b in zip(after_raw, before, strict=True))
    # Loading the policy between the two is this process's too, a few ms; counted with the cycle.
    phases["cpu:cycle server"], phases["cpu:cycle client"] = (
        a - b for a, b in zip(after_cycle, after_raw, strict=True)
    )
    return phases


def cpu_line(phases: dict[str, float], cores: int) -> str:
    """Who used the cores: during the raw LISTs, and during load + plan."""
    raw_server, raw_client = phases["cpu:raw server"], phases["cpu:raw client"]
    cycle_server, cycle_client = phases["cpu:cycle server"], phases["cpu:cycle client"]
    raw_wall, cycle_wall = phases["raw LISTs"], phases["load"] + phases["plan"]
    return (
        f"CPU: raw LISTs server {raw_server:.2f}s + client {raw_client:.2f}s = "
        f"{(raw_server + raw_client) / raw_wall:.2f} of {cores} cores; load + plan server {cycle_server:.2f}s "
        f"+ client {cycle_client:.2f}s = {(cycle_server + cycle_client) / cycle_wall:.2f} cores; "
        f"the cycle's CPU over the raw LISTs' {(cycle_server + cycle_client) / (raw_server + raw_client):.2f}x"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cprofile", type=int, default=0, metavar="N", help="also cProfile one load + plan, top N")
    args = parser.parse_args()
    meter = CpuMeter(server_processes(client.Kube.from_kubeconfig(str(args.kubeconfig), None)))
    cores = os.cpu_count() or 1
    rounds = []
    for _ in range(args.runs):
        phases = one_round(args.kubeconfig, meter)
        rounds.append(phases)
        raw, load, plan = phases["raw LISTs"], phases["load"], phases["plan"]
        print(
            f"raw LISTs {raw:.3f}s  load {load:.3f}s ({load / raw:.2f}x)  plan {plan:.3f}s  "
            f"render {phases['render']:.3f}s  load + plan {(load + plan) / raw:.2f}x the raw LISTs",
            flush=True,
        )
        print(f"  {cpu_line(phases, cores)}", flush=True)
    median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    print(
        f"median of {args.runs}: load {median['load'] / median['raw LISTs']:.2f}x, "
        f"load + plan {(median['load'] + median['plan']) / median['raw LISTs']:.2f}x the raw LISTs "
        f"({median['raw LISTs']:.3f}s)"
    )
    print(f"  {cpu_line(median, cores)}")
    slowest = sorted((key for key in median if key.startswith("plugin:")), key=lambda key: -median[key])
    print("  plugins:", ", ".join(f"{key.removeprefix('plugin:')} {median[key]:.3f}s" for key in slowest))
    if args.cprofile:
        profile = cProfile.Profile()
        profile.enable()
        one_round(args.kubeconfig, meter)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.cprofile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
