"""Plugin specs by name. A registry is a value passed explicitly, never a global."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from descheduler.framework.types import Handle, Refusal
from descheduler.model import Node, Pod
from descheduler.policy.types import ArgsSpec

PluginFactory = Callable[[Any, Handle], object]
WhyNot = Callable[[Pod, Any, Handle, Sequence[Node]], Refusal | None]
"""(pod, the plugin's args, a handle on the cycle's state before any eviction, the cycle's nodes) ->
why the plugin would not evict the pod, or None when the pod is one of its candidates. It reuses the
plugin module's own predicates; ``explain`` calls it."""


@dataclass(frozen=True, kw_only=True)
class PluginSpec(ArgsSpec):
    """A plugin: its args spec (what the policy loader reads), the factory the profile runner builds it with,
    and the function ``explain`` asks why a pod is not the plugin's candidate."""

    factory: PluginFactory
    why_not: WhyNot | None = None
    """Why the plugin would not evict a given pod (see :data:`WhyNot`); None for a plugin that cannot say."""


class Registry:
    """The plugins of one run by name; passed explicitly, and registering a name twice is an error.

    :func:`descheduler.plugins.default_registry` builds the one with every built-in plugin. The
    policy loader and the schema read it as their ``Specs`` (names, args types, validation); the
    profile runner builds plugins with its factories. Tests build smaller ones.
    """

    def __init__(self, specs: Iterable[PluginSpec] = ()) -> None:
        self._specs: dict[str, PluginSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: PluginSpec) -> None:
        if spec.name in self._specs:
            raise ValueError(f"plugin {spec.name!r} registered twice")
        self._specs[spec.name] = spec

    def get(self, name: str) -> PluginSpec | None:
        return self._specs.get(name)

    def names(self) -> list[str]:
        return sorted(self._specs)

    def __iter__(self) -> Iterator[PluginSpec]:
        return iter(sorted(self._specs.values(), key=lambda s: s.name))

    def __contains__(self, name: object) -> bool:
        return name in self._specs
