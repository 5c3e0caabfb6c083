"""A ``tensile-deschedule`` run from checked options: read the policy, build the source and the
writer, then one cycle (a CronJob's run) or cycles on a trigger in one long-lived process.

Called by :mod:`descheduler.cli` with :class:`~descheduler.options.RunOptions`, as upstream's
``server.go`` ``Run`` is called with its options. Input problems found here (policy,
kubeconfig) raise :class:`~descheduler.errors.InputError` before any request is made; the
report is printed before metrics are exported, so an export failure never loses it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable

from descheduler import daemon, errors, report_html, serving, stuck_timers
from descheduler import explain as explaining
from descheduler import metrics as metering
from descheduler import report as reporting
from descheduler.cluster.live import LiveSource
from descheduler.cluster.snapshot import SnapshotSource
from descheduler.cluster.sources import StateSource
from descheduler.cluster.watched import WatchedSource
from descheduler.errors import Problem, TensileError
from descheduler.evictor.writers import ApiWriter, DryRunRecorder, EvictionWriter, FencedWriter
from descheduler.kube import leaderelection
from descheduler.kube.client import Kube, load_configuration
from descheduler.options import RunOptions
from descheduler.plugins import default_registry
from descheduler.policy.loading import load_policy_file
from descheduler.policy.types import Policy
from descheduler.report import Result
from descheduler.runner import run_cycle

logger = logging.getLogger("descheduler")


def warn(message: str) -> None:
    """A one-line warning for the user, on stderr, whatever the log level."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def policy_warning(source: str, problem: Problem) -> str:
    return f"{source}: {problem}"


def run(options: RunOptions) -> int:
    """Run as the options say; the exit status. InputError escapes for the CLI to report (exit 2)."""
    registry = default_registry()
    policy = load_policy_file(options.policy_file, registry=registry)
    for problem in policy.warnings:
        warn(policy_warning(options.policy_file, problem))
    source, writer = _source_and_writer(options, policy)
    if not options.long_lived:
        return _run_once(policy, source, writer, options)
    metrics = metering.Metrics()
    election_kube = _election_kube(options)
    leading = threading.Event()
    if options.election is not None:
        writer = FencedWriter(writer, allowed=leading.is_set)

    def cycle(planned: Policy = policy) -> None:
        report = run_cycle(planned, registry, source, writer, metrics=metrics, timeout=options.cycle_timeout)
        logger.info("cycle done: %s", reporting.summary_line(report))
        _write_html(report, options.report_html)

    timers = _stuck_pod_timers(policy, source, cycle) if options.stuck_pod_events else None

    trigger = (
        daemon.parse_schedule(options.schedule)
        if options.schedule is not None
        else daemon.interval_trigger(options.interval_seconds)
    )
    try:
        _run_daemon(
            cycle, trigger, metrics=metrics, options=options, kube=election_kube, leading=leading, timers=timers
        )
    finally:
        if isinstance(source, WatchedSource):
            source.close()  # ends the watches (and the stuck-pod timers) with the daemon
    return errors.EXIT_OK


class _Soon:
    """Where a timer's run goes: the daemon, once it exists (it decides whether cycles are running)."""

    runner: daemon.Daemon | None = None


def _stuck_pod_timers(
    policy: Policy, source: StateSource, cycle: Callable[[Policy], None]
) -> tuple[stuck_timers.StuckPodTimers, _Soon] | None:
    """Long-lived mode on watch caches: run PendingOnVirtualNode the moment a pod turns stuck."""
    cut = stuck_timers.stuck_only(policy)
    if cut is None or not isinstance(source, WatchedSource):
        return None
    soon = _Soon()

    def fire(pods: list[str]) -> None:
        if soon.runner is not None:
            soon.runner.run_soon(
                lambda: cycle(cut), f"PendingOnVirtualNode for {len(pods)} pod(s) past their threshold"
            )

    timers = stuck_timers.StuckPodTimers(stuck_timers.arguments(policy), fire)
    source.caches["Pod"].handler = timers.on_pod
    timers.start(source.stop)
    return timers, soon


def explain(options: RunOptions, *, target: str) -> int:
    """``tensile-deschedule explain NAMESPACE/POD``: plan a dry-run cycle from the same source the
    main command would read and print every plugin's verdict on the pod. InputError escapes (exit 2)."""
    namespace, name = explaining.parse_target(target)
    registry = default_registry()
    policy = load_policy_file(options.policy_file, registry=registry)
    for problem in policy.warnings:
        warn(policy_warning(options.policy_file, problem))
    source, _recorder = _source_and_writer(options, policy)  # options.dry_run: never a writing writer
    now, timeout = time.time(), options.cycle_timeout
    found = explaining.explain(policy, registry, source, namespace=namespace, name=name, now=now, timeout=timeout)
    if found is None:
        where = f"snapshot {options.snapshot}" if options.snapshot else "the cluster"
        raise errors.InputError(f"pod {namespace}/{name} not found in {where}")
    print(explaining.render(found, options.output), flush=True)
    return errors.EXIT_OK


def _run_once(policy: Policy, source: StateSource, writer: EvictionWriter, options: RunOptions) -> int:
    # A single run's metrics are read only when exported; recording 18k decisions as labelled
    # Prometheus children takes 0.7 s at 150k pods, so a run that exports nothing records nothing.
    metrics = metering.Metrics() if options.metrics_file or options.pushgateway else None
    result = run_cycle(policy, default_registry(), source, writer, metrics=metrics, timeout=options.cycle_timeout)
    shown = result if options.namespace is None else reporting.in_namespace(result, options.namespace)
    print(reporting.render(shown, options.output, show_nodes=options.show_nodes), flush=True)
    written = _write_html(shown, options.report_html)
    if metrics is not None:
        _export_metrics(metrics, options.metrics_file, options.pushgateway)
    if not written or result.plugin_errors or any(d.result is Result.FAILED for d in result.decisions):
        return errors.EXIT_RUNTIME
    return errors.EXIT_OK


def _write_html(report: reporting.Report, path: str | None) -> bool:
    """Write the HTML page (whole: through a temporary file, so a reader never sees half); False on failure.

    The folder was checked before the run; a failure now is a warning (a daemon goes on with its
    next cycle), and a single run exits 1 after printing its report.
    """
    if not path:
        return True
    temporary = f"{path}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as out:
            out.write(report_html.render_html(report))
        os.replace(temporary, path)
    except OSError as exc:
        warn(f"--report-html {path}: could not write the report: {exc.strerror or exc}")
        return False
    return True


def _source_and_writer(options: RunOptions, policy: Policy) -> tuple[StateSource, EvictionWriter]:
    if options.snapshot:
        return SnapshotSource(options.snapshot), DryRunRecorder()
    kube = Kube.from_kubeconfig(options.kubeconfig, options.context)
    failure_events = policy.eviction_failure_event_notification
    writer: EvictionWriter = DryRunRecorder() if options.dry_run else ApiWriter(kube, failure_events=failure_events)
    if options.long_lived and options.watch_cache:
        # Listed once, then followed: each cycle copies the caches instead of listing again.
        return WatchedSource(kube), writer
    return LiveSource(kube), writer


def _election_kube(options: RunOptions) -> Kube | None:
    """A client of its own for the Lease, whose requests time out well within the renew deadline."""
    if options.election is None:
        return None
    configuration = load_configuration(options.kubeconfig, options.context)
    return Kube(configuration, timeout=options.election.renew_deadline / 2)


def _run_daemon(
    cycle: Callable[[], None],
    trigger: daemon.Trigger,
    *,
    metrics: metering.Metrics,
    options: RunOptions,
    kube: Kube | None,
    leading: threading.Event,
    timers: tuple[stuck_timers.StuckPodTimers, _Soon] | None = None,
) -> None:
    """``leading`` is set while this replica leads: the writer is fenced by it."""
    runner = daemon.Daemon(cycle, trigger)
    if timers is not None:
        timers[1].runner = runner
    elector = None
    if options.election is not None and kube is not None:

        def started() -> None:
            leading.set()
            runner.start_cycles()

        def stopped() -> None:
            leading.clear()  # first: a cycle in flight stops evicting now
            runner.stop_cycles()

        elector = leaderelection.LeaderElector(
            kube, options.election, identity=leaderelection.new_identity(), on_started=started, on_stopped=stopped
        )
    server = None
    if options.metrics_address is not None:
        host, port = options.metrics_address
        try:
            server = serving.MetricsServer(metrics, f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
        except OSError as exc:
            raise TensileError(f"--metrics-address {host}:{port}: cannot listen: {exc.strerror or exc}") from exc
        server.start()
    finished = runner.run(elector=elector)
    if server is not None:
        server.stop()
    if not finished:
        # The abandoned cycle's worker thread would block interpreter exit: leave now.
        logging.shutdown()
        sys.stdout.flush()
        os._exit(errors.EXIT_OK)


def _export_metrics(metrics: metering.Metrics, path: str | None, pushgateway: str | None) -> None:
    """After the report: a failure here is a warning and never changes the cycle's exit status."""
    if path:
        try:
            metrics.write_file(path)
        except OSError as exc:
            warn(f"--metrics-file {path}: could not write metrics: {exc.strerror or exc}")
    if pushgateway:
        try:
            metrics.push(pushgateway)
        except (OSError, ValueError) as exc:
            warn(f"--pushgateway {pushgateway}: could not push metrics: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
    return " ".join(str(reason).split())[:200]
