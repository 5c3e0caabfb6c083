"""The remote-command channel protocol (exec, attach): channels, exit status, terminal sizes.

The same protocol travels as SPDY streams (one per channel, named by a ``streamType`` header) or
as WebSocket messages (one channel byte, then the payload); see
docs/design/streaming-findings.md section 2. This module holds what both share, pure:

- the channel numbers and stream types, and the WebSocket message framing of ``v4``/``v5``;
- the error channel's ``metav1.Status`` JSON: how an exit code is written, and read back from the
  lower cluster (:func:`exit_status`, :func:`exit_code_of`);
- the resize channel's stream of ``{"Width":..,"Height":..}`` objects (:class:`ResizeReader`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE = 255
"""v5 only: the message ``[255, channel]`` half-closes ``channel`` (kubectl sends ``[255, 0]`` at stdin EOF)."""

STREAM_TYPES = {"stdin": STDIN, "stdout": STDOUT, "stderr": STDERR, "error": ERROR, "resize": RESIZE}
"""SPDY ``streamType`` header values and the channel each carries."""

WEBSOCKET_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
"""What our kubelet API accepts over WebSocket, preferred first."""
SPDY_PROTOCOLS = ("v4.channel.k8s.io",)
"""What it accepts over SPDY: v5 over SPDY behaves as v4 (client-go's own rule)."""

MAX_RESIZE_BUFFER = 4096
"""A resize message longer than this without a newline is refused."""


class ChannelError(ValueError):
    """A peer broke the channel protocol; the message says how, for the session's error."""


def ws_message(channel: int, data: bytes = b"") -> bytes:
    """One binary WebSocket message on ``channel``."""
    return bytes((channel,)) + data


def split_ws_message(message: bytes, *, protocol: str) -> tuple[int, bytes]:
    """(channel, payload) of a received binary message; ``CLOSE`` payloads are the closed channel."""
    if not message:
        raise ChannelError("an empty WebSocket message has no channel")
    channel, payload = message[0], message[1:]
    if channel == CLOSE:
        if not protocol.startswith("v5."):
            raise ChannelError(f"a close message is not part of {protocol}")
        if len(payload) != 1 or payload[0] not in STREAM_TYPES.values():
            raise ChannelError("a close message names one channel")
    elif channel not in STREAM_TYPES.values():
        raise ChannelError(f"channel {channel} does not exist")
    return channel, payload


def exit_status(code: int, *, message: str = "") -> bytes:
    """The error channel's last word for a command that exited with ``code`` (0..255)."""
    if not 0 <= code <= 255:
        raise ValueError(f"an exit code is 0..255, got {code}")
    if code == 0:
        return orjson.dumps({"metadata": {}, "status": "Success"})
    return orjson.dumps(
        {
            "metadata": {},
            "status": "Failure",
            "message": message or f"command terminated with non-zero exit code: exit status {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
        }
    )


def failure_status(message: str, *, code: int = 500, reason: str = "InternalError") -> bytes:
    """The error channel's word for a session that failed (not the command): kubectl prints ``message``."""
    return orjson.dumps({"metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code})


@dataclass(frozen=True)
class Outcome:
    """What the lower cluster's error channel said: an exit code, or why the session failed."""

    exit_code: int | None
    """0 for success, the command's code for NonZeroExitCode; None when the session itself failed."""
    message: str = ""


def exit_code_of(raw: bytes) -> Outcome:
    """Read a v4/v5 error channel's ``metav1.Status`` as the lower kubelet wrote it."""
    try:
        status: Any = json.loads(raw)
    except ValueError:
        return Outcome(None, raw.decode(errors="replace").strip() or "the lower session failed")
    if not isinstance(status, dict):
        return Outcome(None, "the lower session answered something that is not a Status")
    if status.get("status") == "Success":
        return Outcome(0)
    message = str(status.get("message") or "the lower session failed")
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or ():
            if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
                text = str(cause.get("message", ""))
                if text.isdigit() and int(text) <= 255:
                    return Outcome(int(text), message)
    return Outcome(None, message)


@dataclass(frozen=True)
class TerminalSize:
    """A terminal's size as kubectl sends it on the resize channel."""

    width: int
    height: int


class ResizeReader:
    """Terminal sizes from the resize channel's bytes: newline-terminated JSON objects, as they complete."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[TerminalSize]:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        if len(self._buffer) > MAX_RESIZE_BUFFER:
            raise ChannelError(f"a resize message longer than {MAX_RESIZE_BUFFER} bytes")
        return [_size(line) for line in lines if line.strip()]


def _size(line: bytes) -> TerminalSize:
    try:
        value: Any = json.loads(line)
    except ValueError:
        raise ChannelError("a resize message is not JSON") from None
    if not isinstance(value, dict):
        raise ChannelError("a resize message is not a JSON object")
    width, height = value.get("Width"), value.get("Height")
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 65535 for n in (width, height)):
        raise ChannelError("a resize message needs Width and Height from 0 to 65535")
    assert isinstance(width, int) and isinstance(height, int)
    return TerminalSize(width, height)
