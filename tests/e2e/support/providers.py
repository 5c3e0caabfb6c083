"""Run tensile-virtual-node as a real process against real clusters, for end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.cluster import clusters
from tests.cluster.ports import free_port


def wait_for(
    predicate: Callable[[], bool], *, timeout: float = 60.0, what: str = "condition", every: float = 0.3
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


class RestartableProcess:
    """Start, SIGKILL, SIGTERM and read the logs of one of our commands, like an operator would.

    Subclasses are dataclasses with ``log_dir``, ``proc``, ``starts`` and ``_log`` fields and
    say what to run (``command``) and how to name its log files (``log_name``).
    """

    log_dir: Path
    proc: subprocess.Popen[bytes] | None
    starts: int
    _log: Any

    @property
    def log_name(self) -> str:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.starts += 1
        self._close_log()
        self._log = (self.log_dir / f"{self.log_name}-{self.starts}.log").open("wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "KUBECONFIG": ""}
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None
        self._close_log()

    def terminate(self) -> int | None:
        if self.proc is None:
            return None
        self.proc.terminate()
        try:
            return self.proc.wait(20)
        finally:
            self.proc = None
            self._close_log()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob(f"{self.log_name}-*.log")))


@dataclass
class ProviderProcess(RestartableProcess):
    """One tensile-virtual-node process; restartable, killable like a real one."""

    upper: clusters.Cluster
    lower: clusters.Cluster
    node_name: str
    log_dir: Path
    upper_cluster_id: str = "upper"
    extra_args: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: Any = None

    @property
    def log_name(self) -> str:
        return self.node_name

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "provider",
            "--kubeconfig", str(self.upper.kubeconfig),
            "--client-kubeconfig", str(self.lower.kubeconfig),
            "--nodename", self.node_name,
            "--upper-cluster-id", self.upper_cluster_id,
            "--kubelet-port", str(self.port),
            "--resync-seconds", "10",
            "--metrics-addr", f"127.0.0.1:{self.metrics_port}",
            *self.extra_args,
        ]  # fmt: skip

    def metrics(self) -> str:
        """The provider's /metrics page (Prometheus text format)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as response:
            return str(response.read().decode())

    def node(self) -> dict[str, Any] | None:
        out = self.upper.kubectl("get", "node", self.node_name, "-o", "json", check=False)
        return json.loads(out) if out.strip() else None

    def ready(self) -> str:
        found = self.node()
        if not found:
            return "Missing"
        conditions = {c["type"]: c["status"] for c in found.get("status", {}).get("conditions", [])}
        return conditions.get("Ready", "Unknown")

    def wait_ready(self, timeout: float = 60.0) -> None:
        wait_for(
            lambda: self.ready() == "True", timeout=timeout, what=f"node {self.node_name} Ready\n{self.logs()[-3000:]}"
        )


@contextlib.contextmanager
def ready_provider(
    upper: clusters.Cluster, lower: clusters.Cluster, node_name: str, log_dir: Path, **options: Any
) -> Iterator[ProviderProcess]:
    """A provider process whose virtual node is Ready; terminated when the block ends."""
    proc = ProviderProcess(upper, lower, node_name, log_dir, **options)
    proc.start()
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.terminate()


def pods(cluster: clusters.Cluster, namespace: str, selector: str = "") -> list[dict[str, Any]]:
    args = ["get", "pods", "-n", namespace, "-o", "json"]
    if selector:
        args += ["-l", selector]
    items: list[dict[str, Any]] = json.loads(cluster.kubectl(*args))["items"]
    return items


def running(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in items if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]


def virtual_deployment(
    name: str,
    namespace: str,
    replicas: int,
    node_name: str,
    *,
    cpu: str = "100m",
    extra_spec: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    labels = {"app": name}
    spec: dict[str, Any] = {
        "nodeSelector": {"kubernetes.io/hostname": node_name},
        "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists", "effect": "NoSchedule"}],
        "containers": [
            {"name": "app", "image": "nginx:1.27", "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}
        ],
        "terminationGracePeriodSeconds": 1,
        **(extra_spec or {}),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels, "annotations": annotations or {}}, "spec": spec},
        },
    }
