"""Run ``tensile-virtual-node webhook`` as a real process and register it with a real kube-apiserver.

The apiserver of the test clusters runs on 127.0.0.1, so it reaches the webhook through
``clientConfig.url: https://127.0.0.1:<port>/mutate-pods``; the caBundle is the certificate the
process actually serves (read over TLS), whichever way it got it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.cluster import clusters
from tests.cluster.ports import free_port
from tests.e2e.support.providers import RestartableProcess, wait_for

MUTATE_PATH = "/mutate-pods"
SYSTEM_NAMESPACES = ("kube-system", "kube-node-lease", "tensile-system")
SKIP_LABEL = "tensile.io/admission"


@dataclass
class WebhookProcess(RestartableProcess):
    """One webhook process on 127.0.0.1 with a free port; restartable and killable like a real one.

    Without extra TLS flags it serves a per-process self-signed certificate naming 127.0.0.1.
    ``kubeconfig`` defaults to the cluster's admin kubeconfig (pass a service account's to test RBAC).
    """

    cluster: clusters.Cluster
    name: str
    log_dir: Path
    extra_args: list[str] = field(default_factory=list)
    kubeconfig: Path | None = None
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: Any = None

    @property
    def log_name(self) -> str:
        return self.name

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "provider", "webhook",
            "--kubeconfig", str(self.kubeconfig or self.cluster.kubeconfig),
            "--listen-address", "127.0.0.1",
            "--port", str(self.port),
            "--tls-san", "127.0.0.1",
            *self.extra_args,
        ]  # fmt: skip

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}{MUTATE_PATH}"

    def healthz(self) -> int:
        """The /healthz status code, 0 when nothing answers (the certificate is not checked here)."""
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{self.port}/healthz", context=context, timeout=5) as r:
                return int(r.status)
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until /healthz is 200: serving, and the virtual nodes are listed."""
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"webhook {self.name} exited {self.proc.returncode}\n{self.logs()[-3000:]}")
        wait_for(
            lambda: self.healthz() == 200, timeout=timeout, what=f"webhook {self.name} ready\n{self.logs()[-3000:]}"
        )

    def serving_cert(self) -> bytes:
        """The PEM certificate the process serves right now."""
        return ssl.get_server_certificate(("127.0.0.1", self.port)).encode()

    def ca_bundle(self) -> str:
        return ca_bundle(self.serving_cert())


def ca_bundle(cert_pem: bytes) -> str:
    return base64.b64encode(cert_pem).decode()


def same_cert(a: bytes, b: bytes) -> bool:
    """PEM texts may differ in line wrapping; the DER bytes are what count."""
    return ssl.PEM_cert_to_DER_cert(a.decode()) == ssl.PEM_cert_to_DER_cert(b.decode())


def webhook_configuration(
    name: str,
    *,
    url: str,
    ca_bundle: str | None,
    namespaces: Sequence[str] | None = None,
    failure_policy: str = "Ignore",
    timeout_seconds: int = 5,
) -> dict[str, Any]:
    """A MutatingWebhookConfiguration like cronjobs/webhook's, calling ``url``.

    ``namespaces`` limits it to those namespaces (tests share one cluster: keep it to your own);
    None means every namespace but the system ones, as in the manifest.
    """
    operator, values = ("NotIn", list(SYSTEM_NAMESPACES)) if namespaces is None else ("In", list(namespaces))
    selector = {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": operator, "values": values}]}
    client: dict[str, Any] = {"url": url}
    if ca_bundle is not None:
        client["caBundle"] = ca_bundle
    hook = {
        "name": "pods.webhook.tensile.io",
        "clientConfig": client,
        "rules": [
            {
                "operations": ["CREATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["pods"],
                "scope": "Namespaced",
            }
        ],
        "failurePolicy": failure_policy,
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": timeout_seconds,
        "reinvocationPolicy": "Never",
        "namespaceSelector": selector,
        "objectSelector": {"matchExpressions": [{"key": SKIP_LABEL, "operator": "NotIn", "values": ["skip"]}]},
    }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [hook],
    }


def register(
    cluster: clusters.Cluster,
    name: str,
    *,
    url: str,
    ca_bundle: str | None,
    namespaces: Sequence[str] | None = None,
    failure_policy: str = "Ignore",
) -> dict[str, Any]:
    """Create (or replace) the MutatingWebhookConfiguration ``name``; remember to :func:`unregister` it."""
    config = webhook_configuration(
        name, url=url, ca_bundle=ca_bundle, namespaces=namespaces, failure_policy=failure_policy
    )
    cluster.kubectl("apply", "-f", "-", input_text=json.dumps(config))
    return config


def unregister(cluster: clusters.Cluster, name: str) -> None:
    cluster.kubectl("delete", "mutatingwebhookconfiguration", name, "--ignore-not-found", "--wait=false")


@contextlib.contextmanager
def registered(
    cluster: clusters.Cluster,
    name: str,
    *,
    url: str,
    ca_bundle: str | None,
    namespaces: Sequence[str] | None = None,
    failure_policy: str = "Ignore",
) -> Iterator[dict[str, Any]]:
    """:func:`register` for the duration of a block; deleted afterwards, also on failure."""
    try:
        yield register(
            cluster, name, url=url, ca_bundle=ca_bundle, namespaces=namespaces, failure_policy=failure_policy
        )
    finally:
        unregister(cluster, name)


def configured_ca_bundles(cluster: clusters.Cluster, name: str) -> list[str]:
    config = json.loads(cluster.kubectl("get", "mutatingwebhookconfiguration", name, "-o", "json"))
    return [hook.get("clientConfig", {}).get("caBundle", "") for hook in config["webhooks"]]


def admitted(cluster: clusters.Cluster, pod: dict[str, Any]) -> dict[str, Any] | None:
    """``pod`` as the apiserver would store it after admission (server-side dry run: nothing is created).

    None when the apiserver refuses it (e.g. the namespace's default ServiceAccount does not exist yet).
    """
    try:
        out = cluster.kubectl("create", "--dry-run=server", "-o", "json", "-f", "-", input_text=json.dumps(pod))
    except clusters.ClusterError:
        return None
    result: dict[str, Any] = json.loads(out)
    return result


def not_in_hostnames(pod: dict[str, Any]) -> list[list[str]]:
    """The ``kubernetes.io/hostname NotIn`` values of each required node-affinity term of ``pod``."""
    required = (
        pod.get("spec", {})
        .get("affinity", {})
        .get("nodeAffinity", {})
        .get("requiredDuringSchedulingIgnoredDuringExecution", {})
    )
    return [
        list(e["values"])
        for term in required.get("nodeSelectorTerms", [])
        for e in term.get("matchExpressions", [])
        if e["key"] == "kubernetes.io/hostname" and e["operator"] == "NotIn"
    ]


def service_account_kubeconfig(cluster: clusters.Cluster, namespace: str, account: str, path: Path) -> Path:
    """A kubeconfig acting as ServiceAccount ``namespace/account`` (a fresh token), written to ``path``."""
    token = cluster.kubectl("create", "token", account, "-n", namespace, "--duration", "2h").strip()
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    for user in config["users"]:
        user["user"] = {"token": token}
    path.write_text(yaml.safe_dump(config))
    return path
