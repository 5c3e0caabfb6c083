"""Time `tensile-deschedule --dry-run --snapshot` with every plugin enabled.

    python tests/bench/bench_snapshot.py                    # 500/15k and 5000/150k
    python tests/bench/bench_snapshot.py --sizes 500x15000 --runs 5
    python tests/bench/bench_snapshot.py --profile          # and where the time goes

Prints wall time (best and median of --runs) and peak RSS of the whole process for each
size, next to a reference measured in the same run on the same file: a process that only
parses it with orjson into Python objects (the least any dict-tree reader could cost).
``--profile`` adds one in-process run per size timed phase by phase and plugin by plugin
(tests/bench/snapshot_phases.py). Snapshots are generated once into --cache
(deterministic for a seed). Goal at 5,000 nodes / 150,000 pods: <= 3 s and <= 1 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "policies" / "bench-all-plugins.yaml"
ORJSON_PARSE = "import orjson, sys; orjson.loads(open(sys.argv[1], 'rb').read())"


def peak_rss_of(cmd: list[str]) -> tuple[float, int, str]:
    """Run ``cmd``; return (wall seconds, peak RSS bytes, stdout)."""
    # Output goes to files, not pipes: wait4() before reading a full pipe would deadlock.
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out_file, stderr=err_file)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read().decode(), err_file.read().decode()
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed: {err[-2000:]}")
    return wall, usage.ru_maxrss * 1024, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="500x15000,5000x150000", help="comma-separated NODESxPODS")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "tensile" / "bench")
    parser.add_argument("--profile", action="store_true", help="also time each phase and plugin, once per size")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    print(f"policy: {POLICY.relative_to(ROOT)}  runs per size: {args.runs}", flush=True)
    print(
        f"{'nodes':>6} {'pods':>7} {'best s':>7} {'median s':>9} {'peak RSS MiB':>13} {'planned':>8}"
        f"   {'orjson s':>9} {'orjson MiB':>11}"
    )
    profiles: list[str] = []
    for size in args.sizes.split(","):
        nodes, pods = (int(x) for x in size.lower().split("x"))
        snapshot = cached_snapshot(args.cache, nodes, pods)
        cmd = [
            sys.executable,
            "-m",
            "descheduler",
            "--dry-run",
            "--snapshot",
            str(snapshot),
            "--policy-config-file",
            str(POLICY),
            "-o",
            "json",
        ]
        walls, peaks, ref_walls, ref_peaks, planned = [], [], [], [], 0
        for _ in range(args.runs):
            wall, peak, out = peak_rss_of(cmd)
            walls.append(wall)
            peaks.append(peak)
            planned = json.loads(out)["summary"]["evictions"]
            ref_wall, ref_peak, _out = peak_rss_of([sys.executable, "-c", ORJSON_PARSE, str(snapshot)])
            ref_walls.append(ref_wall)
            ref_peaks.append(ref_peak)
        print(
            f"{nodes:>6} {pods:>7} {min(walls):>7.2f} {statistics.median(walls):>9.2f} "
            f"{max(peaks) / 2**20:>13.0f} {planned:>8}"
            f"   {statistics.median(ref_walls):>9.2f} {max(ref_peaks) / 2**20:>11.0f}",
            flush=True,
        )
        if args.profile:
            phases = [sys.executable, str(ROOT / "tests/bench/snapshot_phases.py"), str(snapshot)]
            profiles.append(f"\n{nodes} nodes / {pods} pods, one in-process run:\n{peak_rss_of(phases)[2]}")
    print("".join(profiles), end="")
    return 0


def cached_snapshot(cache: Path, nodes: int, pods: int) -> Path:
    """The generated snapshot of that size, generated into ``cache`` on first use."""
    snapshot = cache / f"snapshot-{nodes}x{pods}.json"
    if not snapshot.exists():
        generator = str(ROOT / "tests/bench/gen_snapshot.py")
        subprocess.run(
            [sys.executable, generator, "--nodes", str(nodes), "--pods", str(pods), "-o", str(snapshot)], check=True
        )
    return snapshot


if __name__ == "__main__":
    sys.exit(main())
