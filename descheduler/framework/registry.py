"""Plugin specs by name. A registry is a value passed explicitly, never a global."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from descheduler.errors import Problem
from descheduler.framework.types import ExtensionPoint, Handle

PluginFactory = Callable[[Any, Handle], object]
Validator = Callable[[Any], list[Problem]]


def no_problems(_args: Any) -> list[Problem]:
    return []


@dataclass(frozen=True)
class PluginSpec:
    """Everything the policy loader, the profile runner and the docs need about a plugin."""

    name: str
    args_type: type
    factory: PluginFactory
    extension_points: frozenset[ExtensionPoint]
    validate: Validator = no_problems
    description: str = ""


class Registry:
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
