"""The server side of a SPDY/3 connection: streams opened, accepted, fed, ended, reset; pings; going away."""

from __future__ import annotations

import pytest

from provider.kubelet import spdy, spdy_session
from provider.kubelet.spdy_session import ServerSession, StreamData, StreamEnded, StreamOpened, StreamReset


class Client:
    """The client side, built from the codec: what kubectl or the API server would send and read."""

    def __init__(self) -> None:
        self.codec = spdy.HeaderCodec()
        self.reader = spdy.FrameReader()

    def send(self, *frames: spdy.Frame) -> bytes:
        return b"".join(spdy.encode(frame, self.codec) for frame in frames)

    def read(self, session: ServerSession) -> list[spdy.Frame]:
        return self.reader.feed(session.take_output())


def exec_streams(client: Client) -> bytes:
    return client.send(
        spdy.SynStream(1, {"streamtype": ["error"]}, fin=True),
        spdy.SynStream(3, {"streamtype": ["stdin"]}),
        spdy.SynStream(5, {"streamtype": ["stdout"]}, fin=True),
    )


def test_opened_streams_are_events_and_each_accept_is_a_syn_reply() -> None:
    session, client = ServerSession(), Client()
    events = session.feed(exec_streams(client))
    assert events == [
        StreamOpened(1, {"streamtype": ["error"]}, fin=True),
        StreamOpened(3, {"streamtype": ["stdin"]}, fin=False),
        StreamOpened(5, {"streamtype": ["stdout"]}, fin=True),
    ]
    for stream_id in (1, 3, 5):
        session.accept(stream_id)
    assert client.read(session) == [spdy.SynReply(1), spdy.SynReply(3), spdy.SynReply(5)]


def test_stdin_data_then_its_end() -> None:
    session, client = ServerSession(), Client()
    session.feed(exec_streams(client))
    events = session.feed(client.send(spdy.DataFrame(3, b"hello"), spdy.DataFrame(3, b" world", fin=True)))
    assert events == [StreamData(3, b"hello"), StreamData(3, b" world"), StreamEnded(3)]


def test_output_is_chunked_and_the_last_frame_ends_the_stream() -> None:
    session, client = ServerSession(), Client()
    session.feed(exec_streams(client))
    payload = bytes(range(256)) * 300  # 76,800 bytes: three chunks
    session.send(5, payload, fin=True)
    frames = client.read(session)
    assert [len(f.data) for f in frames if isinstance(f, spdy.DataFrame)] == [32768, 32768, 11264]
    assert [f.fin for f in frames if isinstance(f, spdy.DataFrame)] == [False, False, True]
    assert b"".join(f.data for f in frames if isinstance(f, spdy.DataFrame)) == payload
    assert not session.is_open(5), "both halves closed: the stream is forgotten"
    session.send(5, b"late")
    assert client.read(session) == [], "nothing is sent on a closed stream"


def test_an_empty_final_send_is_one_empty_fin_frame() -> None:
    session, client = ServerSession(), Client()
    session.feed(exec_streams(client))
    session.send(1, b"", fin=True)
    assert client.read(session) == [spdy.DataFrame(1, b"", fin=True)]


def test_client_pings_are_echoed_and_our_own_are_not() -> None:
    session, client = ServerSession(), Client()
    session.feed(client.send(spdy.Ping(7), spdy.Ping(8)))
    assert client.read(session) == [spdy.Ping(7)]


def test_data_for_an_unknown_stream_is_answered_with_a_reset() -> None:
    session, client = ServerSession(), Client()
    assert session.feed(client.send(spdy.DataFrame(9, b"x"))) == []
    assert client.read(session) == [spdy.RstStream(9, spdy_session.INVALID_STREAM)]


def test_data_after_the_peers_end_resets_the_stream() -> None:
    session, client = ServerSession(), Client()
    session.feed(exec_streams(client))
    assert session.feed(client.send(spdy.DataFrame(5, b"after fin"))) == []
    assert client.read(session) == [spdy.RstStream(5, spdy_session.STREAM_ALREADY_CLOSED)]


def test_a_reset_from_the_peer_closes_the_stream() -> None:
    session, client = ServerSession(), Client()
    session.feed(exec_streams(client))
    assert session.feed(client.send(spdy.RstStream(3, spdy.CANCEL))) == [StreamReset(3, spdy.CANCEL)]
    assert not session.is_open(3)


@pytest.mark.parametrize("stream_id", [2, 1])
def test_streams_opened_out_of_order_end_the_connection(stream_id: int) -> None:
    session, client = ServerSession(), Client()
    session.feed(client.send(spdy.SynStream(1, {"streamtype": ["error"]})))
    with pytest.raises(spdy.FrameError, match="out of order"):
        session.feed(client.send(spdy.SynStream(stream_id, {"streamtype": ["stdin"]})))


def test_after_going_away_new_streams_are_refused() -> None:
    session, client = ServerSession(), Client()
    session.feed(client.send(spdy.SynStream(1, {"streamtype": ["error"]})))
    session.go_away()
    assert session.feed(client.send(spdy.SynStream(3, {"streamtype": ["stdin"]}))) == []
    assert client.read(session) == [spdy.GoAway(1, 0), spdy.RstStream(3, spdy.REFUSED_STREAM)]


def test_refusing_a_stream_resets_it() -> None:
    session, client = ServerSession(), Client()
    session.feed(client.send(spdy.SynStream(1, {"streamtype": ["bogus"]})))
    session.refuse(1)
    assert client.read(session) == [spdy.RstStream(1, spdy.REFUSED_STREAM)]
    assert not session.is_open(1)


def open_stream(session: ServerSession, client: Client, stream_id: int = 1) -> None:
    session.feed(client.send(spdy.SynStream(stream_id, {"streamtype": ["stdout"]})))
    session.accept(stream_id)
    client.read(session)


def sent_data(frames: list[spdy.Frame]) -> int:
    return sum(len(f.data) for f in frames if isinstance(f, spdy.DataFrame))


def test_a_peer_that_keeps_no_windows_is_never_waited_for() -> None:
    session, client = ServerSession(), Client()
    open_stream(session, client)
    session.send(1, b"x" * 200_000, fin=True)
    frames = client.read(session)
    assert sent_data(frames) == 200_000, "spdystream sends no WINDOW_UPDATE: waiting for one would hang"
    assert frames[-1] == spdy.DataFrame(1, b"x" * (200_000 % spdy_session.CHUNK), fin=True)


def test_a_peer_that_grants_credit_has_its_windows_honoured() -> None:
    session, client = ServerSession(), Client()
    open_stream(session, client)
    session.feed(client.send(spdy.WindowUpdate(1, 0)))  # says it keeps windows, grants nothing yet
    session.send(1, b"x" * 100_000, fin=True)
    assert sent_data(client.read(session)) == spdy_session.INITIAL_WINDOW
    assert session.pending(1) == 100_000 - spdy_session.INITIAL_WINDOW
    session.feed(client.send(spdy.WindowUpdate(1, 10_000)))
    assert sent_data(client.read(session)) == 10_000
    session.feed(client.send(spdy.WindowUpdate(1, 1 << 20)))
    frames = client.read(session)
    assert sent_data(frames) == 100_000 - spdy_session.INITIAL_WINDOW - 10_000
    assert isinstance(frames[-1], spdy.DataFrame) and frames[-1].fin
    assert session.pending(1) == 0


def test_a_smaller_initial_window_from_settings_applies_to_open_streams() -> None:
    session, client = ServerSession(), Client()
    open_stream(session, client)
    session.feed(client.send(spdy.Settings(((0, spdy_session.SETTINGS_INITIAL_WINDOW_SIZE, 1000),))))
    session.send(1, b"y" * 5000)
    assert sent_data(client.read(session)) == 1000
    assert session.pending(1) == 4000


def test_credit_is_given_back_as_data_arrives() -> None:
    session, client = ServerSession(), Client()
    session.feed(client.send(spdy.SynStream(1, {"streamtype": ["stdin"]})))
    session.accept(1)
    client.read(session)
    half = spdy_session.INITIAL_WINDOW // 2
    session.feed(client.send(spdy.DataFrame(1, b"z" * (half - 1))))
    assert client.read(session) == []
    session.feed(client.send(spdy.DataFrame(1, b"z")))
    assert client.read(session) == [spdy.WindowUpdate(1, half)]
