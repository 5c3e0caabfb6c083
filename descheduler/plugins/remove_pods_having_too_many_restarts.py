"""RemovePodsHavingTooManyRestarts: evict pods whose containers restarted too often.

Upstream semantics (descheduler v0.36): the sum of restart counts (plus init containers
when ``includingInitContainers``) reaching ``podRestartThreshold``; ``states`` narrows to
pods with a container waiting in one of those reasons (e.g. CrashLoopBackOff; init containers
only when ``includingInitContainers``) or a pod phase (Running). Each node's candidates are
evicted most-restarted first, so a node or namespace limit keeps the least-restarted pods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from descheduler.errors import Problem
from descheduler.framework import types
from descheduler.framework.registry import PluginSpec
from descheduler.framework.types import Handle
from descheduler.model import Node, Pod
from descheduler.plugins import common
from descheduler.policy.argspec import Int32, LabelSelector, doc

NAME = "RemovePodsHavingTooManyRestarts"
ALLOWED_STATES = ("CrashLoopBackOff", "Running")


@dataclass(frozen=True)
class Args:
    """The plugin's arguments, with upstream's names and defaults (``RemovePodsHavingTooManyRestartsArgs``)."""

    pod_restart_threshold: Int32 = field(
        default=Int32(0), metadata=doc("Evict when restarts reach this number; must be > 0.")
    )
    including_init_containers: bool = field(default=False, metadata=doc("Count init container restarts too."))
    namespaces: common.Namespaces | None = field(default=None, metadata=doc("Namespaces to include or exclude."))
    label_selector: LabelSelector | None = field(default=None, metadata=doc("Only pods matching this selector."))
    states: tuple[str, ...] = field(
        default=(), metadata=doc("Only pods in these states: " + ", ".join(ALLOWED_STATES) + ".")
    )


def validate(args: Args) -> list[Problem]:
    problems = common.validate_namespaces(args.namespaces)
    if args.pod_restart_threshold < 1:
        problems.append(Problem("podRestartThreshold", f"must be > 0, got {args.pod_restart_threshold}"))
    for i, state in enumerate(args.states):
        if state not in ALLOWED_STATES:
            problems.append(Problem(f"states[{i}]", f"must be one of {', '.join(ALLOWED_STATES)}; got {state!r}"))
    return problems


def restarts(pod: Pod, *, including_init_containers: bool) -> int:
    total = sum(c.restart_count for c in pod.container_statuses)
    if including_init_containers:
        total += sum(c.restart_count for c in pod.init_container_statuses)
    return total


def in_states(pod: Pod, states: tuple[str, ...], *, including_init_containers: bool) -> bool:
    """The pod's phase or a container's waiting reason is listed; init containers count only
    when they count for restarts too (upstream's ``states`` filter in ``New``)."""
    if not states:
        return True
    if pod.phase in states:
        return True
    if any(c.waiting_reason in states for c in pod.container_statuses):
        return True
    return including_init_containers and any(c.waiting_reason in states for c in pod.init_container_statuses)


def why_not(pod: Pod, args: Args, _handle: Handle, _nodes: Sequence[Node]) -> types.Refusal | None:
    """Why the pod is no candidate, with the argument that decided (for explain)."""
    init = args.including_init_containers
    found = common.pod_refusal(pod, args.namespaces, args.label_selector)
    if found is None and not in_states(pod, args.states, including_init_containers=init):
        found = types.Refusal("states", f"the pod is in none of {', '.join(args.states)}")
    count = restarts(pod, including_init_containers=init)
    if found is None and count < args.pod_restart_threshold:
        found = types.Refusal("podRestartThreshold", f"{count} restarts < {args.pod_restart_threshold}")
    return found


class RemovePodsHavingTooManyRestarts:
    """Deschedule plugin: evicts each node's pods whose restarts reach ``podRestartThreshold``,
    most-restarted first.
    """

    def __init__(self, args: Args, handle: Handle) -> None:
        self.args = args
        self.handle = handle

    def candidates(self, node: Node) -> list[Pod]:
        """The node's pods over the threshold, most restarts first.

        Upstream sorts with ``sort.Slice`` (not stable) over pods listed from an informer index
        in no fixed order, so it leaves the order of equal counts open; a stable sort keeps
        tensile's listing order for them, which makes the plan repeatable.
        """
        a = self.args
        init = a.including_init_containers
        over = [
            (pod, count)
            for pod in self.handle.state.pods_on(node.name)
            if common.pod_allowed(pod, a.namespaces, a.label_selector)
            and in_states(pod, a.states, including_init_containers=init)
            and (count := restarts(pod, including_init_containers=init)) >= a.pod_restart_threshold
            and self.handle.filter(pod)
        ]
        over.sort(key=lambda item: -item[1])
        return [pod for pod, _count in over]

    def deschedule(self, nodes: Sequence[Node]) -> None:
        threshold = self.args.pod_restart_threshold
        init = self.args.including_init_containers
        for node in nodes:
            reasons = (
                (pod, f"{restarts(pod, including_init_containers=init)} restarts >= threshold {threshold}")
                for pod in self.candidates(node)
            )
            if not common.evict_from_node(self.handle, reasons):
                return


SPEC = PluginSpec(
    name=NAME,
    args_type=Args,
    factory=RemovePodsHavingTooManyRestarts,
    why_not=why_not,
    extension_points=frozenset({"deschedule"}),
    validate=validate,
    description="Evicts pods whose containers restarted at least podRestartThreshold times.",
)
