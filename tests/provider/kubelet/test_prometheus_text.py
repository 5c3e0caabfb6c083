"""The Prometheus text format both ways: lower kubelets' pages read, odd lines skipped, our lines written."""

from __future__ import annotations

import math

import pytest

from provider.kubelet import prometheus_text as text

KWOK_PAGE = """\
# HELP container_cpu_usage_seconds_total container_cpu_usage_seconds_total
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="app",namespace="default",pod="p1"} 3.452425e-05
container_memory_working_set_bytes{container="app",namespace="default",pod="p1"} 6.7108864e+07
node_cpu_usage_seconds_total 1.030040887
resource_scrape_error 0
"""


def test_a_kwok_page_gives_its_series_with_labels_and_values() -> None:
    parsed = text.parse(KWOK_PAGE)
    assert parsed.skipped == 0
    assert [s.name for s in parsed.samples] == [
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
        "node_cpu_usage_seconds_total",
        "resource_scrape_error",
    ]
    first = parsed.samples[0]
    assert first.labels == {"container": "app", "namespace": "default", "pod": "p1"}
    assert first.value == pytest.approx(3.452425e-05)
    assert first.timestamp_ms is None
    assert parsed.samples[1].value == 67108864.0


def test_a_kubelet_timestamp_is_kept_in_milliseconds() -> None:
    parsed = text.parse('container_cpu_usage_seconds_total{container="a",namespace="n",pod="p"} 12.5 1767225600123\n')
    assert parsed.samples[0].timestamp_ms == 1767225600123


@pytest.mark.parametrize(
    ("line", "labels"),
    [
        ('m{a="x\\"y"} 1', {"a": 'x"y'}),
        ('m{a="back\\\\slash"} 1', {"a": "back\\slash"}),
        ('m{a="line\\nbreak"} 1', {"a": "line\nbreak"}),
        ('m{a="1",} 1', {"a": "1"}),
        ('m{ a = "1" , b="2"} 1', {"a": "1", "b": "2"}),
        ("m{} 1", {}),
        ('m{a="}"} 1', {"a": "}"}),
    ],
    ids=[
        "escaped quote",
        "escaped backslash",
        "escaped newline",
        "trailing comma",
        "blanks",
        "empty",
        "brace in value",
    ],
)
def test_label_values_are_unescaped(line: str, labels: dict[str, str]) -> None:
    parsed = text.parse(line)
    assert parsed.skipped == 0
    assert parsed.samples[0].labels == labels


@pytest.mark.parametrize(
    "line",
    [
        "1metric 1",
        'm{a="unterminated} 1',
        "m{a=unquoted} 1",
        'm{a="x"',
        "m",
        "m 1 2 3",
        "m one",
        "m 1 soon",
        "m 1_000",
        'm{a="bad \\q escape"} 1',
        'm{="no name"} 1',
    ],
)
def test_malformed_lines_are_skipped_and_counted(line: str) -> None:
    parsed = text.parse(f"good 1\n{line}\nalso_good 2\n")
    assert [s.name for s in parsed.samples] == ["good", "also_good"]
    assert parsed.skipped == 1


def test_special_values_parse_as_go_writes_them() -> None:
    values = [s.value for s in text.parse("a NaN\nb +Inf\nc -Inf\n").samples]
    assert math.isnan(values[0])
    assert values[1:] == [math.inf, -math.inf]


def test_blank_lines_comments_and_crlf_are_ignored() -> None:
    assert text.parse("\r\n# just a comment\r\n\r\nm 1\r\n").samples == (text.Sample("m", {}, 1.0),)


def test_a_series_line_escapes_labels_and_carries_its_timestamp() -> None:
    line = text.series("m", [("container", 'a"b'), ("pod", "p\\1")], 12.5, 1767225600123)
    assert line == 'm{container="a\\"b",pod="p\\\\1"} 12.5 1767225600123\n'
    assert text.parse(line).samples[0].labels == {"container": 'a"b', "pod": "p\\1"}


def test_a_series_without_labels_or_timestamp() -> None:
    assert text.series("resource_scrape_error", (), 0.0) == "resource_scrape_error 0\n"


@pytest.mark.parametrize(
    ("value", "written"),
    [(67108864.0, "67108864"), (0.25, "0.25"), (1e21, "1e+21"), (math.nan, "NaN"), (-math.inf, "-Inf"), (3, "3")],
)
def test_values_are_written_as_go_does(value: float, written: str) -> None:
    assert text.format_value(value) == written


def test_the_header_names_kind_and_help() -> None:
    assert text.header("m", kind="counter", help_text="two\nlines") == "# HELP m two\\nlines\n# TYPE m counter\n"
