"""The Prometheus text exposition format (version 0.0.4), both ways, as the kubelet's resource
metrics use it: :func:`parse` reads a lower kubelet's page into :class:`Sample` s, :func:`series`
and :func:`header` write ours.

Pure. Read by :mod:`provider.kubelet.lower_metrics`, written by :mod:`provider.kubelet.resource_usage`.
Lines that do not parse are counted and skipped, never raised: one odd line from a lower kubelet
must not cost the whole scrape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"
"""What to ask a kubelet for: the text format, whatever else it would prefer (no protobuf, no OpenMetrics)."""

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_UNESCAPE = {"\\": "\\", '"': '"', "n": "\n"}


@dataclass(frozen=True)
class Sample:
    """One series line: metric name, labels, value and the optional timestamp (ms since the epoch)."""

    name: str
    labels: Mapping[str, str]
    value: float
    timestamp_ms: int | None = None


@dataclass(frozen=True)
class Parsed:
    """The samples of a page, and how many of its non-comment lines were skipped as malformed."""

    samples: tuple[Sample, ...]
    skipped: int = 0


class _BadLineError(ValueError):
    """A series line that is not in the text format."""


def parse(text: str) -> Parsed:
    """Every series line of ``text``; comments (HELP, TYPE) and blank lines are ignored."""
    samples: list[Sample] = []
    skipped = 0
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            samples.append(_parse_line(stripped))
        except _BadLineError:
            skipped += 1
    return Parsed(tuple(samples), skipped)


def _parse_line(line: str) -> Sample:
    match = _NAME.match(line)
    if match is None:
        raise _BadLineError(line)
    name, rest = match.group(), line[match.end() :]
    labels: dict[str, str] = {}
    if rest.startswith("{"):
        labels, rest = _parse_labels(rest[1:])
    fields = rest.split()
    if not 1 <= len(fields) <= 2 or (rest and not rest[0].isspace()):
        raise _BadLineError(line)
    value = _parse_value(fields[0])
    timestamp = None
    if len(fields) == 2:
        try:
            timestamp = int(fields[1], 10)
        except ValueError:
            raise _BadLineError(line) from None
    return Sample(name, labels, value, timestamp)


def _parse_labels(rest: str) -> tuple[dict[str, str], str]:
    """The labels up to the closing brace (``rest`` starts after the opening one), and what follows it."""
    labels: dict[str, str] = {}
    position = 0
    while True:
        position = _skip_blanks(rest, position)
        if rest.startswith("}", position):
            return labels, rest[position + 1 :]
        match = _LABEL_NAME.match(rest, position)
        if match is None:
            raise _BadLineError(rest)
        position = _skip_blanks(rest, match.end())
        if not rest.startswith("=", position):
            raise _BadLineError(rest)
        position = _skip_blanks(rest, position + 1)
        if not rest.startswith('"', position):
            raise _BadLineError(rest)
        value, position = _parse_quoted(rest, position + 1)
        labels[match.group()] = value
        position = _skip_blanks(rest, position)
        if rest.startswith(",", position):
            position += 1
        elif not rest.startswith("}", position):
            raise _BadLineError(rest)


def _skip_blanks(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t":
        position += 1
    return position


def _parse_quoted(text: str, position: int) -> tuple[str, int]:
    """A label value from ``position`` (after its opening quote) to its closing quote, unescaped."""
    out: list[str] = []
    while position < len(text):
        char = text[position]
        if char == '"':
            return "".join(out), position + 1
        if char == "\\":
            escaped = text[position + 1 : position + 2]
            if escaped not in _UNESCAPE:
                raise _BadLineError(text)
            out.append(_UNESCAPE[escaped])
            position += 2
            continue
        out.append(char)
        position += 1
    raise _BadLineError(text)  # no closing quote


def _parse_value(text: str) -> float:
    # Go's ParseFloat spellings; Python's float() would also take "infinity" and "1_0".
    if "_" in text:
        raise _BadLineError(text)
    try:
        return float(text)
    except ValueError:
        raise _BadLineError(text) from None


# -- writing --------------------------------------------------------------------------------


def header(name: str, *, kind: str, help_text: str) -> str:
    """The ``# HELP`` and ``# TYPE`` lines of one metric family."""
    escaped = help_text.replace("\\", "\\\\").replace("\n", "\\n")
    return f"# HELP {name} {escaped}\n# TYPE {name} {kind}\n"


def series(name: str, labels: Iterable[tuple[str, str]], value: float, timestamp_ms: int | None = None) -> str:
    """One sample line, labels in the order given, ending in a newline."""
    pairs = ",".join(f'{key}="{_escape(text)}"' for key, text in labels)
    line = f"{name}{{{pairs}}} {format_value(value)}" if pairs else f"{name} {format_value(value)}"
    return f"{line} {timestamp_ms}\n" if timestamp_ms is not None else line + "\n"


def format_value(value: float) -> str:
    """A value as Go's exposition writes it: integers without a fraction, ``NaN``, ``+Inf``, ``-Inf``."""
    value = float(value)  # an int has no is_integer() before Python 3.12
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
