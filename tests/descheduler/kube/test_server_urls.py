"""A cluster's ``server`` is checked before any request: what is a usable URL and what is not."""

from __future__ import annotations

import pytest

from descheduler.kube.kubeconfig import check_server_url


@pytest.mark.parametrize(
    "server",
    [
        "https://127.0.0.1:6443",
        "https://kube.example.com",
        "http://localhost:8080",
        "https://[::1]:6443",
        "https://rancher.example.com/k8s/clusters/c-m-4x2",
        "https://10.0.0.1:443/",
    ],
)
def test_usable_server_urls_pass(server: str) -> None:
    assert check_server_url(server) is None


@pytest.mark.parametrize(
    ("server", "reason"),
    [
        pytest.param("not a url", "it contains spaces", id="spaces -> refused"),
        pytest.param(" https://h:6443", "it contains spaces", id="leading space (quoted YAML) -> refused"),
        pytest.param("127.0.0.1:6443", "no scheme", id="host:port without scheme -> refused"),
        pytest.param("localhost:6443", "no scheme", id="name:port parses as a scheme -> still no scheme"),
        pytest.param("ftp://h", "the scheme is 'ftp', not https or http", id="ftp -> refused"),
        pytest.param("https://", "no host", id="scheme only -> no host"),
        pytest.param("https://:6443", "no host", id="port only -> no host"),
        pytest.param("https://h:0", "the port must be a number from 1 to 65535", id="port 0"),
        pytest.param("https://h:65536", "the port must be a number from 1 to 65535", id="port 65536"),
        pytest.param("https://h:64x3", "the port must be a number from 1 to 65535", id="port not a number"),
        pytest.param("https://[::1", "it cannot be parsed", id="unclosed IPv6 bracket"),
        pytest.param("https://h%zz", "it cannot be parsed", id="bad percent escape in the host"),
        pytest.param("https://h:6443/?watch=1", "it has a query or fragment", id="query -> refused"),
    ],
)
def test_malformed_server_urls_are_refused_naming_the_value(server: str, reason: str) -> None:
    assert check_server_url(server) == (f"server {server!r} is not a valid URL ({reason}); want e.g. https://HOST:6443")


@pytest.mark.parametrize(
    ("server", "message"),
    [
        pytest.param(None, "no server set", id="missing"),
        pytest.param("", "no server set", id="empty"),
        pytest.param(6443, "server must be a URL such as https://HOST:6443", id="a number"),
        pytest.param(["https://h"], "server must be a URL such as https://HOST:6443", id="a list"),
    ],
)
def test_a_server_that_is_not_text_is_refused_without_naming_a_type(server: object, message: str) -> None:
    assert check_server_url(server) == message
