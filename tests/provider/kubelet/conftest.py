"""Fixtures of the kubelet API tests: a serving pair, client certificates, a fake LogSource, and a started
server over them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from provider.kubelet import server as kubelet_server
from provider.serving import tls as serving_tls
from tests.provider.kubelet import fakes


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> fakes.Tls:
    directory = tmp_path_factory.mktemp("kubelet-tls")
    cert_pem, key_pem = serving_tls.self_signed("vnode", ip_addresses=["127.0.0.1"], dns_names=["vnode"])
    (directory / "tls.crt").write_bytes(cert_pem)
    (directory / "tls.key").write_bytes(key_pem)
    return fakes.Tls(directory / "tls.crt", directory / "tls.key")


@pytest.fixture(scope="module")
def client_pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``ca``: the client CA file; ``signed``: a client certificate it signed (CN kube-apiserver-kubelet-client,
    O system:masters), ``stranger``: one another CA signed, each as (certificate file, key file)."""
    directory = tmp_path_factory.mktemp("client-pki")
    ca = fakes.issue(directory, "cluster-ca", ca=None)
    other = fakes.issue(directory, "other-ca", ca=None)
    good = fakes.issue(directory, "kube-apiserver-kubelet-client", ca=ca, groups=("system:masters",))
    bad = fakes.issue(directory, "stranger", ca=other)
    return {"ca": ca[2], "signed": (good[2], good[3]), "stranger": (bad[2], bad[3])}


@pytest.fixture
def logs() -> fakes.FakeLogs:
    return fakes.FakeLogs()


@pytest.fixture
def server(tls: fakes.Tls, logs: fakes.FakeLogs) -> Iterator[kubelet_server.KubeletServer]:
    srv = kubelet_server.KubeletServer(address="127.0.0.1", port=0, cert_file=tls.cert, key_file=tls.key, logs=logs)
    srv.start()
    yield srv
    srv.stop()
