"""The kubelet API's log endpoint: parameter parsing, status codes, streaming and hang-ups, and the
query LowerLogs sends below.

The LogSource here is a plain Python fake (tests/provider/kubelet/fakes.py); tests/e2e/test_kubelet_logs.py
reads real logs from a real cluster.
"""

from __future__ import annotations

import http.client
import socket
from typing import Any

import pytest
from kubernetes import client as k8s_client

from descheduler.kube import client, errors
from provider.kubelet import logs as kubelet_logs
from provider.kubelet import server as kubelet_server
from tests.provider.kubelet import fakes

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
    server: kubelet_server.KubeletServer, tls: fakes.Tls, logs: fakes.FakeLogs, query: str, expected: dict[str, Any]
) -> None:
    status, body, _ = fakes.get(server, tls, f"/containerLogs/my-ns/my-pod/c{query}")
    assert (status, body) == (200, b"line 1\nline 2\n")
    assert logs.calls == [{"namespace": "my-ns", "pod": "my-pod", **_DEFAULTS, **expected}]


def test_escaped_path_segments_are_decoded(
    server: kubelet_server.KubeletServer, tls: fakes.Tls, logs: fakes.FakeLogs
) -> None:
    fakes.get(server, tls, "/containerLogs/ns/pod%2Dx/c%2Dy")
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
    server: kubelet_server.KubeletServer, tls: fakes.Tls, logs: fakes.FakeLogs, query: str, complaint: bytes
) -> None:
    status, body, _ = fakes.get(server, tls, f"/containerLogs/ns/pod/c?{query}")
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
    server: kubelet_server.KubeletServer, tls: fakes.Tls, logs: fakes.FakeLogs, error: errors.ApiError, status: int
) -> None:
    logs.error = error
    got, body, response = fakes.get(server, tls, "/containerLogs/ns/p/c")
    assert got == status
    assert error.message.encode() in body
    assert response.getheader("Content-Type") == "text/plain; charset=utf-8"


def test_lower_failure_mid_stream_truncates_the_body(
    server: kubelet_server.KubeletServer, tls: fakes.Tls, logs: fakes.FakeLogs
) -> None:
    logs.fail_after = errors.ConnectionFailedError(0, "ConnectionFailed", "reset by lower")
    conn = fakes.connect(server, tls)
    conn.request("GET", "/containerLogs/ns/p/c")
    response = conn.getresponse()
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    assert caught.value.partial == b"line 1\nline 2\n"
    conn.close()


# -- streaming -----------------------------------------------------------------------------


def test_followed_chunks_arrive_before_the_stream_ends(
    server: kubelet_server.KubeletServer, tls: fakes.Tls, logs: fakes.FakeLogs
) -> None:
    logs.live = True
    logs.chunks = [b"first\n"]
    conn = fakes.connect(server, tls)
    conn.request("GET", "/containerLogs/ns/p/c?follow=true")
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.read1() == b"first\n"
    stream = logs.streams.get(timeout=5)
    stream.fed.put(b"second\n")
    assert response.read1() == b"second\n"
    stream.fed.put(fakes.END)
    assert response.read() == b""
    conn.close()


def test_client_hangup_closes_the_source_stream(
    server: kubelet_server.KubeletServer, tls: fakes.Tls, logs: fakes.FakeLogs
) -> None:
    logs.live = True
    logs.chunks = [b"first\n"]
    conn = fakes.connect(server, tls)
    conn.request("GET", "/containerLogs/ns/p/c?follow=true")
    response = conn.getresponse()
    assert response.read1() == b"first\n"
    stream = logs.streams.get(timeout=5)
    conn.close()  # a quiet container: nothing more is written, so only the hangup can end it
    assert stream.closed.wait(5)


def test_empty_chunks_do_not_end_the_body(
    server: kubelet_server.KubeletServer, tls: fakes.Tls, logs: fakes.FakeLogs
) -> None:
    logs.chunks = [b"a", b"", b"b"]
    _status, body, _ = fakes.get(server, tls, "/containerLogs/ns/p/c")
    assert body == b"ab"


# -- LowerLogs: query building and an unreachable lower cluster ------------------------------


def test_lower_query_carries_every_option_as_the_api_spells_it() -> None:
    options = kubelet_logs.LogOptions(
        container="c",
        follow=True,
        tail_lines=0,
        since_seconds=60,
        since_time=None,
        previous=True,
        timestamps=True,
        limit_bytes=100,
    )
    assert kubelet_logs.lower_query(options) == {
        "container": "c",
        "follow": "true",
        "previous": "true",
        "timestamps": "true",
        "tailLines": "0",
        "sinceSeconds": "60",
        "limitBytes": "100",
    }


def test_lower_query_leaves_unset_options_out() -> None:
    query = kubelet_logs.lower_query(kubelet_logs.LogOptions(container="c", since_time="2024-01-01T00:00:00Z"))
    assert query == {"container": "c", "sinceTime": "2024-01-01T00:00:00Z"}


def test_unreachable_lower_cluster_is_502(tls: fakes.Tls) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    configuration = k8s_client.Configuration()
    configuration.host = f"https://127.0.0.1:{dead_port}"
    kube = client.Kube(configuration)
    srv = kubelet_server.KubeletServer(
        address="127.0.0.1", port=0, cert_file=tls.cert, key_file=tls.key, logs=kubelet_logs.LowerLogs(kube)
    )
    srv.start()
    try:
        status, body, _ = fakes.get(srv, tls, "/containerLogs/ns/p/c")
    finally:
        srv.stop()
        kube.close()
    assert status == 502
    assert body.startswith(b"lower cluster: ")
