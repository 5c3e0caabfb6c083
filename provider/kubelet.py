"""The virtual node's kubelet API: ``kubectl logs`` on the upper cluster reads the lower pod's logs.

The upper kube-apiserver connects to the node's InternalIP at
``status.daemonEndpoints.kubeletEndpoint.Port`` (see ``provider.node``) and requests
``/containerLogs/<namespace>/<pod>/<container>``; :class:`KubeletServer` answers over HTTPS
and streams the lower cluster's log through a :class:`LogSource` (:class:`LowerLogs` in
production). ``provider.cli`` starts and stops it.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import select
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from descheduler.kube import client, errors, paths, retry
from provider.serving import https, tls

logger = logging.getLogger(__name__)

# Idle keep-alive connections and stalled writes to a client are dropped after this long;
# waiting for the lower cluster's next log line does not count (no socket call is pending).
CLIENT_TIMEOUT = 60.0
NOT_IMPLEMENTED = frozenset({"exec", "attach", "portForward", "run"})
# Opening a log stream is retried briefly: kubectl is waiting, and a 502 is more useful than a long hang.
OPEN_POLICY = retry.RetryPolicy(backoffs=(0.5, 1.0))


class LogStream(Protocol):
    """Log bytes as they arrive. ``close()`` may be called from another thread while a
    read is blocked, and must make the iteration end soon."""

    def __iter__(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class LogSource(Protocol):
    """Where container logs come from. Errors known before the first byte (pod not found,
    bad request, unreachable) are raised by ``stream`` itself as ``errors.ApiError``
    subclasses; a failure later surfaces from the iteration."""

    def stream(
        self,
        namespace: str,
        pod: str,
        *,
        container: str,
        follow: bool,
        tail_lines: int | None,
        since_seconds: int | None,
        since_time: str | None,
        previous: bool,
        timestamps: bool,
        limit_bytes: int | None,
    ) -> LogStream: ...


class BadParameterError(ValueError):
    """A query parameter of a log request cannot be used; the message names it."""


@dataclass(frozen=True)
class LogOptions:
    """The kubelet log query, parsed; field names match ``LogSource.stream`` keywords."""

    container: str
    follow: bool = False
    tail_lines: int | None = None
    since_seconds: int | None = None
    since_time: str | None = None
    previous: bool = False
    timestamps: bool = False
    limit_bytes: int | None = None


def parse_log_options(container: str, query: dict[str, list[str]]) -> LogOptions:
    """Parse the query the apiserver sends (``k8s.io/api`` PodLogOptions), validating like the kubelet.

    Raises BadParameterError naming the parameter.
    """
    options = LogOptions(
        container=container,
        follow=_bool(query, "follow"),
        tail_lines=_int(query, "tailLines", minimum=0),
        since_seconds=_int(query, "sinceSeconds", minimum=1),
        since_time=_time(query, "sinceTime"),
        previous=_bool(query, "previous"),
        timestamps=_bool(query, "timestamps"),
        limit_bytes=_int(query, "limitBytes", minimum=1),
    )
    if options.since_seconds is not None and options.since_time is not None:
        raise BadParameterError("sinceSeconds and sinceTime: at most one may be given")
    return options


def _first(query: dict[str, list[str]], name: str) -> str | None:
    # Like Go's url.Values.Get: the first value wins.
    values = query.get(name)
    return values[0] if values else None


def _bool(query: dict[str, list[str]], name: str) -> bool:
    raw = _first(query, name)
    if raw is None:
        return False
    lowered = raw.lower()
    if lowered in {"", "1", "t", "true"}:  # a bare "?follow" means true, as in Go's query decoding
        return True
    if lowered in {"0", "f", "false"}:
        return False
    raise BadParameterError(f"{name}={raw!r}: must be true or false")


def _int(query: dict[str, list[str]], name: str, *, minimum: int) -> int | None:
    raw = _first(query, name)
    if raw is None:
        return None
    try:
        value = int(raw, 10)
    except ValueError:
        raise BadParameterError(f"{name}={raw!r}: must be an integer") from None
    if value < minimum:
        raise BadParameterError(f"{name}={value}: must be >= {minimum}")
    return value


def _time(query: dict[str, list[str]], name: str) -> str | None:
    raw = _first(query, name)
    if raw is None:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(raw)
    except ValueError:
        raise BadParameterError(f"{name}={raw!r}: must be an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise BadParameterError(f"{name}={raw!r}: must be an RFC 3339 time with a zone")
    return raw


class LowerLogs:
    """A LogSource reading ``GET /api/v1/namespaces/{ns}/pods/{pod}/log`` from the lower cluster."""

    def __init__(self, kube: client.Kube, *, connect_timeout: float = 10.0, read_timeout: float = 60.0) -> None:
        self._kube = kube
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout

    def stream(
        self,
        namespace: str,
        pod: str,
        *,
        container: str,
        follow: bool,
        tail_lines: int | None,
        since_seconds: int | None,
        since_time: str | None,
        previous: bool,
        timestamps: bool,
        limit_bytes: int | None,
    ) -> LogStream:
        options = LogOptions(
            container, follow, tail_lines, since_seconds, since_time, previous, timestamps, limit_bytes
        )
        # A followed log may be silent for hours: no read timeout then.
        read_timeout = None if follow else self._read_timeout
        return self._kube.stream(
            paths.pod(namespace, pod, "log"),
            query=lower_query(options),
            timeout=(self._connect_timeout, read_timeout),
            policy=OPEN_POLICY,
        )


def lower_query(options: LogOptions) -> dict[str, str]:
    """The pod-log query for the lower API server; unset options are left out (server defaults)."""
    query = {"container": options.container}
    for name, flag in (("follow", options.follow), ("previous", options.previous), ("timestamps", options.timestamps)):
        if flag:
            query[name] = "true"
    numbers = (
        ("tailLines", options.tail_lines),
        ("sinceSeconds", options.since_seconds),
        ("limitBytes", options.limit_bytes),
    )
    for name, number in numbers:
        if number is not None:
            query[name] = str(number)
    if options.since_time is not None:
        query["sinceTime"] = options.since_time
    return query


PodLister = Callable[[], list[dict[str, Any]]]


class _App:
    """What the handlers share: the sources and the streams in flight (closed on stop)."""

    def __init__(self, logs: LogSource, pods: PodLister | None) -> None:
        self.logs = logs
        self.pods = pods
        self._lock = threading.Lock()
        self._open: set[LogStream] = set()
        self._stopped = False

    @contextlib.contextmanager
    def tracking(self, stream: LogStream) -> Iterator[None]:
        with self._lock:
            self._open.add(stream)
            stopped = self._stopped
        if stopped:  # a kept-alive connection asked after stop(): end it at once
            stream.close()
        try:
            yield
        finally:
            with self._lock:
                self._open.discard(stream)

    def count(self) -> int:
        with self._lock:
            return len(self._open)

    def close_streams(self) -> None:
        with self._lock:
            self._stopped = True
            streams = list(self._open)
        for stream in streams:
            stream.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked responses, and keep-alive for the apiserver
    server_version = "tensile-kubelet"
    sys_version = ""
    timeout = CLIENT_TIMEOUT

    @property
    def app(self) -> _App:
        return cast(_App, cast(https.TlsServer, self.server).app)

    def do_GET(self) -> None:
        parts = [unquote(p) for p in urlsplit(self.path).path.split("/")[1:]]
        query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        if parts == ["healthz"]:
            self._send_text(200, "ok")
        elif parts == ["pods"]:
            self._send_pods()
        elif len(parts) == 4 and parts[0] == "containerLogs" and all(parts[1:]):
            self._send_logs(parts[1], parts[2], parts[3], query)
        else:
            self._send_other(parts)

    def do_POST(self) -> None:
        # exec, attach and run are POSTs (or upgrades); nothing else is.
        self._send_other([unquote(p) for p in urlsplit(self.path).path.split("/")[1:]])

    def _send_other(self, parts: list[str]) -> None:
        if parts and parts[0] in NOT_IMPLEMENTED:
            self._send_text(501, f"{parts[0]} is not supported by the tensile virtual node")
        else:
            self._send_text(404, "not found")

    def _send_pods(self) -> None:
        items = self.app.pods() if self.app.pods is not None else []
        body = orjson.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items})
        self._send_body(200, body, "application/json")

    def _send_logs(self, namespace: str, pod: str, container: str, query: dict[str, list[str]]) -> None:
        try:
            options = parse_log_options(container, query)
        except BadParameterError as exc:
            self._send_text(400, str(exc))
            return
        try:
            stream = self.app.logs.stream(
                namespace,
                pod,
                container=options.container,
                follow=options.follow,
                tail_lines=options.tail_lines,
                since_seconds=options.since_seconds,
                since_time=options.since_time,
                previous=options.previous,
                timestamps=options.timestamps,
                limit_bytes=options.limit_bytes,
            )
        except errors.ApiError as exc:
            status, text = _status_for(exc)
            logger.info("kubelet API: logs of %s/%s/%s: %s", namespace, pod, container, exc)
            self._send_text(status, text)
            return
        self._relay(stream, what=f"{namespace}/{pod}/{container}")

    def _relay(self, stream: LogStream, *, what: str) -> None:
        """Send ``stream`` as a chunked 200 until it ends, it fails, or the client goes away."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with self.app.tracking(stream), _closing_on_hangup(self.connection, stream):
            try:
                for chunk in stream:
                    if chunk:  # an empty chunk would end the chunked body early
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
                return
            except errors.ApiError as exc:
                # No terminating chunk: the client sees a truncated body, which is the truth.
                logger.warning("kubelet API: logs of %s broke off: %s", what, exc)
            except OSError as exc:
                logger.debug("kubelet API: client of %s went away: %s", what, exc)
            finally:
                stream.close()
        self.close_connection = True

    def _send_text(self, status: int, text: str) -> None:
        self._send_body(status, (text + "\n").encode(), "text/plain; charset=utf-8")

    def _send_body(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("kubelet API: %s %s", self.address_string(), format % args)


def _status_for(exc: errors.ApiError) -> tuple[int, str]:
    """The kubelet answer for a LogSource error: the client's fault keeps its code, the rest is 502."""
    if isinstance(exc, errors.NotFoundError):
        return 404, f"not found: {exc.message}"
    if isinstance(exc, errors.BadRequestError):
        return 400, f"bad request: {exc.message}"
    return 502, f"lower cluster: {exc}"


@contextlib.contextmanager
def _closing_on_hangup(connection: socket.socket, stream: LogStream) -> Iterator[None]:
    """While the body is relayed, close ``stream`` as soon as the client hangs up.

    Without this, a followed log whose container is quiet would hold its thread and its
    lower connection until the next line fails to be written.
    """
    wake_read, wake_write = os.pipe()  # ends the watcher at once when the relay is done
    watcher = threading.Thread(target=_watch_hangup, args=(connection.fileno(), wake_read, stream), daemon=True)
    watcher.start()
    try:
        yield
    finally:
        os.write(wake_write, b"x")
        watcher.join()
        os.close(wake_read)
        os.close(wake_write)


# Only the peer's FIN or an error count: the client sends nothing while it reads a response,
# and POLLIN would also fire for TLS records (for example a close_notify, which precedes FIN anyway).
_HANGUP_EVENTS = getattr(select, "POLLRDHUP", select.POLLIN) | select.POLLHUP | select.POLLERR | select.POLLNVAL


def _watch_hangup(client_fd: int, wake_fd: int, stream: LogStream) -> None:
    poller = select.poll()
    poller.register(client_fd, _HANGUP_EVENTS)
    poller.register(wake_fd, select.POLLIN)
    ready = {fd for fd, _events in poller.poll()}
    if client_fd in ready and wake_fd not in ready:
        logger.debug("kubelet API: client hung up; closing its log stream")
        stream.close()


class KubeletServer:
    """HTTPS kubelet API of the virtual node: /healthz, /pods, /containerLogs/{ns}/{pod}/{container}.

    With ``client_ca_file``, only clients presenting a certificate signed by that CA (the upper
    apiserver's ``--kubelet-client-certificate``) get past the TLS handshake; without it,
    anyone who can reach the port can read logs.
    """

    def __init__(
        self,
        *,
        address: str,
        port: int,
        cert_file: str | Path,
        key_file: str | Path,
        logs: LogSource,
        client_ca_file: str | Path | None = None,
        pods: PodLister | None = None,
    ) -> None:
        self.address = address
        self.port = port
        self._tls = tls.server_context(
            tls.CertFiles(Path(cert_file), Path(key_file)), client_ca=client_ca_file, what="kubelet API"
        )
        self._app = _App(logs, pods)
        self._server: https.TlsServer | None = None
        self._thread: threading.Thread | None = None
        if client_ca_file is None:
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
        return self._app.count()

    def stop(self) -> None:
        """Stop accepting, end the log streams in flight, and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._app.close_streams()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server, self._thread = None, None
