"""--cycle-timeout: its default reaches the cycle as 30 s, and bad values are exit 2 in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from descheduler import app, cli, runner

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT_RUN = [
    "--dry-run",
    "--snapshot",
    str(ROOT / "examples/snapshot.yaml"),
    "--policy-config-file",
    str(ROOT / "examples/policy.yaml"),
]


@pytest.fixture
def timeouts(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """The ``timeout`` each cycle was run with; the cycle itself still runs."""
    seen: list[float | None] = []

    def recording(*args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        seen.append(timeout)
        return runner.run_cycle(*args, timeout=timeout, **kwargs)

    monkeypatch.setattr(app, "run_cycle", recording)
    return seen


def test_a_cycle_gets_a_30_second_deadline_by_default(timeouts: list[float | None]) -> None:
    result = CliRunner().invoke(cli.main, SNAPSHOT_RUN)
    assert result.exit_code == 0, result.stderr
    assert timeouts == [30.0]


def test_cycle_timeout_takes_a_go_duration(timeouts: list[float | None]) -> None:
    result = CliRunner().invoke(cli.main, [*SNAPSHOT_RUN, "--cycle-timeout", "2m30s"])
    assert result.exit_code == 0, result.stderr
    assert timeouts == [150.0]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("0", "error: --cycle-timeout 0: must be more than 0", id="0 -> refused"),
        pytest.param("0s", "error: --cycle-timeout 0s: must be more than 0", id="0s -> refused"),
        pytest.param("-5s", "error: --cycle-timeout: invalid duration '-5s': must not be negative", id="negative"),
        pytest.param("30", "error: --cycle-timeout: invalid duration '30' (use e.g. 30s, 5m, 1h30m)", id="no unit"),
    ],
)
def test_a_bad_cycle_timeout_is_one_line_and_exit_2(timeouts: list[float | None], value: str, message: str) -> None:
    result = CliRunner().invoke(cli.main, [*SNAPSHOT_RUN, "--cycle-timeout", value])
    assert (result.exit_code, result.stderr.strip()) == (2, message)
    assert timeouts == []


def test_help_documents_the_flag_and_its_default() -> None:
    result = CliRunner().invoke(cli.main, ["--help"])
    assert "--cycle-timeout" in result.stdout
    assert "[default: 30s]" in " ".join(result.stdout.split())
