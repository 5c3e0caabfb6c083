"""Whether a pod fits a lower cluster, judged from that cluster's summary, and the scores of those it fits.

The scheduler extender calls :func:`judge` for each virtual node the upper scheduler found
feasible (filter), then :func:`scores` over the verdicts that passed (prioritize). What cannot be
decided from a summary (hostnames, a partial summary) passes: the descheduler catches what slips.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from descheduler import keys, matching, model, quantity
from provider.fit import needs as needs_
from provider.fit import summary as summary_

STRATEGIES = ("bestFit", "leastAllocated")
"""Prioritize strategies; the first is the default."""

# Only these effects keep the scheduler off a node; PreferNoSchedule is a score, not a filter.
_BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")
_SCORED = (quantity.CPU, quantity.MEMORY)
# Groups carry no hostname; every node has one, so a stand-in value lets Exists and DoesNotExist
# on it be judged (a pod that needs a particular value is ``by_hostname`` and never gets here).
_ANY_HOSTNAME = "node"
_SAME = 1e-9


@dataclass(frozen=True)
class Verdict:
    """One virtual node's verdict for one pod, with a reason for ``kubectl describe pod``."""

    fits: bool
    """Some lower node has room for the pod now (or the summary cannot tell, and the node passes)."""
    resolvable: bool
    """False when no lower node could ever hold the pod: preemption upstairs cannot help."""
    reason: str
    """One line, prefixed with the lower cluster's name."""
    best_fit: float | None = None
    """Mean share of allocatable left on the tightest fitting room (smaller = tighter); None if unknown.

    Rooms are every distinct node of the summary (only the non-dominated ones when it had to be
    pruned to fit its size cap): the figure says how full the tightest fitting node would get.
    """
    least_allocated: float | None = None
    """The same mean on the roomiest fitting room (larger = roomier); None if unknown."""


def judge(needs: needs_.PodNeeds, summary: summary_.Summary, *, cluster: str) -> Verdict:
    """Whether ``needs`` fits one lower node summarized in ``summary``, and if not, why."""
    if needs.by_hostname:
        return _undecided(cluster, "the pod names lower nodes by hostname, which the summary leaves out")
    requests = {name: amount for name, amount in needs.requests.items() if amount > 0}
    pod = _pod(needs)
    groups = [g for g in summary.groups if _admits(pod, g)]
    rooms = [room for g in groups for room in g.free if _fits(room.free_amounts, requests)]
    if rooms:
        left = [_left(room, requests) for room in rooms]
        return Verdict(True, True, f"{cluster}: a node has room for the pod", min(left), max(left))
    if summary.partial:
        return _undecided(cluster, "its summary is incomplete")
    if not summary.groups:
        return Verdict(False, False, f"{cluster}: no schedulable node")
    if not groups:
        return Verdict(False, False, f"{cluster}: no node matches the pod's node selector, affinity and tolerations")
    capacities = [v for g in groups for v in g.allocatable]
    if not any(_covers(v, requests) for v in capacities):
        return Verdict(False, False, f"{cluster}: {_never(requests, capacities)}")
    return Verdict(False, True, f"{cluster}: {_blocked(requests, [room.free for g in groups for room in g.free])}")


def _undecided(cluster: str, why: str) -> Verdict:
    return Verdict(True, True, f"{cluster}: passed undecided: {why}")


def _pod(needs: needs_.PodNeeds) -> model.Pod:
    """A stand-in pod carrying only what the matching predicates read."""
    affinity = None
    if needs.affinity_terms is not None:
        required = {"nodeSelectorTerms": [dict(t) for t in needs.affinity_terms]}
        affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}
    return model.Pod(
        namespace="",
        name="",
        uid="",
        node_name="",
        phase="",
        labels={},
        annotations={},
        owners=(),
        priority=None,
        priority_class_name="",
        requests=dict(needs.requests),
        created=0.0,
        deleting=False,
        node_selector=dict(needs.node_selector),
        affinity=affinity,
        tolerations=tuple(dict(t) for t in needs.tolerations),
    )


def _admits(pod: model.Pod, group: summary_.Group) -> bool:
    """Node selector, required node affinity and NoSchedule/NoExecute taints, as the scheduler filters."""
    node = model.Node(
        name="",
        labels={**group.labels, keys.HOSTNAME_LABEL: _ANY_HOSTNAME},
        annotations={},
        taints=group.taints,
        unschedulable=False,
        ready=True,
        allocatable={},
    )
    return matching.pod_matches_node_selector(pod, node) and not matching.untolerated_taints(
        pod, node, _BLOCKING_EFFECTS
    )


def _covers(vector: summary_.Vector, requests: Mapping[str, int]) -> bool:
    return matching.fits_resources(dict(requests), dict(vector))


def _fits(free: Mapping[str, int], requests: Mapping[str, int]) -> bool:
    """Every requested amount (all positive) is free: the hot loop of a filter call."""
    return all(free.get(name, 0) >= amount for name, amount in requests.items())


def _left(room: summary_.Room, requests: Mapping[str, int]) -> float:
    """Mean over the scored resources of (free - request) / allocatable on this node."""
    names = [name for name in _SCORED if name in requests] or [quantity.PODS]
    free, allocatable = room.free_amounts, room.allocatable_amounts
    shares = [
        (free.get(name, 0) - requests.get(name, 0)) / allocatable[name] if allocatable.get(name, 0) > 0 else 0.0
        for name in names
    ]
    return sum(shares) / len(shares)


# -- reasons --------------------------------------------------------------------------


def _never(requests: Mapping[str, int], capacities: Sequence[summary_.Vector]) -> str:
    short = _short(requests, capacities)
    if short:
        return "no node can ever hold " + " or ".join(
            f"{_amount(name, requests[name])} (largest allocatable: {_quantity(largest, name)})"
            for name, largest in short
        )
    return f"no node can ever hold {_together(requests, capacities)} together"


def _blocked(requests: Mapping[str, int], free: Sequence[summary_.Vector]) -> str:
    short = _short(requests, free)
    if short:
        return "no single node has " + " or ".join(
            f"{_amount(name, requests[name])} free (largest free: {_quantity(largest, name)})"
            for name, largest in short
        )
    return f"no single node has {_together(requests, free)} free together"


def _short(requests: Mapping[str, int], vectors: Sequence[summary_.Vector]) -> list[tuple[str, int]]:
    """The resources no vector has enough of alone, with the largest amount any has."""
    amounts = [dict(v) for v in vectors]
    largest = {name: max((a.get(name, 0) for a in amounts), default=0) for name in requests}
    return [(name, largest[name]) for name in _ordered(requests) if largest[name] < requests[name]]


def _together(requests: Mapping[str, int], vectors: Sequence[summary_.Vector]) -> str:
    """The requested resources some vector lacks: each is somewhere, never all at once."""
    amounts = [dict(v) for v in vectors]
    names = [n for n in _ordered(requests) if any(a.get(n, 0) < requests[n] for a in amounts)]
    parts = [_amount(name, requests[name]) for name in names]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _ordered(requests: Iterable[str]) -> list[str]:
    """cpu, memory, then the other resources by name."""
    return sorted(requests, key=lambda name: (_SCORED.index(name) if name in _SCORED else len(_SCORED), name))


def _amount(name: str, amount: int) -> str:
    return f"{name} {_quantity(amount, name)}"


def _quantity(amount: int, name: str) -> str:
    """As kubectl prints it: cpu in cores or millicores, memory-like amounts in Ki/Mi/Gi."""
    if name.startswith("hugepages-"):
        return quantity.format_amount(amount, quantity.MEMORY)
    return quantity.format_amount(amount, name)


# -- scores ---------------------------------------------------------------------------


def scores(verdicts: Mapping[str, Verdict], strategy: str) -> dict[str, int]:
    """0..10 for each virtual node that passed: 10 for the tightest (bestFit) or roomiest
    (leastAllocated) best node, 0 for the other end, linear between; nodes passed undecided get 0.

    ValueError for an unknown strategy.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}: expected one of {', '.join(STRATEGIES)}")
    tight = strategy == STRATEGIES[0]
    values = {name: v.best_fit if tight else v.least_allocated for name, v in verdicts.items() if v.fits}
    known = [value for value in values.values() if value is not None]
    low, high = (min(known), max(known)) if known else (0.0, 0.0)
    result = {}
    for name, value in values.items():
        if value is None:
            result[name] = 0
        elif high - low <= _SAME:
            result[name] = 10
        else:
            share = (high - value) / (high - low) if tight else (value - low) / (high - low)
            result[name] = math.floor(10 * share + 0.5)
    return result
