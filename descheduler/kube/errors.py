"""API errors as tensile types: one mapping from HTTP status (Status body kept), one from
transport failures (:func:`classify_transport`).

Three families under :class:`ApiError`, so callers catch a family rather than a tuple:
:class:`ClientError` (4xx: the request itself was refused; retrying it unchanged rarely
helps), :class:`ServerError` (5xx) and :class:`ConnectionFailedError` (no response at all).
Callers catch these, never the client library's exceptions.
"""

from __future__ import annotations

import errno
import http.client
import os
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import urllib3

from descheduler.errors import TensileError


class ApiError(TensileError):
    """An API request failed. ``status`` is the HTTP code (0 when no response)."""

    def __init__(self, status: int, reason: str, message: str, *, retry_after: float | None = None) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after
        super().__init__(f"{status} {reason}: {message}" if status else message)


class ConnectionFailedError(ApiError):
    """No HTTP response: connection refused, reset, TLS failure or timeout."""

    @classmethod
    def saying(cls, message: str) -> ConnectionFailedError:
        """The error with status 0 (no response) and ``message`` as its whole text."""
        return cls(0, "ConnectionFailed", message)


class UnreachableError(ConnectionFailedError):
    """No response from a server that has never answered this client: a wrong address, a
    closed port, an untrusted certificate, a server down or silent at start. Never retried:
    waiting would only delay the one-line error. Once a server has answered, the same failure
    is an outage and raises a plain :class:`ConnectionFailedError`, which reads retry."""


class DeadlineExceededError(ConnectionFailedError):
    """The deadline of the cycle (see :func:`descheduler.kube.retry.deadline`) has passed."""


class ClientError(ApiError):
    """4xx: the API server refused the request as it is (not found, forbidden, invalid, conflict, throttled)."""


class BadRequestError(ClientError):
    """400: the request is malformed (a bad query, patch or body); fix the caller, do not retry."""


class UnauthorizedError(ClientError):
    """401: the credentials were refused (expired token, wrong client certificate)."""


class ForbiddenError(ClientError):
    """403: the caller may not do this (RBAC), or not now (a quota exceeded, a namespace terminating)."""


class NotFoundError(ClientError):
    """404: the object (or the namespace) does not exist; for an eviction, the pod is already gone."""


class ConflictError(ClientError):
    """409: the object changed since it was read (resourceVersion) or already exists; read again."""


class GoneError(ClientError):
    """410: a watch or list continue token expired; relist."""


class UnprocessableError(ClientError):
    """422: the object is invalid; the API server's validation refused it."""


class TooManyRequestsError(ClientError):
    """429: throttled, or for an eviction, blocked by a PodDisruptionBudget."""


class ServerError(ApiError):
    """5xx."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    422: UnprocessableError,
    429: TooManyRequestsError,
}


def from_response(status: int, body: bytes, headers: Any) -> ApiError:
    """Build the error for a non-2xx response; the Status body's reason/message are kept."""
    reason, message = "", ""
    try:
        parsed = orjson.loads(body) if body else {}
        if isinstance(parsed, dict):
            reason, message = str(parsed.get("reason") or ""), str(parsed.get("message") or "")
    except orjson.JSONDecodeError:
        message = body[:300].decode("utf-8", "replace")
    retry_after = None
    raw_retry = headers.get("Retry-After") if headers is not None else None
    if raw_retry:
        try:
            retry_after = float(raw_retry)
        except ValueError:
            retry_after = None
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else ClientError if status >= 400 else ApiError)
    return cls(status, reason or _default_reason(status), message or "(no message)", retry_after=retry_after)


def _default_reason(status: int) -> str:
    return {429: "TooManyRequests", 404: "NotFound", 403: "Forbidden", 401: "Unauthorized"}.get(status, "Error")


class BodyTooSlowError(Exception):
    """An attempt's time ran out while its response body was still arriving."""


@dataclass(frozen=True)
class TransportFailure:
    """What a failed request's exception means, in the user's terms."""

    connected: bool
    """False when no connection was made (refused, unknown host, connect timeout, TLS)."""
    timed_out: bool
    reason: str


def classify_transport(exc: BaseException) -> TransportFailure:
    """Read the chain of a urllib3/socket/ssl failure for its root cause (by type, never by text)."""
    for err in _chain(exc):
        if isinstance(err, BodyTooSlowError | urllib3.exceptions.ReadTimeoutError | socket.timeout):
            return TransportFailure(connected=True, timed_out=True, reason="no answer")
        if isinstance(err, urllib3.exceptions.NameResolutionError | socket.gaierror):
            return TransportFailure(connected=False, timed_out=False, reason="the host name does not resolve")
        if isinstance(err, urllib3.exceptions.ConnectTimeoutError) and not isinstance(
            err, urllib3.exceptions.NewConnectionError
        ):
            return TransportFailure(connected=False, timed_out=True, reason="no connection")
        if isinstance(err, ssl.SSLCertVerificationError):
            why = err.verify_message or "not trusted"
            return TransportFailure(connected=False, timed_out=False, reason=f"TLS: server certificate {why}")
        if isinstance(err, ssl.SSLError):
            why = (err.reason or err.strerror or "failed").replace("_", " ").lower()
            return TransportFailure(connected=False, timed_out=False, reason=f"TLS handshake failed: {why}")
        if isinstance(err, ConnectionRefusedError):
            return TransportFailure(connected=False, timed_out=False, reason="connection refused")
        if isinstance(err, ConnectionResetError | BrokenPipeError | http.client.HTTPException):
            return TransportFailure(connected=True, timed_out=False, reason="the server closed the connection")
        if isinstance(err, OSError) and err.errno in _NO_ROUTE:
            return TransportFailure(connected=False, timed_out=False, reason=os.strerror(err.errno).lower())
    connected = not isinstance(exc, urllib3.exceptions.NewConnectionError)
    return TransportFailure(connected=connected, timed_out=False, reason=_one_line(str(exc)))


_NO_ROUTE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.ECONNABORTED}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        # urllib3 keeps the cause in args too (ProtocolError("Connection broken", cause)).
        for arg in current.args:
            if isinstance(arg, BaseException) and id(arg) not in seen:
                yield from _chain(arg)
        current = current.__cause__ or current.__context__


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]
