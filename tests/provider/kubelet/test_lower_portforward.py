"""The lower leg of port-forward (provider/kubelet/lower_portforward.py): the legacy v4 WebSocket framing, and
a LowerForward against a server in plain Python on a socket pair (the real lower API server is in tests/e2e).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto import events as ws

from descheduler.kube import errors
from provider.kubelet import lower_portforward
from provider.kubelet.lower_portforward import ChannelReader, FramingError, LowerForward, LowerForwardError

PORT_8080 = (8080).to_bytes(2, "little")


def test_the_port_prefix_of_each_channel_is_dropped() -> None:
    reader = ChannelReader()
    assert reader.feed(b"\x00" + PORT_8080) == (0, b"")
    assert reader.feed(b"\x01" + PORT_8080) == (1, b"")
    assert reader.feed(b"\x00hello") == (0, b"hello")
    assert reader.feed(b"\x00" + PORT_8080) == (0, PORT_8080), "only the first two bytes of a channel are the port"


def test_a_port_prefix_split_over_messages_or_sharing_one_with_data_is_dropped_once() -> None:
    reader = ChannelReader()
    assert reader.feed(b"\x00" + PORT_8080[:1]) == (0, b"")
    assert reader.feed(b"\x00" + PORT_8080[1:] + b"data") == (0, b"data")
    assert reader.feed(b"\x01" + PORT_8080 + b"oops") == (1, b"oops")


def test_an_empty_message_carries_nothing() -> None:
    assert ChannelReader().feed(b"") == (0, b"")


def test_a_channel_other_than_data_and_error_is_refused() -> None:
    with pytest.raises(FramingError, match="channel 2"):
        ChannelReader().feed(b"\x02" + PORT_8080)


def test_data_goes_down_on_channel_0_and_the_request_names_the_port() -> None:
    assert lower_portforward.data_message(b"abc") == b"\x00abc"
    assert lower_portforward.target("ns", "web-0", 8080) == "/api/v1/namespaces/ns/pods/web-0/portforward?ports=8080"


class LowerServer:
    """The lower API server's side of one port-forward WebSocket, on a socket pair."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.ws = WSConnection(ConnectionType.SERVER)
        self.request: ws.Request | None = None
        self.received: list[bytes] = []

    def handshake(self, *, refuse: int | None = None, body: bytes = b"") -> None:
        while self.request is None:
            self.ws.receive_data(self.sock.recv(65536))
            for event in self.ws.events():
                if isinstance(event, ws.Request):
                    self.request = event
        if refuse is None:
            self.sock.sendall(self.ws.send(ws.AcceptConnection(subprotocol=lower_portforward.PROTOCOL)))
            return
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        self.sock.sendall(self.ws.send(ws.RejectConnection(status_code=refuse, headers=headers, has_body=True)))
        self.sock.sendall(self.ws.send(ws.RejectData(data=body, body_finished=True)))

    def write(self, channel: int, data: bytes) -> None:
        self.sock.sendall(self.ws.send(ws.BytesMessage(bytes((channel,)) + data)))

    def read_messages(self, count: int) -> list[ws.Event]:
        found: list[ws.Event] = []
        while len(found) < count:
            self.ws.receive_data(self.sock.recv(65536))
            found += list(self.ws.events())
        return found

    def close(self) -> None:
        self.sock.sendall(self.ws.send(ws.CloseConnection(code=1000)))


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, LowerServer]]:
    ours, theirs = socket.socketpair()
    ours.settimeout(5)
    theirs.settimeout(5)
    yield ours, LowerServer(theirs)
    ours.close()
    theirs.close()


def opened(ours: socket.socket, server: LowerServer, **refusal: object) -> LowerForward:
    client = WSConnection(ConnectionType.CLIENT)
    ours.sendall(client.send(ws.Request(host="lower", target="/pf", subprotocols=[lower_portforward.PROTOCOL])))
    forward = LowerForward(ours, client)
    serving = threading.Thread(target=server.handshake, kwargs=refusal)
    serving.start()
    try:
        forward.wait_accepted()
    finally:
        serving.join()
    forward.go_duplex()
    return forward


def test_data_flows_both_ways_without_the_port_prefixes(pair: tuple[socket.socket, LowerServer]) -> None:
    ours, server = pair
    forward = opened(ours, server)
    assert server.request is not None and server.request.subprotocols == [lower_portforward.PROTOCOL]
    server.write(0, PORT_8080)
    server.write(1, PORT_8080)
    server.write(0, b"hello")
    assert forward.receive() == b"hello"
    forward.send(b"ping me")
    forward.ping()
    events = server.read_messages(2)
    assert isinstance(events[0], ws.BytesMessage) and events[0].data == b"\x00ping me"
    assert isinstance(events[1], ws.Ping)
    heard = forward.heard_at
    server.sock.sendall(server.ws.send(events[1].response()))
    server.write(0, b"more")
    assert forward.receive() == b"more"
    assert forward.heard_at >= heard, "a pong or data is a sign of life"
    server.close()
    assert forward.receive() is None, "a clean close ends the connection"
    forward.close()


def test_text_on_the_error_channel_is_raised_once_the_server_closes(pair: tuple[socket.socket, LowerServer]) -> None:
    ours, server = pair
    forward = opened(ours, server)
    server.write(0, PORT_8080)
    server.write(1, PORT_8080)
    server.write(0, b"partial")
    server.write(1, b"failed to dial 127.0.0.1:1: connection refused")
    server.close()
    assert forward.receive() == b"partial"
    with pytest.raises(LowerForwardError, match="failed to dial"):
        forward.receive()


def test_a_refused_upgrade_is_the_api_error_of_its_status(pair: tuple[socket.socket, LowerServer]) -> None:
    ours, server = pair
    body = b'{"kind":"Status","status":"Failure","message":"pods \\"web\\" not found","reason":"NotFound","code":404}'
    with pytest.raises(errors.ApiError) as caught:
        opened(ours, server, refuse=404, body=body)
    assert caught.value.status == 404 and 'pods "web" not found' in caught.value.message


def test_a_server_that_hangs_up_during_the_upgrade_is_a_connection_failure() -> None:
    ours, theirs = socket.socketpair()
    client = WSConnection(ConnectionType.CLIENT)
    ours.sendall(client.send(ws.Request(host="lower", target="/pf", subprotocols=[lower_portforward.PROTOCOL])))
    theirs.recv(65536)  # read the request, then hang up without an answer
    theirs.close()
    try:
        with pytest.raises(errors.ConnectionFailedError, match="during the upgrade"):
            LowerForward(ours, client).wait_accepted()
    finally:
        ours.close()


def test_a_lost_socket_is_a_connection_failure(pair: tuple[socket.socket, LowerServer]) -> None:
    ours, server = pair
    forward = opened(ours, server)
    server.sock.close()
    assert forward.receive() is None, "an abrupt end with no error text ends the connection"
    with pytest.raises(errors.ConnectionFailedError):
        forward.send(b"too late")
