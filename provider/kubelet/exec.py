"""``/exec/{namespace}/{pod}/{container}``: kubectl exec reaching the mirrored pod in the lower cluster.

The upper API server passes kubectl's WebSocket through unchanged (the virtual Node declares
``ExtendWebSocketsToKubelet``). This endpoint opens the lower leg first
(:class:`~provider.kubelet.lower_exec.LowerExec`: a lower error such as "pod not found" is then
an HTTP error kubectl shows), answers the upgrade, and relays: upper stdin, stdin close and
resizes go down in one thread; lower stdout and stderr come up in this one; the lower error
channel's Status (exit code) goes up last, and the WebSocket closes.

SPDY requests (an API server that translates) are not served yet: 501.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping
from typing import Protocol

from descheduler.kube import errors
from provider.kubelet import channels, exchange, upgrade, websocket
from provider.kubelet.lower_exec import ExecRequest, LowerExec, LowerSession

logger = logging.getLogger(__name__)


class Sources(Protocol):
    """What this endpoint needs of the server's app."""

    @property
    def exec_source(self) -> LowerExec | None: ...

    @property
    def streams(self) -> exchange.Streams: ...


def _truthy(query: exchange.Query, *names: str) -> bool:
    return any((query.get(name) or [""])[0].lower() in ("1", "true") for name in names)


def request_of(params: Mapping[str, str], query: exchange.Query) -> ExecRequest:
    """The lower exec for a kubelet exec request (``input``/``output``/``error``/``tty``, as the API server sends)."""
    return ExecRequest(
        params["namespace"],
        params["pod"],
        container=params["container"],
        command=list(query.get("command") or ()),
        stdin=_truthy(query, "input", "stdin"),
        stdout=_truthy(query, "output", "stdout"),
        stderr=_truthy(query, "error", "stderr"),
        tty=_truthy(query, "tty"),
    )


def serve(request: exchange.Exchange, app: Sources, params: Mapping[str, str], query: exchange.Query) -> None:
    """Answer an exec upgrade; see the module docstring."""
    what = f"{params['namespace']}/{params['pod']}/{params['container']}"
    choice = upgrade.choose(
        upgrade=request.headers.get("Upgrade", ""),
        spdy_offers=upgrade.offered(request.headers.get_all("X-Stream-Protocol-Version") or []),
        websocket_offers=upgrade.offered(request.headers.get_all("Sec-WebSocket-Protocol") or []),
        spdy_supported=(),
        websocket_supported=channels.WEBSOCKET_PROTOCOLS,
    )
    if choice.transport is None:
        status = 501 if request.headers.get("Upgrade", "").lower() == "spdy/3.1" else choice.status
        request.send_text(status, choice.reason if status != 501 else "exec over SPDY is not supported yet")
        return
    exec_request = request_of(params, query)
    if app.exec_source is None or not exec_request.command:
        request.send_text(400 if app.exec_source else 501, "exec needs a command" if app.exec_source else "no exec")
        return
    try:
        lower = app.exec_source.open(exec_request)
    except errors.ApiError as exc:
        logger.info("kubelet API: exec in %s: %s", what, exc)
        request.send_text(exc.status or 502, f"lower cluster: {exc.message}")
        return
    request.send_response(101, "Switching Protocols")
    request.send_header("Upgrade", "websocket")
    request.send_header("Connection", "Upgrade")
    request.send_header("Sec-WebSocket-Accept", websocket.accept_key(request.headers.get("Sec-WebSocket-Key", "")))
    request.send_header("Sec-WebSocket-Protocol", choice.protocol)
    request.end_headers()
    request.wfile.flush()
    request.close_connection = True
    request.connection.settimeout(None)  # a session may be quiet for as long as its command is
    logger.info("kubelet API: exec in %s over websocket %s (lower %s)", what, choice.protocol, lower.protocol)
    upper = websocket.ServerWebSocket(request.connection)
    with app.streams.tracking(_Ending(upper, lower)):
        _relay(upper, lower, protocol=choice.protocol, what=what)


class _Ending:
    """Both legs of one session, closed together when the server stops."""

    def __init__(self, upper: websocket.ServerWebSocket, lower: LowerSession) -> None:
        self.upper, self.lower = upper, lower

    def close(self) -> None:
        self.upper.close(1001, "the kubelet API is stopping")
        self.lower.close()


def _relay(upper: websocket.ServerWebSocket, lower: LowerSession, *, protocol: str, what: str) -> None:
    down = threading.Thread(target=_downstream, args=(upper, lower, protocol, what), name="exec-stdin", daemon=True)
    down.start()
    try:
        for channel, data in lower.output():
            upper.send(channels.ws_message(channel, data))
        upper.send(channels.ws_message(channels.ERROR, lower.error_channel or channels.exit_status(0)))
    except (errors.ConnectionFailedError, websocket.WebSocketClosedError) as exc:
        logger.info("kubelet API: exec in %s ended: %s", what, exc)
        with contextlib.suppress(websocket.WebSocketClosedError):
            upper.send(channels.ws_message(channels.ERROR, channels.failure_status(f"lower cluster: {exc}")))
    finally:
        upper.close()
        lower.close()


def _downstream(upper: websocket.ServerWebSocket, lower: LowerSession, protocol: str, what: str) -> None:
    """Upper stdin, its close and resizes, to the lower session, until the upper side is done."""
    sizes = channels.ResizeReader()
    try:
        while (message := upper.receive()) is not None:
            channel, payload = channels.split_ws_message(message, protocol=protocol)
            if channel == channels.STDIN:
                lower.send_stdin(payload)
            elif channel == channels.CLOSE and payload == bytes((channels.STDIN,)):
                lower.close_stdin()
            elif channel == channels.RESIZE:
                for size in sizes.feed(payload):
                    lower.resize(size)
    except (channels.ChannelError, errors.ConnectionFailedError) as exc:
        logger.info("kubelet API: exec in %s: %s", what, exc)
        lower.close()
