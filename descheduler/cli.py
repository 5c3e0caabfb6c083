"""``tensile-deschedule``: click only. Flags become :class:`~descheduler.options.Flags`, are
checked by :func:`descheduler.options.build`, and the run is :func:`descheduler.app.run`;
``validate``, ``plugins``, ``schema`` and ``explain`` (:func:`descheduler.app.explain`) are the subcommands.

Exit status: 0 success (evicting nothing is success), 1 runtime failure, 2 bad input.
Bad input never reaches the cluster: every flag, the policy and the kubeconfig are checked
before the first request.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import Any, NoReturn

import click
import yaml

from descheduler import app, errors, logsetup, options
from descheduler.errors import InputError, ProblemsError, TensileError
from descheduler.framework.registry import Registry
from descheduler.plugins import default_registry
from descheduler.policy import argspec
from descheduler.policy.loading import load_policy_file
from descheduler.policy.schema import policy_schema


def _version() -> str:
    try:
        return metadata.version("tensile")
    except metadata.PackageNotFoundError:
        return "unknown"


def _fail(error: TensileError, code: int) -> NoReturn:
    lines = error.lines() if isinstance(error, ProblemsError) else [str(error)]
    for line in lines:
        click.echo(f"error: {line}", err=True)
    sys.exit(code)


def _setup_logging(verbosity: int, fmt: str = "text") -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logsetup.configure(fmt, level)


class OneLineErrors(click.Group):
    """A click group whose own usage errors (an unknown flag, a bad choice) are one line, like all others."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except (click.Abort, KeyboardInterrupt):
            click.echo("error: interrupted", err=True)
            sys.exit(errors.EXIT_RUNTIME)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=OneLineErrors, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", prog_name="tensile-deschedule", message="%(prog)s %(version)s")
@click.option("--policy-config-file", help="DeschedulerPolicy (descheduler/v1alpha2) file.")
@click.option("--dry-run", is_flag=True, help="Plan evictions without writing anything to the cluster.")
@click.option("--kubeconfig", help="Kubeconfig file (default: $KUBECONFIG, merged as kubectl does; in-cluster).")
@click.option("--context", "kube_context", help="Kubeconfig context to use.")
@click.option(
    "--snapshot",
    help="Plan against `kubectl get ... -o yaml|json` output (a file or folder) instead of a cluster; needs --dry-run.",
)
@click.option(
    "-o", "--output", type=click.Choice(options.OUTPUTS), default="table", show_default=True, help="Report format."
)
@click.option(
    "--show-nodes",
    is_flag=True,
    help="Add each node's requested CPU, memory and pods before -> after the plan to the report.",
)
@click.option(
    "--report-html",
    metavar="FILE",
    help="Also write the report as one self-contained HTML page with bars per node (rewritten after each cycle).",
)
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.option(
    "--v",
    "klog_verbosity",
    type=click.IntRange(0, 10),
    hidden=True,
    help="Upstream's klog verbosity (its Helm chart's cmdOptions.v): 0 warnings, 1-3 info, 4+ debug.",
)
@click.option(
    "--logging-format", type=click.Choice(("text", "json")), default="text", show_default=True, help="Log format."
)
@click.option(
    "-n",
    "--namespace",
    help="With --dry-run: show only this namespace's part of the plan (the plan still covers the whole cluster).",
)
@click.option(
    "--descheduling-interval",
    default="0",
    show_default=True,
    help="Run a cycle every DURATION (Go syntax: 30s, 5m, 1h30m; at least 1s) in one long-lived process; 0 runs once.",
)
@click.option(
    "--cycle-timeout",
    default="30s",
    show_default=True,
    help="Deadline of each cycle (Go duration), listing and evictions included: a silent API server fails it.",
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
    help="Long-lived mode: plain-HTTP HOST:PORT ([IPv6]:PORT) serving /metrics and /healthz; empty disables.",
)
@click.option(
    "--watch-cache/--no-watch-cache",
    default=True,
    show_default=True,
    help="Long-lived mode: list once, then keep the cluster state by watches (--no-watch-cache: list every cycle).",
)
@click.option(
    "--stuck-pod-events/--no-stuck-pod-events",
    default=True,
    show_default=True,
    help="Long-lived mode (watch caches): run PendingOnVirtualNode the moment a pod's stuck threshold passes.",
)
@click.option("--metrics-addr", "metrics_addr", hidden=True, help="The provider's spelling of --metrics-address.")
@click.option("--metrics-file", help="After a single run, write metrics here (textfile collector).")
@click.option("--pushgateway", help="After a single run, push metrics to this Pushgateway URL (job=descheduler).")
@click.pass_context
def main(
    ctx: click.Context,
    /,
    verbose: int,
    klog_verbosity: int | None,
    logging_format: str,
    metrics_addr: str | None,
    **flags: Any,
) -> None:
    """Evict pods that are stuck or badly placed so the scheduler can place them again."""
    if klog_verbosity is not None:
        verbose = max(verbose, 0 if klog_verbosity == 0 else 1 if klog_verbosity <= 3 else 2)
    _setup_logging(verbose, logging_format)
    if ctx.invoked_subcommand is not None:
        return
    flags["context"] = flags.pop("kube_context")
    if metrics_addr is not None:
        flags["metrics_address"] = metrics_addr
    try:
        checked, warnings = options.build(options.Flags(**flags))
    except InputError as exc:
        _fail(exc, errors.EXIT_INPUT)
    for warning in warnings:
        app.warn(warning)
    if checked.long_lived and verbose == 0:
        _setup_logging(1, logging_format)  # a daemon's log is its report: one line per cycle and eviction
    try:
        code = app.run(checked)
    except InputError as exc:
        _fail(exc, errors.EXIT_INPUT)
    except TensileError as exc:
        _fail(exc, errors.EXIT_RUNTIME)
    sys.exit(code)


@main.command()
@click.option("--strict", is_flag=True, help="Treat warnings (input upstream accepts leniently) as errors.")
@click.argument("files", nargs=-1, required=True)
def validate(files: Sequence[str], strict: bool) -> None:
    """Check policy files; print every problem with its path. Exit 2 when any is bad."""
    registry = default_registry()
    bad = 0
    for file in files:
        try:
            policy = load_policy_file(file, registry=registry)
        except ProblemsError as exc:
            bad += 1
            for problem in exc.problems:
                click.echo(f"{file}: {'warning: ' if problem.warning else ''}{problem}", err=True)
            continue
        except InputError as exc:
            bad += 1
            click.echo(f"{file}: {exc}", err=True)
            continue
        for problem in policy.warnings:
            click.echo(f"{file}: warning: {problem}", err=True)
        if strict and policy.warnings:
            bad += 1
            click.echo(f"{file}: {len(policy.warnings)} warning(s), refused by --strict", err=True)
        else:
            click.echo(f"{file}: ok")
    if bad:
        sys.exit(errors.EXIT_INPUT)


@main.command()
@click.option("-o", "--output", type=click.Choice(options.OUTPUTS), default="table", show_default=True)
def plugins(output: str) -> None:
    """List every plugin with its extension points and arguments (types, defaults)."""
    listing = plugin_listing(default_registry())
    if output == "json":
        click.echo(json.dumps(listing, indent=2))
        return
    if output == "yaml":
        click.echo(yaml.safe_dump(listing, sort_keys=False), nl=False)
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


# -- explain -------------------------------------------------------------------------------


@main.command()
@click.argument("target", metavar="NAMESPACE/POD")
@click.option("--policy-config-file", help="DeschedulerPolicy (descheduler/v1alpha2) file.")
@click.option("--kubeconfig", help="Kubeconfig file (default: $KUBECONFIG, merged as kubectl does; in-cluster).")
@click.option("--context", "kube_context", help="Kubeconfig context to use.")
@click.option("--snapshot", help="Plan against `kubectl get ... -o yaml|json` output (a file or folder).")
@click.option("-o", "--output", type=click.Choice(options.OUTPUTS), help="Output format [default: table].")
@click.pass_context
def explain(
    ctx: click.Context,
    /,
    target: str,
    policy_config_file: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
    snapshot: str | None,
    output: str | None,
) -> None:
    """Say why each enabled plugin chose NAMESPACE/POD in a dry-run cycle, or why not. Never writes.

    The policy and source flags may also be given before "explain", as for the main command.
    """
    given = ctx.parent.params if ctx.parent is not None else {}
    flags = options.Flags(
        policy_config_file=policy_config_file or given.get("policy_config_file"),
        dry_run=True,
        kubeconfig=kubeconfig or given.get("kubeconfig"),
        context=kube_context or given.get("kube_context"),
        snapshot=snapshot or given.get("snapshot"),
        output=output or given.get("output") or "table",
    )
    try:
        checked, _warnings = options.build(flags)  # the main command's checks and one-line errors
        code = app.explain(checked, target=target)
    except InputError as exc:
        _fail(exc, errors.EXIT_INPUT)
    except TensileError as exc:
        _fail(exc, errors.EXIT_RUNTIME)
    sys.exit(code)
