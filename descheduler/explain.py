"""Why one pod was chosen, or why not, by every enabled plugin of a dry-run cycle (``tensile-deschedule explain``).

:func:`explain` plans the cycle exactly as ``--dry-run`` does (the runner, the dry-run recorder, the
policy's profiles) and reads the pod's decisions from its plan; for each plugin that did not choose
the pod it asks the plugin's ``why_not`` and then the profile's evictor filters, on the cluster as it
was before the cycle. Pure: :mod:`descheduler.app` gives it the state source, the CLI prints
:func:`render`'s text.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import yaml

from descheduler import errors, report, runner, wording
from descheduler.cluster import sources
from descheduler.cluster import state as cluster_state
from descheduler.evictor import budgets, limits, writers
from descheduler.framework import registry as plugin_registry
from descheduler.framework import types
from descheduler.kube import retry
from descheduler.model import Pod
from descheduler.policy import types as policy_types

Kind = Literal["chosen", "blocked", "limit", "failed", "not-candidate", "filtered", "already-chosen", "candidate"]
"""The ``verdict`` of one (profile, plugin) for the pod, a stable wire value of ``-o json``."""

WORDS: dict[Kind, str] = {
    "chosen": "chosen",
    "blocked": "would be chosen but a PodDisruptionBudget blocks",
    "limit": "would be chosen but an eviction limit stops it",
    "failed": "would be chosen but the eviction would fail",
    "not-candidate": "not a candidate",
    "filtered": "candidate but stopped by an evictor rule",
    "already-chosen": "already chosen by an earlier plugin",
    "candidate": "a candidate, not chosen",
}

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
"""A namespace or pod name (lower-case DNS label or subdomain)."""

_FROM_RESULT: dict[report.Result, Kind] = {
    report.Result.PLANNED: "chosen",
    report.Result.EVICTED: "chosen",
    report.Result.GONE: "chosen",
    report.Result.BLOCKED: "blocked",
    report.Result.LIMIT: "limit",
    report.Result.FAILED: "failed",
}


@dataclass(frozen=True)
class Verdict:
    """One (profile, plugin)'s answer about the pod: the verdict, why in plain words, and the policy
    path of the rule that decided ("" when no argument did, e.g. the pod is not Failed)."""

    profile: str
    plugin: str
    verdict: Kind
    reason: str
    path: str = ""


@dataclass(frozen=True)
class Explanation:
    """The pod and one verdict per (profile, plugin) enabled at the Deschedule and Balance points, in policy order."""

    namespace: str
    name: str
    node: str
    verdicts: tuple[Verdict, ...]

    def to_dict(self) -> dict[str, object]:
        """The ``-o json`` document (a contract for scripts, like the report's)."""
        pod = {"namespace": self.namespace, "name": self.name, "node": self.node}
        return {"pod": pod, "verdicts": [asdict(v) for v in self.verdicts]}


def parse_target(text: str) -> tuple[str, str]:
    """``NAMESPACE/POD`` as (namespace, name); InputError in one line when it is not that."""
    namespace, slash, name = text.partition("/")
    if not slash or not _NAME.match(namespace) or not _NAME.match(name) or len(name) > 253:
        raise errors.InputError(
            f"NAMESPACE/POD: {wording.shown(text)} is not a namespace and pod name such as default/web-1"
        )
    return namespace, name


class _FixedSource:
    """The state loaded once, handed to the runner as its source (the cycle must see the same pods)."""

    def __init__(self, loaded: cluster_state.ClusterState) -> None:
        self.loaded = loaded

    def load(self, *, now: float) -> cluster_state.ClusterState:
        del now  # loaded with the same clock already
        return self.loaded


class _LookingHandle:
    """The handle a plugin's ``why_not`` gets: the state before the cycle, every pod allowed (the
    evictor's rules are asked separately), and no eviction ever."""

    def __init__(self, state: cluster_state.ClusterState) -> None:
        self.state = state
        self.budgets = budgets.DisruptionBudgets(state.pdbs)

    def filter(self, pod: Pod) -> bool:
        return True

    def pre_eviction_filter(self, pod: Pod) -> bool:
        return True

    def limits_allow(self, pods: Sequence[Pod]) -> bool:
        return True

    def evict(
        self, pod: Pod, *, reason: str, avoid_node: str = "", avoid_seconds: float = 0.0, unblocks: str = ""
    ) -> bool:
        return False


def explain(
    policy: policy_types.Policy,
    specs: plugin_registry.Registry,
    source: sources.StateSource,
    *,
    namespace: str,
    name: str,
    now: float,
    timeout: float | None = runner.DEFAULT_CYCLE_TIMEOUT,
) -> Explanation | None:
    """Plan a dry-run cycle and explain it for pod ``namespace/name``; None when the source has no such pod.

    ``timeout`` bounds the listing as the main command's ``--cycle-timeout`` bounds a cycle.
    """
    with retry.deadline(timeout):
        state = source.load(now=now)
    pod = next((p for p in state.pods if p.namespace == namespace and p.name == name), None)
    if pod is None:
        return None
    # The cycle marks pods evicted and reserves room as it plans; the plugins' reasons are about
    # the cluster as the cycle found it, so they read a copy taken before.
    before = copy.deepcopy(state)
    plan = runner.run_cycle(policy, specs, _FixedSource(state), writers.DryRunRecorder(), now=now, timeout=None)
    judge = _Judge(policy, specs, before, plan)
    verdicts = [judge.verdict(pod, step) for step in judge.steps]
    return Explanation(pod.namespace, pod.name, pod.node_name, tuple(verdicts))


@dataclass(frozen=True)
class _Step:
    """One plugin run of the cycle, in the runner's order (every Deschedule before any Balance)."""

    order: int
    profile: policy_types.Profile
    plugin: str


class _Judge:
    """Turns the plan's decisions, the plugins' ``why_not`` and the evictor's rules into verdicts."""

    def __init__(
        self,
        policy: policy_types.Policy,
        specs: plugin_registry.Registry,
        before: cluster_state.ClusterState,
        plan: report.Report,
    ) -> None:
        self.policy = policy
        self.specs = specs
        self.before = before
        self.plan = plan
        self.nodes = runner.eligible_nodes(before, policy)
        self.handle = _LookingHandle(before)
        points = [(p, n) for p in policy.profiles for n in p.deschedule] + [
            (p, n) for p in policy.profiles for n in p.balance
        ]
        ordered = [_Step(i, profile, plugin) for i, (profile, plugin) in enumerate(points)]
        self._order = {(s.profile.name, s.plugin): s.order for s in ordered}
        self.steps = sorted(ordered, key=lambda s: (policy.profiles.index(s.profile), s.order))

    def verdict(self, pod: Pod, step: _Step) -> Verdict:
        profile, plugin = step.profile, step.plugin
        mine = [d for d in self._decisions(pod) if (d.profile, d.plugin) == (profile.name, plugin)]
        if mine:
            return self._from_decision(pod, step, mine[0])
        refusal = self._cycle_refusal(pod) or self._ask(pod, profile, plugin)
        if refusal is not None:
            return Verdict(profile.name, plugin, "not-candidate", refusal[1], refusal[0])
        refusal = self._evictor_refusal(pod, profile)
        if refusal is not None:
            return Verdict(profile.name, plugin, "filtered", refusal[1], refusal[0])
        earlier = [d for d in self._decisions(pod) if self._order.get((d.profile, d.plugin), -1) < step.order]
        if earlier:
            by = f"{earlier[0].profile}/{earlier[0].plugin}"
            return Verdict(profile.name, plugin, "already-chosen", f"{by} chose it earlier in the cycle")
        error = self.plan.plugin_errors.get(f"{profile.name}/{plugin}")
        if error is not None:
            return Verdict(profile.name, plugin, "candidate", f"the plugin failed: {error}")
        return Verdict(profile.name, plugin, "candidate", _NOT_REACHED[plugin in profile.balance])

    def _decisions(self, pod: Pod) -> list[report.Decision]:
        return [d for d in self.plan.decisions if (d.namespace, d.pod) == (pod.namespace, pod.name)]

    def _from_decision(self, pod: Pod, step: _Step, decision: report.Decision) -> Verdict:
        kind = _FROM_RESULT[decision.result]
        reason = decision.reason + (f" (unblocks {decision.unblocks})" if decision.unblocks else "")
        reason += f"; but {decision.message}" if kind != "chosen" and decision.message else ""
        path = self._limit_field(pod, decision) if kind == "limit" else ""
        return Verdict(step.profile.name, step.plugin, kind, reason, path)

    def _limit_field(self, pod: Pod, decision: report.Decision) -> str:
        """Which policy limit stopped it: the decisions before it replayed on a counter of the policy's limits."""
        counter = limits.LimitCounter(self.policy.limits)
        pods = {(p.namespace, p.name): p for p in self.before.pods}
        for earlier in self.plan.decisions[: self.plan.decisions.index(decision)]:
            counted = pods.get((earlier.namespace, earlier.pod))
            if earlier.result.succeeded and counted is not None:
                counter.record(counted)
        try:
            counter.check(pod)
        except limits.LimitError as exc:
            return exc.policy_field
        return ""

    def _cycle_refusal(self, pod: Pod) -> tuple[str, str] | None:
        """Reasons that keep the pod from every plugin: the cycle does nothing, or its node is not in it."""
        if len(self.nodes) <= 1:
            return "", f"{len(self.nodes)} eligible node(s): the cycle evicts nothing"
        if not pod.node_name:
            return None  # a pending pod: only the plugins that help pending pods look at it
        if any(n.name == pod.node_name for n in self.nodes):
            return None
        node = self.before.nodes.get(pod.node_name)
        if node is not None and node.ready and self.policy.node_selector is not None:
            return "nodeSelector", f"node {pod.node_name} does not match the policy's nodeSelector"
        return "", f"node {pod.node_name} is not ready (or not known)"

    def _evictor_refusal(self, pod: Pod, profile: policy_types.Profile) -> tuple[str, str] | None:
        for name in dict.fromkeys((*profile.filter, *profile.pre_eviction_filter)):
            found = self._ask(pod, profile, name)
            if found is not None:
                return found
        return None

    def _ask(self, pod: Pod, profile: policy_types.Profile, plugin: str) -> tuple[str, str] | None:
        """The plugin's refusal as (full policy path, words), or None."""
        spec = self.specs.get(plugin)
        if spec is None or spec.why_not is None or plugin not in profile.args:
            return None
        refusal: types.Refusal | None = spec.why_not(pod, profile.args[plugin], self.handle, self.nodes)
        if refusal is None:
            return None
        base = profile.args_paths.get(plugin, "")
        return (f"{base}.{refusal.path}" if base and refusal.path else ""), refusal.words


_NOT_REACHED = {
    False: "the plugin did not evict it (an eviction limit was reached before its turn, or the cycle ended)",
    True: "the plugin stopped before reaching it (its goal was met first, e.g. the node back within thresholds, "
    "the room for evicted pods ran out, or other pods were taken instead)",
}


def render(explanation: Explanation, output: str) -> str:
    """``table``: readable lines grouped by profile; ``json``/``yaml``: :meth:`Explanation.to_dict`."""
    if output == "json":
        return json.dumps(explanation.to_dict(), indent=2)
    if output == "yaml":
        return yaml.safe_dump(explanation.to_dict(), sort_keys=False, allow_unicode=True).rstrip("\n")
    where = f" on {explanation.node}" if explanation.node else " (not bound to a node)"
    lines = [f"pod {explanation.namespace}/{explanation.name}{where}"]
    profile = None
    for v in explanation.verdicts:
        if v.profile != profile:
            profile = v.profile
            lines.append(f"  profile {profile}:")
        because = f"{v.path}: {v.reason}" if v.path else v.reason
        lines.append(f"    {v.plugin}: {WORDS[v.verdict]} — {because}")
    if not explanation.verdicts:
        lines.append("  no plugin is enabled at the Deschedule or Balance point")
    return "\n".join(lines)
