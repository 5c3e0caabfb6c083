"""``tensile-deschedule``: run a cycle (once, or long-lived via :mod:`descheduler.daemon`),
validate policies, list plugins.

Exit status: 0 success (evicting nothing is success), 1 runtime failure, 2 bad input.
Bad input never reaches the cluster: the policy and flags are checked first.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import click

from descheduler import daemon, logsetup
from descheduler import metrics as metering
from descheduler import report as reporting
from descheduler.cluster.live import LiveSource
from descheduler.cluster.snapshot import SnapshotSource
from descheduler.cluster.sources import StateSource
from descheduler.errors import InputError, TensileError
from descheduler.evictor.evictor import DryRunRecorder, EvictionWriter, FencedWriter
from descheduler.evictor.writers import ApiWriter
from descheduler.framework.registry import Registry
from descheduler.kube import leaderelection
from descheduler.kube.client import Kube, load_configuration
from descheduler.plugins import default_registry
from descheduler.policy import argspec
from descheduler.policy.loading import load_policy_file
from descheduler.policy.schema import policy_schema
from descheduler.report import Result
from descheduler.runner import run_cycle

logger = logging.getLogger("descheduler")

T = TypeVar("T")

EXIT_RUNTIME = 1
EXIT_INPUT = 2
OUTPUTS = ("table", "json", "yaml")


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _setup_logging(verbosity: int, fmt: str = "text") -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logsetup.configure(fmt, level)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--policy-config-file", type=click.Path(dir_okay=False), help="DeschedulerPolicy (descheduler/v1alpha2) file."
)
@click.option("--dry-run", is_flag=True, help="Plan evictions without writing anything to the cluster.")
@click.option(
    "--kubeconfig", type=click.Path(dir_okay=False), help="Kubeconfig file (default: $KUBECONFIG, in-cluster)."
)
@click.option("--context", "kube_context", help="Kubeconfig context to use.")
@click.option(
    "--snapshot",
    type=click.Path(exists=False),
    help="Plan against `kubectl get ... -o yaml|json` output (a file or folder) instead of a cluster; needs --dry-run.",
)
@click.option("-o", "--output", type=click.Choice(OUTPUTS), default="table", show_default=True, help="Report format.")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.option(
    "--logging-format", type=click.Choice(("text", "json")), default="text", show_default=True, help="Log format."
)
@click.option(
    "--descheduling-interval",
    default="0",
    show_default=True,
    help="Run a cycle every DURATION (Go syntax: 30s, 5m, 1h30m) in one long-lived process; 0 runs once.",
)
@click.option(
    "--cycle-timeout",
    default="30s",
    show_default=True,
    help="Deadline of each cycle (Go duration): a silent API server fails the cycle after it.",
)
@click.option("--schedule", help='Run cycles on a 5-field cron schedule in UTC (e.g. "*/10 * * * *"), long-lived.')
@click.option("--leader-elect", is_flag=True, help="Run cycles only while holding the Lease (several replicas).")
@click.option("--leader-elect-lease-duration", default="137s", show_default=True, help="Lease duration.")
@click.option("--leader-elect-renew-deadline", default="107s", show_default=True, help="Leader's renewal deadline.")
@click.option("--leader-elect-retry-period", default="26s", show_default=True, help="Time between lease attempts.")
@click.option("--leader-elect-resource-name", default="descheduler", show_default=True, help="Lease name.")
@click.option("--leader-elect-resource-namespace", default="kube-system", show_default=True, help="Lease namespace.")
@click.option(
    "--metrics-address",
    default=":10258",
    show_default=True,
    help="Long-lived mode: plain-HTTP HOST:PORT serving /metrics and /healthz; empty disables.",
)
@click.option(
    "--metrics-file",
    type=click.Path(dir_okay=False),
    help="After a single run, write metrics here (textfile collector).",
)
@click.option("--pushgateway", help="After a single run, push metrics to this Pushgateway URL (job=descheduler).")
@click.pass_context
def main(
    ctx: click.Context,
    policy_config_file: str | None,
    dry_run: bool,
    kubeconfig: str | None,
    kube_context: str | None,
    snapshot: str | None,
    output: str,
    verbose: int,
    logging_format: str,
    descheduling_interval: str,
    cycle_timeout: str,
    schedule: str | None,
    leader_elect: bool,
    leader_elect_lease_duration: str,
    leader_elect_renew_deadline: str,
    leader_elect_retry_period: str,
    leader_elect_resource_name: str,
    leader_elect_resource_namespace: str,
    metrics_address: str,
    metrics_file: str | None,
    pushgateway: str | None,
) -> None:
    """Evict pods that are stuck or badly placed so the scheduler can place them again."""
    _setup_logging(verbose, logging_format)
    if ctx.invoked_subcommand is not None:
        return
    if not policy_config_file:
        _fail("--policy-config-file is required", EXIT_INPUT)
    if snapshot and not dry_run:
        _fail("--snapshot plans against files and cannot evict: add --dry-run", EXIT_INPUT)
    trigger = _trigger(descheduling_interval, schedule)
    deadline = _check(daemon.parse_duration, cycle_timeout, "--cycle-timeout")
    if deadline <= 0:
        _fail(f"--cycle-timeout {cycle_timeout}: must be more than 0", EXIT_INPUT)
    if trigger is not None and verbose == 0:
        _setup_logging(1, logging_format)  # a daemon's log is its report: one line per cycle and eviction
    election = _election(
        leader_elect,
        long_lived=trigger is not None,
        dry_run=dry_run,
        durations=(leader_elect_lease_duration, leader_elect_renew_deadline, leader_elect_retry_period),
        name=leader_elect_resource_name,
        namespace=leader_elect_resource_namespace,
    )
    if trigger is not None and metrics_address:
        _check(metering.parse_address, metrics_address, "--metrics-address")
    registry = default_registry()
    try:
        policy = load_policy_file(policy_config_file, registry=registry)
        source, writer = _source_and_writer(
            snapshot, kubeconfig, kube_context, dry_run, failure_events=policy.eviction_failure_event_notification
        )
    except InputError as exc:
        _fail(str(exc), EXIT_INPUT)
    metrics = metering.Metrics()
    if trigger is not None:
        if metrics_file or pushgateway:
            logger.warning("--metrics-file and --pushgateway apply to a single run; long-lived mode serves /metrics")
        leading = threading.Event()
        if election is not None:
            writer = FencedWriter(writer, allowed=leading.is_set)
        _run_daemon(
            lambda: _logged_cycle(run_cycle(policy, registry, source, writer, metrics=metrics, timeout=deadline)),
            trigger,
            metrics=metrics,
            metrics_address=metrics_address,
            election=election,
            kube=_election_kube(election, kubeconfig, kube_context),
            leading=leading,
        )
        return
    try:
        result = run_cycle(policy, registry, source, writer, metrics=metrics, timeout=deadline)
    except InputError as exc:
        _fail(str(exc), EXIT_INPUT)
    except TensileError as exc:
        _fail(str(exc), EXIT_RUNTIME)
    _export_metrics(metrics, metrics_file, pushgateway)
    click.echo(reporting.render(result, output))
    if result.plugin_errors or any(d.result is Result.FAILED for d in result.decisions):
        sys.exit(EXIT_RUNTIME)


def _check(parse: Callable[[str], T], text: str, flag: str) -> T:
    """``parse(text)``, or the one-line error naming ``flag`` and exit 2."""
    try:
        return parse(text)
    except ValueError as exc:
        _fail(f"{flag}: {exc}", EXIT_INPUT)


def _trigger(interval: str, schedule: str | None) -> daemon.Trigger | None:
    """The long-lived mode's trigger, or None to run once (interval 0 and no schedule, as upstream)."""
    seconds = _check(daemon.parse_duration, interval, "--descheduling-interval")
    if schedule is not None and seconds > 0:
        _fail("--descheduling-interval and --schedule are mutually exclusive: pass one", EXIT_INPUT)
    if schedule is not None:
        return _check(daemon.parse_schedule, schedule, "--schedule")
    return daemon.interval_trigger(seconds) if seconds > 0 else None


def _election(
    enabled: bool,
    *,
    long_lived: bool,
    dry_run: bool,
    durations: tuple[str, str, str],
    name: str,
    namespace: str,
) -> leaderelection.ElectionConfig | None:
    if not enabled:
        return None
    if not long_lived:
        _fail(
            "--leader-elect needs --descheduling-interval or --schedule (a single run has nothing to lead)", EXIT_INPUT
        )
    flags = ("--leader-elect-lease-duration", "--leader-elect-renew-deadline", "--leader-elect-retry-period")
    lease, renew, retry_period = (
        _check(daemon.parse_duration, text, flag) for flag, text in zip(flags, durations, strict=True)
    )
    if not lease > renew > retry_period > 0:
        _fail("leader election needs lease-duration > renew-deadline > retry-period > 0", EXIT_INPUT)
    if not name or not namespace:
        _fail("--leader-elect-resource-name and --leader-elect-resource-namespace must not be empty", EXIT_INPUT)
    if dry_run:
        # As upstream: a dry run writes nothing, so replicas need no coordination.
        logger.warning("--leader-elect is disabled in --dry-run mode")
        return None
    return leaderelection.ElectionConfig(
        lease_duration=lease, renew_deadline=renew, retry_period=retry_period, name=name, namespace=namespace
    )


def _election_kube(
    election: leaderelection.ElectionConfig | None, kubeconfig: str | None, kube_context: str | None
) -> Kube | None:
    """A client of its own for the Lease, whose requests time out well within the renew deadline."""
    if election is None:
        return None
    try:
        return Kube(load_configuration(kubeconfig, kube_context), timeout=election.renew_deadline / 2)
    except InputError as exc:
        _fail(str(exc), EXIT_INPUT)


def _logged_cycle(report: reporting.Report) -> None:
    logger.info("cycle done: %s", reporting.summary_line(report))


def _run_daemon(
    cycle: Callable[[], None],
    trigger: daemon.Trigger,
    *,
    metrics: metering.Metrics,
    metrics_address: str,
    election: leaderelection.ElectionConfig | None,
    kube: Kube | None,
    leading: threading.Event,
) -> None:
    """``leading`` is set while this replica leads: the writer is fenced by it."""
    runner = daemon.Daemon(cycle, trigger)
    elector = None
    if election is not None and kube is not None:

        def started() -> None:
            leading.set()
            runner.start_cycles()

        def stopped() -> None:
            leading.clear()  # first: a cycle in flight stops evicting now
            runner.stop_cycles()

        elector = leaderelection.LeaderElector(
            kube, election, identity=leaderelection.new_identity(), on_started=started, on_stopped=stopped
        )
    server = None
    if metrics_address:
        try:
            server = metering.MetricsServer(metrics, metrics_address)
        except OSError as exc:
            _fail(f"--metrics-address {metrics_address}: {exc}", EXIT_RUNTIME)
        server.start()
    finished = runner.run(elector=elector)
    if server is not None:
        server.stop()
    if not finished:
        # The abandoned cycle's worker thread would block interpreter exit: leave now.
        logging.shutdown()
        sys.stdout.flush()
        os._exit(0)


def _export_metrics(metrics: metering.Metrics, path: str | None, pushgateway: str | None) -> None:
    if path:
        try:
            metrics.write_file(path)
        except OSError as exc:
            logger.warning("could not write metrics to %s: %s", path, exc)
    if pushgateway:
        try:
            metrics.push(pushgateway)
        except OSError as exc:
            logger.warning("could not push metrics to %s: %s", pushgateway, exc)


def _source_and_writer(
    snapshot: str | None, kubeconfig: str | None, kube_context: str | None, dry_run: bool, *, failure_events: bool
) -> tuple[StateSource, EvictionWriter]:
    if snapshot:
        return SnapshotSource(snapshot), DryRunRecorder()
    kube = Kube.from_kubeconfig(kubeconfig, kube_context)
    writer: EvictionWriter = DryRunRecorder() if dry_run else ApiWriter(kube, failure_events=failure_events)
    return LiveSource(kube), writer


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate(files: Sequence[str]) -> None:
    """Check policy files; print every problem with its path. Exit 2 when any is bad."""
    registry = default_registry()
    bad = 0
    for file in files:
        try:
            load_policy_file(file, registry=registry)
        except InputError as exc:
            bad += 1
            problems = getattr(exc, "problems", None)
            if problems:
                for problem in problems:
                    click.echo(f"{file}: {problem}", err=True)
            else:
                click.echo(f"{file}: {exc}", err=True)
        else:
            click.echo(f"{file}: ok")
    if bad:
        sys.exit(EXIT_INPUT)


@main.command()
@click.option("-o", "--output", type=click.Choice(("table", "json")), default="table", show_default=True)
def plugins(output: str) -> None:
    """List every plugin with its extension points and arguments (types, defaults)."""
    listing = plugin_listing(default_registry())
    if output == "json":
        click.echo(json.dumps(listing, indent=2))
        return
    for entry in listing:
        click.echo(f"{entry['name']}  [{', '.join(entry['extensionPoints'])}]")
        if entry["description"]:
            click.echo(f"  {entry['description']}")
        for arg in entry["args"]:
            default = "" if arg["default"] is None else f" = {json.dumps(arg['default'])}"
            click.echo(f"    {arg['name']} ({arg['type']}){default}")
            if arg["doc"]:
                click.echo(f"        {arg['doc']}")
        click.echo()


def plugin_listing(registry: Registry) -> list[dict[str, Any]]:
    return [
        {
            "name": spec.name,
            "extensionPoints": sorted(spec.extension_points),
            "description": spec.description,
            "args": [
                {"name": f.path, "type": f.type, "default": f.default, "doc": f.doc}
                for f in argspec.describe(spec.args_type)
            ],
        }
        for spec in registry
    ]


@main.command()
def schema() -> None:
    """Print the JSON Schema of DeschedulerPolicy files (for editors)."""
    click.echo(json.dumps(policy_schema(default_registry()), indent=2, sort_keys=True))
