"""The one door through which every plugin evicts (the writers it asks are in :mod:`descheduler.evictor.writers`).

``Evictor.evict`` checks limits, asks the writer (API or dry-run recorder) and records a
:class:`~descheduler.report.Decision`. On success it updates the cluster state the same
way in both modes, so a dry-run plan equals the real run's plan.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from descheduler import placement
from descheduler.cluster.state import ClusterState
from descheduler.evictor import limits
from descheduler.evictor.budgets import DisruptionBudgets
from descheduler.evictor.writers import EvictionWriter, Outcome
from descheduler.model import Node, Pod
from descheduler.report import Decision, Result

logger = logging.getLogger(__name__)


@dataclass
class Evictor:
    """The cycle's one door to eviction: the runner builds one per cycle, and every plugin's
    handle calls :meth:`evict` on it.

    It owns what the whole cycle shares: the limit counter, the PodDisruptionBudgets with the
    disruptions they have left, the pods already tried, and the decisions for the report. It
    checks the limits, asks the writer (in a dry run after predicting the budgets' refusal),
    records a :class:`~descheduler.report.Decision`, and on success updates the cluster state the
    same way in both modes.
    """

    state: ClusterState
    writer: EvictionWriter
    counter: limits.LimitCounter
    grace_period_seconds: int | None = None
    decisions: list[Decision] = field(default_factory=list)
    budgets: DisruptionBudgets = field(init=False)
    """The cycle's PodDisruptionBudgets, counting this cycle's evictions."""
    _attempted: set[str] = field(default_factory=set, repr=False)
    _placement_order: list[Node] | None = field(default=None, repr=False)
    _last_target: dict[str, str] = field(default_factory=dict, repr=False)
    """Per controlling owner, where its last replacement was predicted: replicas share a spec."""

    def evict(
        self,
        pod: Pod,
        *,
        plugin: str,
        profile: str,
        reason: str,
        avoid_node: str = "",
        avoid_seconds: float = 0.0,
        unblocks: str = "",
    ) -> bool:
        """One attempt per pod and cycle: a pod already planned, evicted, blocked or failed is left alone."""
        if self.attempted(pod):
            return False
        try:
            self.counter.check(pod)
        except limits.LimitError as exc:
            self._record(pod, plugin, profile, reason, Outcome(Result.LIMIT, str(exc)), unblocks)
            raise
        self._attempted.add(pod.uid)
        outcome = self._attempt(pod, reason=reason, avoid_node=avoid_node, avoid_seconds=avoid_seconds)
        self._record(pod, plugin, profile, reason, outcome, unblocks)
        if outcome.result in (Result.PLANNED, Result.EVICTED, Result.GONE):
            self._account(pod, avoid_node)
        if outcome.result.succeeded:
            self.counter.record(pod)
            self.budgets.record(pod)
            return True
        return False

    def attempted(self, pod: Pod) -> bool:
        """Whether this cycle already tried (or planned) to evict the pod."""
        return pod.uid in self._attempted or self.state.is_evicted(pod)

    def _attempt(self, pod: Pod, *, reason: str, avoid_node: str, avoid_seconds: float) -> Outcome:
        if self.writer.dry_run:
            # The API server would refuse what the budgets' status forbids: the plan says so too.
            refusal = self.budgets.refusal(pod)
            if refusal is not None:
                return Outcome(*refusal)
        undo = None
        if avoid_node and avoid_seconds > 0 and pod.controller is not None:
            # Written before the eviction: the owner creates the replacement within milliseconds
            # of it, and the webhook must already see the record then. Taken back if refused.
            undo = self.writer.record_avoidance(pod, node=avoid_node, until=self.state.now + avoid_seconds)
        outcome = self.writer.evict(pod, reason=reason, grace_period_seconds=self.grace_period_seconds)
        if undo is not None and not outcome.result.succeeded:
            undo()
        return outcome

    def __post_init__(self) -> None:
        self.budgets = DisruptionBudgets(self.state.pdbs)

    def _account(self, pod: Pod, avoid_node: str) -> None:
        """Free what the pod held and reserve room for its replacement, if it gets one."""
        self.state.mark_evicted(pod)
        if pod.controller is None or pod.controller.kind == "DaemonSet":
            return
        if self._placement_order is None:
            # Ranked once per cycle; fits() still reads current free capacity.
            self._placement_order = placement.most_free_first(self.state)
        exclude = {avoid_node} if avoid_node else set()
        hint = self.state.nodes.get(self._last_target.get(pod.controller.uid, ""))
        order = self._placement_order if hint is None else [hint, *self._placement_order[:16]]
        target = placement.first_fit(self.state, pod, order, exclude=exclude, max_checks=16)
        if target is not None:
            self._last_target[pod.controller.uid] = target.name
            self.state.reserve(pod.requests, target.name)

    def _record(self, pod: Pod, plugin: str, profile: str, reason: str, outcome: Outcome, unblocks: str) -> None:
        decision = Decision(
            namespace=pod.namespace,
            pod=pod.name,
            node=pod.node_name,
            plugin=plugin,
            profile=profile,
            reason=reason,
            result=outcome.result,
            message=outcome.message,
            unblocks=unblocks,
        )
        self.decisions.append(decision)
        logger.info(
            "eviction %s: %s on %s by %s/%s: %s",
            outcome.result.value,
            pod.key,
            pod.node_name or "-",
            profile,
            plugin,
            reason,
            extra={
                "pod": pod.key,
                "node": pod.node_name,
                "plugin": plugin,
                "profile": profile,
                "reason": reason,
                "result": outcome.result.value,
            },
        )
