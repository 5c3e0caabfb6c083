"""Helpers for the explain tests: a policy with one plugin (DefaultEvictor at pluginConfig[0], the
plugin at pluginConfig[1]), and the verdicts of explain on plain-data state."""

from __future__ import annotations

from typing import Any

import yaml

from descheduler import explain
from descheduler.cluster.state import ClusterState
from descheduler.plugins import default_registry
from descheduler.policy import loading
from descheduler.policy.types import Policy
from tests.descheduler.factories import NOW

ARGS = "profiles[0].pluginConfig[1].args"
"""Where the plugin's args sit in :func:`one_plugin_policy`."""
EVICTOR = "profiles[0].pluginConfig[0].args"
"""Where DefaultEvictor's args sit in :func:`one_plugin_policy`."""


def policy_text(profiles: list[dict[str, Any]], **top: Any) -> str:
    return yaml.safe_dump(
        {"apiVersion": "descheduler/v1alpha2", "kind": "DeschedulerPolicy", **top, "profiles": profiles}
    )


def one_plugin_policy(
    point: str, plugin: str, args: dict[str, Any] | None, *, evictor: dict[str, Any] | None = None, **top: Any
) -> Policy:
    config: list[dict[str, Any]] = [{"name": "DefaultEvictor", "args": evictor or {}}]
    if args is not None:
        config.append({"name": plugin, "args": args})
    profile = {"name": "default", "pluginConfig": config, "plugins": {point: {"enabled": [plugin]}}}
    return loading.parse_policy(policy_text([profile], **top), registry=default_registry())


class Loaded:
    """A state source handing out a prepared state."""

    def __init__(self, state: ClusterState) -> None:
        self.state = state

    def load(self, *, now: float) -> ClusterState:
        return self.state


def verdicts(policy: Policy, state: ClusterState, pod: str, namespace: str = "default") -> list[explain.Verdict]:
    found = explain.explain(policy, default_registry(), Loaded(state), namespace=namespace, name=pod, now=NOW)
    assert found is not None
    return list(found.verdicts)


def only(policy: Policy, state: ClusterState, pod: str, namespace: str = "default") -> explain.Verdict:
    [verdict] = verdicts(policy, state, pod, namespace)
    return verdict


def said(verdict: explain.Verdict) -> tuple[str, str, str]:
    return verdict.verdict, verdict.path, verdict.reason
