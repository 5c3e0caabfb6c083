"""Time `tensile-deschedule --dry-run --snapshot` with every plugin enabled.

    python tests/bench/bench_snapshot.py                    # 500/15k and 5000/150k
    python tests/bench/bench_snapshot.py --sizes 500x15000 --runs 5

Prints wall time (best and median of --runs) and peak RSS of the whole process for each
size. Snapshots are generated once into --cache (deterministic for a seed). Goal at
5,000 nodes / 150,000 pods: <= 10 s and <= 2 GiB.
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
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    print(f"policy: {POLICY.relative_to(ROOT)}  runs per size: {args.runs}", flush=True)
    print(f"{'nodes':>6} {'pods':>7} {'best s':>7} {'median s':>9} {'peak RSS MiB':>13} {'planned':>8}")
    for size in args.sizes.split(","):
        nodes, pods = (int(x) for x in size.lower().split("x"))
        snapshot = args.cache / f"snapshot-{nodes}x{pods}.json"
        if not snapshot.exists():
            subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "tests/bench/gen_snapshot.py"),
                    "--nodes",
                    str(nodes),
                    "--pods",
                    str(pods),
                    "-o",
                    str(snapshot),
                ],
                check=True,
            )
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
        walls, peaks, planned = [], [], 0
        for _ in range(args.runs):
            wall, peak, out = peak_rss_of(cmd)
            walls.append(wall)
            peaks.append(peak)
            planned = json.loads(out)["summary"]["evictions"]
        print(
            f"{nodes:>6} {pods:>7} {min(walls):>7.2f} {statistics.median(walls):>9.2f} "
            f"{max(peaks) / 2**20:>13.0f} {planned:>8}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
