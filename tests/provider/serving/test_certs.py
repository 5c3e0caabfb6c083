"""Serving certificates on plain data (the webhook's and the extender's): the subject names, and
the decisions about the shared certificate Secret and the in-memory pair.

The Secret on a real API server: tests/e2e/test_webhook.py and tests/e2e/test_extender.py.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

import pytest

from provider.serving import certs, tls
from tests.descheduler import factories as f

NOW_DT = datetime.datetime.fromtimestamp(f.NOW, tz=datetime.UTC)
NAMES = certs.subject_names("tensile-webhook", "tensile-system", ["127.0.0.1", "webhook.example"])


# -- certificates ------------------------------------------------------------------------------


def test_subject_names_cover_the_service_and_extra_sans() -> None:
    assert NAMES.common_name == "tensile-webhook.tensile-system.svc"
    assert NAMES.dns_names == (
        "tensile-webhook.tensile-system.svc",
        "tensile-webhook.tensile-system.svc.cluster.local",
        "webhook.example",
    )
    assert NAMES.ip_addresses == ("127.0.0.1",)


def tls_secret(pair: tuple[bytes, bytes]) -> dict[str, Any]:
    return certs.secret_body("tensile-webhook-tls", "tensile-system", pair, app="tensile-webhook")


def test_a_missing_secret_is_created() -> None:
    assert certs.plan_secret(None, NAMES, now=NOW_DT).action == "create"


def test_a_fresh_secret_naming_everything_is_kept() -> None:
    plan = certs.plan_secret(tls_secret(certs.generate(NAMES)), NAMES, now=NOW_DT)
    assert plan == certs.SecretPlan("keep")


def _pair(days: int, names: certs.SubjectNames = NAMES) -> tuple[bytes, bytes]:
    return tls.self_signed(
        names.common_name, ip_addresses=list(names.ip_addresses), dns_names=list(names.dns_names), days=days
    )


def test_a_certificate_expiring_within_30_days_is_replaced() -> None:
    now = datetime.datetime.now(datetime.UTC)
    plan = certs.plan_secret(tls_secret(_pair(29)), NAMES, now=now)
    assert plan.action == "replace" and "within 30 days" in plan.reason
    assert certs.plan_secret(tls_secret(_pair(31)), NAMES, now=now).action == "keep"


def test_a_certificate_missing_a_requested_name_is_replaced() -> None:
    fewer = certs.subject_names("tensile-webhook", "tensile-system")
    plan = certs.plan_secret(tls_secret(_pair(365, fewer)), NAMES, now=datetime.datetime.now(datetime.UTC))
    assert plan.action == "replace" and "127.0.0.1" in plan.reason and "webhook.example" in plan.reason


@pytest.mark.parametrize(
    "data",
    [{}, {"tls.crt": "!!", "tls.key": "!!"}, {"tls.crt": base64.b64encode(b"junk").decode(), "tls.key": "a2V5"}],
    ids=["no data → replace", "not base64 → replace", "not PEM → replace"],
)
def test_an_unusable_secret_is_replaced(data: dict[str, str]) -> None:
    secret = {**tls_secret(_pair(365)), "data": data}
    assert certs.plan_secret(secret, NAMES, now=NOW_DT).action == "replace"


def test_a_key_that_does_not_match_is_replaced() -> None:
    cert, _key = _pair(365)
    _other_cert, other_key = _pair(365)
    plan = certs.plan_secret(tls_secret((cert, other_key)), NAMES, now=datetime.datetime.now(datetime.UTC))
    assert plan == certs.SecretPlan("replace", "the key does not match the certificate")


def test_a_renewed_secret_keeps_its_metadata_and_resource_version() -> None:
    existing = tls_secret(_pair(10))
    existing["metadata"].update(resourceVersion="42", annotations={"note": "kept"})
    fresh = _pair(365)
    body = certs.secret_body("tensile-webhook-tls", "tensile-system", fresh, app="tensile-webhook", existing=existing)
    assert body["metadata"]["resourceVersion"] == "42" and body["metadata"]["annotations"] == {"note": "kept"}
    assert certs.pair_from_secret(body) == fresh
    assert body["type"] == "kubernetes.io/tls"


def test_generated_certs_are_kept_until_they_need_replacing() -> None:
    clock = [datetime.datetime.now(datetime.UTC)]
    source = certs.GeneratedCerts(NAMES, clock=lambda: clock[0])
    first = source.load()
    assert source.load() == first
    clock[0] += datetime.timedelta(days=certs.CERT_VALIDITY_DAYS - 29)
    assert source.load() != first
