"""The remote-command channel protocol: WebSocket framing, exit status both ways, terminal sizes."""

from __future__ import annotations

import json

import pytest

from provider.kubelet import channels


def test_a_websocket_message_is_a_channel_byte_then_the_payload() -> None:
    assert channels.ws_message(channels.STDOUT, b"hi") == b"\x01hi"
    assert channels.split_ws_message(b"\x00input", protocol="v5.channel.k8s.io") == (channels.STDIN, b"input")


def test_v5_close_names_the_channel_it_closes() -> None:
    assert channels.split_ws_message(b"\xff\x00", protocol="v5.channel.k8s.io") == (channels.CLOSE, b"\x00")


@pytest.mark.parametrize(
    ("message", "protocol", "error"),
    [
        (b"", "v5.channel.k8s.io", "empty"),
        (b"\x09data", "v5.channel.k8s.io", "channel 9 does not exist"),
        (b"\xff\x00", "v4.channel.k8s.io", "not part of v4"),
        (b"\xff\x07", "v5.channel.k8s.io", "names one channel"),
        (b"\xff\x00\x01", "v5.channel.k8s.io", "names one channel"),
    ],
)
def test_broken_messages_are_refused(message: bytes, protocol: str, error: str) -> None:
    with pytest.raises(channels.ChannelError, match=error):
        channels.split_ws_message(message, protocol=protocol)


def test_exit_status_is_the_status_kubectl_reads() -> None:
    assert json.loads(channels.exit_status(0)) == {"metadata": {}, "status": "Success"}
    failed = json.loads(channels.exit_status(3))
    assert failed["status"] == "Failure" and failed["reason"] == "NonZeroExitCode"
    assert failed["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    with pytest.raises(ValueError, match=r"0\.\.255"):
        channels.exit_status(256)


@pytest.mark.parametrize("code", [0, 1, 3, 255])
def test_an_exit_code_survives_the_round_trip(code: int) -> None:
    assert channels.exit_code_of(channels.exit_status(code)).exit_code == code


def test_a_lower_failure_is_not_an_exit_code() -> None:
    outcome = channels.exit_code_of(channels.failure_status("pod not found"))
    assert outcome == channels.Outcome(None, "pod not found")
    assert channels.exit_code_of(b"plain text error from v1\n") == channels.Outcome(None, "plain text error from v1")
    assert channels.exit_code_of(b"[1, 2]").exit_code is None
    bad_cause = (
        b'{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"300"}]}}'
    )
    assert channels.exit_code_of(bad_cause).exit_code is None


def test_resize_messages_are_read_as_they_complete() -> None:
    reader = channels.ResizeReader()
    assert reader.feed(b'{"Width":80,') == []
    assert reader.feed(b'"Height":24}\n{"Width":120,"Height":40}\n') == [
        channels.TerminalSize(80, 24),
        channels.TerminalSize(120, 40),
    ]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"not json\n", "not JSON"),
        (b"[80, 24]\n", "not a JSON object"),
        (b'{"Width":-1,"Height":24}\n', "from 0 to 65535"),
        (b'{"Width":true,"Height":24}\n', "from 0 to 65535"),
        (b"x" * 5000, "longer than"),
    ],
)
def test_broken_resize_messages_are_refused(data: bytes, error: str) -> None:
    with pytest.raises(channels.ChannelError, match=error):
        channels.ResizeReader().feed(data)
