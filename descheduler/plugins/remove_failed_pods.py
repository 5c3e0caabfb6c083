"""RemoveFailedPods: evict pods in phase Failed so their controllers replace them.

Upstream semantics (descheduler v0.36): only ``status.phase == Failed``; optional filters are ANDed:
``minPodLifetimeSeconds`` (age at least; 3600 when unset, as upstream's SetDefaults fills it for a
policy file), ``excludeOwnerKinds``, ``reasons`` (pod reason or container waiting/terminated reason)
and ``exitCodes`` (terminated containers), init containers on request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from descheduler import report
from descheduler.errors import Problem
from descheduler.framework import types
from descheduler.framework.registry import PluginSpec
from descheduler.framework.types import Handle
from descheduler.model import ContainerStatus, Node, Pod
from descheduler.plugins import common
from descheduler.policy.argspec import Int32, LabelSelector, UInt, doc

logger = logging.getLogger(__name__)

NAME = "RemoveFailedPods"


@dataclass(frozen=True)
class Args:
    """The plugin's arguments, with upstream's names and defaults (``RemoveFailedPodsArgs``)."""

    namespaces: common.Namespaces | None = field(default=None, metadata=doc("Namespaces to include or exclude."))
    label_selector: LabelSelector | None = field(default=None, metadata=doc("Only pods matching this selector."))
    exclude_owner_kinds: tuple[str, ...] = field(
        default=(), metadata=doc("Never pods with an owner of one of these kinds (e.g. Job).")
    )
    min_pod_lifetime_seconds: UInt = field(
        default=UInt(3600), metadata=doc("Only pods created at least this many seconds ago; 0 for any age.")
    )
    reasons: tuple[str, ...] = field(
        default=(), metadata=doc("Only pods whose status reason or a container's waiting/terminated reason is listed.")
    )
    exit_codes: tuple[Int32, ...] = field(
        default=(), metadata=doc("Only pods with a terminated container that exited with one of these codes.")
    )
    including_init_containers: bool = field(
        default=False, metadata=doc("Check init containers too for reasons and exitCodes.")
    )


def validate(args: Args) -> list[Problem]:
    problems = common.validate_namespaces(args.namespaces)
    return problems


def _statuses(pod: Pod, *, init: bool) -> tuple[ContainerStatus, ...]:
    return (*pod.container_statuses, *pod.init_container_statuses) if init else pod.container_statuses


def failure_reasons(pod: Pod, *, init: bool) -> Iterator[str]:
    """The pod's reason, then every non-empty container waiting/terminated reason."""
    if pod.status_reason:
        yield pod.status_reason
    for status in _statuses(pod, init=init):
        if status.waiting_reason:
            yield status.waiting_reason
        if status.terminated_reason:
            yield status.terminated_reason


def exit_codes(pod: Pod, *, init: bool) -> Iterator[int]:
    for status in _statuses(pod, init=init):
        if status.exit_code is not None:
            yield status.exit_code


class RemoveFailedPods:
    """Deschedule plugin: evicts each node's Failed pods that pass every configured filter."""

    def __init__(self, args: Args, handle: Handle) -> None:
        self.args = args
        self.handle = handle
        self._excluded_kinds = frozenset(args.exclude_owner_kinds)
        self._reasons = frozenset(args.reasons)
        self._exit_codes = frozenset(args.exit_codes)

    def old_enough(self, pod: Pod) -> bool:
        # Upstream's age is unsigned, so 0 admits even a pod whose creation lies ahead of our clock.
        minimum = self.args.min_pod_lifetime_seconds
        return minimum == 0 or int(self.handle.state.now - pod.created) >= minimum

    def matches(self, pod: Pod) -> bool:
        """Failed and every configured filter holds; cheap argument checks before the evictor's filters."""
        a = self.args
        init = a.including_init_containers
        return (
            pod.phase == "Failed"
            and common.pod_allowed(pod, a.namespaces, a.label_selector)
            and self.old_enough(pod)
            and not any(ref.kind in self._excluded_kinds for ref in pod.owners)
            and (not a.reasons or any(r in self._reasons for r in failure_reasons(pod, init=init)))
            and (not a.exit_codes or any(c in self._exit_codes for c in exit_codes(pod, init=init)))
            and self.handle.filter(pod)
            and self.handle.pre_eviction_filter(pod)
        )

    def refusal(self, pod: Pod) -> types.Refusal | None:
        """The first filter ``pod`` fails, with its argument (for explain); the evictor's filters aside."""
        a = self.args
        init = a.including_init_containers
        if pod.phase != "Failed":
            return types.Refusal("", f"the pod is {pod.phase or 'in no phase'}, not Failed")
        found = common.pod_refusal(pod, a.namespaces, a.label_selector)
        if found is None and not self.old_enough(pod):
            age = report.human_duration(self.handle.state.now - pod.created)
            found = types.Refusal("minPodLifetimeSeconds", f"pod age {age} < {a.min_pod_lifetime_seconds}s")
        if found is None and any(ref.kind in self._excluded_kinds for ref in pod.owners):
            found = types.Refusal("excludeOwnerKinds", "the pod's owner kind is excluded")
        if found is None and a.reasons and not any(r in self._reasons for r in failure_reasons(pod, init=init)):
            found = types.Refusal("reasons", "the pod failed for none of them")
        if found is None and a.exit_codes and not any(c in self._exit_codes for c in exit_codes(pod, init=init)):
            found = types.Refusal("exitCodes", "no container exited with one of them")
        return found

    def reason(self, pod: Pod) -> str:
        init = self.args.including_init_containers
        reasons = list(dict.fromkeys(failure_reasons(pod, init=init)))
        return "failed pod" + (f" ({', '.join(reasons)})" if reasons else "")

    def deschedule(self, nodes: Sequence[Node]) -> None:
        for node in nodes:
            candidates = [pod for pod in self.handle.state.failed_pods_on(node.name) if self.matches(pod)]
            logger.debug("%s: %d failed pods to evict on %s", NAME, len(candidates), node.name)
            if not common.evict_from_node(self.handle, ((pod, self.reason(pod)) for pod in candidates)):
                return


def why_not(pod: Pod, args: Args, handle: Handle, _nodes: Sequence[Node]) -> types.Refusal | None:
    return RemoveFailedPods(args, handle).refusal(pod)


SPEC = PluginSpec(
    name=NAME,
    args_type=Args,
    factory=RemoveFailedPods,
    why_not=why_not,
    extension_points=frozenset({"deschedule"}),
    validate=validate,
    description="Evicts pods in phase Failed, optionally filtered by reasons, exit codes, age and owner kinds.",
)
