"""How metrics-server v0.8.1 reads a kubelet's ``/metrics/resource``, as test code: what ``kubectl top``
would show from a page (docs/design/streaming-findings.md section 5, from its
``pkg/scraper/client/resource/decode.go``; written here from that description, not copied).

- Prometheus text, series lines only; a page that is not valid text fails the whole scrape (textparse).
- Series by name prefix: ``container_*`` names followed by ``{``; the node's by their bare name.
- Labels found by substring ``container="``, ``pod="``, ``namespace="``, the value up to the next quote
  (no unescaping).
- An optional timestamp in milliseconds; without one, the time of the request.
- CPU: seconds x 1e9 (integer nanoseconds); memory: bytes; start time: seconds.
- The node is dropped if its timestamp, CPU or memory is zero; a pod is dropped if any of its
  containers has CPU == 0 or memory == 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NODE_CPU = "node_cpu_usage_seconds_total"
NODE_MEMORY = "node_memory_working_set_bytes"
CONTAINER_CPU = "container_cpu_usage_seconds_total{"
CONTAINER_MEMORY = "container_memory_working_set_bytes{"
CONTAINER_START = "container_start_time_seconds{"

_SERIES_LINE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? '
    r"(NaN|[+-]Inf|[-+]?[0-9.]+([eE][-+]?[0-9]+)?)( -?[0-9]+)?$"
)
_TYPE_LINE = re.compile(r"^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$")


class NotPrometheusTextError(ValueError):
    """A line textparse would refuse: metrics-server then fails the whole scrape of the node."""


@dataclass
class Point:
    """One container's or the node's figures as metrics-server stores them."""

    cpu_nanoseconds: int = 0
    memory_bytes: int = 0
    start_time: float = 0.0
    timestamp_ms: int = 0


@dataclass
class Decoded:
    """What metrics-server keeps of one scrape: the node (or None, dropped) and pods by (namespace, name)."""

    node: Point | None
    pods: dict[tuple[str, str], dict[str, Point]] = field(default_factory=dict)


def _label(series: str, name: str) -> str:
    start = series.find(f'{name}="')
    if start < 0:
        return ""
    start += len(name) + 2
    end = series.find('"', start)
    return series[start:end] if end >= 0 else ""


def _split(line: str, request_ms: int) -> tuple[str, float, int]:
    if not _SERIES_LINE.match(line):
        raise NotPrometheusTextError(line)
    # The value and the timestamp are the last fields; label values may hold blanks.
    head, _, tail = line.rpartition("}")
    fields = tail.split() if head else line.split()[1:]
    series = head + "}" if head else line.split(maxsplit=1)[0]
    value = float(fields[0])
    timestamp = int(fields[1]) if len(fields) > 1 else request_ms
    return series, value, timestamp


def decode(page: str, *, request_ms: int) -> Decoded:
    """The node and pods metrics-server would keep from ``page``, fetched at ``request_ms``."""
    node = Point()
    pods: dict[tuple[str, str], dict[str, Point]] = {}
    for line in page.splitlines():
        if not line:
            continue
        if line.startswith("#"):
            if line.startswith("# TYPE") and not _TYPE_LINE.match(line):
                raise NotPrometheusTextError(line)
            continue
        series, value, timestamp = _split(line, request_ms)
        if series.startswith(NODE_CPU):
            node.cpu_nanoseconds, node.timestamp_ms = int(value * 1e9), timestamp
        elif series.startswith(NODE_MEMORY):
            node.memory_bytes, node.timestamp_ms = int(value), timestamp
        elif series.startswith((CONTAINER_CPU, CONTAINER_MEMORY, CONTAINER_START)):
            key = (_label(series, "namespace"), _label(series, "pod"))
            point = pods.setdefault(key, {}).setdefault(_label(series, "container"), Point())
            if series.startswith(CONTAINER_CPU):
                point.cpu_nanoseconds, point.timestamp_ms = int(value * 1e9), timestamp
            elif series.startswith(CONTAINER_MEMORY):
                point.memory_bytes, point.timestamp_ms = int(value), timestamp
            else:
                point.start_time = value
    kept_node = node if node.timestamp_ms and node.cpu_nanoseconds and node.memory_bytes else None
    kept = {
        key: containers
        for key, containers in pods.items()
        if all(c.cpu_nanoseconds and c.memory_bytes for c in containers.values())
    }
    return Decoded(kept_node, kept)
