"""Requested CPU, memory and pods per node before and after a cycle's plan: pure figures on plain data.

The runner takes a copy of each node's requests (:meth:`ClusterState.usage
<descheduler.cluster.state.ClusterState.usage>`) before the profiles run and reads them again
after: the state has by then freed what every planned or done eviction held and reserved room
for each predicted replacement, so "after" is what the state itself expects. This module turns
the two readings and the nodes' allocatable into :class:`NodeFigures`, grouped as a person reads
a tensile cluster: the ordinary nodes, then each virtual node under its lower cluster (the
provider's ``type=virtual-kubelet`` and ``tensile.io/lower-cluster`` labels). Rendered by
:mod:`descheduler.report` (table, JSON, YAML) and :mod:`descheduler.report_html`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from descheduler import keys, quantity
from descheduler import model as records


@dataclass(frozen=True)
class Amounts:
    """One reading of the three figures shown: milli-CPU, bytes of memory and a pod count."""

    cpu: int = 0
    memory: int = 0
    pods: int = 0

    @classmethod
    def of(cls, resources: Mapping[str, int]) -> Amounts:
        return cls(
            cpu=resources.get(quantity.CPU, 0),
            memory=resources.get(quantity.MEMORY, 0),
            pods=resources.get(quantity.PODS, 0),
        )

    def get(self, resource: str) -> int:
        """The amount of ``cpu``, ``memory`` or ``pods`` (one of :data:`RESOURCES`)."""
        return int(getattr(self, resource))

    def to_dict(self) -> dict[str, int]:
        return {name: self.get(name) for name in RESOURCES}


RESOURCES = ("cpu", "memory", "pods")
"""The figures shown, in the order shown (the keys of :meth:`Amounts.to_dict`)."""


@dataclass(frozen=True)
class NodeFigures:
    """One node's requests before and after the plan, against its allocatable.

    ``lower_cluster`` is the lower cluster a virtual node stands for, None for an ordinary node;
    :meth:`to_dict` is the report document's ``nodes`` entry.
    """

    name: str
    lower_cluster: str | None
    before: Amounts
    after: Amounts
    allocatable: Amounts

    @property
    def virtual(self) -> bool:
        return self.lower_cluster is not None

    @property
    def group(self) -> str:
        """The group as shown to a person: ``-`` for an ordinary node, ``lower: <cluster>`` for a virtual one."""
        return "-" if self.lower_cluster is None else f"lower: {self.lower_cluster}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.lower_cluster,
            "virtual": self.virtual,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "allocatable": self.allocatable.to_dict(),
        }


def lower_cluster(node: records.Node) -> str | None:
    """The lower cluster a virtual node stands for (its node name when unlabelled); None for an ordinary node."""
    if node.labels.get(keys.VIRTUAL_NODE_TYPE_LABEL) != keys.VIRTUAL_NODE_TYPE_VALUE:
        return None
    return node.labels.get(keys.LOWER_CLUSTER_LABEL) or node.name


def node_figures(
    nodes: Iterable[records.Node],
    *,
    before: Mapping[str, Mapping[str, int]],
    after: Mapping[str, Mapping[str, int]],
) -> list[NodeFigures]:
    """Every node's figures, ordinary nodes first, then virtual nodes by lower cluster, each by name.

    ``before`` and ``after`` map a node name to its requested resources (a node missing from one
    requested nothing then).
    """
    figures = [
        NodeFigures(
            name=node.name,
            lower_cluster=lower_cluster(node),
            before=Amounts.of(before.get(node.name, {})),
            after=Amounts.of(after.get(node.name, {})),
            allocatable=Amounts.of(node.allocatable),
        )
        for node in nodes
    ]
    return sorted(figures, key=lambda f: (f.lower_cluster is not None, f.lower_cluster or "", f.name))


def groups(figures: Iterable[NodeFigures]) -> list[tuple[str, list[NodeFigures]]]:
    """The figures by group, in order: ``("-", ordinary nodes)``, then ``("lower: east", its virtual nodes)``, ..."""
    grouped: dict[str, list[NodeFigures]] = {}
    for figure in figures:
        grouped.setdefault(figure.group, []).append(figure)
    return list(grouped.items())


def percent(amount: int, allocatable: int) -> float | None:
    """``amount`` as a percentage of ``allocatable``; None when the node offers none of it."""
    if allocatable <= 0:
        return None
    return 100.0 * amount / allocatable
