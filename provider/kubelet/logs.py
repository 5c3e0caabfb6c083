"""The kubelet API's log endpoint: ``GET /containerLogs/<namespace>/<pod>/<container>`` relays the
lower pod's log, so ``kubectl logs`` on the upper cluster reads the mirror's.

:func:`parse_log_options` checks the query the apiserver sends as the kubelet would; :class:`LowerLogs`
(the production :class:`LogSource`) opens the lower cluster's log with :func:`lower_query`; :func:`serve`
answers the request and relays the stream chunk by chunk, closing it as soon as the client hangs up
(a followed log of a quiet container would otherwise hold its thread and lower connection).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import select
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from descheduler.kube import client, errors, paths, retry
from provider.kubelet import exchange

logger = logging.getLogger(__name__)

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


def parse_log_options(container: str, query: exchange.Query) -> LogOptions:
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


def _first(query: exchange.Query, name: str) -> str | None:
    # Like Go's url.Values.Get: the first value wins.
    values = query.get(name)
    return values[0] if values else None


def _bool(query: exchange.Query, name: str) -> bool:
    raw = _first(query, name)
    if raw is None:
        return False
    lowered = raw.lower()
    if lowered in {"", "1", "t", "true"}:  # a bare "?follow" means true, as in Go's query decoding
        return True
    if lowered in {"0", "f", "false"}:
        return False
    raise BadParameterError(f"{name}={raw!r}: must be true or false")


def _int(query: exchange.Query, name: str, *, minimum: int) -> int | None:
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


def _time(query: exchange.Query, name: str) -> str | None:
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


class Sources(Protocol):
    """What :func:`serve` takes from the server's app."""

    @property
    def log_source(self) -> LogSource: ...

    @property
    def streams(self) -> exchange.Streams: ...


def serve(request: exchange.Exchange, app: Sources, params: Mapping[str, str], query: exchange.Query) -> None:
    """Answer a log request: 400 for a bad parameter, the source's error as a status, else the relayed log."""
    namespace, pod, container = params["namespace"], params["pod"], params["container"]
    try:
        options = parse_log_options(container, query)
    except BadParameterError as exc:
        request.send_text(400, str(exc))
        return
    try:
        stream = app.log_source.stream(
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
        request.send_text(status, text)
        return
    _relay(request, app.streams, stream, what=f"{namespace}/{pod}/{container}")


def _relay(request: exchange.Exchange, streams: exchange.Streams, stream: LogStream, *, what: str) -> None:
    """Send ``stream`` as a chunked 200 until it ends, it fails, or the client goes away."""
    request.send_response(200)
    request.send_header("Content-Type", "text/plain; charset=utf-8")
    request.send_header("Transfer-Encoding", "chunked")
    request.end_headers()
    with streams.tracking(stream), _closing_on_hangup(request.connection, stream):
        try:
            for chunk in stream:
                if chunk:  # an empty chunk would end the chunked body early
                    request.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            request.wfile.write(b"0\r\n\r\n")
            return
        except errors.ApiError as exc:
            # No terminating chunk: the client sees a truncated body, which is the truth.
            logger.warning("kubelet API: logs of %s broke off: %s", what, exc)
        except OSError as exc:
            logger.debug("kubelet API: client of %s went away: %s", what, exc)
        finally:
            stream.close()
    request.close_connection = True


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
