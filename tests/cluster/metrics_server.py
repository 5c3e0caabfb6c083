"""metrics-server in a test cluster, run by kwokctl (``ClusterSpec.metrics_server``), for a real ``kubectl top``.

kwokctl v0.8.0 (``pkg/kwokctl/components/metrics_server.go``, binary runtime) starts metrics-server with the
cluster's admin kubeconfig as ``--kubeconfig`` and as the delegated authn/authz kubeconfig, kwokctl's admin
pair as its serving certificate, and ``--kubelet-use-node-status-port
--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname --kubelet-insecure-tls --metric-resolution=15s``
(we add ``--bind-address=127.0.0.1``). With no ``--kubelet-client-certificate``, metrics-server presents the
credentials of its ``--kubeconfig`` to kubelets: the admin client certificate (CN ``kwok-admin``, O
``system:masters``), signed by the cluster's ``pki/ca.crt``. kube-apiserver reaches it through the aggregation
layer (kwokctl gives it ``--proxy-client-cert-file``: the same admin pair; we add the ``--requestheader-*``
flags that tell metrics-server whom a proxied request is for) by the APIService below, whose Service kwokctl
turns into an ExternalName for 127.0.0.1 and whose port it sets to metrics-server's.

kwokctl starts every component at once and restarts none: a metrics-server that asks for the
``extension-apiserver-authentication`` ConfigMap before kube-apiserver listens exits, so :func:`start_command`
starts it again once the cluster answers.

kwokctl would download upstream's components.yaml for that APIService and Service (and drop everything else
in it); here they are written locally, as a kustomize directory, which kwokctl builds with the ``kubectl`` it
finds on PATH.
"""

from __future__ import annotations

import json
from pathlib import Path

COMPONENT = "metrics-server"
API_SERVICE = "v1beta1.metrics.k8s.io"


def create_flags(binary: Path) -> list[str]:
    """``kwokctl create cluster`` flags that make it run ``binary`` as the cluster's metrics-server."""
    return ["--enable", COMPONENT, "--metrics-server-binary", str(binary)]


def component_args(extra: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """metrics-server flags added to kwokctl's (a repeated flag: the last one wins)."""
    return [("bind-address", "127.0.0.1"), *extra]


def apiserver_args(pki: Path) -> list[tuple[str, str]]:
    """kube-apiserver flags for the aggregation layer as kubeadm sets them: the front proxy's client
    certificate (kwokctl's admin, CN kwok-admin) is trusted to name the user in X-Remote-* headers."""
    return [
        ("requestheader-client-ca-file", str(pki / "ca.crt")),
        ("requestheader-allowed-names", "kwok-admin"),
        ("requestheader-username-headers", "X-Remote-User"),
        ("requestheader-group-headers", "X-Remote-Group"),
        ("requestheader-extra-headers-prefix", "X-Remote-Extra-"),
    ]


def start_command(kwokctl: Path, cluster: str) -> list[str]:
    """What starts the components of ``cluster`` that are not running (and only those)."""
    return [str(kwokctl), "start", "cluster", "--name", cluster]


def kwokctl_options(directory: Path, *, port: int) -> dict[str, object]:
    """``KwokctlConfiguration.options`` for metrics-server: its port, and the local manifests in ``directory``."""
    write_manifests(directory)
    return {"metricsServerPort": port, "metricsServerManifests": [str(directory)]}


def write_manifests(directory: Path) -> None:
    """The Service and APIService that register metrics.k8s.io, as a kustomize directory."""
    directory.mkdir(parents=True, exist_ok=True)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": COMPONENT, "namespace": "kube-system"},
        "spec": {"ports": [{"name": "https", "port": 443}]},
    }
    api_service = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": API_SERVICE},
        "spec": {
            "group": "metrics.k8s.io",
            "version": "v1beta1",
            "service": {"name": COMPONENT, "namespace": "kube-system"},
            # metrics-server serves kwokctl's admin certificate, which names 127.0.0.1 but not
            # metrics-server.kube-system.svc, the name the aggregator checks (upstream's manifest
            # skips the check too).
            "insecureSkipTLSVerify": True,
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
        },
    }
    (directory / "service.json").write_text(json.dumps(service))
    (directory / "apiservice.json").write_text(json.dumps(api_service))
    kustomization = {"resources": ["service.json", "apiservice.json"]}
    (directory / "kustomization.yaml").write_text(json.dumps(kustomization))
