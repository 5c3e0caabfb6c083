"""The scheduler extender and a real kube-scheduler that calls it, as processes, for end-to-end tests.

:func:`extender_pki` writes the extender's serving pair (self-signed for 127.0.0.1, which is also
the CA kube-scheduler trusts it by) and a client CA with kube-scheduler's client certificate.
:class:`ExtenderProcess` runs ``tensile-virtual-node extender``, serving that pair or, as the shipped
manifests do, the certificate of a Secret it creates; :class:`ExtendedScheduler` runs a
second kube-scheduler in the upper cluster whose only profile, :data:`SCHEDULER_NAME`, calls the
extender as the README's KubeSchedulerConfiguration fragment says. Pods that name that scheduler
are placed with the extender, the others by the cluster's own scheduler without it.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from provider.serving import tls
from tests.cluster import clusters
from tests.cluster.ports import free_port
from tests.e2e.support.providers import RestartableProcess, wait_for
from tests.provider.kubelet.fakes import issue

SCHEDULER_NAME = "tensile-extended"
SECRET_NAMESPACE = "tensile-system"
"""Where the shipped manifests put the extender and its certificate Secret."""


@dataclass(frozen=True)
class ExtenderPki:
    """Files: the extender's serving pair, the client CA, and kube-scheduler's client pair."""

    serving_cert: Path
    serving_key: Path
    client_ca: Path
    client_cert: Path
    client_key: Path


def extender_pki(directory: Path) -> ExtenderPki:
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = tls.self_signed("tensile-extender", ip_addresses=["127.0.0.1"], dns_names=["localhost"], days=1)
    serving_cert, serving_key = directory / "serving.crt", directory / "serving.key"
    serving_cert.write_bytes(cert)
    serving_key.write_bytes(key)
    ca = issue(directory, "extender-client-ca", ca=None)
    client = issue(directory, "kube-scheduler", ca=ca)
    return ExtenderPki(serving_cert, serving_key, ca[2], client[2], client[3])


@dataclass
class ExtenderProcess(RestartableProcess):
    """``tensile-virtual-node extender`` against the upper cluster."""

    upper: clusters.Cluster
    pki: ExtenderPki
    log_dir: Path
    extra_args: list[str] = field(default_factory=list)
    tls_secret: str | None = None
    """Serve the certificate of this Secret in tensile-system (created by the extender) instead of the pki's pair."""
    kubeconfig: Path | None = None
    """Act as someone else than the cluster admin (e.g. the ServiceAccount of cronjobs/extender/rbac.yaml)."""
    port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: Any = None

    @property
    def log_name(self) -> str:
        return "extender"

    @property
    def trusted_ca(self) -> Path:
        """What kube-scheduler trusts the extender by: the pki's pair, or the Secret's certificate
        (written by :meth:`export_secret_certificate`)."""
        return self.log_dir / "extender-secret-ca.crt" if self.tls_secret else self.pki.serving_cert

    def export_secret_certificate(self, timeout: float = 30.0) -> bytes:
        """Wait for the extender to create its Secret; write its tls.crt to :attr:`trusted_ca`, as the README says."""
        assert self.tls_secret is not None
        found: list[bytes] = []

        def created() -> bool:
            out = self.upper.kubectl(
                "get", "secret", self.tls_secret or "", "-n", SECRET_NAMESPACE, "--ignore-not-found",
                "-o", r"jsonpath={.data.tls\.crt}",
            )  # fmt: skip
            found[:] = [base64.b64decode(out)] if out else []
            return bool(found)

        wait_for(created, timeout=timeout, what=f"Secret {SECRET_NAMESPACE}/{self.tls_secret} created by the extender")
        self.trusted_ca.write_bytes(found[0])
        return found[0]

    def command(self) -> list[str]:
        if self.tls_secret:
            serving = ["--tls-secret", self.tls_secret, "--service-namespace", SECRET_NAMESPACE]
            serving += ["--tls-san", "127.0.0.1"]
        else:
            serving = ["--tls-cert-file", str(self.pki.serving_cert), "--tls-key-file", str(self.pki.serving_key)]
        return [
            sys.executable, "-m", "provider", "extender",
            "--kubeconfig", str(self.kubeconfig or self.upper.kubeconfig),
            "--listen-address", "127.0.0.1",
            "--port", str(self.port),
            *serving,
            "--client-ca-file", str(self.pki.client_ca),
            "--metrics-addr", f"127.0.0.1:{self.metrics_port}",
            *self.extra_args,
        ]  # fmt: skip

    def metrics(self) -> str:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as response:
            return str(response.read().decode())


def scheduler_configuration(upper: clusters.Cluster, extender: ExtenderProcess) -> dict[str, Any]:
    """The KubeSchedulerConfiguration of the README, pointed at ``extender``."""
    return {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        # The client limits kwokctl gives the cluster's own scheduler (--disable-qps-limits), so the
        # two schedulers differ only by the extender.
        "clientConnection": {"kubeconfig": str(upper.kubeconfig), "qps": 5000, "burst": 10000},
        "leaderElection": {"leaderElect": False},
        "profiles": [{"schedulerName": SCHEDULER_NAME}],
        "extenders": [
            {
                "urlPrefix": f"https://127.0.0.1:{extender.port}",
                "filterVerb": "filter",
                "prioritizeVerb": "prioritize",
                "weight": 5,
                "nodeCacheCapable": True,
                "ignorable": True,
                "httpTimeout": "2s",
                "enableHTTPS": True,
                "tlsConfig": {
                    "certFile": str(extender.pki.client_cert),
                    "keyFile": str(extender.pki.client_key),
                    "caFile": str(extender.trusted_ca),
                },
            }
        ],
    }


@dataclass
class ExtendedScheduler(RestartableProcess):
    """A second, real kube-scheduler in the upper cluster: profile :data:`SCHEDULER_NAME`, with the extender."""

    upper: clusters.Cluster
    extender: ExtenderProcess
    log_dir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: Any = None

    @property
    def log_name(self) -> str:
        return "kube-scheduler-extended"

    def command(self) -> list[str]:
        config = self.log_dir / "scheduler-config.yaml"
        config.write_text(yaml.safe_dump(scheduler_configuration(self.upper, self.extender)))
        return [
            str(self.upper.bins.kube_scheduler),
            "--config", str(config),
            "--bind-address", "127.0.0.1",
            "--secure-port", str(self.port),
        ]  # fmt: skip
