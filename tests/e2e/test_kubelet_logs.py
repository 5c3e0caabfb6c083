"""Pod logs from a real lower cluster: LowerLogs directly, through the kubelet API, and via upper `kubectl logs`.

kwok serves every pod the three lines of tests/cluster/clusters.py LOG_LINES, stamped
2024-01-01T00:00:00..02Z, so time filters have known answers.
"""

from __future__ import annotations

import http.client
import json
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from descheduler.kube import client, errors
from provider import kubelet
from provider.serving import tls
from tests.cluster import clusters

ALL_LINES = "".join(f"{line}\n" for line in clusters.LOG_LINES).encode()
NO_OPTIONS: dict[str, Any] = {
    "follow": False,
    "tail_lines": None,
    "since_seconds": None,
    "since_time": None,
    "previous": False,
    "timestamps": False,
    "limit_bytes": None,
}


@dataclass(frozen=True)
class Talker:
    """A running pod in lower-a; its container has the pod's name."""

    namespace: str
    pod: str


def _wait(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.3)


def _phase(cluster: clusters.Cluster, namespace: str, pod: str) -> str:
    data = json.loads(cluster.kubectl("get", "pod", pod, "-n", namespace, "-o", "json"))
    return str(data["status"].get("phase"))


@pytest.fixture(scope="module")
def talker(lower_a: clusters.Cluster) -> Iterator[Talker]:
    namespace = f"logs-{uuid.uuid4().hex[:8]}"
    lower_a.kubectl("create", "namespace", namespace)
    lower_a.kubectl("run", "talker", "-n", namespace, "--image=busybox")
    _wait(lambda: _phase(lower_a, namespace, "talker") == "Running", "talker running in lower-a")
    yield Talker(namespace, "talker")
    lower_a.kubectl("delete", "namespace", namespace, "--wait=false")


@pytest.fixture(scope="module")
def lower_logs(lower_a: clusters.Cluster) -> Iterator[kubelet.LowerLogs]:
    kube = client.Kube.from_kubeconfig(str(lower_a.kubeconfig))
    yield kubelet.LowerLogs(kube)
    kube.close()


def _read(logs: kubelet.LowerLogs, talker: Talker, **options: Any) -> bytes:
    stream = logs.stream(talker.namespace, talker.pod, container=talker.pod, **{**NO_OPTIONS, **options})
    return b"".join(stream)


# -- LowerLogs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param({}, ALL_LINES, id="no options -> every line"),
        pytest.param({"tail_lines": 1}, b"tensile test log line 3\n", id="tail_lines=1 -> last line only"),
        pytest.param({"since_seconds": 3600}, b"", id="since_seconds=3600 -> accepted, 2024 lines are older"),
        pytest.param(
            {"since_time": "2024-01-01T00:00:01Z"},
            b"tensile test log line 2\ntensile test log line 3\n",
            id="since_time at line 2 -> lines 2 and 3",
        ),
        pytest.param({"limit_bytes": 10}, b"tensile te", id="limit_bytes=10 -> first 10 bytes"),
    ],
)
def test_lower_logs_apply_the_options(
    lower_logs: kubelet.LowerLogs, talker: Talker, options: dict[str, Any], expected: bytes
) -> None:
    assert _read(lower_logs, talker, **options) == expected


def test_lower_logs_with_timestamps_prefix_each_line(lower_logs: kubelet.LowerLogs, talker: Talker) -> None:
    lines = _read(lower_logs, talker, timestamps=True).decode().splitlines()
    assert lines == [f"2024-01-01T00:00:0{i}.000000000Z {line}" for i, line in enumerate(clusters.LOG_LINES)]


def test_lower_logs_of_a_missing_pod_raise_not_found(lower_logs: kubelet.LowerLogs, talker: Talker) -> None:
    with pytest.raises(errors.NotFoundError):
        lower_logs.stream(talker.namespace, "no-such-pod", container="c", **NO_OPTIONS)


def test_lower_logs_of_a_wrong_container_raise_bad_request(lower_logs: kubelet.LowerLogs, talker: Talker) -> None:
    with pytest.raises(errors.BadRequestError, match="container nope is not valid"):
        lower_logs.stream(talker.namespace, talker.pod, container="nope", **NO_OPTIONS)


def test_followed_lower_logs_stream_until_closed_from_another_thread(
    lower_logs: kubelet.LowerLogs, talker: Talker
) -> None:
    stream = lower_logs.stream(talker.namespace, talker.pod, container=talker.pod, **{**NO_OPTIONS, "follow": True})
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.extend(stream), daemon=True)
    reader.start()
    _wait(lambda: b"".join(received) == ALL_LINES, "the followed lines", timeout=10)
    assert reader.is_alive()  # kwok keeps a followed log open, like a running container
    stream.close()
    reader.join(5)
    assert not reader.is_alive()


# -- through the kubelet API ---------------------------------------------------------------


@pytest.fixture(scope="module")
def kubelet_api(lower_logs: kubelet.LowerLogs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    directory = tmp_path_factory.mktemp("lower-logs-tls")
    cert_pem, key_pem = tls.self_signed("vnode", ip_addresses=["127.0.0.1"], dns_names=[])
    (directory / "tls.crt").write_bytes(cert_pem)
    (directory / "tls.key").write_bytes(key_pem)
    server = kubelet.KubeletServer(
        address="127.0.0.1", port=0, cert_file=directory / "tls.crt", key_file=directory / "tls.key", logs=lower_logs
    )
    server.start()
    yield server, directory / "tls.crt"
    server.stop()


def test_kubelet_api_serves_the_lower_pods_log(kubelet_api: Any, talker: Talker) -> None:
    server, cert = kubelet_api
    conn = http.client.HTTPSConnection(
        "127.0.0.1", server.port, context=ssl.create_default_context(cafile=str(cert)), timeout=10
    )
    conn.request("GET", f"/containerLogs/{talker.namespace}/{talker.pod}/{talker.pod}?tailLines=2")
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, b"tensile test log line 2\ntensile test log line 3\n")
    conn.request("GET", f"/containerLogs/{talker.namespace}/no-such-pod/c")
    response = conn.getresponse()
    assert response.status == 404
    response.read()
    conn.close()


# -- upper kubectl logs -> upper apiserver -> kubelet API -> lower cluster ------------------


@pytest.fixture(scope="module")
def upper_pod(upper: clusters.Cluster, kubelet_api: Any, talker: Talker) -> Iterator[Talker]:
    """The talker's upper twin, bound to a node whose kubelet endpoint is our server."""
    server, _cert = kubelet_api
    node = f"tensile-logs-{uuid.uuid4().hex[:6]}"
    status = {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": server.port}},
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": talker.pod, "namespace": talker.namespace},
        "spec": {"nodeName": node, "containers": [{"name": talker.pod, "image": "busybox"}]},
    }
    node_body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}, "status": status}
    upper.kubectl("create", "-f", "-", input_text=json.dumps(node_body))  # create keeps the status
    upper.kubectl("create", "namespace", talker.namespace)
    upper.kubectl("create", "-f", "-", input_text=json.dumps(pod))
    yield talker
    upper.kubectl("delete", "namespace", talker.namespace, "--wait=false")
    upper.kubectl("delete", "node", node, "--wait=false")


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        pytest.param([], "".join(f"{line}\n" for line in clusters.LOG_LINES), id="plain -> every line"),
        pytest.param(["--tail=1"], "tensile test log line 3\n", id="--tail=1 -> last line"),
        pytest.param(["--since=1h"], "", id="--since=1h -> works (crashed in prior art), nothing that recent"),
        pytest.param(
            ["--since-time=2024-01-01T00:00:02Z"], "tensile test log line 3\n", id="--since-time -> later lines"
        ),
    ],
)
def test_upper_kubectl_logs_show_the_lower_pods_log(
    upper: clusters.Cluster, upper_pod: Talker, flags: list[str], expected: str
) -> None:
    assert upper.kubectl("logs", "-n", upper_pod.namespace, upper_pod.pod, *flags) == expected


def test_upper_kubectl_logs_of_a_wrong_container_fail_with_the_lower_reason(
    upper: clusters.Cluster, upper_pod: Talker
) -> None:
    with pytest.raises(clusters.ClusterError, match="container"):
        upper.kubectl("logs", "-n", upper_pod.namespace, upper_pod.pod, "-c", "nope")


def test_upper_kubectl_logs_follow_streams_and_ends_when_kubectl_exits(
    upper: clusters.Cluster, upper_pod: Talker, kubelet_api: Any
) -> None:
    server, _cert = kubelet_api
    cmd = [str(upper.bins.kubectl), "--kubeconfig", str(upper.kubeconfig), "logs", "-f"]
    with subprocess.Popen([*cmd, "-n", upper_pod.namespace, upper_pod.pod], stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        assert [proc.stdout.readline() for _ in clusters.LOG_LINES] == [
            f"{line}\n".encode() for line in clusters.LOG_LINES
        ]
        assert proc.poll() is None  # still following
        assert server.streams_in_flight == 1
        proc.kill()
    _wait(lambda: server.streams_in_flight == 0, "the kubelet API to close the lower stream", timeout=10)
