"""Who may use the virtual node's kubelet API, against the real upper cluster (issue 13, item 4).

Two providers: one with ``--client-ca-file`` only (the upper API server's kubelet-client certificate
or nothing gets through the handshake), one with ``--client-ca-file --authorize`` (callers without a
certificate bring a token, which the upper cluster reviews: TokenReview, then SubjectAccessReview).
The CA is kwokctl's cluster CA, which signs the kubelet-client certificate the test clusters give the
upper API server (tests/cluster/clusters.py: kwok-admin, group system:masters).
"""

from __future__ import annotations

import http.client
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import clusters
from tests.e2e.support.providers import ProviderProcess, pods, ready_provider, running, virtual_deployment, wait_for
from tests.provider.kubelet import fakes

AUTHORIZING = "vk-authz"
CERTIFICATES_ONLY = "vk-authz-certs"
ALL_LINES = "".join(f"{line}\n" for line in clusters.LOG_LINES).encode()


@pytest.fixture(scope="module")
def namespace(upper: clusters.Cluster) -> Iterator[str]:
    name = f"authz-{uuid.uuid4().hex[:6]}"
    upper.kubectl("create", "namespace", name)
    yield name
    upper.kubectl("delete", "namespace", name, "--wait=false")


@pytest.fixture(scope="module")
def authorizing(
    upper: clusters.Cluster, lower_a: clusters.Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProviderProcess]:
    args = ["--client-ca-file", str(upper.pki / "ca.crt"), "--authorize"]
    try:
        with ready_provider(upper, lower_a, AUTHORIZING, tmp_path_factory.mktemp("authz"), extra_args=args) as proc:
            yield proc
    finally:
        upper.kubectl("delete", "node", AUTHORIZING, "--ignore-not-found")


@pytest.fixture(scope="module")
def certificates_only(
    upper: clusters.Cluster, lower_a: clusters.Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProviderProcess]:
    args = ["--client-ca-file", str(upper.pki / "ca.crt")]
    log_dir = tmp_path_factory.mktemp("authz-certs")
    try:
        with ready_provider(upper, lower_a, CERTIFICATES_ONLY, log_dir, extra_args=args) as proc:
            yield proc
    finally:
        upper.kubectl("delete", "node", CERTIFICATES_ONLY, "--ignore-not-found")


@pytest.fixture(scope="module")
def mirrored(authorizing: ProviderProcess, upper: clusters.Cluster, namespace: str) -> str:
    """A pod of the authorizing virtual node, Running (its container is ``app``)."""
    upper.apply([virtual_deployment("talker", namespace, 1, AUTHORIZING)])
    wait_for(lambda: len(running(pods(upper, namespace))) == 1, timeout=90, what="the mirrored pod running")
    return str(running(pods(upper, namespace))[0]["metadata"]["name"])


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A client certificate that another CA signed, naming the upper API server's user."""
    directory = tmp_path_factory.mktemp("stranger-pki")
    other_ca = fakes.issue(directory, "other-ca", ca=None)
    _cert, _key, cert_path, key_path = fakes.issue(directory, "kwok-admin", ca=other_ca, groups=("system:masters",))
    return cert_path, key_path


def call(
    provider: ProviderProcess,
    method: str,
    path: str,
    *,
    token: str | None = None,
    cert: tuple[Path, Path] | None = None,
) -> tuple[int, bytes]:
    """One request straight to the provider's kubelet API (its serving certificate is self-signed)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if cert is not None:
        context.load_cert_chain(*cert)
    conn = http.client.HTTPSConnection("127.0.0.1", provider.port, context=context, timeout=20)
    try:
        conn.request(method, path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


STREAMING = [
    pytest.param("GET", "/containerLogs/{ns}/{pod}/app", id="logs"),
    pytest.param("POST", "/exec/{ns}/{pod}/app?command=true&output=1", id="exec"),
    pytest.param("POST", "/portForward/{ns}/{pod}", id="port-forward"),
]


def _token_of(upper: clusters.Cluster, namespace: str, account: str, *rules: tuple[str, str]) -> str:
    """A token of a new ServiceAccount, bound to a ClusterRole with ``rules`` (verb, nodes subresource)
    once the upper cluster's RBAC says so (the provider caches a denial for 30 s)."""
    upper.kubectl("create", "serviceaccount", account, "-n", namespace)
    user = f"system:serviceaccount:{namespace}:{account}"
    if rules:
        role = f"{namespace}-{account}"
        resources = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": role},
            "rules": [{"apiGroups": [""], "resources": [f"nodes/{sub}"], "verbs": [verb]} for verb, sub in rules],
        }
        upper.apply([resources])
        upper.kubectl(
            "create", "clusterrolebinding", role, f"--clusterrole={role}", f"--serviceaccount={namespace}:{account}"
        )
        for verb, sub in rules:
            can_i = ["auth", "can-i", verb, "nodes", f"--subresource={sub}", f"--as={user}"]
            wait_for(
                lambda can_i=can_i: upper.kubectl(*can_i, check=False).strip() == "yes",
                timeout=30,
                what=f"RBAC letting {user} {verb} nodes/{sub}",
            )
    return upper.kubectl("create", "token", account, "-n", namespace).strip()


# -- --client-ca-file --authorize ------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), STREAMING)
def test_no_certificate_and_no_token_is_401(
    authorizing: ProviderProcess, mirrored: str, namespace: str, method: str, path: str
) -> None:
    assert call(authorizing, method, path.format(ns=namespace, pod=mirrored)) == (401, b"Unauthorized\n")


def test_a_certificate_of_another_ca_fails_the_handshake(
    authorizing: ProviderProcess, mirrored: str, namespace: str, stranger: tuple[Path, Path]
) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)):
        call(authorizing, "GET", f"/containerLogs/{namespace}/{mirrored}/app", cert=stranger)


def test_a_service_account_without_rbac_is_403(
    authorizing: ProviderProcess, upper: clusters.Cluster, mirrored: str, namespace: str
) -> None:
    token = _token_of(upper, namespace, "nobody")
    status, body = call(authorizing, "GET", f"/containerLogs/{namespace}/{mirrored}/app", token=token)
    user = f"system:serviceaccount:{namespace}:nobody"
    assert (status, body.decode()) == (403, f"Forbidden (user={user}, verb=get, resource=nodes, subresource=proxy)\n")
    assert token not in authorizing.logs()


def test_nodes_proxy_get_reads_logs(
    authorizing: ProviderProcess, upper: clusters.Cluster, mirrored: str, namespace: str
) -> None:
    token = _token_of(upper, namespace, "reader", ("get", "proxy"))
    assert call(authorizing, "GET", f"/containerLogs/{namespace}/{mirrored}/app", token=token) == (200, ALL_LINES)
    # get is not create: exec (a POST) stays forbidden
    assert call(authorizing, "POST", f"/exec/{namespace}/{mirrored}/app?command=true", token=token)[0] == 403


def test_nodes_metrics_get_passes_for_metrics_only(
    authorizing: ProviderProcess, upper: clusters.Cluster, mirrored: str, namespace: str
) -> None:
    token = _token_of(upper, namespace, "scraper", ("get", "metrics"))
    status, _ = call(authorizing, "GET", "/metrics/resource", token=token)
    assert status not in (401, 403), status  # 404 until /metrics/resource is served, then 200
    assert call(authorizing, "GET", f"/containerLogs/{namespace}/{mirrored}/app", token=token)[0] == 403


def test_the_upper_api_server_still_reads_logs_and_execs(
    authorizing: ProviderProcess, upper: clusters.Cluster, mirrored: str, namespace: str
) -> None:
    assert upper.kubectl("logs", "-n", namespace, mirrored).encode() == ALL_LINES
    done = subprocess.run(
        [str(upper.bins.kubectl), "--kubeconfig", str(upper.kubeconfig), "exec", "-n", namespace, mirrored, "--",
         "sh", "-c", "echo authorized"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (0, "authorized\n"), done


def test_the_upper_api_server_certificate_is_reviewed_as_its_subject(
    authorizing: ProviderProcess, upper: clusters.Cluster, mirrored: str, namespace: str
) -> None:
    cert = (upper.pki / "admin.crt", upper.pki / "admin.key")
    assert call(authorizing, "GET", f"/containerLogs/{namespace}/{mirrored}/app", cert=cert) == (200, ALL_LINES)


# -- --client-ca-file only -------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), STREAMING)
def test_without_authorize_no_certificate_is_refused_at_the_handshake(
    certificates_only: ProviderProcess, namespace: str, method: str, path: str
) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)):
        call(certificates_only, method, path.format(ns=namespace, pod="any"), token="a-token-does-not-help")


@pytest.mark.parametrize(("method", "path"), STREAMING)
def test_without_authorize_a_certificate_of_another_ca_is_refused_at_the_handshake(
    certificates_only: ProviderProcess, namespace: str, stranger: tuple[Path, Path], method: str, path: str
) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)):
        call(certificates_only, method, path.format(ns=namespace, pod="any"), cert=stranger)


def test_without_authorize_the_upper_api_server_certificate_passes(
    certificates_only: ProviderProcess, upper: clusters.Cluster
) -> None:
    assert call(certificates_only, "GET", "/healthz", cert=(upper.pki / "admin.crt", upper.pki / "admin.key")) == (
        200,
        b"ok\n",
    )


# -- start-up ------------------------------------------------------------------------------------


def test_a_provider_on_0_0_0_0_without_client_ca_exits_with_one_line(
    upper: clusters.Cluster, lower_a: clusters.Cluster
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "provider", "run", "--kubeconfig", str(upper.kubeconfig),
         "--client-kubeconfig", str(lower_a.kubeconfig), "--nodename", "vk-never", "--kubelet-address", "0.0.0.0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: --kubelet-address 0.0.0.0 without --client-ca-file: "), done.stderr
    assert not upper.kubectl("get", "node", "vk-never", "--ignore-not-found").strip(), "nothing was registered"
