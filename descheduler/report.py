"""Eviction decisions and how they are shown: a table, or a stable JSON/YAML document.

The document shape is a contract (DESIGN.md §4); scripts rely on it:
``{"dryRun", "evictions": [{"namespace", "pod", "node", "plugin", "profile", "reason",
"result", ...}], "summary": {...}}``, and with ``--show-nodes`` a ``nodes`` list of
:meth:`NodeFigures.to_dict <descheduler.utilisation.NodeFigures.to_dict>` entries (requests
per node before and after the plan) added after them.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import yaml
from tabulate import tabulate

from descheduler import utilisation


class Result(StrEnum):
    """What became of one eviction, as the report's ``result`` (stable wire values): ``planned`` (dry
    run), ``evicted``, ``blocked`` (a PodDisruptionBudget refused), ``failed``, ``limit`` (an eviction
    limit stopped it) or ``gone`` (the pod no longer existed).
    """

    PLANNED = "planned"
    EVICTED = "evicted"
    BLOCKED = "blocked"
    FAILED = "failed"
    LIMIT = "limit"
    GONE = "gone"

    @property
    def succeeded(self) -> bool:
        return self in (Result.PLANNED, Result.EVICTED)


@dataclass(frozen=True)
class Decision:
    """One row of the report: the pod and its node, the plugin and profile that chose it, why, and
    what became of it. The evictor records one per attempt; :meth:`to_dict` is the document's row.
    """

    namespace: str
    pod: str
    node: str
    plugin: str
    profile: str
    reason: str
    result: Result
    message: str = ""
    unblocks: str = ""

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "namespace": self.namespace,
            "pod": self.pod,
            "node": self.node,
            "plugin": self.plugin,
            "profile": self.profile,
            "reason": self.reason,
            "result": self.result.value,
        }
        if self.message:
            row["message"] = self.message
        if self.unblocks:
            row["unblocks"] = self.unblocks
        return row


@dataclass
class Report:
    """One cycle's outcome: its decisions, the size of the cluster it saw, plugin errors and duration.

    Built by the runner, rendered by :func:`render` and recorded by the metrics; :meth:`to_dict` is
    the document scripts rely on (DESIGN.md §4).
    """

    dry_run: bool
    decisions: list[Decision] = field(default_factory=list)
    nodes: int = 0
    pods: int = 0
    plugin_errors: dict[str, str] = field(default_factory=dict)
    duration_seconds: float = 0.0
    node_figures: list[utilisation.NodeFigures] = field(default_factory=list)
    """Each node's requests before and after the cycle's plan (the runner fills it)."""

    def summary(self) -> dict[str, Any]:
        counts = Counter(d.result.value for d in self.decisions)
        return {
            "nodes": self.nodes,
            "pods": self.pods,
            "evictions": sum(1 for d in self.decisions if d.result.succeeded),
            "results": {r.value: counts.get(r.value, 0) for r in Result},
            "pluginErrors": dict(self.plugin_errors),
            "durationSeconds": round(self.duration_seconds, 3),
        }

    def to_dict(self, *, show_nodes: bool = False) -> dict[str, Any]:
        document: dict[str, Any] = {
            "dryRun": self.dry_run,
            "evictions": [d.to_dict() for d in self.decisions],
            "summary": self.summary(),
        }
        if show_nodes:
            document["nodes"] = [f.to_dict() for f in self.node_figures]
        return document


def in_namespace(report: Report, namespace: str) -> Report:
    """The report narrowed to one namespace's decisions (``-n``); the cluster's size stays as seen."""
    return dataclasses.replace(report, decisions=[d for d in report.decisions if d.namespace == namespace])


def _result_text(decision: Decision) -> str:
    if decision.result is Result.BLOCKED:
        return "blocked (PDB)"
    return decision.result.value


PLAN_HEADERS = ("NAMESPACE", "POD", "NODE", "PLUGIN", "REASON", "RESULT")
"""The plan's columns, in the table and in the HTML page alike."""


def plan_rows(report: Report) -> list[list[str]]:
    """The plan as the table shows it: one row of :data:`PLAN_HEADERS` cells per decision."""
    return [
        [
            d.namespace,
            d.pod,
            d.node or "-",
            d.plugin,
            d.reason + (f" (unblocks {d.unblocks})" if d.unblocks else ""),
            _result_text(d),
        ]
        for d in report.decisions
    ]


def render_table(report: Report, *, show_nodes: bool = False) -> str:
    rows = plan_rows(report)
    table = tabulate(rows, headers=PLAN_HEADERS, tablefmt="plain")
    text = table + "\n\n" if rows else "No pods to evict.\n\n"
    if show_nodes:
        text += render_nodes_table(report.node_figures) + "\n\n"
    return text + summary_line(report)


def render_nodes_table(figures: list[utilisation.NodeFigures]) -> str:
    """Per node: requested CPU and memory as percent of allocatable, and pods, before -> after."""
    rows = [
        [
            f.name,
            f.group,
            *(_change(f, resource) for resource in utilisation.RESOURCES),
        ]
        for f in figures
    ]
    return tabulate(rows, headers=["NODE", "GROUP", "CPU", "MEMORY", "PODS"], tablefmt="plain", disable_numparse=True)


def _change(figures: utilisation.NodeFigures, resource: str) -> str:
    before, after = figures.before.get(resource), figures.after.get(resource)
    if resource == "pods":
        return f"{before} \N{RIGHTWARDS ARROW} {after}"
    allocatable = figures.allocatable.get(resource)
    return f"{_percent(before, allocatable)} \N{RIGHTWARDS ARROW} {_percent(after, allocatable)}"


def _percent(amount: int, allocatable: int) -> str:
    share = utilisation.percent(amount, allocatable)
    return "-" if share is None else f"{share:.0f}%"


def summary_line(report: Report) -> str:
    s = report.summary()
    verb = "planned" if report.dry_run else "evicted"
    parts = [f"{s['evictions']} {verb}"]
    parts += [f"{count} {name}" for name, count in s["results"].items() if count and name not in ("planned", "evicted")]
    prefix = "Dry run: " if report.dry_run else ""
    line = f"{prefix}{', '.join(parts)} ({s['nodes']} nodes, {s['pods']} pods, {s['durationSeconds']:.2f}s)"
    if report.plugin_errors:
        line += "; plugin errors: " + "; ".join(f"{k}: {v}" for k, v in report.plugin_errors.items())
    return line


def render(report: Report, output: str, *, show_nodes: bool = False) -> str:
    """The report as ``table``, ``json`` or ``yaml``; ``show_nodes`` adds the per-node figures."""
    if output == "json":
        return json.dumps(report.to_dict(show_nodes=show_nodes), indent=2)
    if output == "yaml":
        return str(yaml.safe_dump(report.to_dict(show_nodes=show_nodes), sort_keys=False))
    return render_table(report, show_nodes=show_nodes)


def human_duration(seconds: float) -> str:
    """Durations as kubectl shows ages: 45s, 5m30s, 2h, 3h15m, 940d."""
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d" + (f"{hours}h" if hours and days < 10 else "")
    if hours:
        return f"{hours}h" + (f"{minutes}m" if minutes else "")
    if minutes:
        return f"{minutes}m" + (f"{secs}s" if secs else "")
    return f"{secs}s"
