"""The scheduler extender on real clusters: a real kube-scheduler calls it, two providers publish.

Lower A: twelve nodes of 1.5 CPU (18 CPU free in all, never 2 on one node); lower B: one node of
2 CPU labelled ``disk=ssd``. Upstairs vk-a advertises 18 CPU and vk-b 2, so the stock scheduler
prefers vk-a for a 2-CPU pod, where it can never run. Pods naming ``tensile-extended`` go through
the second kube-scheduler, which calls the extender; the others through the cluster's own one.
The extender runs as the ServiceAccount of cronjobs/extender/rbac.yaml and serves the certificate
of the Secret it creates, which kube-scheduler trusts, as the shipped manifests do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from descheduler import keys
from tests.cluster import clusters
from tests.e2e.support import webhooks
from tests.e2e.support.extender import (
    SCHEDULER_NAME,
    SECRET_NAMESPACE,
    ExtendedScheduler,
    ExtenderProcess,
    extender_pki,
)
from tests.e2e.support.providers import ProviderProcess, wait_for

NS = "fit"
ROOT = Path(__file__).resolve().parents[2]
RBAC = ROOT / "cronjobs" / "extender" / "rbac.yaml"
SECRET = "tensile-extender-tls"


@dataclass(frozen=True)
class Setup:
    upper: clusters.Cluster
    lower_a: clusters.Cluster
    lower_b: clusters.Cluster
    vk_a: ProviderProcess
    vk_b: ProviderProcess
    extender: ExtenderProcess
    scheduler: ExtendedScheduler


@pytest.fixture(scope="module")
def setup(
    control_plane_binaries: object, clusters_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    specs = [
        clusters.ClusterSpec("fit-upper"),
        clusters.ClusterSpec("fit-lower-a", clusters.default_lower_nodes("fa", 12, cpu="1500m")),
        clusters.ClusterSpec("fit-lower-b", (clusters.NodeSpec("fb-node-0", cpu="2", labels={"disk": "ssd"}),)),
    ]
    started = clusters.start_clusters(specs, root=clusters_root / "extender")
    upper, lower_a, lower_b = started["fit-upper"], started["fit-lower-a"], started["fit-lower-b"]
    work = tmp_path_factory.mktemp("extender")
    vk_a = ProviderProcess(upper, lower_a, "vk-a", work)
    vk_b = ProviderProcess(upper, lower_b, "vk-b", work)
    upper.kubectl("create", "namespace", SECRET_NAMESPACE)
    upper.kubectl("apply", "-f", str(RBAC))
    account = webhooks.service_account_kubeconfig(upper, SECRET_NAMESPACE, "tensile-extender", work / "sa.kubeconfig")
    extender = ExtenderProcess(upper, extender_pki(work / "pki"), work, tls_secret=SECRET, kubeconfig=account)
    scheduler = ExtendedScheduler(upper, extender, work)
    processes = (vk_a, vk_b, extender, scheduler)
    try:
        for process in processes:
            process.start()
            if process is extender:
                extender.export_secret_certificate()
        vk_a.wait_ready()
        vk_b.wait_ready()
        upper.kubectl("create", "namespace", NS)
        yield Setup(upper, lower_a, lower_b, vk_a, vk_b, extender, scheduler)
    finally:
        for process in reversed(processes):
            process.terminate()
        clusters.stop_clusters(started.values())


def pod(name: str, cpu: str, *, extended: bool = True, stash: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "nodeSelector": {keys.VIRTUAL_NODE_TYPE_LABEL: keys.VIRTUAL_NODE_TYPE_VALUE},
        "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists", "effect": "NoSchedule"}],
        "containers": [{"name": "app", "image": "nginx:1.27", "resources": {"requests": {"cpu": cpu}}}],
        "terminationGracePeriodSeconds": 0,
    }
    if extended:
        spec["schedulerName"] = SCHEDULER_NAME
    annotations = {keys.STASHED_CONSTRAINTS_ANNOTATION: json.dumps(stash)} if stash else {}
    meta = {"name": name, "namespace": NS, "annotations": annotations}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def get_pod(cluster: clusters.Cluster, name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(cluster.kubectl("get", "pod", name, "-n", NS, "-o", "json"))
    return found


def bound_to(cluster: clusters.Cluster, name: str, timeout: float = 30.0) -> str:
    found: list[str] = []

    def bound() -> bool:
        found[:] = [get_pod(cluster, name)["spec"].get("nodeName") or ""]
        return bool(found[0])

    wait_for(bound, timeout=timeout, what=f"pod {name} bound")
    return found[0]


def running_upstairs(cluster: clusters.Cluster, name: str, lower: clusters.Cluster | None = None) -> None:
    try:
        wait_for(lambda: get_pod(cluster, name)["status"].get("phase") == "Running", timeout=60, what=f"{name} Running")
    except AssertionError:
        below = lower.kubectl("get", "pod", name, "-n", NS, "-o", "yaml") if lower is not None else ""
        raise AssertionError(f"{name} not Running upstairs:\n{get_pod(cluster, name)['status']}\n{below}") from None


def delete(cluster: clusters.Cluster, *names: str) -> None:
    cluster.kubectl("delete", "pod", "-n", NS, "--ignore-not-found", "--wait=true", "--timeout=60s", *names)


def summaries_published(setup: Setup) -> None:
    def both() -> bool:
        out = setup.upper.kubectl("get", "leases", "-n", "kube-node-lease", "-l", keys.FIT_SUMMARY_LABEL, "-o", "name")
        return len(out.split()) == 2

    wait_for(both, timeout=30, what="both fit summaries published")


def test_a_two_cpu_pod_goes_to_the_cluster_with_one_node_that_fits_and_without_the_extender_it_sticks(
    setup: Setup,
) -> None:
    upper = setup.upper
    summaries_published(setup)
    upper.apply([pod("with-extender", "2")])
    assert bound_to(upper, "with-extender") == "vk-b", "the extender struck out vk-a: no lower A node has 2 CPU"
    running_upstairs(upper, "with-extender", setup.lower_b)
    delete(upper, "with-extender")

    upper.apply([pod("without-extender", "2", extended=False)])
    assert bound_to(upper, "without-extender") == "vk-a", "the stock scheduler prefers vk-a's 18 CPU"
    time.sleep(3)
    below = get_pod(setup.lower_a, "without-extender")
    assert not below["spec"].get("nodeName"), "no lower A node can take it: it sticks"
    assert get_pod(upper, "without-extender")["status"].get("phase") == "Pending"
    delete(upper, "without-extender")


def test_a_pod_no_lower_node_can_hold_stays_pending_with_the_extenders_reason(setup: Setup) -> None:
    upper = setup.upper
    summaries_published(setup)
    upper.apply([pod("huge", "16")])

    def reason() -> str:
        out = upper.kubectl(
            "get", "events", "-n", NS, "--field-selector", "involvedObject.name=huge,reason=FailedScheduling",
            "-o", "jsonpath={.items[*].message}",
        )  # fmt: skip
        return out

    wait_for(lambda: "no node can ever hold cpu 16" in reason(), timeout=30, what="FailedScheduling with the reason")
    assert "vk-a: no node can ever hold cpu 16 (largest allocatable: 1500m)" in reason(), reason()
    assert not get_pod(upper, "huge")["spec"].get("nodeName")
    delete(upper, "huge")


def test_a_pod_whose_stashed_node_selector_matches_only_lower_b_goes_to_vk_b(setup: Setup) -> None:
    upper = setup.upper
    summaries_published(setup)
    upper.apply([pod("ssd", "100m", stash={"nodeSelector": {"disk": "ssd"}})])
    assert bound_to(upper, "ssd") == "vk-b"
    running_upstairs(upper, "ssd", setup.lower_b)
    delete(upper, "ssd")


def fallbacks(extender: ExtenderProcess, why: str) -> float:
    prefix = f'tensile_extender_fallbacks_total{{why="{why}"}} '
    return sum(float(line[len(prefix) :]) for line in extender.metrics().splitlines() if line.startswith(prefix))


def test_scheduling_goes_on_without_the_extender_and_a_silent_provider_lets_its_node_pass(setup: Setup) -> None:
    upper = setup.upper
    summaries_published(setup)
    trusted = setup.extender.trusted_ca.read_bytes()
    setup.extender.kill()
    upper.apply([pod("extender-down", "100m")])
    assert bound_to(upper, "extender-down", timeout=60) in ("vk-a", "vk-b"), "ignorable: scheduling goes on"
    delete(upper, "extender-down")

    setup.extender.start()
    wait_for(lambda: b"ok" in _health(setup.extender), timeout=30, what="extender back")
    assert setup.extender.export_secret_certificate() == trusted, "the restart serves the Secret's certificate again"
    upper.apply([pod("extender-back", "2")])
    assert bound_to(upper, "extender-back") == "vk-b", "decisions resume"
    delete(upper, "extender-back")

    setup.vk_a.kill()
    time.sleep(3)  # its summary is no longer renewed: stale after 2 s
    upper.apply([pod("provider-down", "16")])
    assert bound_to(upper, "provider-down") == "vk-a", "an unknown lower cluster passes"
    assert fallbacks(setup.extender, "stale") >= 1
    delete(upper, "provider-down")
    setup.vk_a.start()


def test_a_second_replica_serves_the_same_certificate_from_the_secret_under_least_privilege(
    setup: Setup, tmp_path: Path
) -> None:
    replica = ExtenderProcess(
        setup.upper, setup.extender.pki, tmp_path, tls_secret=SECRET, kubeconfig=setup.extender.kubeconfig
    )
    replica.start()
    try:
        wait_for(lambda: b"ok" in _health(replica, trust=setup.extender.trusted_ca), timeout=30, what="replica up")
    finally:
        replica.terminate()
    cert = x509.load_pem_x509_certificate(setup.extender.trusted_ca.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "tensile-extender.tensile-system.svc" in names.get_values_for_type(x509.DNSName)
    runs = [log for where in (setup.extender.log_dir, tmp_path) for log in where.glob("extender-*.log")]
    logs = "".join(log.read_text() for log in runs)
    assert "new certificate" in logs, "the first replica created the Secret"
    assert "403" not in logs and "Forbidden" not in logs, "the ServiceAccount of cronjobs/extender/rbac.yaml suffices"


def _health(extender: ExtenderProcess, *, trust: Path | None = None) -> bytes:
    import ssl
    import urllib.request

    context = ssl.create_default_context(cafile=str(trust or extender.trusted_ca))
    context.load_cert_chain(str(extender.pki.client_cert), str(extender.pki.client_key))
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{extender.port}/healthz", context=context, timeout=5) as r:
            return bytes(r.read())
    except OSError:
        return b""
