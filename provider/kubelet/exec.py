"""``/exec`` and ``/attach/{namespace}/{pod}/{container}``: kubectl exec and attach reaching the lower pod.

An API server arrives one of two ways (docs/design/streaming-findings.md section 1): with
kubectl's WebSocket passed through unchanged (the virtual Node declares
``ExtendWebSocketsToKubelet``), or as SPDY/3.1 (an API server that translates, or kubectl with
``KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false``). This endpoint picks the protocol, opens the lower
leg first (:class:`~provider.kubelet.lower_exec.LowerExec`: a lower error such as "pod not found"
is then an HTTP error kubectl shows), answers the upgrade, and hands both sides to
:func:`~provider.kubelet.remote_command.relay`.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Mapping
from typing import Literal, Protocol

from descheduler.kube import errors
from provider.kubelet import channels, exchange, spdy_upper, upgrade, websocket
from provider.kubelet.duplex import DEAD_PEER_SECONDS, DuplexSocket
from provider.kubelet.lower_exec import ExecRequest, LowerExec, LowerSession
from provider.kubelet.remote_command import Traffic, UpperGoneError, UpperSession, relay
from provider.kubelet.spdy_connection import SpdyConnection
from provider.kubelet.ws_upper import WebSocketUpper

logger = logging.getLogger(__name__)

Kind = Literal["exec", "attach"]


class SessionObserver(Protocol):
    """Where a finished session is counted (the provider's metrics)."""

    def session_ended(self, kind: str, transport: str, traffic: Traffic) -> None: ...


class Sources(Protocol):
    """What this endpoint needs of the server's app."""

    @property
    def exec_source(self) -> LowerExec | None: ...

    @property
    def streams(self) -> exchange.Streams: ...

    @property
    def sessions(self) -> SessionObserver | None: ...

    @property
    def spdy_protocols(self) -> tuple[str, ...]:
        """The remote-command protocols accepted over SPDY (none when ``--streaming websocket``)."""
        ...


def _truthy(query: exchange.Query, *names: str) -> bool:
    return any((query.get(name) or [""])[0].lower() in ("1", "true") for name in names)


def request_of(params: Mapping[str, str], query: exchange.Query, kind: Kind = "exec") -> ExecRequest:
    """The lower request for a kubelet exec/attach request.

    The API server sends the flags as ``input``/``output``/``error``/``tty``; kubectl's own names also count.
    """
    return ExecRequest(
        params["namespace"],
        params["pod"],
        container=params["container"],
        command=list(query.get("command") or ()) if kind == "exec" else [],
        stdin=_truthy(query, "input", "stdin"),
        stdout=_truthy(query, "output", "stdout"),
        stderr=_truthy(query, "error", "stderr"),
        tty=_truthy(query, "tty"),
        subresource=kind,
    )


def serve_exec(request: exchange.Exchange, app: Sources, params: Mapping[str, str], query: exchange.Query) -> None:
    """Answer an exec upgrade; see the module docstring."""
    _serve(request, app, request_of(params, query, "exec"))


def serve_attach(request: exchange.Exchange, app: Sources, params: Mapping[str, str], query: exchange.Query) -> None:
    """Answer an attach upgrade; see the module docstring."""
    _serve(request, app, request_of(params, query, "attach"))


def _serve(request: exchange.Exchange, app: Sources, wanted: ExecRequest) -> None:
    kind = wanted.subresource
    what = f"{kind} in {wanted.namespace}/{wanted.pod}/{wanted.container}"
    choice = upgrade.choose(
        upgrade=request.headers.get("Upgrade", ""),
        spdy_offers=upgrade.offered(request.headers.get_all("X-Stream-Protocol-Version") or []),
        websocket_offers=upgrade.offered(request.headers.get_all("Sec-WebSocket-Protocol") or []),
        spdy_supported=app.spdy_protocols,
        websocket_supported=channels.WEBSOCKET_PROTOCOLS,
    )
    if choice.transport is None:
        request.send_text(choice.status, choice.reason)
        return
    problem = _refusal(app, wanted)
    if problem:
        request.send_text(*problem)
        return
    assert app.exec_source is not None
    try:
        lower = app.exec_source.open(wanted)
    except errors.ApiError as exc:
        logger.info("kubelet API: %s: %s", what, exc)
        # A Status, as API servers and kubelets answer: every kubectl shows its message (1.34 shows
        # only a Status's; 1.36 shows a plain body too).
        status = exc.status or 502
        body = channels.failure_status(_lower_message(exc), code=status, reason=exc.reason or "InternalError")
        request.send_body(status, body, "application/json")
        _count(app, kind, choice.transport, Traffic(result="refused", started=time.monotonic()))
        return
    started = time.monotonic()
    try:
        upper = _upgrade(request, choice, wanted)
    except UpperGoneError as exc:
        logger.info("kubelet API: %s: %s", what, exc)
        lower.close()
        _count(app, kind, choice.transport, Traffic(result="upper_gone", started=started))
        return
    logger.info("kubelet API: %s over %s %s (lower %s)", what, choice.transport, choice.protocol, lower.protocol)
    with app.streams.tracking(_Ending(upper, lower)):
        traffic = relay(upper, lower, what=what)
    _count(app, kind, choice.transport, traffic)


def _refusal(app: Sources, wanted: ExecRequest) -> tuple[int, str] | None:
    if app.exec_source is None:
        return 501, f"{wanted.subresource} is not served by this kubelet API"
    if wanted.subresource == "exec" and not wanted.command:
        return 400, "exec needs a command"
    if not (wanted.stdin or wanted.stdout or wanted.stderr):
        return 400, "you must specify at least 1 of stdin, stdout, stderr"
    return None


def _lower_message(exc: errors.ApiError) -> str:
    if exc.status == 404:
        return f"pod not found in the lower cluster: {exc.message}"
    return f"lower cluster: {exc.message}"


def _upgrade(request: exchange.Exchange, choice: upgrade.Choice, wanted: ExecRequest) -> UpperSession:
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
    request.connection.settimeout(None)  # a session may be quiet for as long as its command is
    # Small frames in a row (the exit status, then the close) must not wait for delayed ACKs (dialing.dial).
    request.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if choice.transport == "websocket":
        return WebSocketUpper(websocket.ServerWebSocket(request.connection), protocol=choice.protocol)
    connection = SpdyConnection(DuplexSocket(request.connection, idle_timeout=DEAD_PEER_SECONDS))
    streams = spdy_upper.Wanted(stdin=wanted.stdin, stdout=wanted.stdout, stderr=wanted.stderr, tty=wanted.tty)
    return spdy_upper.gather(connection, streams)


def _count(app: Sources, kind: str, transport: str | None, traffic: Traffic) -> None:
    if app.sessions is not None:
        app.sessions.session_ended(kind, transport or "none", traffic)


class _Ending:
    """Both legs of one session, closed together when the server stops."""

    def __init__(self, upper: UpperSession, lower: LowerSession) -> None:
        self.upper, self.lower = upper, lower

    def close(self) -> None:
        self.upper.close()
        self.lower.close()
