"""PodLifeTime: evict pods that match every configured criterion, oldest first.

Upstream semantics (descheduler v0.36): criteria are ANDed; ``maxPodLifeTimeSeconds`` (age strictly
greater), ``states`` (phase, pod reason, container waiting/terminated reason), ``conditions`` (ORed
filters on status.conditions), ``exitCodes`` and ``ownerKinds``. Candidates from all nodes are
sorted by creation time and evicted oldest first, so limits keep the oldest evictions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from descheduler import report
from descheduler.errors import Problem
from descheduler.evictor import limits
from descheduler.framework import types
from descheduler.framework.registry import PluginSpec
from descheduler.framework.types import Handle
from descheduler.model import Condition, ContainerStatus, Node, Pod
from descheduler.plugins import common
from descheduler.policy.argspec import Int32, LabelSelector, UInt, doc

logger = logging.getLogger(__name__)

NAME = "PodLifeTime"

POD_PHASES = ("Running", "Pending", "Succeeded", "Failed", "Unknown")
POD_REASONS = ("NodeAffinity", "NodeLost", "Shutdown", "UnexpectedAdmissionError")
WAITING_REASONS = (
    "PodInitializing",
    "ContainerCreating",
    "ImagePullBackOff",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "ErrImagePull",
    "CreateContainerError",
    "InvalidImageName",
)
TERMINATED_REASONS = (
    "OOMKilled",
    "Error",
    "Completed",
    "DeadlineExceeded",
    "Evicted",
    "ContainerCannotRun",
    "StartError",
)
ALLOWED_STATES = tuple(sorted({*POD_PHASES, *POD_REASONS, *WAITING_REASONS, *TERMINATED_REASONS}))


@dataclass(frozen=True)
class OwnerKinds:
    """``ownerKinds``: owner kinds to include or exclude, never both."""

    include: tuple[str, ...] = field(default=(), metadata=doc("Only pods with an owner of one of these kinds."))
    exclude: tuple[str, ...] = field(default=(), metadata=doc("Never pods with an owner of one of these kinds."))


@dataclass(frozen=True)
class PodConditionFilter:
    """Set fields must all match one condition; unset fields are not checked."""

    type_: str = field(default="", metadata=doc("Condition type, e.g. PodScheduled.", wire="type"))
    status: str = field(default="", metadata=doc("Condition status: True, False or Unknown."))
    reason: str = field(default="", metadata=doc("Condition reason, e.g. Unschedulable."))
    min_time_since_last_transition_seconds: UInt | None = field(
        default=None, metadata=doc("The condition's lastTransitionTime is at least this many seconds old.")
    )


@dataclass(frozen=True)
class Args:
    """The plugin's arguments, with upstream's names and defaults (``PodLifeTimeArgs``)."""

    namespaces: common.Namespaces | None = field(default=None, metadata=doc("Namespaces to include or exclude."))
    label_selector: LabelSelector | None = field(default=None, metadata=doc("Only pods matching this selector."))
    owner_kinds: OwnerKinds | None = field(default=None, metadata=doc("Owner kinds to include or exclude."))
    max_pod_life_time_seconds: UInt | None = field(
        default=None, metadata=doc("Evict pods created more than this many seconds ago.")
    )
    states: tuple[str, ...] = field(
        default=(), metadata=doc("Only pods in one of these states: " + ", ".join(ALLOWED_STATES) + ".")
    )
    conditions: tuple[PodConditionFilter, ...] = field(
        default=(), metadata=doc("Only pods with a condition matching one of these filters.")
    )
    exit_codes: tuple[Int32, ...] = field(
        default=(), metadata=doc("Only pods with a terminated container that exited with one of these codes.")
    )
    including_init_containers: bool = field(
        default=False, metadata=doc("Check init containers too for states and exitCodes.")
    )
    including_ephemeral_containers: bool = field(
        default=False, metadata=doc("Check ephemeral containers too for states.")
    )


def validate(args: Args) -> list[Problem]:
    problems = common.validate_namespaces(args.namespaces)
    kinds = args.owner_kinds
    if kinds is not None and kinds.include and kinds.exclude:
        problems.append(Problem("ownerKinds", "only one of include and exclude can be set"))
    for i, state in enumerate(args.states):
        if state not in ALLOWED_STATES:
            problems.append(Problem(f"states[{i}]", f"must be one of {', '.join(ALLOWED_STATES)}; got {state!r}"))
    problems.extend(_validate_conditions(args.conditions))
    if args.max_pod_life_time_seconds is None and not (args.states or args.conditions or args.exit_codes):
        problems.append(
            Problem("", "set at least one criterion: maxPodLifeTimeSeconds, states, conditions or exitCodes")
        )
    return problems


def _validate_conditions(conditions: Sequence[PodConditionFilter]) -> list[Problem]:
    problems = []
    for i, cond in enumerate(conditions):
        min_age = cond.min_time_since_last_transition_seconds
        if not (cond.type_ or cond.status or cond.reason or min_age is not None):
            problems.append(
                Problem(
                    f"conditions[{i}]",
                    "set at least one of type, status, reason or minTimeSinceLastTransitionSeconds",
                )
            )
    return problems


def ephemeral_statuses(pod: Pod) -> tuple[ContainerStatus, ...]:
    return pod.ephemeral_container_statuses


def matching_state(pod: Pod, states: frozenset[str], *, init: bool, ephemeral: bool) -> str:
    """The first of the pod's states found in ``states`` ("" when none), checked in upstream's order."""
    for candidate in (pod.phase, pod.status_reason):
        if candidate in states:
            return candidate
    groups: list[Iterable[ContainerStatus]] = [pod.container_statuses]
    if init:
        groups.append(pod.init_container_statuses)
    if ephemeral:
        groups.append(ephemeral_statuses(pod))
    for statuses in groups:
        for status in statuses:
            for reason in (status.waiting_reason, status.terminated_reason):
                if reason and reason in states:
                    return reason
    return ""


def condition_matches(cond: Condition, wanted: PodConditionFilter, now: float) -> bool:
    if wanted.type_ and cond.type != wanted.type_:
        return False
    if wanted.status and cond.status != wanted.status:
        return False
    if wanted.reason and cond.reason != wanted.reason:
        return False
    min_age = wanted.min_time_since_last_transition_seconds
    if min_age is None:
        return True
    if cond.last_transition is None:
        return False  # without a transition time the minimum age cannot be shown
    idle = now - cond.last_transition
    return idle >= 0 and int(idle) >= min_age  # a transition in the future (clock skew) is not old


def has_exit_code(pod: Pod, codes: frozenset[int], *, init: bool) -> bool:
    statuses = (*pod.container_statuses, *pod.init_container_statuses) if init else pod.container_statuses
    return any(s.exit_code is not None and s.exit_code in codes for s in statuses)


def owner_kinds_allow(pod: Pod, kinds: OwnerKinds | None) -> bool:
    if kinds is None:
        return True
    if kinds.include:
        return any(ref.kind in kinds.include for ref in pod.owners)
    return not any(ref.kind in kinds.exclude for ref in pod.owners)


class PodLifeTime:
    """Deschedule plugin: gathers the pods of all nodes that match every configured criterion and
    evicts them oldest first, so the limits keep the oldest evictions.
    """

    def __init__(self, args: Args, handle: Handle) -> None:
        self.args = args
        self.handle = handle
        self._states = frozenset(args.states)
        self._exit_codes = frozenset(args.exit_codes)

    def age(self, pod: Pod) -> float:
        return self.handle.state.now - pod.created

    def too_old(self, pod: Pod) -> bool:
        limit = self.args.max_pod_life_time_seconds
        if limit is None:
            return True
        return int(self.age(pod)) > limit

    def matches(self, pod: Pod) -> bool:
        """Every configured criterion holds; cheap argument checks before the evictor's filters."""
        a = self.args
        return (
            common.pod_allowed(pod, a.namespaces, a.label_selector)
            and self.too_old(pod)
            and (not a.states or bool(self._state_of(pod)))
            and owner_kinds_allow(pod, a.owner_kinds)
            and (not a.conditions or self._matched_condition(pod) is not None)
            and (not a.exit_codes or has_exit_code(pod, self._exit_codes, init=a.including_init_containers))
            and self.handle.filter(pod)
            and self.handle.pre_eviction_filter(pod)
        )

    def refusal(self, pod: Pod) -> types.Refusal | None:
        """The first criterion ``pod`` fails, with its argument (for explain); the evictor's filters aside."""
        a = self.args
        found = common.pod_refusal(pod, a.namespaces, a.label_selector)
        if found is None and not self.too_old(pod):
            age, limit = report.human_duration(self.age(pod)), a.max_pod_life_time_seconds
            found = types.Refusal("maxPodLifeTimeSeconds", f"pod age {age} <= {report.human_duration(limit or 0)}")
        if found is None and a.states and not self._state_of(pod):
            found = types.Refusal("states", f"the pod is in none of {', '.join(a.states)}")
        if found is None and not owner_kinds_allow(pod, a.owner_kinds):
            which = "include" if a.owner_kinds is not None and a.owner_kinds.include else "exclude"
            found = types.Refusal(f"ownerKinds.{which}", "the pod's owner kinds are not allowed")
        if found is None and a.conditions and self._matched_condition(pod) is None:
            found = types.Refusal("conditions", "no condition of the pod matches")
        codes = self._exit_codes
        if found is None and a.exit_codes and not has_exit_code(pod, codes, init=a.including_init_containers):
            found = types.Refusal("exitCodes", "no container exited with one of them")
        return found

    def _state_of(self, pod: Pod) -> str:
        a = self.args
        return matching_state(
            pod, self._states, init=a.including_init_containers, ephemeral=a.including_ephemeral_containers
        )

    def _matched_condition(self, pod: Pod) -> Condition | None:
        now = self.handle.state.now
        for wanted in self.args.conditions:
            for cond in pod.conditions:
                if condition_matches(cond, wanted, now):
                    return cond
        return None

    def reason(self, pod: Pod) -> str:
        parts = [f"age {report.human_duration(self.age(pod))}"]
        if self.args.max_pod_life_time_seconds is not None:
            parts[0] += f" > maxPodLifeTimeSeconds {self.args.max_pod_life_time_seconds}"
        if self.args.states:
            parts.append(f"state {self._state_of(pod)}")
        cond = self._matched_condition(pod) if self.args.conditions else None
        if cond is not None:
            parts.append(f"condition {cond.type}={cond.status}" + (f" ({cond.reason})" if cond.reason else ""))
        if self.args.exit_codes:
            parts.append("exit code in " + ", ".join(map(str, self.args.exit_codes)))
        return "; ".join(parts)

    def deschedule(self, nodes: Sequence[Node]) -> None:
        state = self.handle.state
        candidates = [pod for node in nodes for pod in state.pods_on(node.name) if self.matches(pod)]
        candidates.sort(key=lambda pod: pod.created)  # stable: ties keep node order
        logger.debug("%s: %d candidate pods on %d nodes", NAME, len(candidates), len(nodes))
        for pod in candidates:
            try:
                self.handle.evict(pod, reason=self.reason(pod))
            except (limits.NodeLimitError, limits.NamespaceLimitError):
                continue  # candidates are sorted across nodes: later ones may be elsewhere
            except limits.TotalLimitError:
                return


def why_not(pod: Pod, args: Args, handle: Handle, _nodes: Sequence[Node]) -> types.Refusal | None:
    return PodLifeTime(args, handle).refusal(pod)


SPEC = PluginSpec(
    name=NAME,
    args_type=Args,
    factory=PodLifeTime,
    why_not=why_not,
    extension_points=frozenset({"deschedule"}),
    validate=validate,
    description="Evicts pods older than maxPodLifeTimeSeconds or matching states, conditions or exit codes.",
)
