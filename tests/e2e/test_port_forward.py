"""kubectl port-forward on the upper cluster reaching a server behind the mirrored pod, with the stock kubectl.

By default kubectl tunnels SPDY in a WebSocket (``SPDY/3.1+portforward.k8s.io``), which the upper API
server (v1.36) passes through to the provider's kubelet API because the virtual Node declares
ExtendWebSocketsToKubelet; with ``KUBECTL_PORT_FORWARD_WEBSOCKETS=false`` it upgrades to SPDY/3.1 and
the API server splices that through. The provider's lower leg is one legacy WebSocket port-forward
per connection to the lower API server, which reaches kwok; kwok's ClusterPortForward (set up by
tests/cluster/clusters.py) dials ``lower_a.forward_port`` on this machine, where :class:`Backend`
listens. kwok never half-closes towards it (and keeps its connection open while the server still
reads, whatever happens upstairs), so every exchange has a fixed size.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.cluster import clusters
from tests.cluster.ports import free_port
from tests.e2e.support import streaming
from tests.e2e.support.providers import ProviderProcess, pods, ready_provider, running, virtual_deployment, wait_for

NODE = "vk-portforward"
TRANSLATED_NODE = "vk-portforward-spdy"
REMOTE_PORT = 8080
SIZE = 1024 * 1024


def answer_to(data: bytes) -> bytes:
    """What the backend sends back for ``data``: its hash, then every byte inverted (as long as the request)."""
    return hashlib.sha256(data).digest() + bytes(b ^ 0xFF for b in data)


class Backend:
    """The server behind every lower pod's ports: reads SIZE bytes, answers them (:func:`answer_to`), hangs up."""

    def __init__(self, port: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.listener.accept()
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            data = read_exactly(conn, SIZE)
            if len(data) < SIZE:
                return  # kwok hung up (it never does while this side waits: see the module docstring)
            conn.sendall(answer_to(data))

    def close(self) -> None:
        self.listener.close()


def read_exactly(conn: socket.socket, size: int) -> bytes:
    got = bytearray()
    with contextlib.suppress(OSError):
        while len(got) < size and (chunk := conn.recv(min(65536, size - len(got)))):
            got += chunk
    return bytes(got)


@pytest.fixture(scope="module")
def backend(lower_a: clusters.Cluster) -> Iterator[Backend]:
    server = Backend(lower_a.forward_port)
    yield server
    server.close()


@pytest.fixture(scope="module")
def provider(
    upper: clusters.Cluster, lower_a: clusters.Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProviderProcess]:
    try:
        with ready_provider(upper, lower_a, NODE, tmp_path_factory.mktemp("portforward-logs")) as proc:
            yield proc
    finally:
        upper.kubectl("delete", "node", NODE, "--ignore-not-found")


@pytest.fixture(scope="module")
def namespace(provider: ProviderProcess, upper: clusters.Cluster) -> str:
    name = f"pf-{uuid.uuid4().hex[:6]}"
    upper.kubectl("create", "namespace", name)
    return name


def mirrored_pod(upper: clusters.Cluster, namespace: str, app: str, node: str = NODE) -> str:
    upper.apply([virtual_deployment(app, namespace, 1, node)])
    wait_for(lambda: len(running(pods(upper, namespace, f"app={app}"))) == 1, timeout=90, what=f"{app} running")
    return str(running(pods(upper, namespace, f"app={app}"))[0]["metadata"]["name"])


@pytest.fixture(scope="module")
def pod(upper: clusters.Cluster, namespace: str) -> str:
    return mirrored_pod(upper, namespace, "web")


class PortForward:
    """``kubectl port-forward pod/NAME LOCAL:8080`` running in the background."""

    def __init__(self, upper: clusters.Cluster, namespace: str, pod: str, *, websockets: bool = True) -> None:
        self.local = free_port()
        self.stderr: str | None = None
        env = {**os.environ, "KUBECTL_PORT_FORWARD_WEBSOCKETS": "true" if websockets else "false"}
        args = [streaming.kubectl_binary(upper), "--kubeconfig", str(upper.kubeconfig), "port-forward", "-n", namespace]
        args += ["--address", "127.0.0.1", f"pod/{pod}", f"{self.local}:{REMOTE_PORT}"]
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        assert first.startswith("Forwarding from"), f"{first}{self.stop()}"

    def exchange(self, data: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", self.local), timeout=60) as conn:
            conn.sendall(data)
            return read_exactly(conn, len(data) + 32)

    def stop(self) -> str:
        """End kubectl (once); what it wrote on stderr."""
        if self.stderr is None:
            if self.proc.poll() is None:
                self.proc.terminate()
            _out, err = self.proc.communicate(timeout=20)
            self.stderr = str(err)
        return self.stderr


@pytest.fixture
def forward(request: pytest.FixtureRequest, upper: clusters.Cluster, namespace: str, pod: str) -> Iterator[PortForward]:
    started = PortForward(upper, namespace, pod, websockets=request.param == "websocket")
    yield started
    started.stop()


TRANSPORTS = [
    pytest.param("websocket", id="WebSocket tunnel, passed through"),
    pytest.param("spdy", id="SPDY (KUBECTL_PORT_FORWARD_WEBSOCKETS=false)"),
]
LOGGED = {"websocket": "over websocket SPDY/3.1+portforward.k8s.io", "spdy": "over spdy portforward.k8s.io"}


@pytest.mark.parametrize("forward", TRANSPORTS, indirect=True)
def test_three_parallel_connections_carry_1_mib_each_way(
    provider: ProviderProcess, backend: Backend, forward: PortForward, request: pytest.FixtureRequest
) -> None:
    payloads = [os.urandom(SIZE) for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(forward.exchange, payloads))
    for n, (sent, got) in enumerate(zip(payloads, answers, strict=True)):
        assert len(got) == SIZE + 32, f"connection {n}: {len(got)} bytes back"
        assert got == answer_to(sent), f"connection {n}: the bytes differ"
    transport = request.node.callspec.params["forward"]
    assert LOGGED[transport] in provider.logs(), "the provider saw the transport kubectl chose"
    assert forward.proc.poll() is None, "kubectl keeps forwarding"


@pytest.mark.parametrize("forward", TRANSPORTS, indirect=True)
def test_a_connection_the_client_drops_does_not_break_the_others(backend: Backend, forward: PortForward) -> None:
    dropped = socket.create_connection(("127.0.0.1", forward.local), timeout=60)
    dropped.sendall(os.urandom(SIZE // 2))
    with ThreadPoolExecutor(2) as pool:
        pending = [pool.submit(forward.exchange, data) for data in (os.urandom(SIZE), os.urandom(SIZE))]
        dropped.close()  # half a request, then gone
        answers = [future.result() for future in pending]
    assert all(len(got) == SIZE + 32 for got in answers)
    data = os.urandom(SIZE)
    assert forward.exchange(data) == answer_to(data), "a connection opened afterwards works too"
    assert forward.proc.poll() is None, "kubectl keeps forwarding"
    time.sleep(7)  # the provider closes the half-closed connection below once the pod was quiet for 5 s
    assert forward.proc.poll() is None, "kubectl keeps forwarding"
    assert "error occurred forwarding" not in forward.stop(), "a client's own hang-up is no error"


@pytest.mark.parametrize("forward", TRANSPORTS, indirect=True)
def test_a_connection_idle_for_longer_than_the_dead_peer_timeout_survives(forward: PortForward) -> None:
    # kubectl pings the session and the provider pings each lower connection, so 25 s of silence
    # in the data (more than the 20 s after which a silent peer counts as gone) ends nothing.
    data = os.urandom(SIZE)
    with socket.create_connection(("127.0.0.1", forward.local), timeout=60) as conn:
        conn.sendall(data[: SIZE // 2])
        time.sleep(25)
        conn.sendall(data[SIZE // 2 :])
        assert read_exactly(conn, SIZE + 32) == answer_to(data)


def test_port_forward_to_a_pod_whose_mirror_is_gone_is_a_clear_error(
    upper: clusters.Cluster, lower_a: clusters.Cluster, namespace: str, backend: Backend
) -> None:
    name = mirrored_pod(upper, namespace, "doomed")
    forward = PortForward(upper, namespace, name, websockets=True)
    try:
        lower_a.kubectl("delete", "pod", "-n", namespace, name, "--grace-period=0", "--force", "--wait=true")
        assert forward.exchange(b"x" * 16) == b"", "the connection is closed, with no answer"
        forward.proc.wait(timeout=30)
    finally:
        stderr = forward.stop()
    assert "pod not found in the lower cluster" in stderr, stderr
    assert f'pods \\"{name}\\" not found' in stderr or f'pods "{name}" not found' in stderr, stderr


@pytest.fixture(scope="module")
def translating_provider(
    upper: clusters.Cluster, lower_a: clusters.Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProviderProcess]:
    """A node that declares nothing (``--streaming spdy``): the upper API server tunnels kubectl's WebSocket
    into SPDY itself, as it does for every node when its ExtendWebSocketsToKubelet gate is off (one branch)."""
    try:
        with ready_provider(
            upper, lower_a, TRANSLATED_NODE, tmp_path_factory.mktemp("pf-spdy"), extra_args=["--streaming", "spdy"]
        ) as proc:
            yield proc
    finally:
        upper.kubectl("delete", "node", TRANSLATED_NODE, "--ignore-not-found")


def test_an_api_server_that_tunnels_the_websocket_into_spdy_reaches_the_pod_too(
    upper: clusters.Cluster, namespace: str, backend: Backend, translating_provider: ProviderProcess
) -> None:
    name = mirrored_pod(upper, namespace, "translated", TRANSLATED_NODE)
    before = streaming.websocket_requests(upper, "portforward").get("translated_at_apiserver", 0)
    forward = PortForward(upper, namespace, name)
    try:
        payloads = [os.urandom(SIZE) for _ in range(3)]
        with ThreadPoolExecutor(3) as pool:
            answers = list(pool.map(forward.exchange, payloads))
        assert all(got == answer_to(sent) for sent, got in zip(payloads, answers, strict=True))
    finally:
        forward.stop()
    assert LOGGED["spdy"] in translating_provider.logs(), "the API server spoke SPDY to the node"
    after = streaming.websocket_requests(upper, "portforward").get("translated_at_apiserver", 0)
    assert after > before, (before, after)
