"""The HTML report in a real headless Chromium (Debian's package): it renders without console or
page errors, a screenshot shows the bars, and every number in the bars is the CLI's JSON figure.

Chromium missing fails the test with how to get it (``make browser`` or ``apt-get install
chromium``); nothing is skipped. Playwright drives the Debian build through ``executable_path``,
so no browser is downloaded.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api

from tests.descheduler import pngs

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("tensile-deschedule")
BAR_COLOURS = {"before": (0x90, 0xA4, 0xC0), "after": (0x2B, 0x6C, 0xB0), "over": (0xC5, 0x30, 0x30)}
GIB, MIB = 1 << 30, 1 << 20

# Every bar as the page shows it: its data attributes, rendered box, its track's width and caption.
BARS_SCRIPT = """() => [...document.querySelectorAll('.bar[data-value]')].map(bar => {
  const box = bar.getBoundingClientRect();
  return {...bar.dataset, classes: [...bar.classList], x: box.x + window.scrollX, y: box.y + window.scrollY,
          width: box.width, height: box.height, track: bar.parentElement.getBoundingClientRect().width,
          caption: bar.parentElement.nextElementSibling.textContent};
})"""


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("chromium is not installed: run `make browser` (or `apt-get install chromium`)")
    return found


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The example's plan through the real CLI: the HTML page and the JSON document printed beside it."""
    page = tmp_path_factory.mktemp("report") / "out.html"
    done = subprocess.run(
        [
            str(CLI),
            "--dry-run",
            "--snapshot",
            str(ROOT / "examples/snapshot.yaml"),
            "--policy-config-file",
            str(ROOT / "examples/policy.yaml"),
            "--report-html",
            str(page),
            "-o",
            "json",
            "--show-nodes",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return page, json.loads(done.stdout)


@pytest.fixture(scope="module")
def rendered(generated: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
    """The page opened in Chromium: its problems, foreign requests, bars, embedded JSON and a screenshot."""
    page_file, _document = generated
    problems: list[str] = []
    foreign: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium())
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("request", lambda r: None if r.url.startswith("file://") else foreign.append(r.url))
            page.goto(page_file.as_uri(), wait_until="load")
            screenshot = page_file.with_suffix(".png")
            page.screenshot(path=str(screenshot), full_page=True)
            return {
                "problems": problems,
                "foreign": foreign,
                "bars": page.evaluate(BARS_SCRIPT),
                "embedded": json.loads(page.locator("#report-data").text_content() or ""),
                "rows": page.locator("table.plan tbody tr").count(),
                "screenshot": screenshot,
            }
        finally:
            browser.close()


def test_the_page_renders_without_errors_or_requests(rendered: dict[str, Any]) -> None:
    assert rendered["problems"] == []
    assert rendered["foreign"] == []  # self-contained: nothing fetched but the file itself


def test_the_page_embeds_the_cli_document(rendered: dict[str, Any], generated: tuple[Path, dict[str, Any]]) -> None:
    _page, document = generated
    embedded = rendered["embedded"]
    embedded["summary"].pop("durationSeconds"), document["summary"].pop("durationSeconds", None)
    assert embedded == document
    assert rendered["rows"] == len(document["evictions"]) > 0


def test_every_bar_shows_the_cli_figures(rendered: dict[str, Any], generated: tuple[Path, dict[str, Any]]) -> None:
    _page, document = generated
    bars = {(b["node"], b["resource"], b["phase"]): b for b in rendered["bars"]}
    assert len(bars) == len(rendered["bars"]) == len(document["nodes"]) * 3 * 2
    for node in document["nodes"]:
        for resource in ("cpu", "memory", "pods"):
            allocatable = node["allocatable"][resource]
            for phase in ("before", "after"):
                bar, value = bars[(node["name"], resource, phase)], node[phase][resource]
                where = f"{node['name']} {resource} {phase}"
                assert (int(bar["value"]), int(bar["allocatable"])) == (value, allocatable), where
                (used, used_tolerance), (offered, offered_tolerance) = caption_figures(bar["caption"], resource)
                assert used == pytest.approx(value, abs=used_tolerance), where
                assert offered == pytest.approx(allocatable, abs=offered_tolerance), where
                share = value / allocatable
                assert f"({100 * share:.0f}%)" in bar["caption"], where
                assert bar["width"] == pytest.approx(min(share, 1.0) * bar["track"], abs=1.0), where
                if value > 0:
                    assert bar["width"] > 0 and bar["height"] > 0, where


def test_the_screenshot_shows_the_bars_in_their_colours(rendered: dict[str, Any]) -> None:
    image = pngs.decode(rendered["screenshot"].read_bytes())
    assert image.width >= 1280 and image.height > 800  # the full page, plan and every node
    seen = 0
    for bar in rendered["bars"]:
        if bar["width"] < 3:
            continue
        colour = BAR_COLOURS["over" if "over" in bar["classes"] else bar["phase"]]
        x, y = int(bar["x"] + bar["width"] / 2), int(bar["y"] + bar["height"] / 2)
        assert image.pixel(x, y) == colour, (bar["node"], bar["resource"], bar["phase"])
        seen += 1
    assert seen >= 12  # most of the example's 24 bars are wide enough to sample


def caption_figures(caption: str, resource: str) -> list[tuple[float, float]]:
    """The caption's two amounts ("3.05 cores / 16.0 GiB (19%)") in the document's units, each with
    the rounding its shown digits allow (cores to the milli-CPU, GiB to a tenth, MiB and pods whole)."""
    units = {"cpu": {"cores"}, "memory": {"GiB", "MiB"}, "pods": {""}}[resource]
    figures = []
    for number, unit in re.findall(r"([\d.]+)(?: (cores|GiB|MiB))?", caption.split("(", maxsplit=1)[0]):
        assert unit in units, caption
        scale = {"cores": 1000, "GiB": GIB, "MiB": MIB, "": 1}[unit]
        decimals = len(number.partition(".")[2])
        figures.append((float(number) * scale, 0.5 * scale / 10**decimals + (1 if unit == "cores" else 0)))
    assert len(figures) == 2, caption
    return figures
