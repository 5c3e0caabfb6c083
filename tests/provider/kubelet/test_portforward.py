"""/portForward on the kubelet API, over both upper transports (plain SPDY/3.1, and SPDY tunnelled in a WebSocket
as kubectl sends it), against lower connections in plain Python: pairing, bytes both ways on several connections at
once, ends and resets on either side, errors as text on the error stream, and the watchdog's timeouts.

The same paths against the real kube-apiserver, kubectl and kwok are tests/e2e/test_port_forward.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto import events as ws

from descheduler.kube import errors
from provider.kubelet import duplex, portforward, spdy
from provider.kubelet import server as kubelet_server
from provider.kubelet.forwarding import LowerOpener, Timeouts
from provider.kubelet.remote_command import Traffic
from tests.provider.kubelet import fakes

FAST = Timeouts(pairing=0.5, dead_peer=1.0, ping=0.2, linger=0.3, tick=0.05)


class EchoLower:
    """A lower connection to a server that reads ``limit`` bytes, echoes them and hangs up (as the e2e server)."""

    def __init__(self, limit: int, *, alive: bool = True) -> None:
        self.limit, self.alive = limit, alive
        self.chunks: queue.Queue[bytes | None] = queue.Queue()
        self.echoed = 0
        self.closed = threading.Event()
        self.heard_at = time.monotonic()
        self.pings = 0

    def receive(self) -> bytes | None:
        if self.echoed >= self.limit:
            return None
        chunk = self.chunks.get()
        if chunk is None:
            raise errors.ConnectionFailedError.saying("port-forward session lost: socket closed")
        self.echoed += len(chunk)
        return chunk

    def send(self, data: bytes) -> None:
        if self.closed.is_set():
            raise errors.ConnectionFailedError.saying("closed")
        self.chunks.put(data)

    def ping(self) -> None:
        self.pings += 1
        if self.alive:
            self.heard_at = time.monotonic()

    def close(self) -> None:
        self.closed.set()
        self.chunks.put(None)


@dataclass
class FakeOpener:
    limit: int = 1 << 20
    alive: bool = True
    refusals: dict[int, errors.ApiError] = field(default_factory=dict)
    opened: list[tuple[str, str, int, EchoLower]] = field(default_factory=list)

    def open(self, namespace: str, pod: str, port: int) -> EchoLower:
        if port in self.refusals:
            raise self.refusals[port]
        lower = EchoLower(self.limit, alive=self.alive)
        self.opened.append((namespace, pod, port, lower))
        return lower


class Sessions:
    def __init__(self) -> None:
        self.ended: list[tuple[str, str, Traffic]] = []

    def session_ended(self, kind: str, transport: str, traffic: Traffic) -> None:
        self.ended.append((kind, transport, traffic))


class Client:
    """kubectl's side of one port-forward session: the upgrade, then SPDY frames, read by a background thread."""

    def __init__(self, port: int, tls: fakes.Tls, transport: str) -> None:
        context = ssl.create_default_context(cafile=str(tls.cert))
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock = context.wrap_socket(raw, server_hostname="vnode")
        self.transport = transport
        self.codec, self.reader = spdy.HeaderCodec(), spdy.FrameReader()
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.frames: list[spdy.Frame] = []
        self.changed = threading.Condition()
        self.ended = False
        self.head = ""
        self.io: duplex.DuplexSocket | None = None

    def upgrade(self) -> str:
        if self.transport == "spdy":
            self.sock.sendall(
                b"POST /portForward/ns/web?port=8080 HTTP/1.1\r\nHost: vnode\r\nConnection: Upgrade\r\n"
                b"Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n"
            )
            head = b""
            while b"\r\n\r\n" not in head:
                head += self.sock.recv(1)
            self.head = head.decode()
        else:
            request = ws.Request(
                host="vnode", target="/portForward/ns/web", subprotocols=[portforward.WEBSOCKET_PROTOCOL]
            )
            self.sock.sendall(self.ws.send(request))
            while not self.head:
                self.ws.receive_data(self.sock.recv(65536))
                for event in self.ws.events():
                    if isinstance(event, ws.AcceptConnection):
                        self.head = f"101 {event.subprotocol}"
                    elif isinstance(event, ws.RejectConnection):
                        self.head = f"{event.status_code}"
        if self.head.startswith(("HTTP/1.1 101", "101")):
            # One thread reads while the test writes: a TLS socket needs DuplexSocket for that, as the server's do.
            self.io = duplex.DuplexSocket(self.sock)
            threading.Thread(target=self._read, daemon=True).start()
        return self.head

    def send(self, *frames: spdy.Frame) -> None:
        data = b"".join(spdy.encode(frame, self.codec) for frame in frames)
        if self.transport == "spdy":
            self.io.sendall(data)
            return
        middle = len(data) // 2  # the tunnel cuts the byte stream anywhere, and kubectl sends empty messages too
        for part in (b"", data[:middle], data[middle:]):
            self.io.sendall(self.ws.send(ws.BytesMessage(part)))

    def open(self, request: int, port: str, error_id: int, data_id: int) -> None:
        """Open a connection's two streams as kubectl does (the error stream's write side closed at once)."""
        headers = {"streamtype": ["error"], "port": [port], "requestid": [str(request)]}
        self.send(spdy.SynStream(error_id, headers), spdy.DataFrame(error_id, b"", fin=True))
        self.wait(lambda: spdy.SynReply(error_id) in self.frames, f"stream {error_id} accepted")
        self.send(spdy.SynStream(data_id, {**headers, "streamtype": ["data"]}))

    def data(self, stream_id: int) -> bytes:
        with self.changed:
            return b"".join(f.data for f in self.frames if isinstance(f, spdy.DataFrame) and f.stream_id == stream_id)

    def finished(self, stream_id: int) -> bool:
        with self.changed:
            return any(isinstance(f, spdy.DataFrame) and f.stream_id == stream_id and f.fin for f in self.frames)

    def wait(self, predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; frames: {self.frames[-6:]}")
                self.changed.wait(left)

    def _read(self) -> None:
        try:
            while chunk := self.io.recv(65536):
                if self.transport == "websocket":
                    self.ws.receive_data(chunk)
                    chunk = b"".join(bytes(e.data) for e in self.ws.events() if isinstance(e, ws.BytesMessage))
                frames = self.reader.feed(chunk)
                with self.changed:
                    self.frames += frames
                    self.changed.notify_all()
        except (OSError, ValueError):
            pass
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def close(self) -> None:
        with contextlib.suppress(OSError):  # a reader blocked in recv would keep a plain close from sending FIN
            self.sock.shutdown(socket.SHUT_RDWR)
        if self.io is not None:
            self.io.close()
        self.sock.close()


def until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


TRANSPORTS = [pytest.param("spdy", id="SPDY/3.1"), pytest.param("websocket", id="SPDY in a WebSocket")]


@pytest.fixture
def sessions() -> Sessions:
    return Sessions()


@pytest.fixture
def serve(tls: fakes.Tls, sessions: Sessions) -> Iterator[Callable[..., kubelet_server.KubeletServer]]:
    started: list[kubelet_server.KubeletServer] = []

    def start(opener: FakeOpener, **options: Any) -> kubelet_server.KubeletServer:
        srv = kubelet_server.KubeletServer(
            address="127.0.0.1",
            port=0,
            cert_file=tls.cert,
            key_file=tls.key,
            logs=fakes.FakeLogs(),
            portforward_source=cast(LowerOpener, opener),
            sessions=sessions,
            portforward_timeouts=options.pop("timeouts", FAST),
            **options,
        )
        srv.start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture
def client(tls: fakes.Tls) -> Iterator[Callable[[kubelet_server.KubeletServer, str], Client]]:
    made: list[Client] = []

    def connect(srv: kubelet_server.KubeletServer, transport: str) -> Client:
        made.append(Client(srv.port, tls, transport))
        return made[-1]

    yield connect
    for one in made:
        one.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_three_connections_at_once_carry_their_own_bytes_both_ways(
    serve: Any, client: Any, sessions: Sessions, transport: str
) -> None:
    size = 300_000
    opener = FakeOpener(limit=size)
    srv = serve(opener, timeouts=Timeouts())  # this client does not ping
    pf = client(srv, transport)
    head = pf.upgrade()
    assert head.startswith(("HTTP/1.1 101", "101")), head
    assert portforward.WEBSOCKET_PROTOCOL in head or "X-Stream-Protocol-Version: portforward.k8s.io" in head
    payloads = {n: hashlib.sha256(bytes([n])).digest() * (size // 32) + bytes(size % 32) for n in range(3)}
    for n in range(3):
        pf.open(n, str(8080 + n), error_id=1 + 4 * n, data_id=3 + 4 * n)
    for offset in range(0, size, 50_000):  # interleaved, as three TCP connections would be
        pf.send(*(spdy.DataFrame(3 + 4 * n, payloads[n][offset : offset + 50_000]) for n in range(3)))
    for n in range(3):
        pf.wait(lambda n=n: pf.finished(3 + 4 * n) and pf.finished(1 + 4 * n), f"connection {n} ended")
        assert pf.data(3 + 4 * n) == payloads[n], f"connection {n} got its own bytes back"
        assert pf.data(1 + 4 * n) == b"", "a clean end says nothing on the error stream"
    assert sorted((ns, pod, port) for ns, pod, port, _ in opener.opened) == [
        ("ns", "web", p) for p in (8080, 8081, 8082)
    ]
    pf.send(spdy.GoAway(0, 0))  # kubectl's goodbye, then it drops the connection
    pf.close()
    until(lambda: bool(sessions.ended), "the session counted")
    kind, used, traffic = sessions.ended[0]
    assert (kind, used, traffic.result) == ("portforward", transport, "ok")
    assert traffic.bytes_down == traffic.bytes_up == 3 * size


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_lower_refusal_is_text_on_the_error_stream_and_the_other_connections_go_on(
    serve: Any, client: Any, transport: str
) -> None:
    refusal = errors.ApiError(404, "NotFound", 'pods "web" not found')
    srv = serve(FakeOpener(limit=5, refusals={9999: refusal}))
    pf = client(srv, transport)
    pf.upgrade()
    pf.open(0, "9999", 1, 3)
    pf.wait(lambda: pf.finished(1), "the error stream ended")
    message = pf.data(1).decode()
    assert (
        message == 'error forwarding port 9999 to pod ns/web: pod not found in the lower cluster: pods "web" not found'
    )
    pf.open(1, "8080", 5, 7)
    pf.send(spdy.DataFrame(7, b"hello"))
    pf.wait(lambda: pf.finished(7), "the second connection ended")
    assert pf.data(7) == b"hello" and pf.data(5) == b""


def test_a_bad_port_header_is_text_on_the_error_stream_and_the_data_stream_is_reset(serve: Any, client: Any) -> None:
    opener = FakeOpener()
    srv = serve(opener)
    pf = client(srv, "spdy")
    pf.upgrade()
    pf.open(0, "http", 1, 3)
    pf.wait(lambda: pf.finished(1), "the error stream ended")
    assert "invalid port 'http'" in pf.data(1).decode()
    pf.wait(lambda: spdy.RstStream(3, spdy.CANCEL) in pf.frames, "the data stream reset")
    assert opener.opened == []


def test_a_connection_the_client_resets_closes_its_lower_leg_and_ends_its_error_stream(serve: Any, client: Any) -> None:
    opener = FakeOpener()
    srv = serve(opener)
    pf = client(srv, "spdy")
    pf.upgrade()
    pf.open(0, "8080", 1, 3)
    pf.open(1, "8081", 5, 7)
    pf.send(spdy.DataFrame(3, b"one"), spdy.DataFrame(7, b"two"))
    pf.wait(lambda: pf.data(3) == b"one" and pf.data(7) == b"two", "both echoed")
    pf.send(spdy.RstStream(3, spdy.CANCEL))
    pf.wait(lambda: pf.finished(1), "the reset connection's error stream ended")
    assert pf.data(1) == b"", "a client's own reset is no error"
    assert opener.opened[0][3].closed.is_set()
    pf.send(spdy.DataFrame(7, b" still"))
    pf.wait(lambda: pf.data(7) == b"two still", "the other connection still flows")
    assert not opener.opened[1][3].closed.is_set()


def test_a_half_closed_connection_ends_once_the_lower_side_is_quiet(serve: Any, client: Any) -> None:
    opener = FakeOpener()
    srv = serve(opener)
    pf = client(srv, "spdy")
    pf.upgrade()
    pf.open(0, "8080", 1, 3)
    pf.send(spdy.DataFrame(3, b"last words", fin=True))
    pf.wait(lambda: pf.finished(3) and pf.finished(1), "the connection ended")
    assert pf.data(3) == b"last words", "what the lower side answered after the half-close still came up"
    assert pf.data(1) == b""
    assert opener.opened[0][3].closed.is_set()


def test_a_stream_whose_partner_never_comes_is_answered_with_a_timeout(serve: Any, client: Any) -> None:
    srv = serve(FakeOpener())
    pf = client(srv, "spdy")
    pf.upgrade()
    pf.send(spdy.SynStream(1, {"streamtype": ["error"], "port": ["80"], "requestid": ["0"]}))
    pf.wait(lambda: pf.finished(1), "the error stream ended")
    assert "timed out waiting for the other stream" in pf.data(1).decode()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_silent_client_is_dropped_and_its_connections_closed(
    serve: Any, client: Any, sessions: Sessions, transport: str
) -> None:
    opener = FakeOpener()
    srv = serve(opener)
    pf = client(srv, transport)
    pf.upgrade()
    pf.open(0, "8080", 1, 3)
    pf.wait(lambda: bool(opener.opened), "the lower leg opened")
    pf.wait(lambda: pf.ended, "the session closed", timeout=FAST.dead_peer + 5)
    assert opener.opened[0][3].closed.is_set()
    until(lambda: bool(sessions.ended), "the session counted")
    assert sessions.ended[0][2].result == "upper_gone"


def test_a_lower_connection_that_stops_answering_pings_is_closed_with_a_message(serve: Any, client: Any) -> None:
    opener = FakeOpener(alive=False)
    srv = serve(opener)
    pf = client(srv, "spdy")
    pf.upgrade()
    pf.open(0, "8080", 1, 3)
    deadline = time.monotonic() + 10
    while not pf.finished(1) and time.monotonic() < deadline:  # kubectl's pings keep the session alive meanwhile
        pf.send(spdy.Ping(1))
        time.sleep(0.2)
    assert "the lower connection has been silent" in pf.data(1).decode()
    assert opener.opened[0][3].pings >= 1


def test_malformed_frames_end_the_session_without_hurting_the_server(serve: Any, client: Any) -> None:
    srv = serve(FakeOpener())
    pf = client(srv, "spdy")
    pf.upgrade()
    assert pf.io is not None
    pf.io.sendall(b"\x80\x02\x00\x01" + b"\x00" * 12)  # SPDY/2: not ours
    pf.wait(lambda: pf.ended, "the session closed")
    again = client(srv, "websocket")
    assert again.upgrade().startswith("101")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param(
            "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n", 403, id="exec's protocol"
        ),
        pytest.param("Upgrade: SPDY/3.1\r\n", 400, id="no protocol -> 400"),
        pytest.param("", 400, id="no upgrade -> 400"),
    ],
)
def test_upgrades_it_cannot_serve_are_refused(serve: Any, tls: fakes.Tls, headers: str, status: int) -> None:
    srv = serve(FakeOpener())
    conn = fakes.connect(srv, tls)
    conn.putrequest("POST", "/portForward/ns/web")
    for line in filter(None, headers.split("\r\n")):
        name, value = line.split(": ", 1)
        conn.putheader(name, value)
    conn.putheader("Content-Length", "0")
    conn.endheaders()
    assert conn.getresponse().status == status
    conn.close()


def test_plain_spdy_is_refused_when_only_websockets_are_allowed(serve: Any, client: Any) -> None:
    srv = serve(FakeOpener(), spdy=False)
    assert client(srv, "spdy").upgrade().startswith("HTTP/1.1 403")
    assert client(srv, "websocket").upgrade().startswith("101"), "the WebSocket tunnel is still served"
