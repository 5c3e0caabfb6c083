"""tensile-deschedule flags for the long-lived mode, leader election and metrics: bad input is
one line and exit 2, before any cluster is touched."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from descheduler.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = [
    "--dry-run",
    "--snapshot",
    str(ROOT / "examples/snapshot.yaml"),
    "--policy-config-file",
    str(ROOT / "examples/policy.yaml"),
]
# Points nowhere: any flag error must stop the command before a cluster is needed.
LIVE = ["--policy-config-file", str(ROOT / "examples/policy.yaml"), "--kubeconfig", "/nonexistent/kubeconfig"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--descheduling-interval", "5x"], "error: --descheduling-interval: invalid duration '5x'"),
        (["--descheduling-interval", "-1m"], "error: --descheduling-interval: invalid duration '-1m': must not be"),
        (["--descheduling-interval", "5m", "--schedule", "* * * * *"], "are mutually exclusive"),
        (["--schedule", "* * *"], "error: --schedule: invalid schedule '* * *': need 5 fields"),
        (["--leader-elect"], "error: --leader-elect needs --descheduling-interval or --schedule"),
        (["--leader-elect", "--descheduling-interval", "0"], "--leader-elect needs --descheduling-interval"),
        (
            ["--leader-elect", "--schedule", "* * * * *", "--leader-elect-lease-duration", "soon"],
            "error: --leader-elect-lease-duration: invalid duration 'soon'",
        ),
        (
            ["--leader-elect", "--descheduling-interval", "1m", "--leader-elect-renew-deadline", "200s"],
            "lease-duration > renew-deadline > retry-period",
        ),
        (
            ["--leader-elect", "--descheduling-interval", "1m", "--leader-elect-resource-name", ""],
            "must not be empty",
        ),
        (["--descheduling-interval", "1m", "--metrics-address", "10258"], "error: --metrics-address: '10258' is not"),
    ],
    ids=[
        "bad interval",
        "negative interval",
        "interval and schedule",
        "4-field cron",
        "leader election of a single run",
        "interval 0 is a single run",
        "bad lease duration",
        "renew deadline longer than the lease",
        "empty lease name",
        "metrics address without a colon",
    ],
)
def test_bad_flags_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, [*LIVE, *args])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert message in result.stderr


def test_a_single_run_writes_a_textfile(tmp_path: Path) -> None:
    path = tmp_path / "descheduler.prom"
    result = CliRunner().invoke(main, [*EXAMPLE, "--metrics-file", str(path), "--logging-format", "json"])
    assert result.exit_code == 0, result.stderr
    text = path.read_text()
    assert 'descheduler_pods_evicted_total{namespace="shop"' in text
    assert 'result="planned"' in text
    assert "descheduler_loop_duration_seconds_count 1.0" in text
    assert "descheduler_strategy_duration_seconds_count{" in text


def test_json_logging_writes_one_object_per_line() -> None:
    result = CliRunner().invoke(main, [*EXAMPLE, "-v", "--logging-format", "json", "-o", "json"])
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("{") and line.endswith("}") for line in lines)


def test_the_long_lived_mode_rewrites_the_html_page_after_each_cycle(tmp_path: Path) -> None:
    page = tmp_path / "plan.html"
    command = [
        str(Path(sys.executable).with_name("tensile-deschedule")),
        *EXAMPLE,
        "--descheduling-interval",
        "1s",
        "--metrics-address",
        "",
        "--report-html",
        str(page),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        written: set[int] = set()
        deadline = time.monotonic() + 15
        while len(written) < 2 and time.monotonic() < deadline:
            if page.exists():
                written.add(page.stat().st_mtime_ns)
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert len(written) >= 2, "the page was not rewritten by a second cycle"
    assert 'id="report-data"' in page.read_text()
