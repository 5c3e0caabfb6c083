"""The extension points plugins implement and the handle they are given.

Plugins never build clients and never evict directly: they ask the :class:`Handle`,
whose ``evict`` runs the evictor's pre-eviction filters and limits and goes through
whichever writer (API or dry-run recorder) the runner chose. No plugin sees dry-run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from descheduler.cluster.state import ClusterState
from descheduler.evictor.budgets import DisruptionBudgets
from descheduler.model import Node, Pod


class Handle(Protocol):
    """What a plugin may use: the cycle's cluster state and the evictor."""

    @property
    def state(self) -> ClusterState: ...

    @property
    def budgets(self) -> DisruptionBudgets:
        """The cycle's PodDisruptionBudgets with the disruptions each has left after this cycle's evictions."""

    def filter(self, pod: Pod) -> bool:
        """True when the evictor's filters allow evicting ``pod`` at all (and this cycle has not tried it yet)."""

    def pre_eviction_filter(self, pod: Pod) -> bool:
        """True when the last checks before eviction (e.g. nodeFit) pass."""

    def limits_allow(self, pods: Sequence[Pod]) -> bool:
        """True when the eviction limits leave room for all of ``pods`` (checked before evicting a set)."""

    def evict(
        self, pod: Pod, *, reason: str, avoid_node: str = "", avoid_seconds: float = 0.0, unblocks: str = ""
    ) -> bool:
        """Evict through the evictor. True when the eviction happened (or is planned).

        Raises the limit errors of :mod:`descheduler.evictor.limits`; strategies react
        by type (next node, or stop). ``avoid_node`` asks for an avoidance record on the
        pod's controlling owner for ``avoid_seconds`` before the eviction; ``unblocks`` names the pending pod
        an eviction makes room for (shown in reports).
        """


@runtime_checkable
class DeschedulePlugin(Protocol):
    """A plugin at the Deschedule extension point: evicts pods on ``nodes`` that should not stay where they are."""

    def deschedule(self, nodes: Sequence[Node]) -> None: ...


@runtime_checkable
class BalancePlugin(Protocol):
    """A plugin at the Balance extension point: evens ``nodes`` out by evicting; runs after all Deschedule plugins."""

    def balance(self, nodes: Sequence[Node]) -> None: ...


@runtime_checkable
class FilterPlugin(Protocol):
    """A plugin at the Filter extension point: whether ``pod`` may be evicted at all (DefaultEvictor is one)."""

    def filter(self, pod: Pod) -> bool: ...


@runtime_checkable
class PreEvictionFilterPlugin(Protocol):
    """A plugin at the PreEvictionFilter extension point: the last check before ``pod`` is evicted (e.g. nodeFit)."""

    def pre_eviction_filter(self, pod: Pod) -> bool: ...


@dataclass(frozen=True)
class Refusal:
    """Why a plugin would not evict one pod, for ``tensile-deschedule explain``.

    ``path`` is the argument that decided, relative to the plugin's ``args`` (``podRestartThreshold``,
    ``namespaces.exclude``), or "" when no argument did (the pod is not Failed, its node has no
    taint); ``words`` says it plainly (``27 restarts < 50``).
    """

    path: str
    words: str
