"""The provider with ONLY cronjobs/provider/lower/rbac.yaml in its lower cluster: enough for everything it does.

A private upper and lower cluster. ``lower-rbac.yaml`` is applied in the lower one, and the provider's
``--client-kubeconfig`` is a kubeconfig around a token of its ServiceAccount (``kubectl create token``),
as the manifest's header tells an operator to build it. With ``--reflect endpoints`` too, so that rule is
used. Then, through the upper cluster only: a Deployment bound to the virtual node runs, its ConfigMap
and Secret are copied below, a label added upstairs is patched onto the mirror, ``kubectl logs``,
``exec`` and ``port-forward`` reach the mirror, a Service is reflected below with its EndpointSlices
(and legacy Endpoints), deleting the Deployment removes the mirrors and the copies, and the provider
never met a 403. Not covered: nodes/proxy (``kubectl top``), which needs the kwok nodes on a non-loopback
address (see test_kubectl_top.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from descheduler import keys
from tests.cluster import clusters
from tests.e2e.support import streaming
from tests.e2e.support.providers import ProviderProcess, pods, running, virtual_deployment, wait_for
from tests.e2e.test_port_forward import SIZE, Backend, PortForward, answer_to

ROOT = Path(__file__).resolve().parents[2]
LOWER_RBAC = ROOT / "cronjobs" / "provider" / "lower" / "rbac.yaml"
ACCOUNT_NAMESPACE = "tensile-system"
ACCOUNT = "tensile-virtual-node"
USERNAME = f"system:serviceaccount:{ACCOUNT_NAMESPACE}:{ACCOUNT}"
NODE = "vk-rbac"
NS = "shop"
COPIES = (("configmap", "settings"), ("secret", "token"))
FORBIDDEN = re.compile(r"forbidden|(?<![\d.,:])403(?!\d)", re.IGNORECASE)
"""What a refusal by RBAC looks like in the provider's log ("403 Forbidden: ... is forbidden: ...");
a 403 inside a number (a resourceVersion, the milliseconds of a timestamp) is not one."""


def rbac_docs() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(LOWER_RBAC.read_text()) if d]


def cluster_role() -> dict[str, Any]:
    (role,) = [d for d in rbac_docs() if d["kind"] == "ClusterRole"]
    return role


def service_account_kubeconfig(lower: clusters.Cluster, path: Path) -> Path:
    """A kubeconfig for the ServiceAccount's token, as lower-rbac.yaml's header builds it."""
    token = lower.kubectl("create", "token", ACCOUNT, "-n", ACCOUNT_NAMESPACE, "--duration", "2h").strip()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "lower",
                "cluster": {"server": lower.apiserver_url, "certificate-authority": str(lower.pki / "ca.crt")},
            }
        ],
        "users": [{"name": ACCOUNT, "user": {"token": token}}],
        "contexts": [{"name": "lower", "context": {"cluster": "lower", "user": ACCOUNT}}],
        "current-context": "lower",
    }
    path.write_text(yaml.safe_dump(config))
    return path


@dataclass
class LeastPrivilegedProvider(ProviderProcess):
    """A provider whose lower kubeconfig is the ServiceAccount's, not the cluster admin's."""

    lower_kubeconfig: Path = Path()

    def command(self) -> list[str]:
        command = super().command()
        command[command.index("--client-kubeconfig") + 1] = str(self.lower_kubeconfig)
        return command


@dataclass(frozen=True)
class Setup:
    upper: clusters.Cluster
    lower: clusters.Cluster
    provider: LeastPrivilegedProvider
    kubeconfig: Path


@pytest.fixture(scope="module")
def setup(
    control_plane_binaries: object, clusters_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    specs = [
        clusters.ClusterSpec("rbac-upper"),
        clusters.ClusterSpec("rbac-lower", clusters.default_lower_nodes("rl", 2)),
    ]
    started = clusters.start_clusters(specs, root=clusters_root / "lower-rbac")
    upper, lower = started["rbac-upper"], started["rbac-lower"]
    work = tmp_path_factory.mktemp("lower-rbac")
    provider: LeastPrivilegedProvider | None = None
    try:
        lower.kubectl("apply", "-f", str(LOWER_RBAC))
        kubeconfig = service_account_kubeconfig(lower, work / "lower-sa.yaml")
        provider = LeastPrivilegedProvider(
            upper, lower, NODE, work, extra_args=["--reflect", "endpoints"], lower_kubeconfig=kubeconfig
        )
        provider.start()
        provider.wait_ready()
        yield Setup(upper, lower, provider, kubeconfig)
    finally:
        if provider is not None:
            provider.terminate()
        clusters.stop_clusters(started.values())


@pytest.fixture(scope="module")
def shop(setup: Setup) -> list[dict[str, Any]]:
    """Namespace shop upstairs: ConfigMap ``settings``, Secret ``token``, Deployment ``web`` (2 replicas
    mounting both) on the virtual node, Service ``web`` selecting it; the upper pods once both run."""
    upper = setup.upper
    upper.kubectl("create", "namespace", NS)
    settings: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": NS},
    }
    token: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "token", "namespace": NS}}
    volumes = {
        "volumes": [
            {"name": "settings", "configMap": {"name": "settings"}},
            {"name": "token", "secret": {"secretName": "token"}},
        ]
    }
    spec = {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    web: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": NS},
        "spec": spec,
    }
    deployment = virtual_deployment("web", NS, 2, NODE, extra_spec=volumes)
    settings["data"] = {"colour": "blue"}
    token["stringData"] = {"t": "s3cret"}
    upper.apply([settings, token, deployment, web])
    wait_for(lambda: len(running(pods(upper, NS))) == 2, timeout=90, what="web Running upstairs")
    return running(pods(upper, NS))


def lower_get(lower: clusters.Cluster, kind: str, name: str) -> dict[str, Any] | None:
    out = lower.kubectl("get", kind, name, "-n", NS, "-o", "json", "--ignore-not-found")
    return json.loads(out) if out.strip() else None


def lower_slice_addresses(lower: clusters.Cluster) -> set[str]:
    out = lower.kubectl("get", "endpointslices", "-n", NS, "-l", "kubernetes.io/service-name=web", "-o", "json")
    return {a for s in json.loads(out)["items"] for e in s.get("endpoints") or () for a in e["addresses"]}


# -- the manifest ------------------------------------------------------------------------------


def test_the_lower_role_names_every_group_resource_and_verb() -> None:
    rules = cluster_role()["rules"]
    assert rules
    for rule in rules:
        assert "*" not in rule["apiGroups"] + rule["resources"] + rule["verbs"], rule
        assert not {"deletecollection", "escalate", "bind", "impersonate"} & set(rule["verbs"]), rule
    (binding,) = [d for d in rbac_docs() if d["kind"] == "ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == cluster_role()["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": ACCOUNT_NAMESPACE}]


def test_the_provider_talks_to_the_lower_cluster_as_the_service_account_only(setup: Setup) -> None:
    who = json.loads(setup.lower.kubectl("--kubeconfig", str(setup.kubeconfig), "auth", "whoami", "-o", "json"))
    assert who["status"]["userInfo"]["username"] == USERNAME
    as_account = ["auth", "can-i", f"--as={USERNAME}", "--all-namespaces"]
    assert setup.lower.kubectl(*as_account, "create", "pods").strip() == "yes"
    for verb, resource in [
        ("create", "deployments.apps"),
        ("patch", "nodes"),
        ("create", "clusterroles.rbac.authorization.k8s.io"),
    ]:
        assert setup.lower.kubectl(*as_account, verb, resource, check=False).strip() == "no", (verb, resource)


# -- everything the provider does, with only those rules ----------------------------------------


def test_the_deployment_runs_mirrored_with_its_configmap_and_secret_copied(
    setup: Setup, shop: list[dict[str, Any]]
) -> None:
    mirrors = running(pods(setup.lower, NS))
    assert {p["metadata"]["name"] for p in mirrors} == {p["metadata"]["name"] for p in shop}
    assert {p["status"]["podIP"] for p in mirrors} == {p["status"]["podIP"] for p in shop}
    copy = lower_get(setup.lower, "configmap", "settings")
    assert copy is not None and copy["data"] == {"colour": "blue"}
    assert copy["metadata"]["labels"][keys.UPPER_CLUSTER_LABEL] == "upper"
    secret = lower_get(setup.lower, "secret", "token")
    assert secret is not None and secret["data"] == {"t": "czNjcmV0"}


def test_kubectl_logs_and_exec_upstairs_reach_the_mirror(setup: Setup, shop: list[dict[str, Any]]) -> None:
    name = shop[0]["metadata"]["name"]
    assert setup.upper.kubectl("logs", "-n", NS, name).splitlines() == list(clusters.LOG_LINES)
    done = streaming.Kubectl(setup.upper).exec((NS, name), "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (done.stdout, done.stderr.decode().splitlines()[:1], done.returncode) == (b"out\n", ["err"], 3), done


def test_kubectl_port_forward_upstairs_reaches_the_mirror(setup: Setup, shop: list[dict[str, Any]]) -> None:
    backend = Backend(setup.lower.forward_port)
    forward = PortForward(setup.upper, NS, shop[0]["metadata"]["name"])
    try:
        data = bytes(range(256)) * (SIZE // 256)
        assert forward.exchange(data) == answer_to(data)
    finally:
        forward.stop()
        backend.close()


def test_the_service_is_reflected_with_its_endpoint_slices_and_endpoints(
    setup: Setup, shop: list[dict[str, Any]]
) -> None:
    ips = {p["status"]["podIP"] for p in shop}
    wait_for(lambda: lower_slice_addresses(setup.lower) == ips, timeout=30, what="the lower slices of web")
    service = lower_get(setup.lower, "service", "web")
    assert service is not None and "selector" not in service["spec"]
    assert [p["port"] for p in service["spec"]["ports"]] == [80]
    endpoints = lower_get(setup.lower, "endpoints", "web")
    assert endpoints is not None
    assert {a["ip"] for s in endpoints.get("subsets") or () for a in s.get("addresses") or ()} == ips


def test_a_label_added_upstairs_is_patched_onto_the_mirror(setup: Setup, shop: list[dict[str, Any]]) -> None:
    name = shop[0]["metadata"]["name"]
    setup.upper.kubectl("label", "pod", name, "-n", NS, "tier=front")

    def labelled() -> bool:
        mirror = lower_get(setup.lower, "pod", name)
        return mirror is not None and mirror["metadata"].get("labels", {}).get("tier") == "front"

    wait_for(labelled, timeout=30, what="the label on the mirror")


def test_deleting_the_deployment_removes_the_mirrors(setup: Setup, shop: list[dict[str, Any]]) -> None:
    setup.upper.kubectl("delete", "deployment", "web", "-n", NS)
    wait_for(lambda: not pods(setup.lower, NS), timeout=60, what="the mirrors deleted below")
    wait_for(lambda: not pods(setup.upper, NS), timeout=60, what="the upper pods gone")
    # The namespace's last mirror gone: the copies go too.
    wait_for(lambda: lower_get(setup.lower, "service", "web") is None, timeout=30, what="the Service copy gone")

    def copies_gone() -> bool:
        return all(lower_get(setup.lower, kind, name) is None for kind, name in COPIES)

    wait_for(copies_gone, timeout=30, what="the ConfigMap and Secret copies gone (at the next resync)")


def test_the_provider_was_never_refused(setup: Setup, shop: list[dict[str, Any]]) -> None:
    logs = setup.provider.logs()
    assert "virtual node" in logs, logs[-2000:]
    refused = [line for line in logs.splitlines() if FORBIDDEN.search(line)]
    assert not refused, "\n".join(refused[:20])
