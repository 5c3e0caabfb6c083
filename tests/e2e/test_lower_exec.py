"""The lower leg of exec, on a real lower cluster: the provider's WebSocket client to the lower API server.

kwok's ClusterExec (tests/cluster/clusters.py) runs the command on this machine for any kwok pod;
the lower API server (v1.36) translates our ``v5.channel.k8s.io`` WebSocket to SPDY towards kwok,
as it would towards a real kubelet that does not declare ``ExtendWebSocketsToKubelet``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest

from descheduler.kube import client, errors
from provider.kubelet import channels
from provider.kubelet.lower_exec import ExecRequest, LowerExec
from tests.cluster import clusters


@pytest.fixture(scope="module")
def pod(lower_a: clusters.Cluster) -> Iterator[tuple[str, str]]:
    namespace = f"exec-{uuid.uuid4().hex[:8]}"
    lower_a.kubectl("create", "namespace", namespace)
    lower_a.kubectl("run", "shell", "-n", namespace, "--image=busybox")
    deadline = time.monotonic() + 60
    while (
        json.loads(lower_a.kubectl("get", "pod", "shell", "-n", namespace, "-o", "json"))["status"].get("phase")
        != "Running"
    ):
        assert time.monotonic() < deadline, "shell pod not Running in lower-a"
        time.sleep(0.3)
    yield namespace, "shell"
    lower_a.kubectl("delete", "namespace", namespace, "--wait=false")


@pytest.fixture(scope="module")
def lower_exec(lower_a: clusters.Cluster) -> Iterator[LowerExec]:
    kube = client.Kube.from_kubeconfig(str(lower_a.kubeconfig))
    yield LowerExec(kube)
    kube.close()


def run(
    lower_exec: LowerExec, pod: tuple[str, str], *command: str, stdin: bytes | None = None
) -> tuple[bytes, bytes, channels.Outcome, str]:
    namespace, name = pod
    session = lower_exec.open(ExecRequest(namespace, name, container=name, command=command, stdin=stdin is not None))
    try:
        if stdin is not None:
            session.send_stdin(stdin)
            session.close_stdin()
        out, err = bytearray(), bytearray()
        for channel, data in session.output():
            (out if channel == channels.STDOUT else err).extend(data)
        return bytes(out), bytes(err), channels.exit_code_of(session.error_channel), session.protocol
    finally:
        session.close()


def test_stdout_and_stderr_come_back_apart_and_success_is_exit_0(lower_exec: LowerExec, pod: tuple[str, str]) -> None:
    out, err, outcome, protocol = run(lower_exec, pod, "sh", "-c", "echo out; echo err >&2")
    assert (out, err) == (b"out\n", b"err\n")
    assert outcome.exit_code == 0
    assert protocol == "v5.channel.k8s.io"


def test_a_failing_command_is_a_failure_naming_its_exit_status(lower_exec: LowerExec, pod: tuple[str, str]) -> None:
    _out, _err, outcome, _protocol = run(lower_exec, pod, "sh", "-c", "exit 3")
    # NonZeroExitCode, as a real kubelet reports it (kwok built with tests/cluster/kwok_patches.py).
    assert outcome.exit_code == 3, outcome


def test_stdin_reaches_the_command_and_its_end_ends_it(lower_exec: LowerExec, pod: tuple[str, str]) -> None:
    out, _err, outcome, _protocol = run(lower_exec, pod, "wc", "-c", stdin=b"hello world and more")
    assert out.strip() == b"20"
    assert outcome.exit_code == 0


def test_a_missing_pod_is_an_api_error_naming_it(lower_exec: LowerExec, pod: tuple[str, str]) -> None:
    namespace, _name = pod
    with pytest.raises(errors.NotFoundError, match="nope"):
        lower_exec.open(ExecRequest(namespace, "nope", container="nope", command=["true"]))
