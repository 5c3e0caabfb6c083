"""DefaultEvictor: which pods may be evicted at all (filter) and, just before an eviction,
whether it is still wise (preEvictionFilter). Every strategy asks it through its handle.

Upstream semantics (descheduler v0.36 ``DefaultEvictor.Filter``): the
``descheduler.alpha.kubernetes.io/evict`` annotation is checked first and lifts every filter()
protection, mirror, static and terminating pods included; then ``noEvictionPolicy: Mandatory``
makes the prefer-no-eviction annotation binding; then mirror, static and terminating pods,
podProtections (or the deprecated booleans: DaemonSet, local-storage, system-critical and bare
pods by default), priorityThreshold, labelSelector, minReplicas and minPodAge. The
preEvictionFilter checks (nodeFit, namespaceLabelSelector) are not lifted by the annotation.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from descheduler import durations, matching
from descheduler.cluster.state import ClusterState
from descheduler.errors import InputError, Problem
from descheduler.evictor import filters
from descheduler.framework import types
from descheduler.framework.registry import PluginSpec
from descheduler.framework.types import Handle
from descheduler.model import Node, Pod, PodDisruptionBudget, PriorityClass
from descheduler.plugins import pod_protections as pp
from descheduler.policy import argspec
from descheduler.policy.argspec import Int32, LabelSelector, UInt, doc

logger = logging.getLogger(__name__)

NAME = "DefaultEvictor"
DESCRIPTION = (
    "Decides which pods may be evicted: not mirror, static or terminating pods; by default not DaemonSet, "
    "local-storage, system-critical or bare pods (podProtections); the descheduler.alpha.kubernetes.io/evict "
    "annotation lifts all of these; nodeFit and namespaceLabelSelector just before eviction."
)

NO_EVICTION_POLICIES = ("Preferred", "Mandatory")


@dataclass(frozen=True)
class PriorityThreshold:
    """``priorityThreshold``: a PriorityClass name or a value, not both; pods at or above it are kept."""

    name: str = field(default="", metadata=doc("PriorityClass whose value is the threshold."))
    value: Int32 | None = field(default=None, metadata=doc("Threshold priority value."))


@dataclass(frozen=True)
class Args:
    """The plugin's arguments, with upstream's names and defaults (``DefaultEvictorArgs``)."""

    node_selector: str = field(default="", metadata=doc("nodeFit considers only nodes matching this selector."))
    label_selector: LabelSelector | None = field(default=None, metadata=doc("Only pods matching it are evicted."))
    namespace_label_selector: LabelSelector | None = field(
        default=None, metadata=doc("Only pods in namespaces whose labels match it are evicted.")
    )
    priority_threshold: PriorityThreshold | None = field(
        default=None, metadata=doc("Pods at or above this priority are not evicted (name or value, not both).")
    )
    node_fit: bool = field(default=False, metadata=doc("Evict only pods that fit on some other ready node."))
    min_replicas: UInt = field(default=UInt(0), metadata=doc("Keep pods whose owner has fewer pods; active when > 1."))
    min_pod_age: str | None = field(default=None, metadata=doc("Keep pods started less than this ago, e.g. 5m."))
    no_eviction_policy: str = field(
        default="", metadata=doc("Preferred or Mandatory: whether the prefer-no-eviction annotation binds.")
    )
    pod_protections: pp.PodProtections = field(
        default_factory=pp.PodProtections, metadata=doc("Default protections to disable and extra ones to enable.")
    )
    evict_local_storage_pods: bool = field(
        default=False, metadata=doc("Deprecated: defaultDisabled " + pp.LOCAL_STORAGE)
    )
    evict_daemon_set_pods: bool = field(default=False, metadata=doc("Deprecated: defaultDisabled " + pp.DAEMONSET))
    evict_system_critical_pods: bool = field(
        default=False, metadata=doc("Deprecated: defaultDisabled " + pp.SYSTEM_CRITICAL)
    )
    ignore_pvc_pods: bool = field(default=False, metadata=doc("Deprecated: extraEnabled " + pp.WITH_PVC))
    ignore_pods_without_pdb: bool = field(
        default=False, metadata=doc("Deprecated: extraEnabled " + pp.WITHOUT_PDB, wire="ignorePodsWithoutPDB")
    )
    evict_failed_bare_pods: bool = field(default=False, metadata=doc("Deprecated: defaultDisabled " + pp.FAILED_BARE))


# -- validation ----------------------------------------------------------------------------

_WIRE_NAMES = {f.name: argspec.wire_name(f) for f in dataclasses.fields(Args)}


def validate(args: Args) -> list[Problem]:
    problems = _validate_priority_threshold(args.priority_threshold)
    problems += _validate_pod_protections(args)
    if args.no_eviction_policy and args.no_eviction_policy not in NO_EVICTION_POLICIES:
        allowed = ", ".join(NO_EVICTION_POLICIES)
        problems.append(Problem("noEvictionPolicy", f"must be one of {allowed}; got {args.no_eviction_policy!r}"))
    if args.min_pod_age is not None:
        try:
            durations.parse_duration(args.min_pod_age)
        except ValueError:
            message = f"must be a duration such as 90s, 5m or 1h30m; got {args.min_pod_age!r}"
            problems.append(Problem("minPodAge", message))
    problems += _validate_node_selector(args)
    return problems


def _validate_node_selector(args: Args) -> list[Problem]:
    """Upstream parses nodeSelector only when nodeFit lists the nodes, so a bad one is
    otherwise accepted and ignored: tensile does the same, with a warning."""
    if not args.node_selector:
        return []
    try:
        matching.parse_selector_string(args.node_selector)
    except ValueError as exc:
        if not args.node_fit:
            return [Problem("nodeSelector", f"{exc}; ignored as upstream does, since nodeFit is false", warning=True)]
        return [Problem("nodeSelector", str(exc))]
    return []


def _validate_priority_threshold(threshold: PriorityThreshold | None) -> list[Problem]:
    if threshold is None:
        return []
    if threshold.name and threshold.value is not None:
        return [Problem("priorityThreshold", "only one of name and value can be set")]
    if threshold.value is not None and threshold.value > filters.SYSTEM_CRITICAL_PRIORITY:
        return [Problem("priorityThreshold.value", f"must be <= {filters.SYSTEM_CRITICAL_PRIORITY}")]
    return []


def _validate_pod_protections(args: Args) -> list[Problem]:
    deprecated = [_WIRE_NAMES[name] for name in pp.DEPRECATED_FIELDS if getattr(args, name)]
    return pp.validate(args.pod_protections, deprecated=deprecated)


# -- configuration -------------------------------------------------------------------------


def effective_protections(args: Args) -> frozenset[str]:
    """podProtections when it lists anything, else the deprecated booleans (upstream's rule)."""
    return pp.effective(args.pod_protections, deprecated={name: getattr(args, name) for name in pp.DEPRECATED_FIELDS})


def resolve_priority_threshold(
    threshold: PriorityThreshold | None, priority_classes: dict[str, PriorityClass]
) -> int | None:
    """The threshold value, looking a named class up in the cluster; None when unset.

    Raises InputError when the class does not exist or is above system critical, as
    upstream fails to build the plugin.
    """
    if threshold is None or (threshold.value is None and not threshold.name):
        return None
    if threshold.value is not None:
        return threshold.value
    priority_class = priority_classes.get(threshold.name)
    if priority_class is None:
        raise InputError(f"{NAME} priorityThreshold.name: priority class {threshold.name!r} not found in the cluster")
    if priority_class.value > filters.SYSTEM_CRITICAL_PRIORITY:
        raise InputError(
            f"{NAME} priorityThreshold.name: priority class {threshold.name!r} has value {priority_class.value}, "
            f"above {filters.SYSTEM_CRITICAL_PRIORITY}"
        )
    return priority_class.value


def protected_storage_classes(args: Args) -> frozenset[str]:
    return pp.protected_storage_classes(args.pod_protections)


def selector_is_set(selector: LabelSelector) -> bool:
    """Upstream ignores a namespaceLabelSelector with neither matchLabels nor matchExpressions."""
    return bool(selector.get("matchLabels") or selector.get("matchExpressions"))


# -- the plugin ----------------------------------------------------------------------------

ALWAYS_CHECKED: tuple[filters.Check, ...] = (filters.mirror_pod, filters.static_pod, filters.terminating_pod)
"""Checked whatever the arguments; like every other protection, the evict annotation lifts them."""


class _Mark(enum.Enum):
    UNSEEN = "unseen"
    EVICT_REQUESTED = "evict requested"


class DefaultEvictor:
    """Built once per profile and cycle. filter() runs for every candidate pod of every
    strategy, so the checks are chosen once here, ordered cheapest first, and the verdict of
    the checks that cannot change within the cycle is remembered per pod."""

    def __init__(self, args: Args, handle: Handle) -> None:
        self.args = args
        self.state: ClusterState = handle.state
        self.protections = effective_protections(args)
        self._pods_by_owner = self._index_pods_by_owner() if args.min_replicas > 1 else {}
        self._fit_nodes = self._candidate_nodes() if args.node_fit else []
        self._fixed_rules = [*self._protection_rules(), *self._argument_rules()]
        self._changing_rules = self._replica_rules()
        self._pre_rules = self._pre_eviction_rules()
        self._fixed_checks = [rule.check for rule in self._fixed_rules]
        self._changing_checks = [rule.check for rule in self._changing_rules]
        self._pre_checks = [rule.check for rule in self._pre_rules]
        self._verdicts: dict[str, str | _Mark | None] = {}

    # -- extension points --------------------------------------------------------------

    def filter(self, pod: Pod) -> bool:
        # Asked for nearly every pod by nearly every plugin: a remembered "evictable" with no
        # changing checks to ask answers at once.
        verdict = self._verdicts.get(pod.uid, _Mark.UNSEEN)
        if (verdict is None or verdict is _Mark.EVICT_REQUESTED) and not self._changing_checks:
            return True
        reason = self.protection(pod)
        if reason is not None:
            logger.debug("%s: %s is not evictable: %s", NAME, pod.key, reason, extra={"pod": pod.key})
        return reason is None

    def pre_eviction_filter(self, pod: Pod) -> bool:
        reason = filters.first_reason(pod, self._pre_checks)
        if reason is not None:
            logger.debug("%s: %s kept before eviction: %s", NAME, pod.key, reason, extra={"pod": pod.key})
        return reason is None

    def protection(self, pod: Pod) -> str | None:
        """Why filter() refuses ``pod`` (the first failing check), or None."""
        verdict = self._verdicts.get(pod.uid, _Mark.UNSEEN)
        if verdict is _Mark.UNSEEN:
            verdict = self._fixed_protection(pod)
            self._verdicts[pod.uid] = verdict
        if verdict is _Mark.EVICT_REQUESTED:
            return None
        if verdict is not None:
            return verdict
        # Owner pod counts drop as this cycle evicts, so this part is asked every time.
        return filters.first_reason(pod, self._changing_checks)

    def refusal(self, pod: Pod) -> types.Refusal | None:
        """The rule that keeps ``pod``, in filter() then preEvictionFilter() order, with its argument (for explain)."""
        lifted = filters.evict_requested(pod)
        for rule in [*([] if lifted else [*self._fixed_rules, *self._changing_rules]), *self._pre_rules]:
            reason = rule.check(pod)
            if reason is not None:
                return types.Refusal(rule.path, f"{rule.setting}, {reason}" if rule.setting else reason)
        return None

    def _fixed_protection(self, pod: Pod) -> str | Literal[_Mark.EVICT_REQUESTED] | None:
        # Upstream's Filter returns true on the evict annotation before it looks at anything else.
        if filters.evict_requested(pod):
            return _Mark.EVICT_REQUESTED
        return filters.first_reason(pod, self._fixed_checks)

    # -- building the checks -----------------------------------------------------------

    def _switched_on(self, protection: str, check: filters.Check) -> filters.Rule:
        return filters.Rule(*pp.switched_on_by(self.args.pod_protections, protection), check)

    def _protection_rules(self) -> list[filters.Rule]:
        enabled = self.protections
        rules: list[filters.Rule] = []
        if self.args.no_eviction_policy == "Mandatory":
            rules.append(filters.Rule("noEvictionPolicy", "Mandatory", filters.prefers_no_eviction))
        rules += [filters.Rule("", "", check) for check in ALWAYS_CHECKED]
        if pp.FAILED_BARE in enabled:
            rules.append(self._switched_on(pp.FAILED_BARE, filters.bare_pod))
        else:
            rules.append(filters.Rule("", "", filters.non_failed_bare_pod))
        if pp.DAEMONSET in enabled:
            rules.append(self._switched_on(pp.DAEMONSET, filters.daemonset_pod))
        if pp.LOCAL_STORAGE in enabled:
            rules.append(self._switched_on(pp.LOCAL_STORAGE, filters.local_storage_pod))
        if pp.WITH_PVC in enabled:
            rules.append(self._switched_on(pp.WITH_PVC, self._pvc_check()))
        if pp.RESOURCE_CLAIMS in enabled:
            rules.append(self._switched_on(pp.RESOURCE_CLAIMS, filters.resource_claims_pod))
        if pp.SYSTEM_CRITICAL in enabled:
            rules += self._priority_rules()
        elif self.args.priority_threshold is not None:
            logger.warning(
                "%s: priorityThreshold is ignored because %s protection is disabled", NAME, pp.SYSTEM_CRITICAL
            )
        if pp.WITHOUT_PDB in enabled:
            rules.append(self._switched_on(pp.WITHOUT_PDB, self._pdb_check()))
        return rules

    def _argument_rules(self) -> list[filters.Rule]:
        rules: list[filters.Rule] = []
        if self.args.label_selector is not None:
            check = functools.partial(filters.labels_not_selected, selector=self.args.label_selector)
            rules.append(filters.Rule("labelSelector", "", check))
        if self.args.min_pod_age is not None:
            age = durations.parse_duration(self.args.min_pod_age)
            check = functools.partial(filters.too_young, min_age_seconds=age, now=self.state.now)
            rules.append(filters.Rule("minPodAge", self.args.min_pod_age, check))
        return rules

    def _replica_rules(self) -> list[filters.Rule]:
        if self.args.min_replicas <= 1:  # upstream: 0 and 1 mean "no check"
            return []
        count = self._count_pods_of_owner
        minimum = self.args.min_replicas
        check = functools.partial(filters.too_few_replicas, min_replicas=minimum, count_pods_of_owner=count)
        return [filters.Rule("minReplicas", str(minimum), check)]

    def _pre_eviction_rules(self) -> list[filters.Rule]:
        rules: list[filters.Rule] = []
        selector = self.args.namespace_label_selector
        if selector is not None and selector_is_set(selector):
            namespaces = self.state.namespaces
            check = functools.partial(filters.namespace_not_selected, selector=selector, namespaces=namespaces)
            rules.append(filters.Rule("namespaceLabelSelector", "", check))
        if self.args.node_fit:
            fits = functools.partial(filters.fits_no_other_node, state=self.state, nodes=self._fit_nodes, last_fit={})
            rules.append(filters.Rule("nodeFit", "true", fits))
        return rules

    def _pvc_check(self) -> filters.Check:
        classes = protected_storage_classes(self.args)
        if not classes:
            return filters.pvc_pod
        return functools.partial(filters.protected_storage_class_pod, protected=classes, pvcs=self.state.pvcs)

    def _priority_rules(self) -> list[filters.Rule]:
        priority_of = self.state.priority_of
        check = functools.partial(filters.system_critical_pod, priority_of=priority_of)
        rules = [self._switched_on(pp.SYSTEM_CRITICAL, check)]
        threshold = resolve_priority_threshold(self.args.priority_threshold, self.state.priority_classes)
        if threshold is not None and self.args.priority_threshold is not None:
            which = "name" if self.args.priority_threshold.name else "value"
            above = functools.partial(filters.priority_at_or_above, threshold=threshold, priority_of=priority_of)
            rules.append(
                filters.Rule(f"priorityThreshold.{which}", str(getattr(self.args.priority_threshold, which)), above)
            )
        return rules

    def _pdb_check(self) -> filters.Check:
        """Replicas share their labels, so coverage is worked out once per namespace and label set."""
        by_namespace: dict[str, list[PodDisruptionBudget]] = {}
        for pdb in self.state.pdbs:
            by_namespace.setdefault(pdb.namespace, []).append(pdb)
        memo: dict[tuple[str, frozenset[tuple[str, str]]], str | None] = {}

        def without_pdb(pod: Pod) -> str | None:
            if pod.namespace not in by_namespace:
                return filters.pod_without_pdb(pod, pdbs_by_namespace=by_namespace)
            key = (pod.namespace, frozenset(pod.labels.items()))
            if key not in memo:
                memo[key] = filters.pod_without_pdb(pod, pdbs_by_namespace=by_namespace)
            return memo[key]

        return without_pdb

    # -- indexes, built once per cycle -------------------------------------------------

    def _index_pods_by_owner(self) -> dict[str, list[Pod]]:
        """Every owner reference counts, controller or not, like upstream's owner index."""
        index: dict[str, list[Pod]] = {}
        for pod in self.state.pods:
            for ref in pod.owners:
                index.setdefault(ref.uid, []).append(pod)
        return index

    def _count_pods_of_owner(self, owner_uid: str, cap: int) -> int:
        """Pods of the owner not evicted in this cycle, counted up to ``cap`` (enough to decide)."""
        count = 0
        for pod in self._pods_by_owner.get(owner_uid, ()):
            if not self.state.is_evicted(pod):
                count += 1
                if count >= cap:
                    break
        return count

    def _candidate_nodes(self) -> list[Node]:
        """Ready nodes matching nodeSelector: the set upstream's nodeFit searches."""
        selector = matching.parse_selector_string(self.args.node_selector) if self.args.node_selector else None
        return [
            node
            for node in self.state.nodes.values()
            if node.ready and (selector is None or matching.selector_matches(selector, node.labels))
        ]


def why_not(pod: Pod, args: Args, handle: Handle, _nodes: Sequence[Node]) -> types.Refusal | None:
    """The DefaultEvictor rule that keeps ``pod``, with its argument (for explain), or None."""
    return DefaultEvictor(args, handle).refusal(pod)


SPEC = PluginSpec(
    name=NAME,
    args_type=Args,
    factory=DefaultEvictor,
    why_not=why_not,
    extension_points=frozenset({"filter", "preEvictionFilter"}),
    validate=validate,
    description=DESCRIPTION,
)
