"""The kubelet API server with --authorize: the handshake admits callers without a certificate, still
refuses a certificate of another CA, and every request is checked before any endpoint runs.

The upper cluster's reviews are a fake here (tests/provider/kubelet/fakes.py FakeReviews); the real ones
are asked in tests/e2e/test_kubelet_api_access.py.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import pytest

from descheduler.kube import errors
from provider.kubelet import server as kubelet_server
from provider.kubelet.access import Access, User
from tests.provider.kubelet import fakes

NODE = "vk-lower-a"


@pytest.fixture
def reviews() -> fakes.FakeReviews:
    return fakes.FakeReviews(
        tokens={"reader": User("reader", groups=("system:authenticated",))},
        allowed={("reader", "get", "proxy"), ("kube-apiserver-kubelet-client", "get", "proxy")},
    )


def _serve(tls: fakes.Tls, logs: fakes.FakeLogs, reviews: fakes.FakeReviews, ca: Any) -> kubelet_server.KubeletServer:
    srv = kubelet_server.KubeletServer(
        address="127.0.0.1",
        port=0,
        cert_file=tls.cert,
        key_file=tls.key,
        logs=logs,
        client_ca_file=ca,
        access=Access(reviews, node_name=NODE),
    )
    srv.start()
    return srv


@pytest.fixture
def authorizing(
    tls: fakes.Tls, logs: fakes.FakeLogs, reviews: fakes.FakeReviews, client_pki: dict[str, Any]
) -> Iterator[kubelet_server.KubeletServer]:
    srv = _serve(tls, logs, reviews, client_pki["ca"])
    yield srv
    srv.stop()


def _request(
    srv: kubelet_server.KubeletServer,
    tls: fakes.Tls,
    method: str,
    path: str,
    *,
    token: str | None = None,
    cert: tuple[Any, Any] | None = None,
) -> tuple[int, bytes]:
    conn = fakes.connect(srv, tls, cert)
    try:
        conn.request(method, path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/containerLogs/ns/p/c"), ("POST", "/exec/ns/p/c"), ("POST", "/portForward/ns/p"), ("GET", "/pods")],
    ids=["logs", "exec", "port-forward", "pods"],
)
def test_no_certificate_and_no_token_is_401_before_any_endpoint(
    authorizing: kubelet_server.KubeletServer, tls: fakes.Tls, logs: fakes.FakeLogs, method: str, path: str
) -> None:
    assert _request(authorizing, tls, method, path) == (401, b"Unauthorized\n")
    assert logs.calls == []


def test_a_token_the_upper_cluster_allows_reaches_the_endpoint(
    authorizing: kubelet_server.KubeletServer, tls: fakes.Tls, logs: fakes.FakeLogs, reviews: fakes.FakeReviews
) -> None:
    assert _request(authorizing, tls, "GET", "/containerLogs/ns/p/c", token="reader") == (200, b"line 1\nline 2\n")
    assert [(u.name, verb, sub, node) for u, verb, sub, node in reviews.access_calls] == [
        ("reader", "get", "proxy", NODE)
    ]


def test_a_user_without_the_permission_gets_403(
    authorizing: kubelet_server.KubeletServer, tls: fakes.Tls, logs: fakes.FakeLogs
) -> None:
    status, body = _request(authorizing, tls, "POST", "/exec/ns/p/c", token="reader")
    assert (status, body) == (403, b"Forbidden (user=reader, verb=create, resource=nodes, subresource=proxy)\n")


def test_an_unknown_token_is_401(authorizing: kubelet_server.KubeletServer, tls: fakes.Tls) -> None:
    assert _request(authorizing, tls, "GET", "/containerLogs/ns/p/c", token="forged")[0] == 401


def test_a_certificate_the_ca_signed_is_authorized_as_its_subject(
    authorizing: kubelet_server.KubeletServer, tls: fakes.Tls, client_pki: dict[str, Any], reviews: fakes.FakeReviews
) -> None:
    status, _ = _request(authorizing, tls, "GET", "/containerLogs/ns/p/c", cert=client_pki["signed"])
    assert status == 200
    (user, _verb, _sub, _node), *_ = reviews.access_calls
    assert user == User("kube-apiserver-kubelet-client", groups=("system:masters", "system:authenticated"))
    assert reviews.token_calls == []


def test_a_certificate_of_another_ca_still_fails_the_handshake(
    authorizing: kubelet_server.KubeletServer, tls: fakes.Tls, client_pki: dict[str, Any], logs: fakes.FakeLogs
) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _request(authorizing, tls, "GET", "/containerLogs/ns/p/c", token="reader", cert=client_pki["stranger"])
    assert logs.calls == []


def test_without_a_client_ca_tokens_alone_are_checked(
    tls: fakes.Tls, logs: fakes.FakeLogs, reviews: fakes.FakeReviews
) -> None:
    srv = _serve(tls, logs, reviews, None)
    try:
        assert _request(srv, tls, "GET", "/containerLogs/ns/p/c")[0] == 401
        assert _request(srv, tls, "GET", "/containerLogs/ns/p/c", token="reader")[0] == 200
    finally:
        srv.stop()


def test_an_upper_cluster_that_cannot_answer_is_503_in_one_line(
    authorizing: kubelet_server.KubeletServer, tls: fakes.Tls, reviews: fakes.FakeReviews
) -> None:
    reviews.error = errors.ServerError(503, "ServiceUnavailable", "etcdserver: leader changed")
    status, body = _request(authorizing, tls, "GET", "/containerLogs/ns/p/c", token="reader")
    assert status == 503
    assert body == (
        b"cannot check the caller with the upper cluster: 503 ServiceUnavailable: etcdserver: leader changed\n"
    )


def test_a_refused_request_does_not_leave_a_keep_alive_connection_behind(
    authorizing: kubelet_server.KubeletServer, tls: fakes.Tls
) -> None:
    conn = fakes.connect(authorizing, tls)
    conn.request("GET", "/healthz")
    response = conn.getresponse()
    assert (response.status, response.getheader("Connection")) == (401, "close")
    response.read()
    conn.close()
