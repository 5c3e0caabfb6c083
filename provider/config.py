"""Settings of one virtual-node provider process.

Built once by :mod:`provider.cli` from flags and passed down to the reconcile loop, the
node builders and the kubelet server. Validation collects every problem and raises once.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

from descheduler import errors
from provider import requeue

LogFormat = Literal["text", "json"]
REFLECTABLE = ("services", "endpoints")
"""What ``--reflect``/``--no-reflect`` switch: Service copies with their EndpointSlices, and legacy Endpoints."""
DEFAULT_REFLECT = frozenset({"services"})
Streaming = Literal["auto", "websocket", "spdy"]
"""How kubectl exec/attach/port-forward may arrive at the kubelet API (``--streaming``)."""

# Kubernetes label values: at most 63 characters, alphanumerics at both ends.
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# A node name is also the value of kubernetes.io/hostname, so it must be both a DNS-1123
# subdomain and a label value; a DNS-1123 label satisfies both.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_MAX_LABEL_LENGTH = 63

RESYNC_SECONDS = (1.0, 86400.0)
"""Allowed resync periods: below a second the resync would be all the provider does; above a day
it no longer repairs anything in practice (and timers overflow far beyond, near 292 years)."""
WORKERS = (1, 256)
"""Allowed reconcile workers per queue; each is a thread holding up to one connection per cluster."""


class ConfigError(errors.InputError):
    """The provider settings have one or more problems; all are reported at once."""

    def __init__(self, problems: list[errors.Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True, kw_only=True)
class ProviderConfig:
    """Everything the provider needs to present one lower cluster as one upper node."""

    lower_kubeconfig: str
    """Kubeconfig file of the lower cluster, where mirrored pods run."""

    upper_kubeconfig: str | None = None
    """Kubeconfig file of the upper cluster; None means the in-cluster service account."""

    node_name: str = "tensile-virtual-node"
    """Name of the virtual Node in the upper cluster (also its kubernetes.io/hostname)."""

    upper_cluster: str = "upper"
    """Id of the upper cluster, written into ownership labels of everything created below."""

    lower_cluster: str = ""
    """Name of the lower cluster for the node's lower-cluster label; empty means node_name."""

    taint_enabled: bool = True
    """Whether the node carries virtual-kubelet.io/provider=tensile:NoSchedule."""

    kubelet_address: str = "127.0.0.1"
    """Address advertised as the node's InternalIP; the upper API server reaches the kubelet API there."""

    kubelet_port: int = 10250
    """Port of the provider's kubelet API, advertised in status.daemonEndpoints."""

    lease_seconds: int = 40
    """leaseDurationSeconds of the node Lease (the kubelet's default)."""

    renew_interval: float = 10.0
    """Seconds between Lease renewals and node heartbeats; must be well below lease_seconds."""

    resync_interval: float = 60.0
    """Seconds between full comparisons of upper and lower pods, to repair missed events."""

    workers: int = 4
    """Reconcile workers; each object is still handled by one worker at a time."""

    tls_cert_file: str | None = None
    """PEM certificate of the kubelet API; None serves a self-signed one."""

    tls_key_file: str | None = None
    """PEM private key matching tls_cert_file."""

    log_format: LogFormat = "text"
    """Log lines as human text or as one JSON object per line."""

    streaming: Streaming = "auto"
    """``auto``: the node declares ExtendWebSocketsToKubelet (a 1.36+ API server passes kubectl's WebSocket
    through; others translate to SPDY) and both are served. ``websocket``: declared, and exec/attach over
    SPDY refused. ``spdy``: not declared, so the API server always translates to SPDY."""

    reflect: frozenset[str] = DEFAULT_REFLECT
    """Upper objects copied below besides what pods reference: ``services`` (Services of the namespaces
    this node mirrors pods of, with their EndpointSlices) and ``endpoints`` (their legacy Endpoints too)."""

    fit_summary: bool = True
    """Publish the lower cluster's fit summary upstairs (a Lease renewed every second) for the
    scheduler extender (``tensile-virtual-node extender``); ``--no-fit-summary`` when none runs."""

    requeue_policy: requeue.RequeuePolicy = field(default_factory=requeue.RequeuePolicy)
    """When the controllers' queues try a key again (named delays growing per key, capped)."""

    def __post_init__(self) -> None:
        if not self.lower_cluster:
            # Frozen: the documented default is derived, so set it the only way a frozen dataclass allows.
            object.__setattr__(self, "lower_cluster", self.node_name)
        problems = _problems(self)
        if problems:
            raise ConfigError(problems)


def _problems(cfg: ProviderConfig) -> list[errors.Problem]:
    problems: list[errors.Problem] = []

    def check(ok: bool, path: str, message: str) -> None:
        if not ok:
            problems.append(errors.Problem(path, message))

    check(bool(cfg.lower_kubeconfig), "lower_kubeconfig", "must name a kubeconfig file")
    check(
        len(cfg.node_name) <= _MAX_LABEL_LENGTH and bool(_DNS_LABEL.match(cfg.node_name)),
        "node_name",
        f"must be a DNS-1123 label (lower-case alphanumerics and '-', at most 63), got {cfg.node_name!r}",
    )
    for path, value in (("upper_cluster", cfg.upper_cluster), ("lower_cluster", cfg.lower_cluster)):
        check(
            bool(value) and len(value) <= _MAX_LABEL_LENGTH and bool(_LABEL_VALUE.match(value)),
            path,
            f"must be a non-empty label value (alphanumerics, '-', '_', '.', at most 63), got {value!r}",
        )
    check(0 < cfg.kubelet_port < 65536, "kubelet_port", f"must be 1..65535, got {cfg.kubelet_port}")
    check(cfg.lease_seconds > 0, "lease_seconds", f"must be > 0, got {cfg.lease_seconds}")
    check(
        math.isfinite(cfg.renew_interval) and 0 < cfg.renew_interval < cfg.lease_seconds,
        "renew_interval",
        f"must be > 0 and < lease_seconds ({cfg.lease_seconds}), got {cfg.renew_interval}",
    )
    check(WORKERS[0] <= cfg.workers <= WORKERS[1], "workers", f"must be {WORKERS[0]}..{WORKERS[1]}, got {cfg.workers}")
    low, high = RESYNC_SECONDS
    check(
        math.isfinite(cfg.resync_interval) and low <= cfg.resync_interval <= high,
        "resync_interval",
        f"must be {low:g}..{high:g} seconds, got {cfg.resync_interval}",
    )
    # Paths name the missing half, so that the CLI can name its flag.
    check(
        cfg.tls_cert_file is None or cfg.tls_key_file is not None,
        "tls_key_file",
        "missing: the certificate needs its key",
    )
    check(
        cfg.tls_key_file is None or cfg.tls_cert_file is not None,
        "tls_cert_file",
        "missing: the key needs its certificate",
    )
    unknown = sorted(set(cfg.reflect) - set(REFLECTABLE))
    check(not unknown, "reflect", f"unknown {', '.join(map(repr, unknown))}: choose from {', '.join(REFLECTABLE)}")
    check(
        "endpoints" not in cfg.reflect or "services" in cfg.reflect,
        "reflect",
        "endpoints are written for reflected Services: 'endpoints' needs 'services'",
    )
    check(cfg.log_format in ("text", "json"), "log_format", f"must be 'text' or 'json', got {cfg.log_format!r}")
    return problems
