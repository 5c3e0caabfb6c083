"""``/portForward/{namespace}/{pod}``: kubectl port-forward reaching ports of the lower pod.

Port-forward is SPDY/3.1 whichever way the API server arrives (docs/design/streaming-findings.md
section 1): kubectl's WebSocket (``SPDY/3.1+portforward.k8s.io``, SPDY frames inside binary
messages), passed through unchanged because the virtual Node declares
``ExtendWebSocketsToKubelet``; or a plain ``Upgrade: SPDY/3.1`` with ``X-Stream-Protocol-Version:
portforward.k8s.io`` (kubectl with ``KUBECTL_PORT_FORWARD_WEBSOCKETS=false``, or an API server
that tunnels for a node that does not declare the feature). This module picks the transport,
answers the upgrade and hands the connection to :class:`~provider.kubelet.forwarding.ForwardSession`.

There is no lower leg to open before the upgrade: the ports are named per connection, in the
streams' headers, so a lower refusal reaches kubectl as text on the connection's error stream.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from provider.kubelet import exchange, upgrade, websocket
from provider.kubelet.duplex import DuplexSocket
from provider.kubelet.exec import SessionObserver
from provider.kubelet.forwarding import ForwardSession, LowerOpener, Timeouts
from provider.kubelet.spdy_connection import SpdyConnection, WebSocketPipe

logger = logging.getLogger(__name__)

SPDY_PROTOCOL = "portforward.k8s.io"
WEBSOCKET_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
"""kubectl's tunnelling subprotocol (client-go ``WebsocketsSPDYTunnelingPortForwardV1``)."""


class Sources(Protocol):
    """What this endpoint needs of the server's app."""

    @property
    def portforward_source(self) -> LowerOpener | None: ...

    @property
    def streams(self) -> exchange.Streams: ...

    @property
    def sessions(self) -> SessionObserver | None: ...

    @property
    def portforward_spdy(self) -> bool:
        """Whether a plain SPDY/3.1 upgrade is accepted (not when ``--streaming websocket``)."""
        ...

    @property
    def portforward_timeouts(self) -> Timeouts: ...


def serve(request: exchange.Exchange, app: Sources, params: Mapping[str, str], query: exchange.Query) -> None:
    """Answer a port-forward upgrade; see the module docstring. The ``port`` query is not needed:
    each connection names its port in its streams' headers."""
    namespace, pod = params["namespace"], params["pod"]
    choice = upgrade.choose(
        upgrade=request.headers.get("Upgrade", ""),
        spdy_offers=upgrade.offered(request.headers.get_all("X-Stream-Protocol-Version") or []),
        websocket_offers=upgrade.offered(request.headers.get_all("Sec-WebSocket-Protocol") or []),
        spdy_supported=(SPDY_PROTOCOL,) if app.portforward_spdy else (),
        websocket_supported=(WEBSOCKET_PROTOCOL,),
    )
    if choice.transport is None:
        request.send_text(choice.status, choice.reason)
        return
    if app.portforward_source is None:
        request.send_text(501, "port-forward is not served by this kubelet API")
        return
    connection = _upgrade(request, choice)
    logger.info("kubelet API: port-forward to %s/%s over %s %s", namespace, pod, choice.transport, choice.protocol)
    session = ForwardSession(
        connection, app.portforward_source, namespace=namespace, pod=pod, timeouts=app.portforward_timeouts
    )
    with app.streams.tracking(session):
        traffic = session.run()
    logger.info(
        "kubelet API: port-forward to %s/%s ended (%s; %d bytes down, %d up)",
        namespace,
        pod,
        traffic.result,
        traffic.bytes_down,
        traffic.bytes_up,
    )
    if app.sessions is not None:
        app.sessions.session_ended("portforward", choice.transport, traffic)


def _upgrade(request: exchange.Exchange, choice: upgrade.Choice) -> SpdyConnection:
    request.send_response(101, "Switching Protocols")
    request.send_header("Connection", "Upgrade")
    if choice.transport == "websocket":
        request.send_header("Upgrade", "websocket")
        request.send_header("Sec-WebSocket-Accept", websocket.accept_key(request.headers.get("Sec-WebSocket-Key", "")))
        request.send_header("Sec-WebSocket-Protocol", choice.protocol)
    else:
        request.send_header("Upgrade", "SPDY/3.1")
        request.send_header("X-Stream-Protocol-Version", choice.protocol)
    request.end_headers()
    request.wfile.flush()
    request.close_connection = True
    request.connection.settimeout(None)  # the session's watchdog decides when silence means a dead peer
    if choice.transport == "websocket":
        return SpdyConnection(WebSocketPipe(websocket.ServerWebSocket(request.connection)))
    return SpdyConnection(DuplexSocket(request.connection))
