"""An exec session whose lower API server dies or goes silent: kubectl gets an error within 30 s, never a hang,
and the provider serves the next session once the server is back.

The lower cluster is private to this module, since its API server is killed and frozen.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import clusters
from tests.e2e.support import streaming
from tests.e2e.support.providers import ProviderProcess, pods, ready_provider, running, virtual_deployment, wait_for

NODE = "vk-exec-outage"
BOUND_SECONDS = 30.0


@pytest.fixture(scope="module")
def lower(tmp_path_factory: pytest.TempPathFactory) -> Iterator[clusters.Cluster]:
    spec = clusters.ClusterSpec("lower-outage", clusters.default_lower_nodes("o", count=1))
    with clusters.running(spec, root=tmp_path_factory.mktemp("lower-outage")) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def provider(
    upper: clusters.Cluster, lower: clusters.Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProviderProcess]:
    try:
        with ready_provider(upper, lower, NODE, tmp_path_factory.mktemp("outage-logs")) as proc:
            yield proc
    finally:
        upper.kubectl("delete", "node", NODE, "--ignore-not-found")


@pytest.fixture(scope="module")
def pod(provider: ProviderProcess, upper: clusters.Cluster) -> tuple[str, str]:
    namespace = f"outage-{uuid.uuid4().hex[:6]}"
    upper.kubectl("create", "namespace", namespace)
    upper.apply([virtual_deployment("sleeper", namespace, 1, NODE)])
    wait_for(lambda: len(running(pods(upper, namespace))) == 1, timeout=90, what="the mirrored pod running")
    return namespace, running(pods(upper, namespace))[0]["metadata"]["name"]


def apiserver_pid(cluster: clusters.Cluster) -> int:
    return int((Path(cluster.workdir) / "clusters" / cluster.name / "pids" / "kube-apiserver.pid").read_text())


def ended_within(session: streaming.Background, seconds: float) -> float:
    started = time.monotonic()
    while session.proc.poll() is None:
        assert time.monotonic() - started < seconds, f"the session still runs after {seconds:.0f} s"
        time.sleep(0.2)
    return time.monotonic() - started


def exec_works(upper: clusters.Cluster, pod: tuple[str, str]) -> bool:
    done = streaming.Kubectl(upper).exec(pod, "echo", "back", timeout=30)
    return done.returncode == 0 and done.stdout == b"back\n"


def test_a_killed_lower_api_server_ends_the_session_with_an_error(
    upper: clusters.Cluster, lower: clusters.Cluster, pod: tuple[str, str], provider: ProviderProcess
) -> None:
    namespace, name = pod
    kubectl = streaming.Kubectl(upper)
    with kubectl.background("exec", "-n", namespace, name, "--", "sh", "-c", "echo started; sleep 600") as session:
        wait_for(lambda: b"started" in session.output(), timeout=30, what="the session running")
        lower.stop_component("kube-apiserver")
        try:
            ended_within(session, BOUND_SECONDS)
        finally:
            lower.start_component("kube-apiserver")
        assert session.proc.returncode != 0
        assert b"lower cluster" in session.output(), session.output()
    wait_for(lambda: exec_works(upper, pod), timeout=90, what="exec working again once the lower API server is back")
    assert "Traceback" not in provider.logs()


def test_a_frozen_lower_api_server_ends_the_session_within_30_seconds(
    upper: clusters.Cluster, lower: clusters.Cluster, pod: tuple[str, str], provider: ProviderProcess
) -> None:
    # SIGSTOP keeps the sockets open and silent: only the lower leg's pings can tell the peer is gone.
    namespace, name = pod
    kubectl = streaming.Kubectl(upper)
    with kubectl.background("exec", "-n", namespace, name, "--", "sh", "-c", "echo started; sleep 600") as session:
        wait_for(lambda: b"started" in session.output(), timeout=30, what="the session running")
        pid = apiserver_pid(lower)
        os.kill(pid, signal.SIGSTOP)
        try:
            took = ended_within(session, BOUND_SECONDS + 5)
        finally:
            os.kill(pid, signal.SIGCONT)
        assert took <= BOUND_SECONDS, took
        assert session.proc.returncode != 0
        assert b"lower cluster" in session.output(), session.output()
    wait_for(lambda: exec_works(upper, pod), timeout=90, what="exec working again once the lower API server thaws")
