"""Session fixtures: real control planes on 127.0.0.1 (DESIGN.md §5).

A missing binary fails the test that needs it with the command that builds it; nothing
is skipped. Clusters are torn down at the end of the session, also on failure, Ctrl-C or
SIGTERM.
"""

from __future__ import annotations

import atexit
import os
import signal
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType

import pytest

from tests.cluster import binaries, clusters

_started: list[clusters.Cluster] = []
FAILED_RUN_LOGS = Path.home() / ".cache/tensile/failed-test-logs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
"""Where the control planes' logs go when a test of this session failed (stopping deletes them)."""


def _stop_all() -> None:
    while _started:
        cluster = _started.pop()
        try:
            cluster.stop()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            clusters._kill_leftovers(cluster.pids())


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


atexit.register(_stop_all)
signal.signal(signal.SIGTERM, _terminate)


def _stop(started: Iterable[clusters.Cluster], session: pytest.Session, logs_under: str) -> None:
    started = list(started)
    if session.testsfailed:
        for cluster in started:
            cluster.save_logs(FAILED_RUN_LOGS / logs_under)
    clusters.stop_clusters(started)
    for cluster in started:
        if cluster in _started:
            _started.remove(cluster)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FAILED_RUN_LOGS.is_dir():
        terminalreporter.write_line(f"control-plane logs of the clusters behind the failures: {FAILED_RUN_LOGS}")


@pytest.fixture(scope="session")
def control_plane_binaries() -> binaries.Binaries:
    bins = binaries.locate()
    missing = bins.missing()
    if missing:
        pytest.fail(f"missing control-plane binaries {', '.join(map(str, missing))}; {binaries.how_to_build()}")
    return bins


@pytest.fixture(scope="session")
def clusters_root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="tensile-test-clusters-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="session")
def test_clusters(
    control_plane_binaries: binaries.Binaries, clusters_root: Path, request: pytest.FixtureRequest
) -> Iterator[dict[str, clusters.Cluster]]:
    """One upper cluster and two lower clusters (3 kwok nodes of 4 CPU / 8Gi / 110 pods each)."""
    specs = [
        clusters.ClusterSpec("upper"),
        clusters.ClusterSpec("lower-a", clusters.default_lower_nodes("a")),
        clusters.ClusterSpec("lower-b", clusters.default_lower_nodes("b")),
    ]
    started = clusters.start_clusters(specs, root=clusters_root / "shared")
    _started.extend(started.values())
    try:
        yield started
    finally:
        _stop(started.values(), request.session, "shared")


@pytest.fixture(scope="session")
def upper(test_clusters: dict[str, clusters.Cluster]) -> clusters.Cluster:
    return test_clusters["upper"]


@pytest.fixture(scope="session")
def lower_a(test_clusters: dict[str, clusters.Cluster]) -> clusters.Cluster:
    return test_clusters["lower-a"]


@pytest.fixture(scope="session")
def lower_b(test_clusters: dict[str, clusters.Cluster]) -> clusters.Cluster:
    return test_clusters["lower-b"]


@pytest.fixture
def make_cluster(
    control_plane_binaries: binaries.Binaries, clusters_root: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[clusters.ClusterSpec], clusters.Cluster]]:
    """Start a private cluster of a given shape for one test; stopped after it."""
    mine: list[clusters.Cluster] = []

    def start(spec: clusters.ClusterSpec) -> clusters.Cluster:
        root = clusters_root / f"{request.node.name[:40]}-{len(mine)}"
        cluster = clusters.start_clusters([spec], root=root)[spec.name]
        mine.append(cluster)
        _started.append(cluster)
        return cluster

    yield start
    _stop(mine, request.session, request.node.name[:60])
