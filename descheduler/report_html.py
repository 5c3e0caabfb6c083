"""The report as one self-contained HTML page (``--report-html``): the plan and bars of requests per node.

Pure: :func:`render_html` turns a :class:`~descheduler.report.Report` into the page's text and
:mod:`descheduler.app` writes it. The page needs nothing but itself to open: inline CSS, no
script to run, no font or image to fetch. It holds

- the plan table, with the columns of the table output (:func:`descheduler.report.plan_rows`);
- per node, grouped as :func:`descheduler.utilisation.groups` groups them (ordinary nodes, then
  each lower cluster's virtual nodes), a before and an after bar for requested CPU, memory and
  pods against allocatable. Each bar is a ``<div class="bar">`` whose ``data-node``,
  ``data-resource``, ``data-phase``, ``data-value`` and ``data-allocatable`` hold the exact
  integers (milli-CPU, bytes, counts) and whose caption shows them for a person;
- the report document itself, ``nodes`` included, as JSON in
  ``<script type="application/json" id="report-data">`` for scripts and tests.

The bars are plain HTML and CSS rather than a chart library's SVG or JS: a few kilobytes, every
number in the DOM as text and attribute, and nothing that needs JavaScript. Every string from
the cluster (names, reasons) is escaped with :func:`html.escape`, and the embedded JSON cannot
close its ``<script>`` element.
"""

from __future__ import annotations

import html
import json

from descheduler import report as reporting
from descheduler import utilisation

_LABELS = {"cpu": "CPU", "memory": "Memory", "pods": "Pods"}
_GIB = 1 << 30
_MIB = 1 << 20

_STYLE = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1a202c; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
h3 { font-size: 14px; margin: 16px 0 4px; color: #4a5568; }
.summary { color: #4a5568; margin: 0 0 16px; }
table.plan { border-collapse: collapse; }
table.plan th, table.plan td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid #e2e8f0; }
table.plan th { font-size: 12px; color: #4a5568; }
table.plan td:not(:nth-child(5)) { white-space: nowrap; }
.node { display: grid; grid-template-columns: 160px repeat(3, minmax(180px, 1fr)); gap: 4px 16px;
        padding: 6px 0; border-bottom: 1px solid #edf2f7; align-items: start; }
.node-name { font-weight: 600; overflow-wrap: anywhere; }
.resource-name { font-size: 12px; color: #4a5568; }
.row { display: grid; grid-template-columns: 44px 1fr; align-items: center; gap: 6px; font-size: 12px; }
.track { background: #edf2f7; height: 12px; border-radius: 2px; overflow: hidden; }
.bar { height: 12px; }
.bar.before { background: #90a4c0; } .bar.after { background: #2b6cb0; } .bar.over { background: #c53030; }
.caption { grid-column: 2; color: #2d3748; font-variant-numeric: tabular-nums; }
.legend span { display: inline-block; width: 12px; height: 12px; vertical-align: middle; margin: 0 4px 0 12px; }
"""


def render_html(report: reporting.Report) -> str:
    """The whole page for ``report``: every node's figures are shown, whatever ``--show-nodes`` says."""
    document = report.to_dict(show_nodes=True)
    title = "Descheduling plan (dry run)" if report.dry_run else "Descheduling run"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>tensile-deschedule: {html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="summary">{html.escape(reporting.summary_line(report))}</p>',
        "<h2>Evictions</h2>",
        _plan(report),
        "<h2>Requested resources per node, before and after</h2>",
        '<p class="legend"><span class="bar before"></span>before<span class="bar after"></span>after'
        '<span class="bar over"></span>over allocatable</p>',
        *(_group(name, figures) for name, figures in utilisation.groups(report.node_figures)),
        f'<script type="application/json" id="report-data">{embedded_json(document)}</script>',
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def embedded_json(document: object) -> str:
    """JSON that is safe inside ``<script>``: ``<``, ``>`` and ``&`` as ``\\u`` escapes (the same value to a parser)."""
    text = json.dumps(document, indent=1, sort_keys=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _plan(report: reporting.Report) -> str:
    rows = reporting.plan_rows(report)
    if not rows:
        return "<p>No pods to evict.</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in reporting.PLAN_HEADERS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="plan"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _group(name: str, figures: list[utilisation.NodeFigures]) -> str:
    lower = figures[0].lower_cluster
    heading = "Nodes" if lower is None else f"Lower cluster {lower} (virtual nodes)"
    nodes = "".join(_node(f) for f in figures)
    return f'<section class="group" data-group="{html.escape(name)}"><h3>{html.escape(heading)}</h3>{nodes}</section>'


def _node(figures: utilisation.NodeFigures) -> str:
    cells = "".join(_resource(figures, resource) for resource in utilisation.RESOURCES)
    name = html.escape(figures.name)
    return f'<div class="node" data-node="{name}"><div class="node-name">{name}</div>{cells}</div>'


def _resource(figures: utilisation.NodeFigures, resource: str) -> str:
    rows = "".join(_bar(figures, resource, phase) for phase in ("before", "after"))
    return f'<div class="resource"><div class="resource-name">{_LABELS[resource]}</div>{rows}</div>'


def _bar(figures: utilisation.NodeFigures, resource: str, phase: str) -> str:
    amounts = figures.before if phase == "before" else figures.after
    value, allocatable = amounts.get(resource), figures.allocatable.get(resource)
    share = utilisation.percent(value, allocatable)
    width = 0.0 if share is None else max(0.0, min(share, 100.0))
    over = " over" if share is not None and share > 100.0 else ""
    caption = f"{amount_text(resource, value)} / {amount_text(resource, allocatable)}"
    caption += "" if share is None else f" ({share:.0f}%)"
    return (
        f'<div class="row"><span>{phase}</span><div class="track">'
        f'<div class="bar {phase}{over}" data-node="{html.escape(figures.name)}" data-resource="{resource}"'
        f' data-phase="{phase}" data-value="{value}" data-allocatable="{allocatable}"'
        f' style="width: {width:.2f}%"></div></div>'
        f'<span class="caption">{html.escape(caption)}</span></div>'
    )


def amount_text(resource: str, amount: int) -> str:
    """An amount for a person: cores for ``cpu`` (from milli-CPU), GiB or MiB for ``memory``, a count for ``pods``."""
    if resource == "cpu":
        return f"{amount / 1000:g} cores"
    if resource == "memory":
        if abs(amount) >= _GIB:
            return f"{amount / _GIB:.1f} GiB"
        return f"{amount / _MIB:.0f} MiB"
    return str(amount)
