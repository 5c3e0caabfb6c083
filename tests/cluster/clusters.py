"""Start and stop real kwok-backed Kubernetes clusters on 127.0.0.1.

Each cluster is etcd + kube-apiserver + kube-controller-manager + kube-scheduler +
kwok-controller, managed by ``kwokctl --runtime binary`` with every binary given as a
local path (nothing is downloaded). Every component listens on 127.0.0.1 only, on
ports chosen here. The test fixtures (tests/conftest.py) and the developer command
(tests/cluster/devclusters.py) both use :func:`start_clusters`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

try:  # imported both as tests.cluster.clusters and as a script's sibling module
    from tests.cluster import binaries, kwok_config, metrics_server, ports
except ImportError:  # pragma: no cover
    import binaries  # type: ignore[no-redef]
    import kwok_config  # type: ignore[no-redef]
    import metrics_server  # type: ignore[no-redef]
    import ports  # type: ignore[no-redef]

KWOK_NODE_ANNOTATION = kwok_config.KWOK_NODE_ANNOTATION
KWOK_NODE_VALUE = kwok_config.KWOK_NODE_VALUE
USAGE_CPU_ANNOTATION = kwok_config.USAGE_CPU_ANNOTATION
USAGE_MEMORY_ANNOTATION = kwok_config.USAGE_MEMORY_ANNOTATION
LOG_LINES = ("tensile test log line 1", "tensile test log line 2", "tensile test log line 3")


@dataclass(frozen=True)
class NodeSpec:
    """A kwok node: kwok keeps it Ready and runs the pods bound to it."""

    name: str
    cpu: str = "4"
    memory: str = "8Gi"
    pods: str = "110"
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterSpec:
    name: str
    nodes: tuple[NodeSpec, ...] = ()
    kwok_annotated_nodes_only: bool = True
    """kwok manages only nodes with the kwok annotation, so nodes registered by our own
    provider are left alone."""
    apiserver_args: tuple[tuple[str, str], ...] = ()
    """Extra kube-apiserver flags, e.g. (("feature-gates", "ExtendWebSocketsToKubelet=false"),)."""
    kwok_address: str = "127.0.0.1"
    """Where kwok's kubelet server listens, and the nodes' InternalIP. The API server's node proxy
    (``nodes/<node>/proxy``, how a provider reads lower resource metrics) refuses any address that
    is not global unicast ("address not allowed"), so a test of it gives this machine's
    :func:`~tests.cluster.ports.global_address`; kwok then runs no commands for exec, since
    anyone on that network could reach its server."""
    metrics_server: bool = False
    """kwokctl runs metrics-server here, registered as metrics.k8s.io (``kubectl top``); see
    :mod:`tests.cluster.metrics_server` for its flags and the credentials it presents to kubelets."""
    metrics_server_args: tuple[tuple[str, str], ...] = ()
    """Extra metrics-server flags, after kwokctl's (the last of a repeated flag wins), e.g.
    (("kubelet-insecure-tls", "false"), ("kubelet-certificate-authority", path))."""


def default_lower_nodes(prefix: str, count: int = 3, **sizes: str) -> tuple[NodeSpec, ...]:
    return tuple(NodeSpec(name=f"{prefix}-node-{i}", **sizes) for i in range(count))


class ClusterError(RuntimeError):
    pass


@dataclass
class Cluster:
    name: str
    workdir: Path
    kubeconfig: Path
    apiserver_url: str
    bins: binaries.Binaries
    _env: dict[str, str] = field(repr=False)
    forward_port: int = 0
    """kwok forwards every port of every pod here (``kubectl port-forward``): a test listens on
    127.0.0.1 at this port to be the server behind the pods."""
    _stopped: dict[str, tuple[list[str], str]] = field(default_factory=dict, repr=False)
    _restarted: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    @property
    def attach_file(self) -> Path:
        """What ``kubectl attach`` to any kwok pod of this cluster follows: append lines to be seen."""
        return self.workdir / f"{self.name}-attach.log"

    @property
    def pki(self) -> Path:
        """kwokctl's certificates: ``ca.crt`` (the cluster CA, which also signs the API server's
        kubelet-client certificate), ``admin.crt``/``admin.key``."""
        return self.workdir / "clusters" / self.name / "pki"

    def kubectl(self, *args: str, input_text: str | None = None, check: bool = True) -> str:
        cmd = [str(self.bins.kubectl), "--kubeconfig", str(self.kubeconfig), *args]
        proc = subprocess.run(cmd, input=input_text, capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)} failed on {self.name}: {proc.stderr.strip()}")
        return proc.stdout

    def apply(self, manifest: str | Sequence[dict[str, object]]) -> None:
        text = (
            manifest
            if isinstance(manifest, str)
            else json.dumps({"apiVersion": "v1", "kind": "List", "items": list(manifest)})
        )
        self.kubectl("apply", "-f", "-", input_text=text)

    def add_nodes(self, nodes: Iterable[NodeSpec]) -> None:
        items = [kwok_config.node_manifest(n) for n in nodes]
        if items:
            # create, not apply: a POSTed Node keeps its status (capacity), like a kubelet's.
            self.kubectl(
                "create", "-f", "-", input_text=json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
            )

    def pids(self) -> list[int]:
        found = []
        for pid_file in (self.workdir / "clusters" / self.name / "pids").glob("*.pid"):
            try:
                found.append(int(pid_file.read_text().strip()))
            except ValueError:
                continue
        return found

    def save_logs(self, dest: Path) -> None:
        """Copy the components' logs to ``dest/<cluster name>`` (stopping the cluster deletes them)."""
        logs = self.workdir / "clusters" / self.name / "logs"
        if logs.is_dir():
            shutil.copytree(logs, dest / self.name, dirs_exist_ok=True)

    def stop(self) -> None:
        subprocess.run(
            [str(self.bins.kwokctl), "delete", "cluster", "--name", self.name],
            env=self._env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        _kill_leftovers(self.pids())
        for proc in self._restarted:
            proc.kill()
            proc.wait(10)
        self._restarted.clear()

    def stop_component(self, component: str) -> None:
        """Kill one component (e.g. kube-apiserver) to simulate an outage; see start_component.

        kwokctl v0.8.0 has no per-component stop, so the process is killed through its pid
        file and its command line is kept to start it again the same way.
        """
        pid_file = self.workdir / "clusters" / self.name / "pids" / f"{component}.pid"
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        self._stopped[component] = ([part.decode() for part in cmdline if part], os.readlink(f"/proc/{pid}/cwd"))
        os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)

    def start_component(self, component: str) -> None:
        cmd, cwd = self._stopped.pop(component)
        log = self.workdir / "clusters" / self.name / "logs" / f"{component}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        (self.workdir / "clusters" / self.name / "pids" / f"{component}.pid").write_text(str(proc.pid))
        self._restarted.append(proc)


def _kill_leftovers(pids: Iterable[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _create(spec: ClusterSpec, root: Path, bins: binaries.Binaries) -> Cluster:
    # kwokctl builds kustomize manifests (metrics-server's) with the kubectl on PATH, else downloads one.
    env = dict(os.environ, KWOK_WORKDIR=str(root), PATH=f"{bins.kubectl.parent}{os.pathsep}{os.environ['PATH']}")
    components = ("etcd", "etcd-peer", "apiserver", "kcm", "scheduler", "kwok", "forward", "metrics-server")
    chosen = {name: ports.free_port() for name in components}
    cluster_dir = root / "clusters" / spec.name
    log_file = root / f"{spec.name}-pod.log"
    # Fixed timestamps (one second apart) give time filters such as --since-time known answers.
    log_file.write_text(
        "".join(f"2024-01-01T00:00:0{i}.000000000Z stdout F {line}\n" for i, line in enumerate(LOG_LINES))
    )
    config_file = root / f"{spec.name}-kwok.yaml"
    metrics_file = root / f"{spec.name}-kwok-metrics.yaml"
    metrics_file.write_text(kwok_config.kwok_resource_metrics())
    etcd_client = f"http://127.0.0.1:{chosen['etcd']}"
    etcd_peer = f"http://127.0.0.1:{chosen['etcd-peer']}"
    kwok_args = [
        ("server-address", f"{spec.kwok_address}:{chosen['kwok']}"),
        ("node-ip", spec.kwok_address),
        ("cidr", kwok_config.next_pod_cidr()),
        ("config", str(metrics_file)),
    ]
    loopback = ipaddress.ip_address(spec.kwok_address).is_loopback
    if not loopback:
        # kwok gives its nodes a Hostname address too (default "localhost"), which the API server
        # prefers to the InternalIP and would resolve to loopback.
        kwok_args.append(("node-name", spec.kwok_address))
    if spec.kwok_annotated_nodes_only:
        kwok_args += [
            ("manage-all-nodes", "false"),
            ("manage-nodes-with-annotation-selector", f"{KWOK_NODE_ANNOTATION}={KWOK_NODE_VALUE}"),
        ]
    extra = {
        "etcd": [
            ("listen-client-urls", etcd_client),
            ("advertise-client-urls", etcd_client),
            ("listen-peer-urls", etcd_peer),
            ("initial-advertise-peer-urls", etcd_peer),
            ("initial-cluster", f"node0={etcd_peer}"),
        ],
        # A kubelet-client certificate, as kubeadm gives the API server (kwokctl gives none): a kubelet
        # API that asks for client certificates (the provider's --client-ca-file) sees the API server
        # as kwokctl's admin (CN kwok-admin, O system:masters), signed by the cluster's pki/ca.crt.
        "kube-apiserver": [
            ("bind-address", "127.0.0.1"),
            ("service-cluster-ip-range", kwok_config.SERVICE_CLUSTER_IP_RANGE),
            ("kubelet-client-certificate", str(cluster_dir / "pki" / "admin.crt")),
            ("kubelet-client-key", str(cluster_dir / "pki" / "admin.key")),
            *(metrics_server.apiserver_args(cluster_dir / "pki") if spec.metrics_server else []),
            *spec.apiserver_args,
        ],
        # One replica each: without leader election there is no Lease to lose, and a controller
        # manager that misses a renewal under load exits for good (nothing restarts it here).
        "kube-controller-manager": [("bind-address", "127.0.0.1"), ("leader-elect", "false")],
        "kube-scheduler": [("bind-address", "127.0.0.1"), ("leader-elect", "false")],
        "kwok-controller": kwok_args,
    }
    options: dict[str, object] = {}
    if spec.metrics_server:
        extra[metrics_server.COMPONENT] = metrics_server.component_args(spec.metrics_server_args)
        manifests = root / f"{spec.name}-metrics-server"
        options = metrics_server.kwokctl_options(manifests, port=chosen["metrics-server"])
    attach_file = root / f"{spec.name}-attach.log"
    attach_file.write_text("")
    config_file.write_text(
        kwok_config.kwok_config(log_file, attach_file, extra, chosen["forward"], run_commands=loopback, options=options)
    )
    cmd = [
        str(bins.kwokctl),
        "create",
        "cluster",
        "--name",
        spec.name,
        "--runtime",
        "binary",
        "--config",
        str(config_file),
        "--kubeconfig",
        str(root / f"{spec.name}-merged-kubeconfig.yaml"),
        "--etcd-binary",
        str(bins.etcd),
        "--kube-apiserver-binary",
        str(bins.kube_apiserver),
        "--kube-controller-manager-binary",
        str(bins.kube_controller_manager),
        "--kube-scheduler-binary",
        str(bins.kube_scheduler),
        "--kwok-controller-binary",
        str(bins.kwok),
        "--etcd-port",
        str(chosen["etcd"]),
        "--kube-apiserver-port",
        str(chosen["apiserver"]),
        "--kube-controller-manager-port",
        str(chosen["kcm"]),
        "--kube-scheduler-port",
        str(chosen["scheduler"]),
        "--controller-port",
        str(chosen["kwok"]),
        "--disable-qps-limits",
        *(metrics_server.create_flags(bins.metrics_server) if spec.metrics_server else []),
        # Debugging aid: TENSILE_AUDIT_POLICY=policy.yaml writes an audit log per cluster
        # (clusters/<name>/logs/audit.log), to see which client sends which requests.
        *(
            ["--kube-audit-policy", os.environ["TENSILE_AUDIT_POLICY"]]
            if os.environ.get("TENSILE_AUDIT_POLICY")
            else []
        ),
        "--wait",
        "120s",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    kubeconfig = cluster_dir / "kubeconfig.yaml"
    api = f"https://127.0.0.1:{chosen['apiserver']}"
    cluster = Cluster(spec.name, root, kubeconfig, api, bins, env, forward_port=chosen["forward"])
    if proc.returncode != 0 or not kubeconfig.exists():
        cluster.stop()
        logs = cluster_dir / "logs"
        raise ClusterError(
            f"kwokctl could not start cluster {spec.name} (exit {proc.returncode}): "
            f"{proc.stderr.strip()[-3000:]}\ncomponent logs: {logs}"
        )
    if spec.metrics_server:
        restart = subprocess.run(
            metrics_server.start_command(bins.kwokctl, spec.name), env=env, capture_output=True, text=True, timeout=120
        )
        if restart.returncode != 0:
            cluster.stop()
            error = restart.stderr.strip()[-3000:]
            raise ClusterError(f"kwokctl could not start metrics-server in {spec.name}: {error}")
    cluster.add_nodes(spec.nodes)
    return cluster


def wait_nodes_ready(cluster: Cluster, names: Iterable[str], timeout: float = 60.0) -> None:
    wanted = set(names)
    deadline = time.monotonic() + timeout
    while True:
        data = json.loads(cluster.kubectl("get", "nodes", "-o", "json"))
        ready = {
            item["metadata"]["name"]
            for item in data["items"]
            if any(c["type"] == "Ready" and c["status"] == "True" for c in item.get("status", {}).get("conditions", []))
        }
        if wanted <= ready:
            return
        if time.monotonic() > deadline:
            raise ClusterError(f"nodes not Ready on {cluster.name} after {timeout}s: {sorted(wanted - ready)}")
        time.sleep(0.5)


def start_clusters(specs: Sequence[ClusterSpec], *, root: Path | None = None) -> dict[str, Cluster]:
    """Start the clusters in parallel; on any failure stop those that started."""
    bins = binaries.locate()
    missing = bins.missing()
    if missing:
        raise ClusterError(f"missing binaries {', '.join(map(str, missing))}; {binaries.how_to_build()}")
    root = root or Path(tempfile.mkdtemp(prefix="tensile-clusters-"))
    root.mkdir(parents=True, exist_ok=True)
    started: dict[str, Cluster] = {}
    errors: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        futures = {spec.name: pool.submit(_create, spec, root, bins) for spec in specs}
        for name, future in futures.items():
            try:
                started[name] = future.result()
            except BaseException as exc:  # noqa: BLE001 - collected, then raised below
                errors.append(exc)
    try:
        if not errors:
            for spec in specs:
                wait_nodes_ready(started[spec.name], (n.name for n in spec.nodes))
    except BaseException as exc:  # noqa: BLE001 - collected, then raised below
        errors.append(exc)
    if errors:
        stop_clusters(started.values())
        raise errors[0]
    return started


@contextlib.contextmanager
def running(spec: ClusterSpec, *, root: Path) -> Iterator[Cluster]:
    """One private cluster for the duration of a ``with`` block (module-scoped fixtures)."""
    started = start_clusters([spec], root=root)
    try:
        yield started[spec.name]
    finally:
        stop_clusters(started.values())


def stop_clusters(clusters: Iterable[Cluster]) -> None:
    clusters = list(clusters)
    if not clusters:
        return
    with ThreadPoolExecutor(max_workers=len(clusters)) as pool:
        list(pool.map(lambda c: c.stop(), clusters))
