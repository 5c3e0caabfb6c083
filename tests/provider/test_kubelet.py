"""The kubelet API's HTTP handling: routes, parameter parsing, streaming, error codes, client certificates.

The LogSource here is a plain Python fake: these tests are about our HTTPS server, not about
Kubernetes (tests/provider/test_lower_logs.py reads real logs from a real cluster).
"""

from __future__ import annotations

import datetime
import http.client
import json
import queue
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kubernetes import client as k8s_client

from descheduler.errors import InputError
from descheduler.kube import client, errors
from provider import kubelet
from provider.serving import tls as serving_tls

_END = b"<end>"


class FakeStream:
    """Yields the given chunks, then (when ``live``) whatever the test feeds until ended or closed."""

    def __init__(self, chunks: list[bytes], *, live: bool, fail_after: errors.ApiError | None) -> None:
        self.fed: queue.Queue[bytes] = queue.Queue()
        for chunk in chunks:
            self.fed.put(chunk)
        if not live:
            self.fed.put(_END)
        self.fail_after = fail_after
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self.fed.get()
            if chunk is _END or self.closed.is_set():
                break
            yield chunk
        if self.fail_after is not None and not self.closed.is_set():
            raise self.fail_after

    def close(self) -> None:
        self.closed.set()
        self.fed.put(_END)  # wakes a blocked reader, like shutting a socket down


@dataclass
class FakeLogs:
    """A LogSource that records each call and answers with ``chunks``, or raises ``error``."""

    chunks: list[bytes] = field(default_factory=lambda: [b"line 1\n", b"line 2\n"])
    error: errors.ApiError | None = None
    live: bool = False
    fail_after: errors.ApiError | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    streams: queue.Queue[FakeStream] = field(default_factory=queue.Queue)

    def stream(self, namespace: str, pod: str, **options: Any) -> FakeStream:
        self.calls.append({"namespace": namespace, "pod": pod, **options})
        if self.error is not None:
            raise self.error
        stream = FakeStream(list(self.chunks), live=self.live, fail_after=self.fail_after)
        self.streams.put(stream)
        return stream


@dataclass(frozen=True)
class Tls:
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    directory = tmp_path_factory.mktemp("kubelet-tls")
    cert_pem, key_pem = serving_tls.self_signed("vnode", ip_addresses=["127.0.0.1"], dns_names=["vnode"])
    (directory / "tls.crt").write_bytes(cert_pem)
    (directory / "tls.key").write_bytes(key_pem)
    return Tls(directory / "tls.crt", directory / "tls.key")


@pytest.fixture
def logs() -> FakeLogs:
    return FakeLogs()


@pytest.fixture
def server(tls: Tls, logs: FakeLogs) -> Iterator[kubelet.KubeletServer]:
    srv = kubelet.KubeletServer(address="127.0.0.1", port=0, cert_file=tls.cert, key_file=tls.key, logs=logs)
    srv.start()
    yield srv
    srv.stop()


def _connect(
    srv: kubelet.KubeletServer, tls: Tls, client_cert: tuple[Path, Path] | None = None
) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=str(tls.cert))
    if client_cert is not None:
        context.load_cert_chain(*client_cert)
    return http.client.HTTPSConnection("127.0.0.1", srv.port, context=context, timeout=10)


def _get(srv: kubelet.KubeletServer, tls: Tls, path: str) -> tuple[int, bytes, http.client.HTTPResponse]:
    conn = _connect(srv, tls)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body, response


def _wait(predicate: Any, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


# -- routes --------------------------------------------------------------------------------


def test_healthz_answers_ok(server: kubelet.KubeletServer, tls: Tls) -> None:
    status, body, _ = _get(server, tls, "/healthz")
    assert (status, body) == (200, b"ok\n")


def test_pods_is_an_empty_pod_list_without_a_lister(server: kubelet.KubeletServer, tls: Tls) -> None:
    status, body, response = _get(server, tls, "/pods")
    assert status == 200
    assert response.getheader("Content-Type") == "application/json"
    assert json.loads(body) == {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []}


def test_pods_lists_what_the_lister_returns(tls: Tls, logs: FakeLogs) -> None:
    pod = {"metadata": {"namespace": "ns", "name": "p"}}
    srv = kubelet.KubeletServer(
        address="127.0.0.1", port=0, cert_file=tls.cert, key_file=tls.key, logs=logs, pods=lambda: [pod]
    )
    srv.start()
    try:
        _status, body, _ = _get(srv, tls, "/pods")
    finally:
        srv.stop()
    assert json.loads(body)["items"] == [pod]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/metrics", 404, id="unknown path -> 404"),
        pytest.param("/containerLogs/ns/pod", 404, id="logs without container -> 404"),
        pytest.param("/containerLogs/ns//c", 404, id="logs with empty pod name -> 404"),
        pytest.param("/containerLogs/ns/pod/c/extra", 404, id="logs with extra segment -> 404"),
        pytest.param("/exec/ns/pod/c?command=sh", 501, id="exec -> 501"),
        pytest.param("/attach/ns/pod/c", 501, id="attach -> 501"),
        pytest.param("/portForward/ns/pod", 501, id="portForward -> 501"),
    ],
)
def test_other_paths_are_refused(
    server: kubelet.KubeletServer, tls: Tls, logs: FakeLogs, path: str, status: int
) -> None:
    got, body, _ = _get(server, tls, path)
    assert got == status
    assert body.endswith(b"\n")
    assert logs.calls == []


def test_post_to_run_is_not_implemented(server: kubelet.KubeletServer, tls: Tls) -> None:
    conn = _connect(server, tls)
    conn.request("POST", "/run/ns/pod/c", body=b"cmd=ls")
    response = conn.getresponse()
    assert response.status == 501
    assert b"run is not supported" in response.read()
    conn.close()


def test_keep_alive_serves_several_requests_on_one_connection(server: kubelet.KubeletServer, tls: Tls) -> None:
    conn = _connect(server, tls)
    bodies = []
    for path in ("/healthz", "/containerLogs/ns/pod/c", "/healthz"):
        conn.request("GET", path)
        bodies.append(conn.getresponse().read())
    conn.close()
    assert bodies == [b"ok\n", b"line 1\nline 2\n", b"ok\n"]


# -- log parameters ------------------------------------------------------------------------

_DEFAULTS = {
    "container": "c",
    "follow": False,
    "tail_lines": None,
    "since_seconds": None,
    "since_time": None,
    "previous": False,
    "timestamps": False,
    "limit_bytes": None,
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("", {}, id="no parameters -> defaults"),
        pytest.param(
            "?follow=true&tailLines=10&previous=true&timestamps=true&limitBytes=500&sinceSeconds=3600",
            {
                "follow": True,
                "tail_lines": 10,
                "previous": True,
                "timestamps": True,
                "limit_bytes": 500,
                "since_seconds": 3600,
            },
            id="every flag and number as the apiserver sends them -> parsed",
        ),
        pytest.param(
            "?sinceTime=2024-01-01T00%3A00%3A01Z", {"since_time": "2024-01-01T00:00:01Z"}, id="sinceTime -> kept as is"
        ),
        pytest.param("?tailLines=0", {"tail_lines": 0}, id="tailLines=0 -> zero lines, not unset"),
        pytest.param("?follow", {"follow": True}, id="bare follow -> true, as in Go"),
        pytest.param("?follow=0&previous=False", {}, id="0 and False -> false"),
        pytest.param("?tailLines=5&tailLines=7", {"tail_lines": 5}, id="repeated parameter -> first wins"),
        pytest.param("?stream=Stdout&pretty=1", {}, id="unknown parameters -> ignored"),
    ],
)
def test_log_parameters_reach_the_source_parsed(
    server: kubelet.KubeletServer, tls: Tls, logs: FakeLogs, query: str, expected: dict[str, Any]
) -> None:
    status, body, _ = _get(server, tls, f"/containerLogs/my-ns/my-pod/c{query}")
    assert (status, body) == (200, b"line 1\nline 2\n")
    assert logs.calls == [{"namespace": "my-ns", "pod": "my-pod", **_DEFAULTS, **expected}]


def test_escaped_path_segments_are_decoded(server: kubelet.KubeletServer, tls: Tls, logs: FakeLogs) -> None:
    _get(server, tls, "/containerLogs/ns/pod%2Dx/c%2Dy")
    assert (logs.calls[0]["pod"], logs.calls[0]["container"]) == ("pod-x", "c-y")


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        pytest.param("tailLines=ten", b"tailLines='ten': must be an integer", id="non-integer tailLines -> 400"),
        pytest.param("tailLines=-1", b"tailLines=-1: must be >= 0", id="negative tailLines -> 400"),
        pytest.param("sinceSeconds=0", b"sinceSeconds=0: must be >= 1", id="sinceSeconds 0 -> 400"),
        pytest.param("limitBytes=1.5", b"limitBytes='1.5': must be an integer", id="fractional limitBytes -> 400"),
        pytest.param("follow=maybe", b"follow='maybe': must be true or false", id="follow=maybe -> 400"),
        pytest.param("sinceTime=yesterday", b"must be an RFC 3339 time", id="sinceTime not a time -> 400"),
        pytest.param("sinceTime=2024-01-01T00:00:00", b"with a zone", id="sinceTime without zone -> 400"),
        pytest.param(
            "sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z", b"at most one", id="sinceSeconds and sinceTime -> 400"
        ),
    ],
)
def test_bad_log_parameters_are_400_without_asking_the_source(
    server: kubelet.KubeletServer, tls: Tls, logs: FakeLogs, query: str, complaint: bytes
) -> None:
    status, body, _ = _get(server, tls, f"/containerLogs/ns/pod/c?{query}")
    assert status == 400
    assert complaint in body
    assert logs.calls == []


# -- source errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [
        pytest.param(errors.NotFoundError(404, "NotFound", 'pods "p" not found'), 404, id="pod not found -> 404"),
        pytest.param(
            errors.BadRequestError(400, "BadRequest", "container x is not valid"), 400, id="bad container -> 400"
        ),
        pytest.param(
            errors.ConnectionFailedError(0, "ConnectionFailed", "refused"), 502, id="lower unreachable -> 502"
        ),
        pytest.param(errors.ServerError(503, "ServiceUnavailable", "etcd"), 502, id="lower 5xx -> 502"),
        pytest.param(errors.ForbiddenError(403, "Forbidden", "no rbac"), 502, id="provider not allowed -> 502"),
    ],
)
def test_source_errors_map_to_status_codes(
    server: kubelet.KubeletServer, tls: Tls, logs: FakeLogs, error: errors.ApiError, status: int
) -> None:
    logs.error = error
    got, body, response = _get(server, tls, "/containerLogs/ns/p/c")
    assert got == status
    assert error.message.encode() in body
    assert response.getheader("Content-Type") == "text/plain; charset=utf-8"


def test_lower_failure_mid_stream_truncates_the_body(server: kubelet.KubeletServer, tls: Tls, logs: FakeLogs) -> None:
    logs.fail_after = errors.ConnectionFailedError(0, "ConnectionFailed", "reset by lower")
    conn = _connect(server, tls)
    conn.request("GET", "/containerLogs/ns/p/c")
    response = conn.getresponse()
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    assert caught.value.partial == b"line 1\nline 2\n"
    conn.close()


# -- streaming -----------------------------------------------------------------------------


def test_followed_chunks_arrive_before_the_stream_ends(server: kubelet.KubeletServer, tls: Tls, logs: FakeLogs) -> None:
    logs.live = True
    logs.chunks = [b"first\n"]
    conn = _connect(server, tls)
    conn.request("GET", "/containerLogs/ns/p/c?follow=true")
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.read1() == b"first\n"
    stream = logs.streams.get(timeout=5)
    stream.fed.put(b"second\n")
    assert response.read1() == b"second\n"
    stream.fed.put(_END)
    assert response.read() == b""
    conn.close()


def test_client_hangup_closes_the_source_stream(server: kubelet.KubeletServer, tls: Tls, logs: FakeLogs) -> None:
    logs.live = True
    logs.chunks = [b"first\n"]
    conn = _connect(server, tls)
    conn.request("GET", "/containerLogs/ns/p/c?follow=true")
    response = conn.getresponse()
    assert response.read1() == b"first\n"
    stream = logs.streams.get(timeout=5)
    conn.close()  # a quiet container: nothing more is written, so only the hangup can end it
    assert stream.closed.wait(5)


def test_stop_ends_streams_in_flight(tls: Tls, logs: FakeLogs) -> None:
    logs.live = True
    srv = kubelet.KubeletServer(address="127.0.0.1", port=0, cert_file=tls.cert, key_file=tls.key, logs=logs)
    srv.start()
    conn = _connect(srv, tls)
    conn.request("GET", "/containerLogs/ns/p/c?follow=true")
    response = conn.getresponse()
    assert response.read1() == b"line 1\n"
    stream = logs.streams.get(timeout=5)
    srv.stop()
    assert stream.closed.wait(5)
    conn.close()


def test_a_log_request_after_stop_on_a_kept_alive_connection_ends_at_once(tls: Tls, logs: FakeLogs) -> None:
    logs.live = True
    srv = kubelet.KubeletServer(address="127.0.0.1", port=0, cert_file=tls.cert, key_file=tls.key, logs=logs)
    srv.start()
    conn = _connect(srv, tls)
    conn.request("GET", "/healthz")
    assert conn.getresponse().read() == b"ok\n"
    srv.stop()
    conn.request("GET", "/containerLogs/ns/p/c?follow=true")
    assert conn.getresponse().read() == b""
    assert logs.streams.get(timeout=5).closed.is_set()
    conn.close()


def test_empty_chunks_do_not_end_the_body(server: kubelet.KubeletServer, tls: Tls, logs: FakeLogs) -> None:
    logs.chunks = [b"a", b"", b"b"]
    _status, body, _ = _get(server, tls, "/containerLogs/ns/p/c")
    assert body == b"ab"


# -- TLS -----------------------------------------------------------------------------------


def _issue(directory: Path, name: str, *, ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None) -> Any:
    """A CA (``ca`` None) or a client certificate signed by ``ca``; returns (cert, key, cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca[0].subject if ca else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca is None, path_length=None), critical=True)
    )
    if ca is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    cert = builder.sign(ca[1] if ca else key, hashes.SHA256())
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, key, cert_path, key_path


@pytest.fixture(scope="module")
def client_pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("client-pki")
    ca_cert, ca_key, ca_path, _ = _issue(directory, "cluster-ca", ca=None)
    other_cert, other_key, _, _ = _issue(directory, "other-ca", ca=None)
    _, _, good_cert, good_key = _issue(directory, "kube-apiserver-kubelet-client", ca=(ca_cert, ca_key))
    _, _, bad_cert, bad_key = _issue(directory, "stranger", ca=(other_cert, other_key))
    return {"ca": ca_path, "signed": (good_cert, good_key), "stranger": (bad_cert, bad_key)}


@pytest.fixture
def guarded(tls: Tls, logs: FakeLogs, client_pki: dict[str, Any]) -> Iterator[kubelet.KubeletServer]:
    srv = kubelet.KubeletServer(
        address="127.0.0.1", port=0, cert_file=tls.cert, key_file=tls.key, logs=logs, client_ca_file=client_pki["ca"]
    )
    srv.start()
    yield srv
    srv.stop()


@pytest.mark.parametrize("who", [None, "stranger"], ids=["no client cert -> refused", "cert of another CA -> refused"])
def test_client_ca_refuses_other_clients(
    guarded: kubelet.KubeletServer, tls: Tls, logs: FakeLogs, client_pki: dict[str, Any], who: str | None
) -> None:
    conn = _connect(guarded, tls, client_pki[who] if who else None)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        conn.request("GET", "/containerLogs/ns/p/c")
        conn.getresponse().read()
    conn.close()
    assert logs.calls == []


def test_client_ca_admits_a_certificate_it_signed(
    guarded: kubelet.KubeletServer, tls: Tls, client_pki: dict[str, Any]
) -> None:
    conn = _connect(guarded, tls, client_pki["signed"])
    conn.request("GET", "/containerLogs/ns/p/c")
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, b"line 1\nline 2\n")
    conn.close()


def test_a_stalled_handshake_does_not_block_other_clients(server: kubelet.KubeletServer, tls: Tls) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):  # connects, never says hello
        status, _body, _ = _get(server, tls, "/healthz")
    assert status == 200


def test_unreadable_tls_files_are_an_input_error(tmp_path: Path, logs: FakeLogs) -> None:
    (tmp_path / "bad.crt").write_text("not a certificate")
    with pytest.raises(InputError, match="cannot be loaded"):
        kubelet.KubeletServer(
            address="127.0.0.1", port=0, cert_file=tmp_path / "bad.crt", key_file=tmp_path / "bad.crt", logs=logs
        )


# -- LowerLogs: query building and an unreachable lower cluster ------------------------------


def test_lower_query_carries_every_option_as_the_api_spells_it() -> None:
    options = kubelet.LogOptions(
        container="c",
        follow=True,
        tail_lines=0,
        since_seconds=60,
        since_time=None,
        previous=True,
        timestamps=True,
        limit_bytes=100,
    )
    assert kubelet.lower_query(options) == {
        "container": "c",
        "follow": "true",
        "previous": "true",
        "timestamps": "true",
        "tailLines": "0",
        "sinceSeconds": "60",
        "limitBytes": "100",
    }


def test_lower_query_leaves_unset_options_out() -> None:
    query = kubelet.lower_query(kubelet.LogOptions(container="c", since_time="2024-01-01T00:00:00Z"))
    assert query == {"container": "c", "sinceTime": "2024-01-01T00:00:00Z"}


def test_unreachable_lower_cluster_is_502(tls: Tls) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    configuration = k8s_client.Configuration()
    configuration.host = f"https://127.0.0.1:{dead_port}"
    kube = client.Kube(configuration)
    srv = kubelet.KubeletServer(
        address="127.0.0.1", port=0, cert_file=tls.cert, key_file=tls.key, logs=kubelet.LowerLogs(kube)
    )
    srv.start()
    try:
        status, body, _ = _get(srv, tls, "/containerLogs/ns/p/c")
    finally:
        srv.stop()
        kube.close()
    assert status == 502
    assert body.startswith(b"lower cluster: ")
