"""The virtual node's kubelet API server: HTTPS on the node's daemon endpoint, routing each request
to an endpoint module.

The upper kube-apiserver connects to the node's InternalIP at
``status.daemonEndpoints.kubeletEndpoint.Port`` (see ``provider.node.builders``). :data:`ROUTES` maps each
method and path pattern to an endpoint function; a new endpoint family (exec, attach, port-forward)
is a module beside :mod:`provider.kubelet.logs` plus one entry there. With ``--authorize`` every
request is first checked by :class:`~provider.kubelet.access.Access` (401/403/503 before any endpoint
runs). ``provider.app`` starts and stops :class:`KubeletServer`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from provider.kubelet import channels, exchange, logs, portforward, resource_metrics
from provider.kubelet import exec as exec_endpoint
from provider.kubelet.access import Access
from provider.kubelet.forwarding import LowerOpener, Timeouts
from provider.kubelet.lower_exec import LowerExec
from provider.serving import https, tls

logger = logging.getLogger(__name__)

# Idle keep-alive connections and stalled writes to a client are dropped after this long;
# waiting for the lower cluster's next log line does not count (no socket call is pending).
CLIENT_TIMEOUT = 60.0
# Kubelet endpoint families tensile does not serve (yet): 501 rather than 404 for any path under
# them that no route matches.
NOT_IMPLEMENTED = frozenset({"run"})

PodLister = Callable[[], list[dict[str, Any]]]


@dataclass(frozen=True)
class App:
    """What the endpoints share: the sources they read from and the streams in flight (closed on stop)."""

    log_source: logs.LogSource
    pod_lister: PodLister | None = None
    exec_source: LowerExec | None = None
    access: Access | None = None
    """Who may call (``--authorize``); None: whoever completed the TLS handshake."""
    metrics_source: resource_metrics.MetricsSource | None = None
    streams: exchange.Streams = field(default_factory=exchange.Streams)
    sessions: exec_endpoint.SessionObserver | None = None
    spdy_protocols: tuple[str, ...] = channels.SPDY_PROTOCOLS
    """Remote-command protocols accepted over SPDY; none when only WebSockets are allowed."""
    portforward_source: LowerOpener | None = None
    portforward_spdy: bool = True
    """Whether port-forward accepts a plain SPDY/3.1 upgrade (it is SPDY inside the WebSocket either way)."""
    portforward_timeouts: Timeouts = field(default_factory=Timeouts)


Endpoint = Callable[[exchange.Exchange, App, Mapping[str, str], exchange.Query], None]
"""Answers one request: the exchange, the app, the path's ``{name}`` segments by name, the query."""


@dataclass(frozen=True)
class Route:
    """One endpoint: the methods it answers and its path; a ``{name}`` segment matches one non-empty segment."""

    methods: frozenset[str]
    pattern: str
    endpoint: Endpoint

    def match(self, method: str, parts: Sequence[str]) -> dict[str, str] | None:
        """The ``{name}`` segments of ``parts`` by name, or None when this route does not answer them."""
        segments = self.pattern.split("/")[1:]
        if method not in self.methods or len(parts) != len(segments):
            return None
        params: dict[str, str] = {}
        for segment, part in zip(segments, parts, strict=True):
            if segment.startswith("{") and segment.endswith("}"):
                if not part:
                    return None
                params[segment[1:-1]] = part
            elif segment != part:
                return None
        return params


def _health(request: exchange.Exchange, app: App, params: Mapping[str, str], query: exchange.Query) -> None:
    request.send_text(200, "ok")


def _pods(request: exchange.Exchange, app: App, params: Mapping[str, str], query: exchange.Query) -> None:
    items = app.pod_lister() if app.pod_lister is not None else []
    body = orjson.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items})
    request.send_body(200, body, "application/json")


GET = frozenset({"GET"})
UPGRADES = frozenset({"GET", "POST"})
"""A WebSocket upgrade is a GET; the SPDY upgrade of the API server's translator is a POST."""
ROUTES: tuple[Route, ...] = (
    Route(GET, "/healthz", _health),
    Route(GET, "/pods", _pods),
    Route(GET, "/containerLogs/{namespace}/{pod}/{container}", logs.serve),
    Route(UPGRADES, "/exec/{namespace}/{pod}/{container}", exec_endpoint.serve_exec),
    Route(UPGRADES, "/exec/{namespace}/{pod}/{uid}/{container}", exec_endpoint.serve_exec),
    Route(UPGRADES, "/attach/{namespace}/{pod}/{container}", exec_endpoint.serve_attach),
    Route(UPGRADES, "/attach/{namespace}/{pod}/{uid}/{container}", exec_endpoint.serve_attach),
    Route(GET, "/metrics/resource", resource_metrics.serve_resource),
    Route(GET, "/stats/summary", resource_metrics.serve_summary),
    Route(UPGRADES, "/portForward/{namespace}/{pod}", portforward.serve),
    Route(UPGRADES, "/portForward/{namespace}/{pod}/{uid}", portforward.serve),
)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked responses, and keep-alive for the apiserver
    server_version = "tensile-kubelet"
    sys_version = ""
    timeout = CLIENT_TIMEOUT

    @property
    def app(self) -> App:
        return cast(App, cast(https.TlsServer, self.server).app)

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        # SPDY upgrades of exec, attach and port-forward (the API server's translator and tunnel) are POSTs.
        self._route("POST")

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        if not self._admitted(method, url.path):
            return
        parts = [unquote(p) for p in url.path.split("/")[1:]]
        for route in ROUTES:
            params = route.match(method, parts)
            if params is not None:
                route.endpoint(self, self.app, params, parse_qs(url.query, keep_blank_values=True))
                return
        if parts and parts[0] in NOT_IMPLEMENTED:
            self.send_text(501, f"{parts[0]} is not supported by the tensile virtual node")
        else:
            self.send_text(404, "not found")

    def _admitted(self, method: str, path: str) -> bool:
        """Whether the caller may go on; if not, the refusal has been sent."""
        guard = self.app.access
        if guard is None:
            return True
        verdict = guard.check(
            method,
            path,
            authorization=self.headers.get_all("Authorization") or [],
            certificate=self.connection.getpeercert(),
        )
        if not verdict.allowed:
            # The refused request's body (if any) is not read: the connection cannot carry another.
            self.send_text(verdict.status, verdict.message, close=True)
        return verdict.allowed

    def send_text(self, status: int, text: str, *, close: bool = False) -> None:
        self.send_body(status, (text + "\n").encode(), "text/plain; charset=utf-8", close=close)

    def send_body(self, status: int, body: bytes, content_type: str, *, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")  # http.server then closes the connection too
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("kubelet API: %s %s", self.address_string(), format % args)


class KubeletServer:
    """HTTPS kubelet API of the virtual node: the endpoints of :data:`ROUTES` (/healthz, /pods,
    /containerLogs, /exec, /attach, /portForward, /metrics/resource, /stats/summary), 501 for the
    kubelet's other families, 404 otherwise.

    With ``client_ca_file``, only clients presenting a certificate signed by that CA (the upper
    apiserver's ``--kubelet-client-certificate``) get past the TLS handshake; without it,
    anyone who can reach the port can read logs. With ``access`` (``--authorize``), clients without
    a certificate get through the handshake too, and every request must pass ``access``.
    """

    def __init__(
        self,
        *,
        address: str,
        port: int,
        cert_file: str | Path,
        key_file: str | Path,
        logs: logs.LogSource,
        client_ca_file: str | Path | None = None,
        pods: PodLister | None = None,
        exec_source: LowerExec | None = None,
        portforward_source: LowerOpener | None = None,
        sessions: exec_endpoint.SessionObserver | None = None,
        spdy: bool = True,
        access: Access | None = None,
        metrics: resource_metrics.MetricsSource | None = None,
        portforward_timeouts: Timeouts | None = None,
    ) -> None:
        self.address = address
        self.port = port
        self._tls = tls.server_context(
            tls.CertFiles(Path(cert_file), Path(key_file)),
            client_ca=client_ca_file,
            client_certificate_optional=access is not None,
            what="kubelet API",
        )
        self._app = App(
            log_source=logs,
            pod_lister=pods,
            exec_source=exec_source,
            access=access,
            metrics_source=metrics,
            sessions=sessions,
            spdy_protocols=channels.SPDY_PROTOCOLS if spdy else (),
            portforward_source=portforward_source,
            portforward_spdy=spdy,
            portforward_timeouts=portforward_timeouts or Timeouts(),
        )
        self._server: https.TlsServer | None = None
        self._thread: threading.Thread | None = None
        if client_ca_file is None and access is None:
            logger.warning("kubelet API: no client CA given; any client that reaches %s can read logs", address)

    def start(self) -> None:
        """Bind (port 0 picks a free port, then ``.port`` tells it) and serve in a background thread."""
        context = self._tls
        self._server = https.TlsServer(
            (self.address, self.port), _Handler, context=lambda: context, app=self._app, what="kubelet API"
        )
        self.port = int(self._server.server_address[1])
        self._thread = self._server.serve_in_thread("kubelet-api")
        logger.info("kubelet API: serving on %s:%d", self.address, self.port)

    @property
    def streams_in_flight(self) -> int:
        """Log streams being relayed right now (each holds a lower connection)."""
        return self._app.streams.count()

    def stop(self) -> None:
        """Stop accepting, end the log streams in flight, and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._app.streams.close_all()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server, self._thread = None, None
