"""The policy after loading (internal, validated, defaults applied) and what the loader must
know about each plugin (:class:`ArgsSpec`). A leaf of the descheduler: it imports no
framework, evictor or plugin, so the loader and the schema work from specs they are given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from descheduler.errors import Problem

ExtensionPoint = Literal["deschedule", "balance", "filter", "preEvictionFilter"]
EXTENSION_POINTS: tuple[ExtensionPoint, ...] = ("deschedule", "balance", "filter", "preEvictionFilter")

Validator = Callable[[Any], list[Problem]]


def no_problems(_args: Any) -> list[Problem]:
    return []


@dataclass(frozen=True, kw_only=True)
class ArgsSpec:
    """A plugin as a policy sees it: its name, where it plugs in, and its arguments."""

    name: str
    args_type: type
    """A frozen dataclass holding the arguments with upstream's defaults (see :mod:`descheduler.policy.argspec`)."""
    extension_points: frozenset[ExtensionPoint]
    validate: Validator = no_problems
    """Problems of decoded arguments, with paths relative to ``args``."""
    description: str = ""


class Specs(Protocol):
    """The plugins a policy may name (the framework's Registry is one)."""

    def get(self, name: str) -> ArgsSpec | None: ...

    def names(self) -> list[str]: ...

    def __iter__(self) -> Iterator[ArgsSpec]: ...

    def __contains__(self, name: object) -> bool: ...


@dataclass(frozen=True)
class Limits:
    """maxNoOfPodsToEvictPerNode, PerNamespace and Total; None is unlimited."""

    per_node: int | None = None
    per_namespace: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class Profile:
    """One profile: the plugins it enables per extension point and their decoded arguments.

    Made by the loader (DefaultEvictor filled in where a profile names no filters); the
    framework's profile runner builds its plugins from it once per cycle.
    """

    name: str
    args: dict[str, Any]
    """Decoded Args dataclass for every plugin the profile enables, by plugin name."""
    deschedule: tuple[str, ...] = ()
    balance: tuple[str, ...] = ()
    filter: tuple[str, ...] = ()
    pre_eviction_filter: tuple[str, ...] = ()
    args_paths: dict[str, str] = field(default_factory=dict)
    """Where each plugin's args sit in the policy file, by plugin name: ``profiles[0].pluginConfig[3].args``,
    or ``profiles[0].pluginConfig[DefaultEvictor]`` for a plugin with no pluginConfig entry (as problems name them)."""


@dataclass(frozen=True)
class Policy:
    """A whole DeschedulerPolicy: profiles, node selector, eviction limits and warnings.

    Returned by :func:`descheduler.policy.loading.parse_policy` only when it has no errors
    (warnings ride along); the app loads it once per run and the runner uses it in every cycle.
    """

    profiles: tuple[Profile, ...]
    node_selector: dict[str, Any] | None = None
    """Parsed from the upstream string form (``key=value,key in (a,b)``)."""
    limits: Limits = field(default_factory=Limits)
    grace_period_seconds: int | None = None
    eviction_failure_event_notification: bool = False
    warnings: tuple[Problem, ...] = ()
    """Input upstream accepts leniently (and tensile too): shown by ``validate`` and at every run."""
