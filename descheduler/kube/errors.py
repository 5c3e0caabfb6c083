"""API errors as tensile types: one mapping from HTTP status, Status body kept.

Callers catch these, never the client library's exceptions.
"""

from __future__ import annotations

from typing import Any

import orjson

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


class BadRequestError(ApiError):
    pass


class UnauthorizedError(ApiError):
    pass


class ForbiddenError(ApiError):
    pass


class NotFoundError(ApiError):
    pass


class ConflictError(ApiError):
    pass


class GoneError(ApiError):
    """410: a watch or list continue token expired; relist."""


class UnprocessableError(ApiError):
    pass


class TooManyRequestsError(ApiError):
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
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    return cls(status, reason or _default_reason(status), message or "(no message)", retry_after=retry_after)


def _default_reason(status: int) -> str:
    return {429: "TooManyRequests", 404: "NotFound", 403: "Forbidden", 401: "Unauthorized"}.get(status, "Error")
