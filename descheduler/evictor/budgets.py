"""The cycle's PodDisruptionBudgets: which cover a pod, and how many disruptions each still
allows once this cycle's evictions (planned or done) are counted.

The evictor counts every successful eviction here, so plugins that plan whole sets
(VirtualNodeFragmentation) see what earlier plugins took, and a dry run predicts the
API server's refusal (HTTP 429) where the real run would meet it.
"""

from __future__ import annotations

from collections.abc import Iterable

from descheduler import matching
from descheduler.model import Pod, PodDisruptionBudget
from descheduler.report import Result

# The Eviction API lets these go without consulting budgets (pods/eviction "canIgnorePDB").
_IGNORES_BUDGETS = frozenset({"Pending", "Succeeded", "Failed"})


class DisruptionBudgets:
    """Budgets by namespace, with the disruptions each has left in this cycle."""

    def __init__(self, pdbs: Iterable[PodDisruptionBudget]) -> None:
        self._by_namespace: dict[str, list[PodDisruptionBudget]] = {}
        self._left: dict[str, int] = {}
        self._covering: dict[str, tuple[str, ...]] = {}
        """By pod uid: labels and selectors do not change within a cycle, and each eviction asks twice."""
        for pdb in pdbs:
            self._by_namespace.setdefault(pdb.namespace, []).append(pdb)
            self._left[_key(pdb)] = pdb.disruptions_allowed

    def covering(self, pod: Pod) -> tuple[str, ...]:
        """``namespace/name`` of every budget whose selector matches the pod (a null selector matches none)."""
        found = self._covering.get(pod.uid)
        if found is None:
            budgets = self._by_namespace.get(pod.namespace, ())
            found = tuple([_key(pdb) for pdb in budgets if matching.selector_matches(pdb.selector, pod.labels)])
            self._covering[pod.uid] = found
        return found

    def room(self, key: str) -> int:
        """Disruptions the budget ``namespace/name`` still allows in this cycle."""
        return self._left.get(key, 0)

    def refusal(self, pod: Pod) -> tuple[Result, str] | None:
        """What the Eviction API would answer instead of evicting (from the budgets' status), or None.

        A budget with no room left is its 429 (``blocked``); a pod under two budgets is its 500.
        """
        if pod.phase in _IGNORES_BUDGETS or pod.deleting:
            return None
        covering = self.covering(pod)
        if len(covering) > 1:
            return Result.FAILED, f"pod is covered by more than one PodDisruptionBudget ({', '.join(covering)})"
        if covering and self._left[covering[0]] <= 0:
            return Result.BLOCKED, f"PodDisruptionBudget {covering[0]} allows no more disruptions"
        return None

    def record(self, pod: Pod) -> None:
        """The pod was evicted (or planned to be): each budget covering it allows one disruption fewer."""
        if pod.phase in _IGNORES_BUDGETS or pod.deleting:
            return
        for key in self.covering(pod):
            self._left[key] -= 1


def _key(pdb: PodDisruptionBudget) -> str:
    return f"{pdb.namespace}/{pdb.name}"
