"""exec over SPDY/3.1 on the kubelet API, as an API server that translates speaks it, against a lower session
in plain Python: the upgrade answer, the streams accepted, stdin down, output and the exit status up.

The same path against the real kube-apiserver and kubectl is tests/e2e/test_exec_transports.py.
"""

from __future__ import annotations

import json
import queue
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any, cast

import pytest

from descheduler.kube import errors
from provider.kubelet import channels, spdy
from provider.kubelet import server as kubelet_server
from provider.kubelet.lower_exec import ExecRequest, LowerExec
from provider.kubelet.remote_command import Traffic
from tests.provider.kubelet import fakes

UPGRADE = (
    "POST /exec/ns/web/app?command=cat&input=1&output=1&error=1 HTTP/1.1\r\n"
    "Host: vnode\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
    "X-Stream-Protocol-Version: v5.channel.k8s.io\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
    "X-Stream-Protocol-Version: v1.channel.k8s.io\r\nContent-Length: 0\r\n\r\n"
)


class EchoSession:
    """A lower session that writes stdin back on stdout, says bye on stderr at stdin's end, and exits 3."""

    protocol = "v5.channel.k8s.io"

    def __init__(self) -> None:
        self.chunks: queue.Queue[bytes | None] = queue.Queue()
        self.error_channel = b""
        self.closed = threading.Event()

    def output(self) -> Iterator[tuple[int, bytes]]:
        while (chunk := self.chunks.get()) is not None:
            yield channels.STDOUT, chunk
        if not self.closed.is_set():
            yield channels.STDERR, b"bye\n"
            self.error_channel = channels.exit_status(3)

    def send_stdin(self, data: bytes) -> None:
        self.chunks.put(data)

    def close_stdin(self) -> None:
        self.chunks.put(None)

    def resize(self, size: channels.TerminalSize) -> None:
        pass

    def close(self) -> None:
        self.closed.set()
        self.chunks.put(None)


class FakeExec:
    def __init__(self, error: errors.ApiError | None = None) -> None:
        self.requests: list[ExecRequest] = []
        self.error = error

    def open(self, request: ExecRequest) -> EchoSession:
        self.requests.append(request)
        if self.error:
            raise self.error
        return EchoSession()


class Sessions:
    def __init__(self) -> None:
        self.ended: list[tuple[str, str, Traffic]] = []

    def session_ended(self, kind: str, transport: str, traffic: Traffic) -> None:
        self.ended.append((kind, transport, traffic))


OPEN: list[ssl.SSLSocket] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


class SpdyClient:
    """The API server's side: the upgrade on a TLS socket, then frames."""

    def __init__(self, port: int, tls: fakes.Tls) -> None:
        context = ssl.create_default_context(cafile=str(tls.cert))
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock = context.wrap_socket(raw, server_hostname="vnode")
        OPEN.append(self.sock)
        self.codec, self.reader = spdy.HeaderCodec(), spdy.FrameReader()
        self.pending: list[spdy.Frame] = []

    def upgrade(self, request: str = UPGRADE) -> str:
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        return head.decode()

    def send(self, *frames: spdy.Frame) -> None:
        self.sock.sendall(b"".join(spdy.encode(frame, self.codec) for frame in frames))

    def frames_until_closed(self) -> list[spdy.Frame]:
        frames: list[spdy.Frame] = []
        while chunk := self.sock.recv(65536):
            frames += self.reader.feed(chunk)
        return frames

    def next_frame(self) -> spdy.Frame:
        while not self.pending:
            self.pending += self.reader.feed(self.sock.recv(65536))
        return self.pending.pop(0)


@pytest.fixture
def sessions() -> Sessions:
    return Sessions()


def start(tls: fakes.Tls, source: FakeExec, sessions: Sessions, **options: Any) -> kubelet_server.KubeletServer:
    srv = kubelet_server.KubeletServer(
        address="127.0.0.1",
        port=0,
        cert_file=tls.cert,
        key_file=tls.key,
        logs=fakes.FakeLogs(),
        exec_source=cast(LowerExec, source),
        sessions=sessions,
        **options,
    )
    srv.start()
    return srv


def open_streams(client: SpdyClient) -> None:
    client.send(
        spdy.SynStream(1, {"streamtype": ["error"]}),
        spdy.SynStream(3, {"streamtype": ["stdin"]}),
        spdy.SynStream(5, {"streamtype": ["stdout"]}),
        spdy.SynStream(7, {"streamtype": ["stderr"]}),
    )


def test_spdy_exec_streams_stdin_down_and_output_and_the_exit_status_up(tls: fakes.Tls, sessions: Sessions) -> None:
    source = FakeExec()
    srv = start(tls, source, sessions)
    try:
        client = SpdyClient(srv.port, tls)
        head = client.upgrade()
        assert head.startswith("HTTP/1.1 101"), head
        assert "X-Stream-Protocol-Version: v4.channel.k8s.io" in head, "v5 over SPDY is v4, as client-go decides"
        open_streams(client)
        assert [client.next_frame() for _ in range(4)] == [spdy.SynReply(i) for i in (1, 3, 5, 7)]
        client.send(spdy.DataFrame(3, b"hello "), spdy.DataFrame(3, b"world", fin=True))
        frames = client.frames_until_closed()
    finally:
        srv.stop()
    data = {sid: b"".join(f.data for f in frames if isinstance(f, spdy.DataFrame) and f.stream_id == sid)
            for sid in (1, 5, 7)}  # fmt: skip
    assert data[5] == b"hello world"
    assert data[7] == b"bye\n"
    assert channels.exit_code_of(data[1]).exit_code == 3
    ended = {f.stream_id for f in frames if isinstance(f, spdy.DataFrame) and f.fin}
    assert ended == {1, 5, 7}, "every stream we write ends"
    assert any(isinstance(f, spdy.GoAway) for f in frames)
    assert source.requests[0].command == ["cat"] and source.requests[0].stdin
    kind, transport, traffic = sessions.ended[0]
    assert (kind, transport, traffic.bytes_down, traffic.bytes_up, traffic.result) == ("exec", "spdy", 11, 15, "ok")


def test_spdy_is_refused_when_only_websockets_are_allowed(tls: fakes.Tls, sessions: Sessions) -> None:
    srv = start(tls, FakeExec(), sessions, spdy=False)
    try:
        head = SpdyClient(srv.port, tls).upgrade()
    finally:
        srv.stop()
    assert head.startswith("HTTP/1.1 403"), head


def test_a_lower_error_is_an_http_error_before_the_upgrade(tls: fakes.Tls, sessions: Sessions) -> None:
    srv = start(tls, FakeExec(errors.ApiError(404, "NotFound", 'pods "web" not found')), sessions)
    try:
        client = SpdyClient(srv.port, tls)
        head = client.upgrade()
        body = client.sock.recv(4096).decode()
    finally:
        srv.stop()
    assert head.startswith("HTTP/1.1 404"), head
    assert "Content-Type: application/json" in head
    status = json.loads(body)
    assert (status["reason"], status["code"]) == ("NotFound", 404)
    assert status["message"] == 'pod not found in the lower cluster: pods "web" not found'


def test_a_client_that_never_opens_its_streams_is_dropped(tls: fakes.Tls, sessions: Sessions, monkeypatch: Any) -> None:
    from provider.kubelet import spdy_upper

    monkeypatch.setattr(spdy_upper, "STREAM_CREATION_SECONDS", 0.3)
    srv = start(tls, FakeExec(), sessions)
    try:
        client = SpdyClient(srv.port, tls)
        client.upgrade()
        client.send(spdy.SynStream(1, {"streamtype": ["error"]}))
        frames = client.frames_until_closed()
    finally:
        srv.stop()
    assert frames[0] == spdy.SynReply(1)
    assert sessions.ended[0][2].result == "upper_gone"


def test_malformed_frames_end_the_session_without_hurting_the_server(tls: fakes.Tls, sessions: Sessions) -> None:
    srv = start(tls, FakeExec(), sessions)
    try:
        client = SpdyClient(srv.port, tls)
        client.upgrade()
        client.sock.sendall(b"\x80\x02\x00\x01" + b"\x00" * 12)  # SPDY/2: not ours
        client.frames_until_closed()
        again = SpdyClient(srv.port, tls)
        assert again.upgrade().startswith("HTTP/1.1 101")
    finally:
        srv.stop()
    assert json.dumps(sessions.ended[0][2].result) == '"upper_gone"'
