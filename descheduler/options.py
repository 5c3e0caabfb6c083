"""The flags of ``tensile-deschedule`` as one checked value, built before anything happens.

:mod:`descheduler.cli` hands the raw flag values to :func:`build`, which checks every one of
them (durations, addresses, files, URLs, their combinations) and raises
:class:`~descheduler.errors.InputError` naming the flag; only then does
:mod:`descheduler.app` read the policy, build clients and talk to a cluster. So a bad
``--pushgateway`` can never be noticed after pods were evicted.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from descheduler import addresses, daemon, durations, wording
from descheduler.errors import InputError
from descheduler.kube import leaderelection

Output = Literal["table", "json", "yaml"]
OUTPUTS: tuple[Output, ...] = ("table", "json", "yaml")

MIN_INTERVAL_SECONDS = 1.0
"""Shorter intervals only flood the logs: a cycle lists the whole cluster."""
MAX_DURATION_SECONDS = 366 * 86400.0
"""Durations beyond a year are typos (and overflow the scheduler's timers)."""

_RESOURCE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class Flags:
    """The raw values click parsed, before any checking (names as the flags)."""

    policy_config_file: str | None
    dry_run: bool = False
    kubeconfig: str | None = None
    context: str | None = None
    snapshot: str | None = None
    output: str = "table"
    namespace: str | None = None
    descheduling_interval: str = "0"
    cycle_timeout: str = "30s"
    schedule: str | None = None
    leader_elect: bool = False
    leader_elect_lease_duration: str = "137s"
    leader_elect_renew_deadline: str = "107s"
    leader_elect_retry_period: str = "26s"
    leader_elect_resource_name: str = "descheduler"
    leader_elect_resource_namespace: str = "kube-system"
    metrics_address: str = ":10258"
    watch_cache: bool = True
    stuck_pod_events: bool = True
    metrics_file: str | None = None
    pushgateway: str | None = None
    show_nodes: bool = False
    report_html: str | None = None


@dataclass(frozen=True)
class RunOptions:
    """Everything a run needs, checked. ``interval_seconds`` 0 and no ``schedule`` runs once."""

    policy_file: str
    dry_run: bool
    kubeconfig: str | None
    context: str | None
    snapshot: str | None
    output: Output
    namespace: str | None
    """Show only this namespace's decisions (a dry run's view; the plan covers the cluster)."""
    interval_seconds: float
    cycle_timeout: float
    """Each cycle's deadline in seconds: no API request starts after it."""
    schedule: str | None
    election: leaderelection.ElectionConfig | None
    metrics_address: tuple[str, int] | None
    """Long-lived mode's /metrics listener (host, port); None disables it."""
    watch_cache: bool
    """Long-lived mode: keep the cluster state by list-then-watch caches (else list every cycle)."""
    stuck_pod_events: bool
    """Long-lived mode on watch caches: run PendingOnVirtualNode when a pod's stuck threshold passes."""
    metrics_file: str | None
    pushgateway: str | None
    show_nodes: bool = False
    """Add each node's requests before and after the plan to the report (table, JSON, YAML)."""
    report_html: str | None = None
    """Write the report as one HTML page here after each cycle (a long-lived run rewrites it)."""

    @property
    def long_lived(self) -> bool:
        return self.interval_seconds > 0 or self.schedule is not None


def build(flags: Flags) -> tuple[RunOptions, list[str]]:
    """The checked options and the warnings to print; InputError (naming the flag) on the first bad one."""
    warnings: list[str] = []
    if not flags.policy_config_file:
        raise InputError("--policy-config-file is required")
    if flags.snapshot and not flags.dry_run:
        raise InputError("--snapshot plans against files and cannot evict: add --dry-run")
    if flags.output not in OUTPUTS:
        raise InputError(f"-o/--output: must be one of {', '.join(OUTPUTS)}, got {wording.shown(flags.output)}")
    namespace = check_namespace(flags)
    interval = check_interval(flags.descheduling_interval)
    cycle_timeout = check_duration(flags.cycle_timeout, "--cycle-timeout")
    if cycle_timeout <= 0:
        raise InputError(f"--cycle-timeout {flags.cycle_timeout}: must be more than 0")
    if flags.schedule is not None and interval > 0:
        raise InputError("--descheduling-interval and --schedule are mutually exclusive: pass one")
    if flags.schedule is not None:
        try:
            daemon.parse_schedule(flags.schedule)
        except ValueError as exc:
            raise InputError(f"--schedule: {exc}") from None
    long_lived = interval > 0 or flags.schedule is not None
    election = _election(flags, long_lived=long_lived, warnings=warnings)
    address = None
    if long_lived:
        if flags.metrics_file or flags.pushgateway:
            warnings.append("--metrics-file and --pushgateway apply to a single run; long-lived mode serves /metrics")
        if flags.metrics_address:
            address = check_address(flags.metrics_address, "--metrics-address")
    metrics_file = check_metrics_file(flags.metrics_file) if flags.metrics_file and not long_lived else None
    pushgateway = check_pushgateway(flags.pushgateway) if flags.pushgateway and not long_lived else None
    report_html = check_output_file(flags.report_html, "--report-html", "report.html") if flags.report_html else None
    options = RunOptions(
        policy_file=flags.policy_config_file,
        dry_run=flags.dry_run,
        kubeconfig=flags.kubeconfig,
        context=flags.context,
        snapshot=flags.snapshot,
        output=flags.output,  # narrowed to Output by the check against OUTPUTS above
        namespace=namespace,
        interval_seconds=interval,
        cycle_timeout=cycle_timeout,
        schedule=flags.schedule,
        election=election,
        metrics_address=address,
        watch_cache=flags.watch_cache,
        stuck_pod_events=flags.stuck_pod_events,
        metrics_file=metrics_file,
        pushgateway=pushgateway,
        show_nodes=flags.show_nodes,
        report_html=report_html,
    )
    return options, warnings


def check_namespace(flags: Flags) -> str | None:
    """-n/--namespace narrows what a dry run shows; evictions are scoped by the policy, never by a flag."""
    if flags.namespace is None:
        return None
    if not flags.dry_run:
        raise InputError(
            "-n/--namespace only narrows what a --dry-run shows: add --dry-run, or limit evictions with the "
            "plugins' namespaces.include in the policy"
        )
    if not _RESOURCE_NAME.match(flags.namespace) or "." in flags.namespace or len(flags.namespace) > 63:
        raise InputError(f"-n/--namespace: {wording.shown(flags.namespace)} is not a namespace name")
    return flags.namespace


def check_duration(text: str, flag: str, *, minimum: float = 0.0) -> float:
    """A Go duration in seconds, within [minimum, a year]; InputError naming ``flag``."""
    try:
        seconds = durations.parse_duration(text)
    except ValueError as exc:
        raise InputError(f"{flag}: {exc}") from None
    if seconds < 0:
        raise InputError(f"{flag}: invalid duration {wording.shown(text)}: must not be negative")
    if not math.isfinite(seconds) or seconds > MAX_DURATION_SECONDS:
        raise InputError(f"{flag}: {wording.shown(text)} is too long; at most 8784h (a year)")
    if seconds < minimum:
        raise InputError(f"{flag}: {wording.shown(text)} is too short; at least {minimum:g}s")
    return seconds


def check_interval(text: str) -> float:
    """0 (run once, as upstream) or at least a second."""
    seconds = check_duration(text, "--descheduling-interval")
    if 0 < seconds < MIN_INTERVAL_SECONDS:
        raise InputError(
            f"--descheduling-interval: {wording.shown(text)} is too short; use 0 to run once or at least 1s"
        )
    return seconds


def check_address(text: str, flag: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` (all interfaces) or ``[IPv6]:PORT``; the host an IP address or a DNS name."""
    try:
        return addresses.parse_address(text)
    except ValueError as exc:
        raise InputError(f"{flag}: {exc}") from None


def check_metrics_file(path: str) -> str:
    """The textfile-collector file must be writable where it is: checked now, written after the cycle."""
    return check_output_file(path, "--metrics-file", "descheduler.prom")


def check_output_file(path: str, flag: str, example: str) -> str:
    """A file the run writes after a cycle must be writable where it is: checked before any request."""
    target = Path(path)
    if target.is_dir():
        raise InputError(f"{flag}: {path} is a folder; give a file name such as {target / example}")
    folder = target.parent
    if not folder.is_dir():
        raise InputError(f"{flag}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{flag}: folder {folder} is not writable")
    return path


def check_pushgateway(url: str) -> str:
    """``http(s)://host[:port][/path]``, or ``host:port`` (which the Prometheus client reads as http)."""
    full = url if "://" in url else f"http://{url}"
    try:
        parts = urlsplit(full)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or " " in url:
        raise InputError(f"--pushgateway: {wording.shown(url)} is not a URL such as http://pushgateway:9091")
    host = parts.hostname
    if not addresses.valid_host(host):
        raise InputError(f"--pushgateway: {wording.shown(host)} is not an IP address or host name")
    del port  # parsed only to refuse ports out of range
    return url


def _election(flags: Flags, *, long_lived: bool, warnings: list[str]) -> leaderelection.ElectionConfig | None:
    if not flags.leader_elect:
        return None
    if not long_lived:
        raise InputError(
            "--leader-elect needs --descheduling-interval or --schedule (a single run has nothing to lead)"
        )
    lease = check_duration(flags.leader_elect_lease_duration, "--leader-elect-lease-duration", minimum=1.0)
    renew = check_duration(flags.leader_elect_renew_deadline, "--leader-elect-renew-deadline", minimum=1.0)
    retry_period = check_duration(flags.leader_elect_retry_period, "--leader-elect-retry-period", minimum=1.0)
    if not lease > renew > retry_period:
        raise InputError("leader election needs lease-duration > renew-deadline > retry-period (--leader-elect-*)")
    for flag, value in (
        ("--leader-elect-resource-name", flags.leader_elect_resource_name),
        ("--leader-elect-resource-namespace", flags.leader_elect_resource_namespace),
    ):
        if not value:
            raise InputError(f"{flag}: must not be empty")
        if not _RESOURCE_NAME.match(value) or len(value) > 253:
            raise InputError(f"{flag}: {wording.shown(value)} is not a Kubernetes object name (lower-case DNS name)")
    if flags.dry_run:
        # As upstream: a dry run writes nothing, so replicas need no coordination.
        warnings.append("--leader-elect is disabled in --dry-run mode")
        return None
    return leaderelection.ElectionConfig(
        lease_duration=lease,
        renew_deadline=renew,
        retry_period=retry_period,
        name=flags.leader_elect_resource_name,
        namespace=flags.leader_elect_resource_namespace,
    )
