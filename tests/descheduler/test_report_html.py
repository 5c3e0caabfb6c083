"""The HTML page: self-contained, every cluster string escaped, each bar carrying its exact figures,
and the report document embedded as JSON that a parser reads back unchanged."""

from __future__ import annotations

import html.parser
import json

from descheduler import report as reporting
from descheduler import report_html, utilisation

GIB = 1 << 30
EVIL = '<script>alert("x")</script>&'


class Page(html.parser.HTMLParser):
    """Collects the bars' attributes, the plan's cells, the embedded JSON and every external reference."""

    def __init__(self) -> None:
        super().__init__()
        self.bars: list[dict[str, str | None]] = []
        self.cells: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.references: list[str] = []
        self.data = ""
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "bar" in (attributes.get("class") or "").split() and "data-value" in attributes:
            self.bars.append(attributes)
        if tag == "script":
            self.scripts.append(attributes)
            self._in = "script"
        if tag == "td":
            self._in = "td"
            self.cells.append("")
        self.references += [v or "" for k, v in attrs if k in ("src", "href")]

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.data += data
        elif self._in == "td":
            self.cells[-1] += data


def report() -> reporting.Report:
    decision = reporting.Decision("shop", EVIL, "vk-a", "Test", "p", f"because {EVIL}", reporting.Result.PLANNED)
    return reporting.Report(
        dry_run=True,
        decisions=[decision],
        node_figures=[
            utilisation.NodeFigures(
                EVIL,
                None,
                utilisation.Amounts(1500, GIB, 3),
                utilisation.Amounts(500, GIB // 2, 2),
                utilisation.Amounts(4000, 8 * GIB, 110),
            ),
            utilisation.NodeFigures(
                "vk-a",
                "east",
                utilisation.Amounts(12_000, 3 * GIB, 10),
                utilisation.Amounts(20_000, 3 * GIB, 11),
                utilisation.Amounts(16_000, 0, 110),
            ),
        ],
    )


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


def test_cluster_strings_are_escaped_and_read_back_as_given() -> None:
    text = report_html.render_html(report())
    assert "<script>alert" not in text
    page = parse(text)
    assert page.scripts == [{"type": "application/json", "id": "report-data"}]  # nothing that runs
    assert EVIL in page.cells and f"because {EVIL}" in page.cells
    assert {bar["data-node"] for bar in page.bars} == {EVIL, "vk-a"}


def test_the_embedded_document_is_the_report_with_its_nodes() -> None:
    page = parse(report_html.render_html(report()))
    assert json.loads(page.data) == report().to_dict(show_nodes=True)
    assert "</script" not in page.data.lower()


def test_each_bar_holds_the_exact_figures_and_a_width_capped_at_allocatable() -> None:
    page = parse(report_html.render_html(report()))
    assert len(page.bars) == 2 * 3 * 2  # nodes x resources x before/after
    bars = {(b["data-node"], b["data-resource"], b["data-phase"]): b for b in page.bars}
    cpu_before = bars[(EVIL, "cpu", "before")]
    assert (cpu_before["data-value"], cpu_before["data-allocatable"]) == ("1500", "4000")
    assert cpu_before["style"] == "width: 37.50%"
    over = bars[("vk-a", "cpu", "after")]
    assert over["style"] == "width: 100.00%" and "over" in (over["class"] or "").split()
    assert bars[("vk-a", "memory", "after")]["style"] == "width: 0.00%"  # no memory offered: no share


def test_the_page_is_self_contained() -> None:
    page = parse(report_html.render_html(report()))
    assert page.references == []
    assert "@import" not in report_html.render_html(report())
    assert "url(" not in report_html.render_html(report())


def test_amounts_read_as_a_person_would() -> None:
    assert report_html.amount_text("cpu", 1500) == "1.5 cores"
    assert report_html.amount_text("memory", 3 * GIB // 2) == "1.5 GiB"
    assert report_html.amount_text("memory", 256 << 20) == "256 MiB"
    assert report_html.amount_text("pods", 7) == "7"
