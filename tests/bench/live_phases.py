"""Where one live dry-run cycle's time goes, next to the raw LISTs it needs, in this process.

    python tests/bench/live_phases.py --kubeconfig KUBECONFIG            # 3 rounds
    python tests/bench/live_phases.py --kubeconfig KUBECONFIG --cprofile 25

Each round first sends the cycle's raw paginated LISTs (bodies read, only continue tokens
decoded: tests/bench/watched_cycles.py), then loads the state as a cycle does
(descheduler/cluster/live.py), plans on it with every plugin enabled and renders ``-o json``;
it prints each phase and the ratio of load and of load + plan to the raw LISTs. Run it from two
checkouts against one cluster (bench_live.py --kubeconfig keeps none; `make clusters-up`, or a
cluster filled by bench_live's helpers) to compare code before and after a change.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

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


def one_round(kubeconfig: Path) -> dict[str, float]:
    """One round's phases, in seconds, with the per-plugin times under ``plugin:NAME``."""
    raw = watched_cycles.raw_lists(kubeconfig)
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
    with runner.paused_gc():
        reporting.render(report, "json")
    rendered = time.perf_counter()
    phases = {"raw LISTs": raw, "load": loaded - started, "plan": planned - loaded, "render": rendered - planned}
    phases |= {f"plugin:{name}": seconds for name, seconds in timer.times}
    return phases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cprofile", type=int, default=0, metavar="N", help="also cProfile one load + plan, top N")
    args = parser.parse_args()
    rounds = []
    for _ in range(args.runs):
        phases = one_round(args.kubeconfig)
        rounds.append(phases)
        raw, load, plan = phases["raw LISTs"], phases["load"], phases["plan"]
        print(
            f"raw LISTs {raw:.3f}s  load {load:.3f}s ({load / raw:.2f}x)  plan {plan:.3f}s  "
            f"render {phases['render']:.3f}s  load + plan {(load + plan) / raw:.2f}x the raw LISTs",
            flush=True,
        )
    median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    print(
        f"median of {args.runs}: load {median['load'] / median['raw LISTs']:.2f}x, "
        f"load + plan {(median['load'] + median['plan']) / median['raw LISTs']:.2f}x the raw LISTs "
        f"({median['raw LISTs']:.3f}s)"
    )
    slowest = sorted((key for key in median if key.startswith("plugin:")), key=lambda key: -median[key])
    print("  plugins:", ", ".join(f"{key.removeprefix('plugin:')} {median[key]:.3f}s" for key in slowest))
    if args.cprofile:
        profile = cProfile.Profile()
        profile.enable()
        one_round(args.kubeconfig)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.cprofile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
