"""Where one snapshot plan's time goes, phase by phase and plugin by plugin, in this process.

    python tests/bench/snapshot_phases.py ~/.cache/tensile/bench/snapshot-5000x150000.json
    python tests/bench/snapshot_phases.py FILE --cprofile 25     # and cProfile's top 25

Phases: reading and decoding the file into records, building the ClusterState and its
indexes, each plugin (as the runner's per-plugin timer sees it), the rest of the cycle
(building the plugins and their indexes, eligible nodes, the evictor, the per-node figures)
and rendering ``-o json``.
Run by ``bench_snapshot.py --profile`` in a subprocess of its own.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import sys
import time
from pathlib import Path

from descheduler import metrics as metering
from descheduler import plugins, runner
from descheduler import report as reporting
from descheduler.cluster import snapshot as snapshots
from descheduler.cluster import sources
from descheduler.cluster import state as states
from descheduler.evictor import writers
from descheduler.policy import loading

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "policies" / "bench-all-plugins.yaml"


class _PluginTimes(metering.Metrics):
    """The runner's per-plugin timer, kept as a list instead of a histogram."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[tuple[str, float]] = []

    def observe_strategy(self, profile: str, strategy: str, seconds: float) -> None:
        self.times.append((strategy, seconds))

    def record_report(self, report: reporting.Report) -> None:
        """Nothing, as ``tensile-deschedule`` without --metrics-file or --pushgateway records nothing."""


class _Loaded:
    """A source handing out a state built beforehand, so the cycle's own time excludes loading."""

    def __init__(self, state: states.ClusterState) -> None:
        self.state = state

    def load(self, *, now: float) -> states.ClusterState:
        return self.state


def phases(snapshot: Path) -> list[tuple[str, float]]:
    """(phase, seconds) for one dry-run plan of ``snapshot`` with every plugin enabled."""
    registry = plugins.default_registry()
    policy = loading.load_policy_file(str(POLICY), registry=registry)
    now = time.time()
    with runner.paused_gc():  # as run_cycle does around the whole cycle
        started = time.perf_counter()
        collected = snapshots._Collector()
        collected.read_file(snapshot)
        collected.raise_problems()
        decoded = time.perf_counter()
        state = sources.build_state(collected.objects, now=now)
        built = time.perf_counter()
    timer = _PluginTimes()
    report = runner.run_cycle(policy, registry, _Loaded(state), writers.DryRunRecorder(), now=now, metrics=timer)
    cycled = time.perf_counter()
    with runner.paused_gc():  # the CLI has dropped the state by now; a GC pass over it here would be ours alone
        reporting.render(report, "json")
    rendered = time.perf_counter()
    plugin_total = sum(seconds for _name, seconds in timer.times)
    return [
        ("read + decode into records", decoded - started),
        ("build state + indexes", built - decoded),
        *((f"  plugin {name}", seconds) for name, seconds in timer.times),
        ("plugins (sum)", plugin_total),
        ("plugin set-up, nodes, evictor, figures", cycled - built - plugin_total),
        ("render -o json", rendered - cycled),
        ("total", rendered - started),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("--cprofile", type=int, default=0, metavar="N", help="also print cProfile's top N by cumtime")
    args = parser.parse_args()
    profiler = cProfile.Profile() if args.cprofile else None
    if profiler is not None:
        profiler.enable()
    timings = phases(args.snapshot)
    if profiler is not None:
        profiler.disable()
    for name, seconds in timings:
        print(f"{name:<58} {seconds:>7.2f} s")
    print(f"{'peak RSS':<58} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:>7.0f} MiB")
    if profiler is not None:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(args.cprofile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
