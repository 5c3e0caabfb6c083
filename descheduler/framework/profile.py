"""Build each profile's plugins once and run them: every Deschedule plugin of every
profile first, then every Balance plugin. A failing plugin is recorded and the others
still run. Called by :mod:`descheduler.runner` once per cycle."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from descheduler.cluster.state import ClusterState
from descheduler.evictor import limits
from descheduler.evictor.budgets import DisruptionBudgets
from descheduler.evictor.evictor import Evictor
from descheduler.framework.registry import Registry
from descheduler.framework.types import BalancePlugin, DeschedulePlugin, FilterPlugin, PreEvictionFilterPlugin
from descheduler.model import Node, Pod
from descheduler.policy.types import Policy, Profile

logger = logging.getLogger(__name__)

PodPredicate = Callable[[Pod], bool]


class PluginTimer(Protocol):
    """Told how long each plugin run took (the runner feeds metrics with it)."""

    def __call__(self, profile: str, plugin: str, seconds: float, /) -> None: ...


@dataclass
class PluginHandle:
    """The :class:`~descheduler.framework.types.Handle` given to one plugin of one profile."""

    state: ClusterState
    evictor: Evictor
    plugin: str
    profile: str
    filters: list[PodPredicate] = field(default_factory=list)
    pre_eviction_filters: list[PodPredicate] = field(default_factory=list)

    @property
    def budgets(self) -> DisruptionBudgets:
        return self.evictor.budgets

    def filter(self, pod: Pod) -> bool:
        # A pod this cycle already tried (planned, evicted, blocked, failed) is no candidate again.
        # Asked for nearly every pod by nearly every plugin: plain loops, no generators.
        if self.evictor.attempted(pod):
            return False
        for allows in self.filters:  # noqa: SIM110 - a loop, not a generator: asked per pod
            if not allows(pod):
                return False
        return True

    def pre_eviction_filter(self, pod: Pod) -> bool:
        for allows in self.pre_eviction_filters:  # noqa: SIM110 - a loop, not a generator: asked per pod
            if not allows(pod):
                return False
        return True

    def limits_allow(self, pods: Sequence[Pod]) -> bool:
        return self.evictor.counter.allows(pods)

    def evict(
        self, pod: Pod, *, reason: str, avoid_node: str = "", avoid_seconds: float = 0.0, unblocks: str = ""
    ) -> bool:
        # Filters run here too, so a plugin that forgot them still cannot evict a protected pod.
        if not self.filter(pod) or not self.pre_eviction_filter(pod):
            return False
        return self.evictor.evict(
            pod,
            plugin=self.plugin,
            profile=self.profile,
            reason=reason,
            avoid_node=avoid_node,
            avoid_seconds=avoid_seconds,
            unblocks=unblocks,
        )


@dataclass
class BuiltProfile:
    """One profile's plugins, built for this cycle: its Deschedule and its Balance plugins by name, in policy order."""

    name: str
    deschedulers: list[tuple[str, DeschedulePlugin]]
    balancers: list[tuple[str, BalancePlugin]]


def build_profile(profile: Profile, registry: Registry, state: ClusterState, evictor: Evictor) -> BuiltProfile:
    filters: list[PodPredicate] = []
    pre_filters: list[PodPredicate] = []
    instances: dict[str, object] = {}

    def instance(name: str) -> object:
        if name not in instances:
            spec = registry.get(name)
            if spec is None:  # the loader already rejected unknown names
                raise KeyError(name)
            handle = PluginHandle(state, evictor, name, profile.name, filters, pre_filters)
            instances[name] = spec.factory(profile.args[name], handle)
        return instances[name]

    for name in profile.filter:
        plugin = instance(name)
        assert isinstance(plugin, FilterPlugin)
        filters.append(plugin.filter)
    for name in profile.pre_eviction_filter:
        plugin = instance(name)
        assert isinstance(plugin, PreEvictionFilterPlugin)
        pre_filters.append(plugin.pre_eviction_filter)
    deschedulers = []
    for name in profile.deschedule:
        plugin = instance(name)
        assert isinstance(plugin, DeschedulePlugin)
        deschedulers.append((name, plugin))
    balancers = []
    for name in profile.balance:
        plugin = instance(name)
        assert isinstance(plugin, BalancePlugin)
        balancers.append((name, plugin))
    return BuiltProfile(profile.name, deschedulers, balancers)


def run_profiles(
    policy: Policy,
    registry: Registry,
    state: ClusterState,
    evictor: Evictor,
    nodes: Sequence[Node],
    *,
    on_plugin_done: PluginTimer | None = None,
) -> dict[str, str]:
    """Run all profiles; return plugin errors as ``{"profile/plugin": message}``.

    ``on_plugin_done`` is called after each plugin run, also a failed one, with its duration.
    """
    built = [build_profile(p, registry, state, evictor) for p in policy.profiles]
    errors: dict[str, str] = {}
    steps: list[tuple[str, str, Callable[[Sequence[Node]], None]]] = []
    steps += [(b.name, name, plugin.deschedule) for b in built for name, plugin in b.deschedulers]
    steps += [(b.name, name, plugin.balance) for b in built for name, plugin in b.balancers]
    for profile_name, plugin_name, run in steps:
        started = time.monotonic()
        try:
            run(nodes)
        except limits.LimitError as exc:
            logger.info("%s/%s stopped: %s", profile_name, plugin_name, exc)
        except Exception as exc:
            logger.exception("plugin %s of profile %s failed", plugin_name, profile_name)
            errors[f"{profile_name}/{plugin_name}"] = f"{type(exc).__name__}: {exc}"
        if on_plugin_done is not None:
            on_plugin_done(profile_name, plugin_name, time.monotonic() - started)
    return errors
