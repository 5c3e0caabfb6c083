"""--show-nodes: the table gains a compact before -> after line per node, the documents a ``nodes`` list,
and the documents' existing keys stay as they were."""

from __future__ import annotations

import json

import yaml

from descheduler import report as reporting
from descheduler import utilisation

GIB = 1 << 30


def report() -> reporting.Report:
    decision = reporting.Decision(
        "shop", "web-1", "node-1", "RemoveDuplicates", "p", "duplicate", reporting.Result.PLANNED
    )
    return reporting.Report(
        dry_run=True,
        decisions=[decision],
        nodes=2,
        pods=55,
        node_figures=[
            utilisation.NodeFigures(
                "node-1",
                None,
                utilisation.Amounts(8200, 7 * GIB, 31),
                utilisation.Amounts(6100, int(5.5 * GIB), 24),
                utilisation.Amounts(10_000, 10 * GIB, 110),
            ),
            utilisation.NodeFigures(
                "vk-a",
                "east",
                utilisation.Amounts(9500, GIB, 24),
                utilisation.Amounts(8000, GIB, 25),
                utilisation.Amounts(10_000, 0, 110),
            ),
        ],
    )


def test_the_table_shows_nodes_under_the_plan_before_the_summary_line() -> None:
    lines = reporting.render(report(), "table", show_nodes=True).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("NODE "))
    assert lines[start].split() == ["NODE", "GROUP", "CPU", "MEMORY", "PODS"]
    assert lines[start + 1].split() == ["node-1", "-", "82%", "→", "61%", "70%", "→", "55%", "31", "→", "24"]
    # A resource the node does not offer has no percentage.
    assert lines[start + 2].split() == ["vk-a", "lower:", "east", "95%", "→", "80%", "-", "→", "-", "24", "→", "25"]
    assert lines[-1].startswith("Dry run: 1 planned")
    assert lines.index("NAMESPACE    POD    NODE    PLUGIN            REASON     RESULT") < start


def test_without_show_nodes_the_table_is_unchanged() -> None:
    assert "GROUP" not in reporting.render(report(), "table")


def test_documents_add_a_nodes_list_and_keep_their_keys() -> None:
    plain = json.loads(reporting.render(report(), "json"))
    shown = json.loads(reporting.render(report(), "json", show_nodes=True))
    assert set(plain) == {"dryRun", "evictions", "summary"}
    assert {k: v for k, v in shown.items() if k != "nodes"} == plain
    assert shown["nodes"][0] == {
        "name": "node-1",
        "group": None,
        "virtual": False,
        "before": {"cpu": 8200, "memory": 7 * GIB, "pods": 31},
        "after": {"cpu": 6100, "memory": int(5.5 * GIB), "pods": 24},
        "allocatable": {"cpu": 10_000, "memory": 10 * GIB, "pods": 110},
    }
    assert shown["nodes"][1]["group"] == "east" and shown["nodes"][1]["virtual"] is True
    assert yaml.safe_load(reporting.render(report(), "yaml", show_nodes=True))["nodes"] == shown["nodes"]
