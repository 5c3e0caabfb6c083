"""Streamed responses: the body is handed on chunk by chunk, never read whole.

Used through ``Kube.stream`` for watches and for pod logs (``kubectl logs -f`` can run for
days). Failures map to the same :mod:`descheduler.kube.errors` types as plain requests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import urllib3
from kubernetes import client as k8s_client

from descheduler.kube import errors

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
# (connect, read) seconds, as the client library takes them; read None waits for ever.
Timeout = float | tuple[float, float | None]


class ResponseStream:
    """An open streamed response. Iterate once for its chunks; ``close()`` works from any thread.

    Iteration raises ``errors.ConnectionFailedError`` when the connection breaks mid-body,
    and simply ends when the body ends or when ``close()`` was called (a deliberate stop is
    not an error).
    """

    def __init__(self, response: Any, *, what: str) -> None:
        self._response = response
        self._what = what
        self._lock = threading.Lock()
        self._closed = False
        self._iterating = False

    def __iter__(self) -> Iterator[bytes]:
        with self._lock:
            if self._closed:
                return
            self._iterating = True
        try:
            yield from self._chunks()
        finally:
            with self._lock:
                # Ended (or abandoned): a later close() has nothing left to wake up.
                self._iterating = False
                self._closed = True
            self._response.close()

    def _chunks(self) -> Iterator[bytes]:
        while True:
            try:
                # read1 returns what has arrived (up to CHUNK_SIZE) instead of waiting for a full
                # buffer, so a followed log line is passed on as soon as the server sends it.
                chunk: bytes = self._response.read1(CHUNK_SIZE)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if self._closed:
                    return
                raise errors.ConnectionFailedError(0, "ConnectionFailed", f"{self._what}: {exc}") from exc
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            iterating = self._iterating
        if iterating:
            # Another thread may be blocked reading: shutting the socket down wakes it up, and
            # that thread then closes the response itself (closing it here would race its read).
            self._shutdown()
        else:
            self._response.close()

    def _shutdown(self) -> None:
        try:
            self._response.shutdown()
        except (ValueError, RuntimeError, OSError) as exc:
            # Already released or never connected: nothing is blocked on it.
            logger.debug("%s: shutdown skipped: %s", self._what, exc)


def open_stream(api: Any, path: str, query: dict[str, Any], timeout: Timeout, what: str) -> ResponseStream:
    """Open ``GET path?query`` on the client ``api``; a non-2xx status raises before any body is read."""
    headers = {"Accept": "application/json, */*"}
    url_path = path + ("?" + urlencode(query) if query else "")
    _method, url, headers, _body, _post = api.param_serialize(
        method="GET", resource_path=url_path, header_params=headers, auth_settings=["BearerToken"]
    )
    try:
        response = api.rest_client.request("GET", url, headers=headers, _request_timeout=timeout).response
    except (urllib3.exceptions.HTTPError, OSError, k8s_client.ApiException) as exc:
        raise errors.ConnectionFailedError(0, "ConnectionFailed", f"{what}: {exc}") from exc
    if not 200 <= response.status < 300:
        try:
            body: bytes = response.read()
        except (urllib3.exceptions.HTTPError, OSError):
            body = b""
        finally:
            response.close()
        raise errors.from_response(response.status, body, response.headers)
    return ResponseStream(response, what=what)
