"""The stock ``kubectl top pod`` and ``kubectl top node`` on an upper cluster that runs a real metrics-server,
for pods mirrored through the virtual node.

The upper cluster is private to this module: kwokctl runs metrics-server v0.8.0 in it
(:mod:`tests.cluster.metrics_server`), registered as metrics.k8s.io through the aggregation layer.
metrics-server scrapes the virtual node's ``/metrics/resource`` at its InternalIP and
``daemonEndpoints`` port every 15 s, as it scrapes any kubelet, and presents kwokctl's admin client
certificate (signed by the upper cluster's CA, the certificate kube-apiserver presents to kubelets too).
So the provider runs as an operator would run it, nothing insecure: ``--client-ca-file`` with that CA
(only the API server and metrics-server get through the handshake), ``--authorize`` (each caller is then
checked by a SubjectAccessReview on ``nodes/metrics``, ``nodes/proxy``... of the virtual node, as a
kubelet checks it), and a serving certificate for its address that metrics-server verifies
(``--kubelet-certificate-authority``, kwokctl's ``--kubelet-insecure-tls`` turned off).

The lower cluster is private too: its kwok nodes listen on this machine's global address, because the
lower API server's node proxy, through which the provider reads the lower kubelets' resource metrics,
refuses loopback (as in test_kubectl_top_metrics.py). kwok emulates the pods' usage from their
``kwok.x-k8s.io/usage-*`` annotations, which the mirrors carry from the upper pods.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from provider.serving import tls
from tests.cluster import clusters, metrics_server, ports
from tests.e2e.support.providers import ProviderProcess, pods, ready_provider, running, virtual_deployment, wait_for

NODE = "vk-top-real"
USAGE = {clusters.USAGE_CPU_ANNOTATION: "250m", clusters.USAGE_MEMORY_ANNOTATION: "64Mi"}
CPU_MILLICORES = 250
MEMORY_MIB = 64
# metrics-server computes CPU from two scrapes 15 s apart (--metric-resolution) of kwok's emulated
# counter; the first scrape of a pod only starts the counter, so a pod shows after two or three scrapes.
TOP_TIMEOUT = 90.0

Lines = dict[str, list[str]]
"""``kubectl top`` output: the first column -> the others."""


@pytest.fixture(scope="module")
def address() -> str:
    return ports.global_address()


@pytest.fixture(scope="module")
def serving(address: str, tmp_path_factory: pytest.TempPathFactory) -> tls.CertFiles:
    """The provider's serving pair for its address; metrics-server trusts this certificate as its kubelet CA."""
    cert_pem, key_pem = tls.self_signed(NODE, ip_addresses=[address], dns_names=[NODE])
    directory = tmp_path_factory.mktemp("top-serving")
    files = tls.CertFiles(directory / "tls.crt", directory / "tls.key")
    files.cert.write_bytes(cert_pem)
    files.key.write_bytes(key_pem)
    return files


@pytest.fixture(scope="module")
def upper_top(
    control_plane_binaries: object, clusters_root: Path, serving: tls.CertFiles
) -> Iterator[clusters.Cluster]:
    verify = (("kubelet-insecure-tls", "false"), ("kubelet-certificate-authority", str(serving.cert)))
    spec = clusters.ClusterSpec("upper-top", metrics_server=True, metrics_server_args=verify)
    with clusters.running(spec, root=clusters_root / "upper-top") as started:
        yield started


@pytest.fixture(scope="module")
def lower_top(control_plane_binaries: object, clusters_root: Path, address: str) -> Iterator[clusters.Cluster]:
    spec = clusters.ClusterSpec("lower-top-real", clusters.default_lower_nodes("r", 2), kwok_address=address)
    with clusters.running(spec, root=clusters_root / "lower-top-real") as started:
        yield started


@pytest.fixture(scope="module")
def provider(
    upper_top: clusters.Cluster,
    lower_top: clusters.Cluster,
    address: str,
    serving: tls.CertFiles,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ProviderProcess]:
    args = [
        "--kubelet-address", address,
        "--client-ca-file", str(upper_top.pki / "ca.crt"),
        "--authorize",
        "--tls-cert-file", str(serving.cert),
        "--tls-key-file", str(serving.key),
    ]  # fmt: skip
    with ready_provider(upper_top, lower_top, NODE, tmp_path_factory.mktemp("top-real-logs"), extra_args=args) as proc:
        yield proc


@pytest.fixture(scope="module")
def namespace(provider: ProviderProcess, upper_top: clusters.Cluster) -> str:
    """Two pods bound to the virtual node, mirrored and Running, using what kwok is told."""
    name = f"top-{uuid.uuid4().hex[:6]}"
    upper_top.kubectl("create", "namespace", name)
    upper_top.apply([virtual_deployment("busy", name, 2, NODE, annotations=USAGE)])
    wait_for(lambda: len(running(pods(upper_top, name))) == 2, timeout=90, what="the mirrored pods running")
    return name


def cores_in_millis(text: str) -> float:
    """``kubectl top``'s CPU column (``250m``, ``1``) in millicores."""
    return float(text[:-1]) if text.endswith("m") else float(text) * 1000


def mebibytes(text: str) -> float:
    assert text.endswith("Mi"), f"memory {text!r} not in Mi"
    return float(text[:-2])


def top_lines(cluster: clusters.Cluster, *args: str) -> Lines:
    """``kubectl top ... --no-headers`` by first column; empty while metrics-server has nothing yet."""
    done = cluster.kubectl("top", *args, "--no-headers", check=False)
    return {fields[0]: fields[1:] for fields in (line.split() for line in done.splitlines()) if fields}


def wait_top(cluster: clusters.Cluster, provider: ProviderProcess, until: Callable[[Lines], bool], *args: str) -> Lines:
    """``kubectl top ARGS`` once ``until`` holds; on a timeout, what metrics-server and the provider said."""
    found: Lines = {}

    def complete() -> bool:
        found.clear()
        found.update(top_lines(cluster, *args))
        return until(found)

    log = cluster.workdir / "clusters" / cluster.name / "logs" / f"{metrics_server.COMPONENT}.log"
    try:
        wait_for(complete, timeout=TOP_TIMEOUT, every=2.0, what=f"kubectl top {' '.join(args)}")
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}\nlast: {found}\nmetrics-server:\n{log.read_text()[-3000:]}\nprovider:\n{provider.logs()[-3000:]}"
        ) from None
    return found


def test_kubectl_top_pod_shows_the_mirrored_pods_with_what_kwok_emulates(
    upper_top: clusters.Cluster, provider: ProviderProcess, namespace: str
) -> None:
    names = {p["metadata"]["name"] for p in running(pods(upper_top, namespace))}
    lines = wait_top(upper_top, provider, lambda found: names <= set(found), "pod", "-n", namespace)
    assert set(lines) == names, lines
    for name in names:
        cpu, memory = lines[name]
        assert cores_in_millis(cpu) == pytest.approx(CPU_MILLICORES, rel=0.2), lines
        assert mebibytes(memory) == MEMORY_MIB, lines


def test_kubectl_top_pod_containers_names_the_container(
    upper_top: clusters.Cluster, provider: ProviderProcess, namespace: str
) -> None:
    names = {p["metadata"]["name"] for p in running(pods(upper_top, namespace))}
    lines = wait_top(upper_top, provider, lambda found: names <= set(found), "pod", "-n", namespace, "--containers")
    assert {fields[0] for fields in lines.values()} == {"app"}, lines


def test_kubectl_top_node_shows_the_virtual_node_as_the_sum_of_its_pods(
    upper_top: clusters.Cluster, provider: ProviderProcess, namespace: str
) -> None:
    # The node line may show before metrics-server has both pods in its sum: wait for their memory.
    def both_pods(found: Lines) -> bool:
        return NODE in found and mebibytes(found[NODE][2]) == 2 * MEMORY_MIB

    lines = wait_top(upper_top, provider, both_pods, "node")
    cpu, _cpu_percent, memory, _memory_percent = lines[NODE]
    assert cores_in_millis(cpu) == pytest.approx(2 * CPU_MILLICORES, rel=0.2), lines
    assert mebibytes(memory) == 2 * MEMORY_MIB, lines
