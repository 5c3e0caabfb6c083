"""The upper side of exec/attach as a WebSocket (``v5``/``v4.channel.k8s.io``), which a 1.36+ API server
passes through unchanged to a node that declares ``ExtendWebSocketsToKubelet``.

Each binary message is one channel byte and its payload (:mod:`provider.kubelet.channels`); the
session ends with the error channel's Status and the close handshake.
"""

from __future__ import annotations

from collections.abc import Iterator

from provider.kubelet import channels, websocket
from provider.kubelet.remote_command import UpperGoneError


class WebSocketUpper:
    """An :class:`~provider.kubelet.remote_command.UpperSession` over an accepted WebSocket."""

    def __init__(self, sock: websocket.ServerWebSocket, *, protocol: str) -> None:
        self._ws = sock
        self._protocol = protocol

    def inputs(self) -> Iterator[tuple[int, bytes]]:
        while (message := self._ws.receive()) is not None:
            yield channels.split_ws_message(message, protocol=self._protocol)

    def send(self, channel: int, data: bytes) -> None:
        try:
            self._ws.send(channels.ws_message(channel, data))
        except websocket.WebSocketClosedError as exc:
            raise UpperGoneError(str(exc)) from None

    def finish(self, status: bytes) -> None:
        try:
            self._ws.send(channels.ws_message(channels.ERROR, status))
        except websocket.WebSocketClosedError:
            return
        self._ws.close()

    def close(self) -> None:
        self._ws.close()
        self._ws.shutdown()
