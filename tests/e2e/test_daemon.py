"""tensile-deschedule as a long-lived process on a real cluster: interval cycles, SIGTERM,
leader election between two replicas on one Lease, and /metrics after evictions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import clusters
from tests.cluster.ports import free_port
from tests.cluster.test_smoke import wait_for
from tests.e2e.support import workloads
from tests.e2e.test_deschedule_live import policy_file

NODES = tuple(clusters.NodeSpec(name=f"dm-node-{i}") for i in range(3))
SHORT_LEASE = [
    "--leader-elect",
    "--leader-elect-lease-duration",
    "6s",
    "--leader-elect-renew-deadline",
    "4s",
    "--leader-elect-retry-period",
    "1s",
]


class Daemon:
    """A ``tensile-deschedule`` process logging JSON lines to a file."""

    def __init__(self, cluster: clusters.Cluster, policy: Path, log: Path, *extra: str) -> None:
        self.log_path = log
        self.port = free_port()
        cmd = workloads.descheduler_command(
            cluster,
            policy,
            "-v",
            "--logging-format",
            "json",
            "--metrics-address",
            f"127.0.0.1:{self.port}",
            *extra,
        )
        with log.open("wb") as sink:
            self.proc = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=sink, env={**os.environ, "KUBECONFIG": ""}
            )

    def logs(self) -> list[dict[str, Any]]:
        lines = self.log_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def messages(self, logger: str | None = None) -> list[str]:
        return [e["msg"] for e in self.logs() if logger is None or e["logger"] == logger]

    def cycles_done(self) -> int:
        return sum(1 for m in self.messages("descheduler") if m.startswith("cycle done"))

    def evicted(self) -> list[str]:
        return [e["pod"] for e in self.logs() if e.get("result") == "evicted"]

    def identity(self) -> str | None:
        for entry in self.logs():
            if entry["msg"].startswith("competing for lease"):
                return str(entry["msg"].rsplit(" as ", 1)[1])
        return None

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as response:
            return str(response.read().decode())

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)


@pytest.fixture
def cluster(make_cluster: Callable[[clusters.ClusterSpec], clusters.Cluster]) -> clusters.Cluster:
    return make_cluster(clusters.ClusterSpec(f"daemon-{uuid.uuid4().hex[:4]}", NODES))


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def start(cluster: clusters.Cluster, policy: Path, *extra: str) -> Daemon:
        started.append(Daemon(cluster, policy, tmp_path / f"daemon-{len(started)}.log", *extra))
        return started[-1]

    yield start
    for daemon in started:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait(30)


def pile_up(cluster: clusters.Cluster, replicas: int) -> str:
    return workloads.pile_up(cluster, replicas, node="dm-node-0", others=("dm-node-1", "dm-node-2"))


def lease_holder(cluster: clusters.Cluster) -> str:
    out = cluster.kubectl("get", "lease", "descheduler", "-n", "kube-system", "-o", "json", check=False)
    return str(json.loads(out)["spec"].get("holderIdentity") or "") if out.strip() else ""


def sample(metrics_text: str, name: str) -> float:
    """Sum of every sample of ``name`` (all label sets)."""
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_interval_runs_cycles_until_sigterm_then_exits_0(
    cluster: clusters.Cluster, daemons: Callable[..., Daemon], tmp_path: Path
) -> None:
    ns = f"quiet-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", ns)
    daemon = daemons(cluster, policy_file(tmp_path, ns), "--descheduling-interval", "2s")
    wait_for(lambda: daemon.cycles_done() >= 3, timeout=30, what="3 cycles")
    with urllib.request.urlopen(f"http://127.0.0.1:{daemon.port}/healthz", timeout=5) as response:
        assert response.read() == b"ok"
    assert daemon.stop() == 0
    messages = daemon.messages()
    assert any(m.startswith("signal 15: stopping") for m in messages)
    starts = [m for m in daemon.messages("descheduler.daemon") if m.startswith("cycle ") and m.endswith("starting")]
    assert len(starts) == daemon.cycles_done(), "every started cycle finished before exit"


def test_a_cron_schedule_runs_a_cycle_at_start_and_at_the_next_minute(
    cluster: clusters.Cluster, daemons: Callable[..., Daemon], tmp_path: Path
) -> None:
    ns = f"cron-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", ns)
    daemon = daemons(cluster, policy_file(tmp_path, ns), "--schedule", "* * * * *")
    wait_for(lambda: daemon.cycles_done() >= 1, timeout=30, what="the first cycle at start")
    wait_for(lambda: daemon.cycles_done() >= 2, timeout=75, what="the cycle at the next minute")
    assert daemon.stop() == 0


def test_a_cycle_that_cannot_reach_the_api_is_logged_and_the_next_one_runs(
    cluster: clusters.Cluster, daemons: Callable[..., Daemon], tmp_path: Path
) -> None:
    ns = f"quiet-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", ns)
    daemon = daemons(cluster, policy_file(tmp_path, ns), "--descheduling-interval", "1s")
    wait_for(lambda: daemon.cycles_done() >= 1, timeout=30, what="a first cycle")
    cluster.stop_component("kube-apiserver")
    try:
        wait_for(
            lambda: any("failed; the next one runs as scheduled" in m for m in daemon.messages()),
            timeout=60,
            what="a failed cycle",
        )
    finally:
        cluster.start_component("kube-apiserver")
    done = daemon.cycles_done()
    wait_for(lambda: daemon.cycles_done() > done, timeout=60, what="cycles again once the API is back")
    assert daemon.stop() == 0


def test_metrics_count_the_evictions_of_a_cycle(
    cluster: clusters.Cluster, daemons: Callable[..., Daemon], tmp_path: Path
) -> None:
    ns = pile_up(cluster, 6)
    daemon = daemons(cluster, policy_file(tmp_path, ns), "--descheduling-interval", "1m")
    wait_for(lambda: daemon.cycles_done() >= 1, timeout=30, what="a cycle")
    text = daemon.metrics()
    evicted = [
        line
        for line in text.splitlines()
        if line.startswith("descheduler_pods_evicted_total{") and 'result="evicted"' in line
    ]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in evicted) == 4, text
    assert all(f'namespace="{ns}"' in line and 'strategy="RemoveDuplicates"' in line for line in evicted)
    assert all('node="dm-node-0"' in line and 'profile="dedupe"' in line for line in evicted)
    assert sample(text, "descheduler_loop_duration_seconds_count") == 1
    assert sample(text, "descheduler_strategy_duration_seconds_count") == 1
    assert sample(text, "descheduler_build_info") == 1
    assert daemon.stop() == 0


def test_two_replicas_one_leader_evicts_and_a_killed_leader_hands_over(
    cluster: clusters.Cluster, daemons: Callable[..., Daemon], tmp_path: Path
) -> None:
    ns = pile_up(cluster, 6)
    policy = policy_file(tmp_path, ns)
    replicas = [daemons(cluster, policy, "--descheduling-interval", "2s", *SHORT_LEASE) for _ in range(2)]
    wait_for(lambda: all(r.identity() for r in replicas), timeout=30, what="both replicas competing")
    wait_for(lambda: lease_holder(cluster) in {r.identity() for r in replicas}, timeout=30, what="a lease holder")
    holder = lease_holder(cluster)
    leader, follower = replicas if replicas[0].identity() == holder else replicas[::-1]
    wait_for(lambda: leader.cycles_done() >= 3, timeout=30, what="3 cycles of the leader")
    assert lease_holder(cluster) == holder
    assert follower.cycles_done() == 0, "only the leader runs cycles"
    assert not follower.evicted()
    assert len(leader.evicted()) >= 4

    leader.proc.kill()
    leader.proc.wait(10)
    killed = time.monotonic()
    wait_for(lambda: lease_holder(cluster) == follower.identity(), timeout=20, what="the follower taking the lease")
    # Lease duration (6s) plus one retry period (1s), and a little slack for a busy machine.
    assert time.monotonic() - killed <= 6 + 1 + 3
    wait_for(lambda: follower.cycles_done() >= 1, timeout=15, what="the new leader's first cycle")
    assert follower.stop() == 0
    assert lease_holder(cluster) == "", "a replica stopping cleanly releases the lease"
