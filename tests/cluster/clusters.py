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
    from tests.cluster import binaries, metrics_server, ports
except ImportError:  # pragma: no cover
    import binaries  # type: ignore[no-redef]
    import metrics_server  # type: ignore[no-redef]
    import ports  # type: ignore[no-redef]

KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_NODE_VALUE = "fake"
KWOK_POD_STAGE_PARALLELISM = 16
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
        items = [node_manifest(n) for n in nodes]
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


def node_manifest(node: NodeSpec) -> dict[str, object]:
    resources = {"cpu": node.cpu, "memory": node.memory, "pods": node.pods, "ephemeral-storage": "100Gi"}
    labels = {
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "kwok",
        **node.labels,
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node.name,
            "labels": labels,
            "annotations": {
                KWOK_NODE_ANNOTATION: KWOK_NODE_VALUE,
                "node.alpha.kubernetes.io/ttl": "0",
                # Where kwok serves this node's resource metrics (see _kwok_resource_metrics).
                "metrics.k8s.io/resource-metrics-path": RESOURCE_METRICS_PATH.format(nodeName=node.name),
            },
        },
        "spec": {},
        "status": {"capacity": resources, "allocatable": resources},
    }


def _kwok_config(
    log_file: Path,
    attach_file: Path,
    extra_args: dict[str, list[tuple[str, str]]],
    *,
    run_commands: bool = True,
    options: dict[str, object] | None = None,
) -> str:
    """kwokctl configuration (component flags) plus kwok resources: logs, attach and, unless ``run_commands``
    is off, exec for every pod (resource metrics are in :func:`_kwok_resource_metrics`).

    Component flags go through ``componentsPatches`` because kwokctl v0.8.0's repeated
    ``--extra-args`` flag indexes its patches wrongly and panics.
    """
    kwokctl = {
        "kind": "KwokctlConfiguration",
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        **({"options": options} if options else {}),
        "componentsPatches": [
            {"name": name, "extraArgs": [{"key": k, "value": v} for k, v in args]} for name, args in extra_args.items()
        ],
    }
    logs = {
        "kind": "ClusterLogs",
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "metadata": {"name": "all-pods"},
        "spec": {"selector": {}, "logs": [{"containers": [], "logsFile": str(log_file), "follow": False}]},
    }
    # kwok plays pod stages (Pending -> Running) 4 at a time by default, one status PATCH
    # each: under load that queue, not the cluster, paced the lower side. Real kubelets
    # update their pods' status independently of each other.
    kwok = {
        "kind": "KwokConfiguration",
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        # A KwokConfiguration given to kwokctl is not defaulted: kwok's own defaults are
        # spelled out (the debugging handlers serve `kubectl logs`).
        "options": {
            "podPlayStageParallelism": KWOK_POD_STAGE_PARALLELISM,
            "nodePlayStageParallelism": 4,
            "nodeLeaseParallelism": 4,
            "podsOnNodeSyncParallelism": 1,
            "enableDebuggingHandlers": True,
            "enableProfilingHandler": True,
            "enablePodsOnNodeSyncListPager": True,
        },
    }
    # `kubectl exec` in any kwok pod runs the command on this machine (in the kwok process's
    # working directory), so the exec path can be tested end to end.
    execs = {
        "kind": "ClusterExec",
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "metadata": {"name": "all-pods"},
        "spec": {"selector": {}, "execs": [{"containers": [], "local": {}}]},
    }
    # `kubectl attach` follows attach_file from its end (kwok ignores the session's stdin).
    attaches = {
        "kind": "ClusterAttach",
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "metadata": {"name": "all-pods"},
        "spec": {"selector": {}, "attaches": [{"containers": [], "logsFile": str(attach_file)}]},
    }
    docs = (kwokctl, kwok, logs, attaches, *([execs] if run_commands else []))
    return "\n---\n".join(json.dumps(doc) for doc in docs)


USAGE_CPU_ANNOTATION = "kwok.x-k8s.io/usage-cpu"
USAGE_MEMORY_ANNOTATION = "kwok.x-k8s.io/usage-memory"
RESOURCE_METRICS_PATH = "/metrics/nodes/{nodeName}/metrics/resource"


def _kwok_resource_metrics() -> str:
    """kwok configuration: emulate each node's kubelet resource metrics (as kwok v0.8.0's
    kustomize/metrics does), with every pod using what its usage annotations say (else 1m CPU, 1Mi memory).

    Served by kwok's server at :data:`RESOURCE_METRICS_PATH`, which the nodes' annotation
    ``metrics.k8s.io/resource-metrics-path`` names (see :func:`node_manifest`). Cumulative CPU
    grows from the first scrape of each pod on: that scrape reads 0. A file of its own, given to
    kwok as a second ``--config``: kwokctl passes a Metric on only when it also runs metrics-server.
    """
    pod_labels = [
        {"name": "namespace", "value": "pod.metadata.namespace"},
        {"name": "pod", "value": "pod.metadata.name"},
    ]
    container_labels = [{"name": "container", "value": "container.name"}, *pod_labels]
    series = [
        ("node_cpu_usage_seconds_total", "node", "counter", [], 'node.CumulativeUsage("cpu")'),
        ("node_memory_working_set_bytes", "node", "gauge", [], 'node.Usage("memory")'),
        ("pod_cpu_usage_seconds_total", "pod", "counter", pod_labels, 'pod.CumulativeUsage("cpu")'),
        ("pod_memory_working_set_bytes", "pod", "gauge", pod_labels, 'pod.Usage("memory")'),
        ("container_cpu_usage_seconds_total", "container", "counter", container_labels,
         'pod.CumulativeUsage("cpu", container.name)'),
        ("container_memory_working_set_bytes", "container", "gauge", container_labels,
         'pod.Usage("memory", container.name)'),
        # An epoch as a kubelet gives it; kwok's own example says pod.SinceSecond(), the pod's age.
        ("container_start_time_seconds", "container", "gauge", container_labels,
         "pod.metadata.creationTimestamp.UnixSecond()"),
        ("resource_scrape_error", "node", "gauge", [], "0"),
    ]  # fmt: skip
    metric = {
        "kind": "Metric",
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "metadata": {"name": "metrics-resource"},
        "spec": {
            "path": RESOURCE_METRICS_PATH,
            "metrics": [
                {"name": name, "dimension": dimension, "kind": kind, "help": name, "labels": labels, "value": value}
                for name, dimension, kind, labels, value in series
            ],
        },
    }

    def from_annotation(annotation: str, default: str) -> str:
        return (
            f'"{annotation}" in pod.metadata.annotations'
            f' ? Quantity(pod.metadata.annotations["{annotation}"]) : Quantity("{default}")'
        )

    usage = {
        "kind": "ClusterResourceUsage",
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "metadata": {"name": "usage-from-annotation"},
        "spec": {
            "usages": [
                {
                    "usage": {
                        "cpu": {"expression": from_annotation(USAGE_CPU_ANNOTATION, "1m")},
                        "memory": {"expression": from_annotation(USAGE_MEMORY_ANNOTATION, "1Mi")},
                    }
                }
            ]
        },
    }
    return "\n---\n".join(json.dumps(doc) for doc in (metric, usage))


def _create(spec: ClusterSpec, root: Path, bins: binaries.Binaries) -> Cluster:
    # kwokctl builds kustomize manifests (metrics-server's) with the kubectl on PATH, else downloads one.
    env = dict(os.environ, KWOK_WORKDIR=str(root), PATH=f"{bins.kubectl.parent}{os.pathsep}{os.environ['PATH']}")
    components = ("etcd", "etcd-peer", "apiserver", "kcm", "scheduler", "kwok", "metrics-server")
    chosen = {name: ports.free_port() for name in components}
    cluster_dir = root / "clusters" / spec.name
    log_file = root / f"{spec.name}-pod.log"
    # Fixed timestamps (one second apart) give time filters such as --since-time known answers.
    log_file.write_text(
        "".join(f"2024-01-01T00:00:0{i}.000000000Z stdout F {line}\n" for i, line in enumerate(LOG_LINES))
    )
    config_file = root / f"{spec.name}-kwok.yaml"
    metrics_file = root / f"{spec.name}-kwok-metrics.yaml"
    metrics_file.write_text(_kwok_resource_metrics())
    etcd_client = f"http://127.0.0.1:{chosen['etcd']}"
    etcd_peer = f"http://127.0.0.1:{chosen['etcd-peer']}"
    kwok_args = [
        ("server-address", f"{spec.kwok_address}:{chosen['kwok']}"),
        ("node-ip", spec.kwok_address),
        ("cidr", "10.0.0.0/12"),
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
    config_file.write_text(_kwok_config(log_file, attach_file, extra, run_commands=loopback, options=options))
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
    cluster = Cluster(spec.name, root, kubeconfig, f"https://127.0.0.1:{chosen['apiserver']}", bins, env)
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
