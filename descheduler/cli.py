"""``tensile-deschedule``: run a cycle, validate policies, list plugins.

Exit status: 0 success (evicting nothing is success), 1 runtime failure, 2 bad input.
Bad input never reaches the cluster: the policy and flags are checked first.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from descheduler import logsetup
from descheduler import report as reporting
from descheduler.cluster.live import LiveSource
from descheduler.cluster.snapshot import SnapshotSource
from descheduler.cluster.sources import StateSource
from descheduler.errors import InputError, TensileError
from descheduler.evictor.evictor import DryRunRecorder, EvictionWriter
from descheduler.evictor.writers import ApiWriter
from descheduler.framework.registry import Registry
from descheduler.kube.client import Kube
from descheduler.plugins import default_registry
from descheduler.policy import argspec
from descheduler.policy.loading import load_policy_file
from descheduler.policy.schema import policy_schema
from descheduler.report import Result
from descheduler.runner import run_cycle

logger = logging.getLogger("descheduler")

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
) -> None:
    """Evict pods that are stuck or badly placed so the scheduler can place them again."""
    _setup_logging(verbose)
    if ctx.invoked_subcommand is not None:
        return
    if not policy_config_file:
        _fail("--policy-config-file is required", EXIT_INPUT)
    if snapshot and not dry_run:
        _fail("--snapshot plans against files and cannot evict: add --dry-run", EXIT_INPUT)
    registry = default_registry()
    try:
        policy = load_policy_file(policy_config_file, registry=registry)
        source, writer = _source_and_writer(
            snapshot, kubeconfig, kube_context, dry_run, failure_events=policy.eviction_failure_event_notification
        )
    except InputError as exc:
        _fail(str(exc), EXIT_INPUT)
    try:
        result = run_cycle(policy, registry, source, writer)
    except InputError as exc:
        _fail(str(exc), EXIT_INPUT)
    except TensileError as exc:
        _fail(str(exc), EXIT_RUNTIME)
    click.echo(reporting.render(result, output))
    if result.plugin_errors or any(d.result is Result.FAILED for d in result.decisions):
        sys.exit(EXIT_RUNTIME)


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
