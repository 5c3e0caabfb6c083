"""The policy after loading: internal, validated, defaults applied."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from descheduler.errors import Problem
from descheduler.evictor.limits import Limits


@dataclass(frozen=True)
class Profile:
    name: str
    args: dict[str, Any]
    """Decoded Args dataclass for every plugin the profile enables, by plugin name."""
    deschedule: tuple[str, ...] = ()
    balance: tuple[str, ...] = ()
    filter: tuple[str, ...] = ()
    pre_eviction_filter: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    profiles: tuple[Profile, ...]
    node_selector: dict[str, Any] | None = None
    """Parsed from the upstream string form (``key=value,key in (a,b)``)."""
    limits: Limits = field(default_factory=Limits)
    grace_period_seconds: int | None = None
    eviction_failure_event_notification: bool = False
    warnings: tuple[Problem, ...] = ()
    """Input upstream accepts leniently (and tensile too): shown by ``validate`` and at every run."""
