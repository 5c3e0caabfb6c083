"""The webhook's HTTPS server: routes, status codes, keep-alive, readiness and certificate swaps.

The admitter here is the real one over a fake owner lookup: these tests are about the server, not
about Kubernetes (tests/e2e/test_webhook.py puts a real kube-apiserver in front of it).
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from provider.serving import certs
from provider.webhook import admission
from provider.webhook import server as webhook_server

NAMES = certs.subject_names("tensile-webhook", "tensile-system", ["127.0.0.1"])


class Ready:
    def __init__(self) -> None:
        self.value = False

    def __call__(self) -> bool:
        return self.value


@pytest.fixture
def ready() -> Ready:
    return Ready()


@pytest.fixture
def server(ready: Ready) -> Iterator[webhook_server.AdmissionServer]:
    admitter = admission.Admitter(fetch=lambda path: {}, virtual_nodes=list)
    started = webhook_server.AdmissionServer(
        address="127.0.0.1", port=0, pair=certs.generate(NAMES), admitter=admitter, ready=ready
    )
    started.start()
    try:
        yield started
    finally:
        started.stop()


def trusting(cert_pem: bytes) -> ssl.SSLContext:
    """A client context like the apiserver's: trusts exactly the caBundle and checks the IP SAN."""
    context = ssl.create_default_context(cadata=cert_pem.decode())
    return context


def connect(server: webhook_server.AdmissionServer) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection("127.0.0.1", server.port, context=trusting(server.cert_pem), timeout=10)


def request(
    server: webhook_server.AdmissionServer, method: str, path: str, body: bytes | None = None
) -> tuple[int, str, bytes]:
    conn = connect(server)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        conn.close()


def review_body(uid: str = "req-1") -> bytes:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "p-", "namespace": "ns"}, "spec": {}}
    request = {"uid": uid, "operation": "CREATE", "namespace": "ns", "object": pod}
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}).encode()


def test_healthz_is_ok_only_once_ready(server: webhook_server.AdmissionServer, ready: Ready) -> None:
    status, _type, body = request(server, "GET", "/healthz")
    assert status == 503 and b"not ready" in body
    ready.value = True
    assert request(server, "GET", "/healthz") == (200, "text/plain; charset=utf-8", b"ok\n")


def test_mutate_pods_answers_an_admission_review(server: webhook_server.AdmissionServer) -> None:
    # The apiserver appends ?timeout=...; the server routes on the path alone.
    status, content_type, body = request(server, "POST", "/mutate-pods?timeout=5s", review_body())
    assert status == 200 and content_type == "application/json"
    answer = json.loads(body)
    assert answer["apiVersion"] == "admission.k8s.io/v1" and answer["kind"] == "AdmissionReview"
    assert answer["response"] == {"uid": "req-1", "allowed": True}


def test_a_malformed_body_gets_a_400(server: webhook_server.AdmissionServer) -> None:
    status, _type, body = request(server, "POST", "/mutate-pods", b"{nope")
    assert status == 400 and body.decode().startswith("bad AdmissionReview: body is not JSON")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/mutate-pods", 405), ("GET", "/other", 404), ("POST", "/other", 404)],
    ids=["GET mutate → 405", "GET elsewhere → 404", "POST elsewhere → 404"],
)
def test_other_routes(server: webhook_server.AdmissionServer, method: str, path: str, status: int) -> None:
    assert request(server, method, path, b"{}" if method == "POST" else None)[0] == status


def _raw_exchange(server: webhook_server.AdmissionServer, head: bytes) -> bytes:
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    with trusting(server.cert_pem).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(head)
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    return data


def test_a_post_without_content_length_gets_411(server: webhook_server.AdmissionServer) -> None:
    data = _raw_exchange(server, b"POST /mutate-pods HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 411")


def test_an_oversized_body_is_refused_unread(server: webhook_server.AdmissionServer) -> None:
    head = f"POST /mutate-pods HTTP/1.1\r\nHost: x\r\nContent-Length: {webhook_server.MAX_BODY_BYTES + 1}\r\n\r\n"
    assert _raw_exchange(server, head.encode()).startswith(b"HTTP/1.1 413")


def test_connections_are_kept_alive(server: webhook_server.AdmissionServer) -> None:
    conn = connect(server)
    try:
        answers = []
        for uid in ("a", "b"):
            conn.request("POST", "/mutate-pods", body=review_body(uid))
            answers.append(json.loads(conn.getresponse().read())["response"]["uid"])
        assert answers == ["a", "b"]
    finally:
        conn.close()


def test_concurrent_reviews_are_answered(server: webhook_server.AdmissionServer) -> None:
    results: dict[str, Any] = {}

    def one(uid: str) -> None:
        results[uid] = json.loads(request(server, "POST", "/mutate-pods", review_body(uid))[2])["response"]["uid"]

    threads = [threading.Thread(target=one, args=(f"r{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == {f"r{i}": f"r{i}" for i in range(8)}


def test_a_new_certificate_is_served_from_the_next_handshake(server: webhook_server.AdmissionServer) -> None:
    before = server.cert_pem
    assert server.use((before, b"ignored: same certificate")) is False
    fresh = certs.generate(NAMES)
    assert server.use(fresh) is True
    served = ssl.get_server_certificate(("127.0.0.1", server.port))
    assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(fresh[0].decode())
    assert request(server, "POST", "/mutate-pods", review_body())[0] == 200  # trusts the new caBundle


def test_stop_releases_the_port(ready: Ready) -> None:
    admitter = admission.Admitter(fetch=lambda path: {}, virtual_nodes=list)
    server = webhook_server.AdmissionServer(
        address="127.0.0.1", port=0, pair=certs.generate(NAMES), admitter=admitter, ready=ready
    )
    server.start()
    port = server.port
    server.stop()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
