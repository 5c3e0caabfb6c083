"""Measurements of bench_live.py: the raw LISTs a cycle sends, long-lived cycles on watch caches, and the
upstream descheduler's dry run on the same cluster."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import msgspec
import yaml

from descheduler.cluster import live
from descheduler.kube import client

ROOT = Path(__file__).resolve().parents[2]
_CYCLE_DONE = re.compile(r"^cycle done: Dry run: (\d+) planned.*, ([\d.]+)s\)")
"""The daemon's line after each cycle: ``cycle done: Dry run: 4 planned (3 nodes, 10 pods, 0.12s)``."""


class _Meta(msgspec.Struct):
    continue_: str = msgspec.field(name="continue", default="")


class _Page(msgspec.Struct):
    metadata: _Meta = msgspec.field(default_factory=_Meta)


_PAGE = msgspec.json.Decoder(_Page)


def raw_lists(kubeconfig: Path) -> float:
    """Seconds to send the paginated LISTs of one cycle (the same paths and page size) and read every
    body, decoding only each page's continue token: what any listing cycle must at least spend."""
    kube = client.Kube.from_kubeconfig(str(kubeconfig), None)
    started = time.perf_counter()
    for path in live.LIST_PATHS.values():
        token = ""
        while True:
            query = {"limit": client.DEFAULT_PAGE_SIZE, **({"continue": token} if token else {})}
            token = _PAGE.decode(kube.call_raw("GET", path, query=query)).metadata.continue_
            if not token:
                break
    return time.perf_counter() - started


@dataclass
class Warm:
    """The long-lived process's cycles: each one's duration (the report's) and the RSS after it."""

    durations: list[float]
    rss_mib: list[float]
    planned: list[int]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(kubeconfig: Path, policy: Path, *, cycles: int) -> Warm:
    """``--dry-run --descheduling-interval 1s`` until ``cycles`` cycles are done; their figures."""
    cmd = [sys.executable, "-m", "descheduler", "--dry-run", "--descheduling-interval", "1s",
           "--kubeconfig", str(kubeconfig), "--policy-config-file", str(policy),
           "--logging-format", "json", "--metrics-address", ""]  # fmt: skip
    warm = Warm([], [], [])
    with tempfile.NamedTemporaryFile(prefix="tensile-watch-", suffix=".log") as log:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=log, cwd=ROOT, env={**os.environ, "KUBECONFIG": ""}
        )
        # Read the log as it grows (from where the last read ended): re-reading it whole would grow
        # this process, and a child forked from it then reports this process's peak RSS as its own.
        with open(log.name, "rb") as follow:
            partial = b""
            try:
                while len(warm.durations) < cycles and proc.poll() is None:
                    time.sleep(0.05)
                    partial += follow.read()
                    *lines, partial = partial.split(b"\n")
                    for line in lines:
                        done = _CYCLE_DONE.search(str(json.loads(line).get("msg", ""))) if line[:1] == b"{" else None
                        if done is not None:
                            warm.planned.append(int(done.group(1)))
                            warm.durations.append(float(done.group(2)))
                            warm.rss_mib.append(_rss_mib(proc.pid))
            finally:
                proc.terminate()
                proc.wait(60)
    return warm


def report(warm: Warm, *, single_cycle: float) -> None:
    if not warm.durations:
        print("long-lived on watch caches: no cycle finished")
        return
    first, rest = warm.durations[0], warm.durations[1:] or warm.durations
    print(
        f"long-lived on watch caches ({len(warm.durations)} cycles): first {first:.2f}s, warm median "
        f"{statistics.median(rest):.2f}s max {max(rest):.2f}s (goal <= 1 s; a listing cycle {single_cycle:.2f}s: "
        f"{single_cycle / statistics.median(rest):.1f}x faster); planned {sorted(set(warm.planned))}"
    )
    tenth = max(1, len(warm.rss_mib) // 10)
    print(
        f"  RSS MiB after cycle 1 {warm.rss_mib[0]:.0f}, {tenth} {warm.rss_mib[tenth - 1]:.0f}, "
        f"last {warm.rss_mib[-1]:.0f}; max {max(warm.rss_mib):.0f}"
    )
    print("  RSS per cycle: " + " ".join(f"{r:.0f}" for r in warm.rss_mib))


TENSILE_ONLY = ("PendingOnVirtualNode", "VirtualNodeFragmentation")


def upstream_policy(policy: Path, out: Path) -> Path:
    """``policy`` restricted to the upstream descheduler's plugins (tensile's own taken out)."""
    doc = yaml.safe_load(policy.read_text())
    for profile in doc.get("profiles", []):
        profile["pluginConfig"] = [c for c in profile.get("pluginConfig", []) if c["name"] not in TENSILE_ONLY]
        for point in (profile.get("plugins") or {}).values():
            if isinstance(point, dict) and "enabled" in point:
                point["enabled"] = [n for n in point["enabled"] if n not in TENSILE_ONLY]
    out.write_text(yaml.safe_dump(doc))
    return out


@dataclass
class Upstream:
    """One upstream ``descheduler --dry-run`` run: wall seconds, peak RSS bytes, evictions it planned."""

    wall: float
    rss: int
    planned: int


def upstream_run(binary: Path, kubeconfig: Path, policy: Path, *extra: str) -> Upstream:
    """The upstream descheduler's dry run once (it exits after one cycle with the default interval 0)."""
    cmd = [str(binary), "--dry-run", "--kubeconfig", str(kubeconfig), "--policy-config-file", str(policy),
           "--v=1", "--secure-port=0", *extra]  # fmt: skip
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        err.seek(0)
        text = err.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"upstream descheduler failed: {text[-2000:]}")
    return Upstream(wall, usage.ru_maxrss * 1024, text.count("Evicted pod in dry run mode"))
