"""API errors come in families (client, server, no response) that callers catch whole."""

from __future__ import annotations

import pytest

from descheduler.kube import errors


@pytest.mark.parametrize(
    ("status", "family", "kind"),
    [
        (400, errors.ClientError, errors.BadRequestError),
        (403, errors.ClientError, errors.ForbiddenError),
        (404, errors.ClientError, errors.NotFoundError),
        (409, errors.ClientError, errors.ConflictError),
        (410, errors.ClientError, errors.GoneError),
        (418, errors.ClientError, errors.ClientError),
        (422, errors.ClientError, errors.UnprocessableError),
        (429, errors.ClientError, errors.TooManyRequestsError),
        (500, errors.ServerError, errors.ServerError),
        (503, errors.ServerError, errors.ServerError),
    ],
    ids=lambda v: str(v) if isinstance(v, int) else v.__name__,
)
def test_each_status_maps_into_its_family(status: int, family: type, kind: type) -> None:
    error = errors.from_response(status, b'{"reason": "R", "message": "m"}', {})
    assert isinstance(error, family) and type(error) is kind
    assert (error.status, error.reason, error.message) == (status, "R", "m")


def test_the_families_do_not_overlap() -> None:
    families = (errors.ClientError, errors.ServerError, errors.ConnectionFailedError)
    samples = [
        errors.from_response(404, b"", {}),
        errors.from_response(502, b"", {}),
        errors.UnreachableError.saying("x"),
    ]
    for sample, family in zip(samples, families, strict=True):
        assert [isinstance(sample, f) for f in families].count(True) == 1
        assert isinstance(sample, family) and isinstance(sample, errors.ApiError)


def test_retry_after_is_kept_for_throttling() -> None:
    error = errors.from_response(429, b"", {"Retry-After": "3"})
    assert isinstance(error, errors.TooManyRequestsError) and error.retry_after == 3.0
