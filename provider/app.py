"""One virtual node: its clients, informers and controllers, started in order and drained on stop.

:func:`run_virtual_node` is what ``tensile-virtual-node run`` does: the kubelet API server, the
metrics endpoint and a :class:`VirtualNode`, until SIGTERM (:func:`stop_on_signals`). The
``VirtualNode`` owns the informers and routes their events to the controllers that need them:

- upper pods bound to the node -> :class:`~provider.pods.controller.PodController`;
- lower pods -> the pod controller and :class:`~provider.pods.status_sync.StatusSync` (mirrors),
  and :class:`~provider.node.controller.NodeController` (capacity);
- lower nodes -> the node controller;
- lower nodes and pods -> :class:`~provider.node.fit_publisher.FitFeed` (the fit summary the
  scheduler extender reads; unless ``--no-fit-summary``);
- upper ConfigMaps/Secrets and their lower copies -> :class:`~provider.pods.copies.CopiesController`;
- upper Services and EndpointSlices, their lower copies, and upper pods (which namespaces need
  them) -> :class:`~provider.pods.reflection.ServiceReflection` (unless ``--no-reflect services``).
"""

from __future__ import annotations

import errno
import functools
import gc
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TypeVar

from descheduler import keys
from descheduler.errors import TensileError
from descheduler.kube import paths
from descheduler.kube.client import Kube
from descheduler.serving import MetricsServer
from provider import kubelet
from provider.config import ProviderConfig
from provider.kube.informer import Informer
from provider.kube.lower_pods import SlimLowerPods
from provider.kube.objects import EventType, RawObject
from provider.kubelet.lower_exec import LowerExec
from provider.kubelet.lower_portforward import LowerPortForward
from provider.metrics import ProviderMetrics
from provider.node import capacity
from provider.node.controller import NodeController
from provider.node.fit_publisher import FitFeed
from provider.pods import copies
from provider.pods.caches import PodCaches
from provider.pods.controller import PodController
from provider.pods.reflection import SERVICES_WORKERS, ServiceReflection
from provider.pods.status_sync import StatusSync
from provider.serving import tls

logger = logging.getLogger("provider")
T = TypeVar("T")

GC_YOUNG_THRESHOLD = 50_000
"""Allocations between two collections of the youngest generation (CPython's default: 700)."""

COPIES_WORKERS = 2
"""ConfigMap/Secret copies change rarely and are claimed inline by pod creates: two workers suffice."""


@dataclass(frozen=True)
class Clusters:
    """The two API clients of one virtual node."""

    upper: Kube
    lower: Kube


def connections_needed(workers: int) -> int:
    """Connections per cluster that every worker of every queue plus the watches may hold at once.

    Fewer would make workers open and throw away connections (a TLS handshake each) exactly
    when the API server is busiest.
    """
    return 2 * workers + COPIES_WORKERS + SERVICES_WORKERS + 8


class VirtualNode:
    """The controllers of one virtual node and the informers that feed them.

    Start order: informers first (nothing acts before both pod caches have listed), then the
    queues and the heartbeat, then the resync loop. :meth:`stop` ends them in reverse.
    """

    def __init__(self, cfg: ProviderConfig, clusters: Clusters, metrics: ProviderMetrics | None = None) -> None:
        self.cfg = cfg
        self.metrics = metrics or ProviderMetrics()
        self.stop_event = threading.Event()
        upper, lower = clusters.upper, clusters.lower
        bound_here = {"fieldSelector": f"spec.nodeName={cfg.node_name}"}
        # Copies of every virtual node of this upper cluster: one copy may serve several of them.
        copies_here = {"labelSelector": f"{keys.UPPER_CLUSTER_LABEL}={cfg.upper_cluster},{keys.VIRTUAL_NODE_LABEL}"}
        self.upper_pods = Informer(
            upper, paths.resource(paths.CORE, "pods"), "upper-pods", bound_here, self._on_upper_pod
        )
        self.lower_pods = Informer(
            lower,
            paths.resource(paths.CORE, "pods"),
            "lower-pods",
            {},
            self._on_lower_pod,
            codec=SlimLowerPods(cfg.upper_cluster).codec(),  # all lower pods, most of them not ours
        )
        self.lower_nodes = Informer(lower, paths.node(), "lower-nodes", {}, self._on_lower_node)
        self.upper_sources = {
            kind: Informer(upper, paths.resource(paths.CORE, plural), f"upper-{plural}", {}, self._source_handler(kind))
            for kind, plural in copies.PLURALS.items()
        }
        self.lower_copies = {
            kind: Informer(lower, paths.resource(paths.CORE, plural), f"lower-{plural}", copies_here, None)
            for kind, plural in copies.PLURALS.items()
        }
        caches = PodCaches(self.upper_pods, self.lower_pods, upper_cluster=cfg.upper_cluster, node_name=cfg.node_name)
        self.caches = caches
        self.node = NodeController(
            cfg,
            upper=upper,
            lower=lower,
            lower_nodes=self.lower_nodes,
            lower_pods=self.lower_pods,
            capacity_of=capacity.Capacity(is_own_mirror=caches.is_own_mirror),
        )
        self.status = StatusSync(
            caches,
            upper=upper,
            lower=lower,
            host_ip=cfg.kubelet_address,
            metrics=self.metrics,
            workers=cfg.workers,
            policy=cfg.requeue_policy,
        )
        self.copies = copies.CopiesController(
            caches,
            upper=self.upper_sources,
            copies=self.lower_copies,
            lower=lower,
            upper_kube=upper,
            metrics=self.metrics,
            workers=COPIES_WORKERS,
            policy=cfg.requeue_policy,
        )
        self.pods = PodController(
            caches,
            lower=lower,
            upper=upper,
            copies=self.copies,
            status_sync=self.status,
            metrics=self.metrics,
            workers=cfg.workers,
            policy=cfg.requeue_policy,
        )
        self.reflection = (
            ServiceReflection(
                caches,
                upper=upper,
                lower=lower,
                lower_cluster=cfg.lower_cluster,
                legacy_endpoints="endpoints" in cfg.reflect,
                metrics=self.metrics,
                policy=cfg.requeue_policy,
            )
            if "services" in cfg.reflect
            else None
        )
        self.fit = (
            FitFeed(upper, lower, node_name=cfg.node_name, synced=self._lower_synced) if cfg.fit_summary else None
        )
        self._resync: threading.Thread | None = None

    def _lower_synced(self) -> bool:
        return self.lower_nodes.synced.is_set() and self.lower_pods.synced.is_set()

    def own_mirrors(self) -> list[RawObject]:
        """The lower pods this virtual node mirrors, from the lower pod cache (for the kubelet API's metrics)."""
        return [pod for pod in self.lower_pods.items() if self.caches.is_own_mirror(pod)]

    # -- event routing (informer threads) ----------------------------------------------

    def _on_upper_pod(self, event: EventType, obj: RawObject) -> None:
        self.pods.on_upper_pod(event, obj)
        if self.reflection is not None:
            self.reflection.on_upper_pod(event, obj)

    def _on_lower_pod(self, event: EventType, obj: RawObject) -> None:
        self.node.on_lower_pod(event, obj)
        self.pods.on_lower_pod(event, obj)
        if self.fit is not None:
            self.fit.on_lower_pod(event, obj)

    def _on_lower_node(self, event: EventType, obj: RawObject) -> None:
        self.node.on_lower_node(event, obj)
        if self.fit is not None:
            self.fit.on_lower_node(event, obj)

    def _source_handler(self, kind: copies.CopiedKind) -> Callable[[EventType, RawObject], None]:
        def handle(event: EventType, obj: RawObject) -> None:
            self.copies.on_upper_change(kind, event, obj)

        return handle

    # -- lifecycle ---------------------------------------------------------------------

    def informers(self) -> list[Informer]:
        return [
            self.upper_pods,
            self.lower_pods,
            self.lower_nodes,
            *self.upper_sources.values(),
            *self.lower_copies.values(),
            *(self.reflection.informers() if self.reflection is not None else ()),
        ]

    def start(self) -> None:
        for informer in self.informers():
            informer.start(self.stop_event)
        for queue in (self.pods.queue, self.status.queue, self.copies.queue):
            queue.start()
        if self.reflection is not None:
            self.reflection.start()
        self.node.start(self.stop_event)
        if self.fit is not None:
            self.fit.publisher.start(self.stop_event)
        self._resync = threading.Thread(target=self._resync_loop, name="resync", daemon=True)
        self._resync.start()

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(i.synced.wait(max(0.0, deadline - time.monotonic())) for i in self.informers())

    def stop(self) -> None:
        self.stop_event.set()
        for queue in (self.pods.queue, self.status.queue, self.copies.queue):
            queue.stop()
        if self.reflection is not None:
            self.reflection.queue.stop()
        self.node.join(5.0)
        if self._resync is not None:
            self._resync.join(5.0)

    def _resync_loop(self) -> None:
        """Repair drift the events missed: every pod known on either side, unused copies, every Service."""
        while not self.stop_event.wait(self.cfg.resync_interval):
            self.pods.resync()
            self.copies.resync()
            if self.reflection is not None:
                self.reflection.reflector.resync()


class ListenError(TensileError):
    """A server of this process could not bind its address (``what`` names the flags that chose it)."""

    def __init__(self, what: str, error: OSError) -> None:
        super().__init__(f"{what}: cannot listen: {error.strerror or error}")
        self.address_not_here = error.errno == errno.EADDRNOTAVAIL
        """The address is not on this machine (bad input), rather than taken (a restart may help)."""


def listen(what: str, bind: Callable[[], T]) -> T:
    """Bind a server, turning the OS's refusal into a :class:`ListenError` naming ``what``."""
    try:
        return bind()
    except OSError as exc:
        raise ListenError(what, exc) from exc


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: the process drains and exits 0."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %d: shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


@dataclass(frozen=True, kw_only=True)
class Serving:
    """Where this process serves: the kubelet API (HTTPS) and, optionally, /metrics (plain HTTP)."""

    listen_address: str
    client_ca_file: str | None = None
    authorize: bool = False
    """Check callers by token or certificate with the upper cluster (``--authorize``)."""
    metrics_addr: str = ""
    metrics_flag: str = "--metrics-addr"
    """The flag that set ``metrics_addr``, for messages."""


def collect_garbage_less_often() -> None:
    """Make the cyclic garbage collector run far less often than CPython's defaults would.

    Every watch event decodes into a tree of dicts and lists, and the caches keep thousands of
    them: at the default threshold a young collection runs every few events, and the older
    generations' passes (which walk every cached object) follow, for nothing: decoded JSON
    holds no reference cycles. In py-spy profiles of a 500-pod burst that time showed up in
    whatever frame allocated, such as ``Condition.notify``. Start-up objects are frozen
    (never collected, never walked again); cycles are still collected, in bigger batches.
    """
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def run_virtual_node(cfg: ProviderConfig, clusters: Clusters, serving: Serving, stop: threading.Event) -> None:
    """Serve one virtual node until ``stop`` is set: kubelet API, metrics, then the controllers; drain in reverse.

    Raises :class:`~descheduler.errors.InputError` for unusable TLS files and :class:`ListenError`
    for an address that cannot be bound, before anything has been written to a cluster.
    """
    metrics = ProviderMetrics()
    cert_file, key_file = tls.ensure_tls_files(
        cfg.tls_cert_file, cfg.tls_key_file, node_name=cfg.node_name, ip=cfg.kubelet_address
    )
    node = VirtualNode(cfg, clusters, metrics)  # built first (no I/O): the kubelet API reads its caches
    server = kubelet.KubeletServer(
        address=serving.listen_address,
        port=cfg.kubelet_port,
        cert_file=str(cert_file),
        key_file=str(key_file),
        logs=kubelet.LowerLogs(clusters.lower),
        exec_source=LowerExec(clusters.lower),
        sessions=metrics.sessions,
        spdy=cfg.streaming != "websocket",
        metrics=kubelet.LowerMetrics(
            clusters.lower, node_name=cfg.node_name, mirrors=node.own_mirrors, lower_nodes=node.lower_nodes.items
        ),
        portforward_source=LowerPortForward(clusters.lower),
        client_ca_file=serving.client_ca_file,
        access=(
            kubelet.Access(kubelet.UpperReviews(clusters.upper), node_name=cfg.node_name) if serving.authorize else None
        ),
    )
    listen(f"--listen-address {serving.listen_address} --kubelet-port {cfg.kubelet_port}", server.start)
    collect_garbage_less_often()
    metrics_server = None
    if serving.metrics_addr:
        bind_metrics = functools.partial(MetricsServer, metrics, serving.metrics_addr)
        try:
            metrics_server = listen(f"{serving.metrics_flag} {serving.metrics_addr}", bind_metrics)
        except ListenError:
            server.stop()
            raise
        metrics_server.start()
    node.start()
    logger.info("virtual node %s serving the kubelet API on %s:%d", cfg.node_name, serving.listen_address, server.port)
    stop.wait()
    node.stop()
    server.stop()
    if metrics_server is not None:
        metrics_server.stop()
    logger.info("stopped")
