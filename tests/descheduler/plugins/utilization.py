"""Cluster builders shared by the LowNodeUtilization and HighNodeUtilization tests.

Nodes have 10 cpus, so one 1-cpu pod is 10 percentage points of cpu.
"""

from __future__ import annotations

from typing import Any

from descheduler import model
from tests.descheduler import factories as f


def node(name: str, **kw: Any) -> model.Node:
    return f.node(name, cpu="10", memory="100Gi", pods="100", **kw)


def pods(node_name: str, count: int, *, prefix: str = "", cpu: str | None = "1", **kw: Any) -> list[model.Pod]:
    """``count`` pods named <prefix or node>-<i>, requesting ``cpu`` and no memory."""
    prefix = prefix or node_name
    return [f.pod(f"{prefix}-{i}", node=node_name, cpu=cpu, memory=None, **kw) for i in range(count)]
