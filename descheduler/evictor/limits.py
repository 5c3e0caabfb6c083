"""Eviction limits per node, per namespace and in total, shared by every plugin of a cycle."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from descheduler.errors import TensileError
from descheduler.model import Pod
from descheduler.policy.types import Limits


class LimitError(TensileError):
    """An eviction was refused because a limit is reached."""

    policy_field = ""
    """The DeschedulerPolicy field that set the limit (explain names it)."""


class NodeLimitError(LimitError):
    """maxNoOfPodsToEvictPerNode reached: strategies move on to the next node."""

    policy_field = "maxNoOfPodsToEvictPerNode"


class NamespaceLimitError(LimitError):
    """maxNoOfPodsToEvictPerNamespace reached: strategies skip pods of that namespace."""

    policy_field = "maxNoOfPodsToEvictPerNamespace"


class TotalLimitError(LimitError):
    """maxNoOfPodsToEvictTotal reached: strategies stop."""

    policy_field = "maxNoOfPodsToEvictTotal"


class LimitCounter:
    """The policy's eviction limits and the evictions counted against them, shared by every plugin of a cycle.

    The evictor calls :meth:`check` before and :meth:`record` after each eviction; plugins that
    evict whole sets ask :meth:`allows` (through their handle) first.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._node: Counter[str] = Counter()
        self._namespace: Counter[str] = Counter()
        self.total = 0

    def check(self, pod: Pod) -> None:
        """Raise the most specific limit error that forbids evicting ``pod``."""
        lim = self.limits
        if lim.total is not None and self.total >= lim.total:
            raise TotalLimitError(f"maximum number of evicted pods in total ({lim.total}) reached")
        if lim.per_node is not None and pod.node_name and self._node[pod.node_name] >= lim.per_node:
            raise NodeLimitError(f"maximum number of evicted pods per node ({lim.per_node}) reached on {pod.node_name}")
        if lim.per_namespace is not None and self._namespace[pod.namespace] >= lim.per_namespace:
            raise NamespaceLimitError(
                f"maximum number of evicted pods per namespace ({lim.per_namespace}) reached in {pod.namespace}"
            )

    def allows(self, pods: Sequence[Pod]) -> bool:
        """Whether every one of ``pods`` could be evicted, counting each as it would be recorded.

        For plugins whose evictions only help as a whole set: they check first, so a limit
        never leaves half a set evicted.
        """
        lim = self.limits
        if lim.total is not None and self.total + len(pods) > lim.total:
            return False
        nodes = Counter(p.node_name for p in pods if p.node_name)
        if lim.per_node is not None and any(self._node[n] + k > lim.per_node for n, k in nodes.items()):
            return False
        namespaces = Counter(p.namespace for p in pods)
        return lim.per_namespace is None or all(
            self._namespace[ns] + k <= lim.per_namespace for ns, k in namespaces.items()
        )

    def record(self, pod: Pod) -> None:
        self.total += 1
        if pod.node_name:
            self._node[pod.node_name] += 1
        self._namespace[pod.namespace] += 1

    def node_count(self, node_name: str) -> int:
        return self._node[node_name]
