"""The kubelet API server: routing, keep-alive, stop, client certificates and TLS files.

The LogSource here is a plain Python fake (tests/provider/kubelet/fakes.py): these tests are about our
HTTPS server, not about Kubernetes (tests/e2e/test_kubelet_logs.py reads real logs from a real cluster).
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from descheduler.errors import InputError
from provider.kubelet import exchange
from provider.kubelet import server as kubelet_server
from tests.provider.kubelet import fakes

# -- routes --------------------------------------------------------------------------------


def test_healthz_answers_ok(server: kubelet_server.KubeletServer, tls: fakes.Tls) -> None:
    status, body, _ = fakes.get(server, tls, "/healthz")
    assert (status, body) == (200, b"ok\n")


def test_pods_is_an_empty_pod_list_without_a_lister(server: kubelet_server.KubeletServer, tls: fakes.Tls) -> None:
    status, body, response = fakes.get(server, tls, "/pods")
    assert status == 200
    assert response.getheader("Content-Type") == "application/json"
    assert json.loads(body) == {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []}


def test_pods_lists_what_the_lister_returns(tls: fakes.Tls, logs: fakes.FakeLogs) -> None:
    pod = {"metadata": {"namespace": "ns", "name": "p"}}
    srv = kubelet_server.KubeletServer(
        address="127.0.0.1", port=0, cert_file=tls.cert, key_file=tls.key, logs=logs, pods=lambda: [pod]
    )
    srv.start()
    try:
        _status, body, _ = fakes.get(srv, tls, "/pods")
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
        pytest.param("/exec/ns/pod/c?command=sh", 400, id="exec without an upgrade -> 400"),
        pytest.param("/attach/ns/pod/c?output=1", 400, id="attach without an upgrade -> 400"),
        pytest.param("/portForward/ns/pod", 400, id="portForward without an upgrade -> 400"),
        pytest.param("/portForward/ns/pod/uid/extra", 404, id="portForward with extra segment -> 404"),
    ],
)
def test_other_paths_are_refused(
    server: kubelet_server.KubeletServer, tls: fakes.Tls, logs: fakes.FakeLogs, path: str, status: int
) -> None:
    got, body, _ = fakes.get(server, tls, path)
    assert got == status
    assert body.endswith(b"\n")
    assert logs.calls == []


def test_post_to_run_is_not_implemented(server: kubelet_server.KubeletServer, tls: fakes.Tls) -> None:
    conn = fakes.connect(server, tls)
    conn.request("POST", "/run/ns/pod/c", body=b"cmd=ls")
    response = conn.getresponse()
    assert response.status == 501
    assert b"run is not supported" in response.read()
    conn.close()


def test_keep_alive_serves_several_requests_on_one_connection(
    server: kubelet_server.KubeletServer, tls: fakes.Tls
) -> None:
    conn = fakes.connect(server, tls)
    bodies = []
    for path in ("/healthz", "/containerLogs/ns/pod/c", "/healthz"):
        conn.request("GET", path)
        bodies.append(conn.getresponse().read())
    conn.close()
    assert bodies == [b"ok\n", b"line 1\nline 2\n", b"ok\n"]


# -- stop ------------------------------------------------------------------------------------


def test_stop_ends_streams_in_flight(tls: fakes.Tls, logs: fakes.FakeLogs) -> None:
    logs.live = True
    srv = kubelet_server.KubeletServer(address="127.0.0.1", port=0, cert_file=tls.cert, key_file=tls.key, logs=logs)
    srv.start()
    conn = fakes.connect(srv, tls)
    conn.request("GET", "/containerLogs/ns/p/c?follow=true")
    response = conn.getresponse()
    assert response.read1() == b"line 1\n"
    stream = logs.streams.get(timeout=5)
    srv.stop()
    assert stream.closed.wait(5)
    conn.close()


def test_a_log_request_after_stop_on_a_kept_alive_connection_ends_at_once(tls: fakes.Tls, logs: fakes.FakeLogs) -> None:
    logs.live = True
    srv = kubelet_server.KubeletServer(address="127.0.0.1", port=0, cert_file=tls.cert, key_file=tls.key, logs=logs)
    srv.start()
    conn = fakes.connect(srv, tls)
    conn.request("GET", "/healthz")
    assert conn.getresponse().read() == b"ok\n"
    srv.stop()
    conn.request("GET", "/containerLogs/ns/p/c?follow=true")
    assert conn.getresponse().read() == b""
    assert logs.streams.get(timeout=5).closed.is_set()
    conn.close()


# -- TLS -----------------------------------------------------------------------------------


@pytest.fixture
def guarded(tls: fakes.Tls, logs: fakes.FakeLogs, client_pki: dict[str, Any]) -> Iterator[kubelet_server.KubeletServer]:
    srv = kubelet_server.KubeletServer(
        address="127.0.0.1", port=0, cert_file=tls.cert, key_file=tls.key, logs=logs, client_ca_file=client_pki["ca"]
    )
    srv.start()
    yield srv
    srv.stop()


@pytest.mark.parametrize("who", [None, "stranger"], ids=["no client cert -> refused", "cert of another CA -> refused"])
def test_client_ca_refuses_other_clients(
    guarded: kubelet_server.KubeletServer,
    tls: fakes.Tls,
    logs: fakes.FakeLogs,
    client_pki: dict[str, Any],
    who: str | None,
) -> None:
    conn = fakes.connect(guarded, tls, client_pki[who] if who else None)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        conn.request("GET", "/containerLogs/ns/p/c")
        conn.getresponse().read()
    conn.close()
    assert logs.calls == []


def test_client_ca_admits_a_certificate_it_signed(
    guarded: kubelet_server.KubeletServer, tls: fakes.Tls, client_pki: dict[str, Any]
) -> None:
    conn = fakes.connect(guarded, tls, client_pki["signed"])
    conn.request("GET", "/containerLogs/ns/p/c")
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, b"line 1\nline 2\n")
    conn.close()


def test_a_stalled_handshake_does_not_block_other_clients(server: kubelet_server.KubeletServer, tls: fakes.Tls) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):  # connects, never says hello
        status, _body, _ = fakes.get(server, tls, "/healthz")
    assert status == 200


def test_unreadable_tls_files_are_an_input_error(tmp_path: Path, logs: fakes.FakeLogs) -> None:
    (tmp_path / "bad.crt").write_text("not a certificate")
    with pytest.raises(InputError, match="cannot be loaded"):
        kubelet_server.KubeletServer(
            address="127.0.0.1", port=0, cert_file=tmp_path / "bad.crt", key_file=tmp_path / "bad.crt", logs=logs
        )


# -- route matching ------------------------------------------------------------------------


def _endpoint(
    request: exchange.Exchange, app: kubelet_server.App, params: Mapping[str, str], query: exchange.Query
) -> None:
    raise AssertionError("not called")


ROUTE = kubelet_server.Route(kubelet_server.GET, "/exec/{namespace}/{pod}/{container}", _endpoint)


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        pytest.param("GET", "/exec/ns/p/c", {"namespace": "ns", "pod": "p", "container": "c"}, id="match -> named"),
        pytest.param("POST", "/exec/ns/p/c", None, id="other method -> no match"),
        pytest.param("GET", "/exec/ns//c", None, id="empty segment -> no match"),
        pytest.param("GET", "/exec/ns/p", None, id="segment missing -> no match"),
        pytest.param("GET", "/attach/ns/p/c", None, id="other literal -> no match"),
    ],
)
def test_a_route_names_its_segments_or_does_not_match(method: str, path: str, params: dict[str, str] | None) -> None:
    assert ROUTE.match(method, path.split("/")[1:]) == params


def test_every_route_answers_a_distinct_path() -> None:
    patterns = [route.pattern for route in kubelet_server.ROUTES]
    assert len(patterns) == len(set(patterns))
    assert all(route.methods for route in kubelet_server.ROUTES)
