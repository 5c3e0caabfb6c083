"""Read an upstream ``descheduler/v1alpha2`` DeschedulerPolicy into a :class:`Policy`.

Validation collects every problem with its path before raising one
:class:`~descheduler.errors.PolicyError`, so a user fixes a policy in one pass.
``load_policy_file`` is the only function here that does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from descheduler import matching
from descheduler.errors import PolicyError, Problem
from descheduler.evictor.limits import Limits
from descheduler.framework.registry import Registry
from descheduler.framework.types import EXTENSION_POINTS
from descheduler.policy import argspec
from descheduler.policy.types import Policy, Profile

API_VERSION = "descheduler/v1alpha2"
KIND = "DeschedulerPolicy"
DEFAULT_EVICTOR = "DefaultEvictor"

TOP_LEVEL_FIELDS = (
    "apiVersion",
    "kind",
    "profiles",
    "nodeSelector",
    "maxNoOfPodsToEvictPerNode",
    "maxNoOfPodsToEvictPerNamespace",
    "maxNoOfPodsToEvictTotal",
    "gracePeriodSeconds",
    "evictionFailureEventNotification",
    "metricsCollector",
    "metricsProviders",
    "prometheus",
)
PROFILE_FIELDS = ("name", "pluginConfig", "plugins")
# presort and sort exist in the upstream types but no plugin implements them.
PLUGIN_SET_FIELDS = (*EXTENSION_POINTS, "presort", "sort")
INT_LIMITS = {
    "maxNoOfPodsToEvictPerNode": "per_node",
    "maxNoOfPodsToEvictPerNamespace": "per_namespace",
    "maxNoOfPodsToEvictTotal": "total",
}


def load_policy_file(path: str | Path, *, registry: Registry) -> Policy:
    source = str(path)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise PolicyError([Problem("", f"cannot read policy file: {exc.strerror or exc}")], source=source) from exc
    return parse_policy(text, registry=registry, source=source)


def parse_policy(text: str, *, registry: Registry, source: str = "") -> Policy:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError([Problem(where, f"invalid YAML: {problem}")], source=source) from exc
    problems: list[Problem] = []
    policy = _policy(raw, registry, problems)
    if problems or policy is None:
        raise PolicyError(problems, source=source)
    return policy


def _type_problem(value: Any, path: str, expected: str) -> Problem:
    return Problem(path, f"must be {expected}, got {type(value).__name__}")


def _policy(raw: Any, registry: Registry, problems: list[Problem]) -> Policy | None:
    if not isinstance(raw, Mapping):
        problems.append(Problem("", "a policy must be a YAML mapping (apiVersion, kind, profiles)"))
        return None
    if raw.get("apiVersion") != API_VERSION:
        hint = (
            " (v1alpha1 'strategies' policies must be converted to v1alpha2 profiles)"
            if raw.get("apiVersion") == "descheduler/v1alpha1"
            else ""
        )
        problems.append(Problem("apiVersion", f"must be {API_VERSION}, got {raw.get('apiVersion')!r}{hint}"))
    if raw.get("kind") != KIND:
        problems.append(Problem("kind", f"must be {KIND}, got {raw.get('kind')!r}"))
    for key in raw:
        if key not in TOP_LEVEL_FIELDS:
            problems.append(Problem(str(key), f"unknown field; allowed fields: {', '.join(TOP_LEVEL_FIELDS)}"))
    _unsupported_metrics(raw, problems)
    limits = Limits(**{attr: _non_negative_int(raw, key, problems) for key, attr in INT_LIMITS.items()})
    grace = _non_negative_int(raw, "gracePeriodSeconds", problems)
    notify = raw.get("evictionFailureEventNotification", False)
    if not isinstance(notify, bool):
        problems.append(_type_problem(notify, "evictionFailureEventNotification", "a boolean"))
    node_selector = _node_selector(raw.get("nodeSelector"), problems)
    profiles = _profiles(raw.get("profiles"), registry, problems)
    return Policy(
        profiles=tuple(profiles),
        node_selector=node_selector,
        limits=limits,
        grace_period_seconds=grace,
        eviction_failure_event_notification=bool(notify),
    )


def _unsupported_metrics(raw: Mapping[str, Any], problems: list[Problem]) -> None:
    collector = raw.get("metricsCollector")
    if isinstance(collector, Mapping) and collector.get("enabled"):
        problems.append(
            Problem("metricsCollector.enabled", "actual-usage metrics are not supported by tensile; remove it")
        )
    if raw.get("metricsProviders") or raw.get("prometheus"):
        key = "metricsProviders" if raw.get("metricsProviders") else "prometheus"
        problems.append(Problem(key, "actual-usage metrics providers are not supported by tensile; remove it"))


def _non_negative_int(raw: Mapping[str, Any], key: str, problems: list[Problem]) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        problems.append(_type_problem(value, key, "a non-negative integer"))
        return None
    if value < 0:
        problems.append(Problem(key, f"must be >= 0, got {value}"))
        return None
    return value


def _node_selector(value: Any, problems: list[Problem]) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problems.append(_type_problem(value, "nodeSelector", "a label selector string such as 'type=virtual-kubelet'"))
        return None
    try:
        return matching.parse_selector_string(value)
    except ValueError as exc:
        problems.append(Problem("nodeSelector", str(exc)))
        return None


def _profiles(value: Any, registry: Registry, problems: list[Problem]) -> list[Profile]:
    if not isinstance(value, list) or not value:
        problems.append(Problem("profiles", "must be a non-empty list of profiles"))
        return []
    seen: dict[str, int] = {}
    profiles = []
    for i, raw in enumerate(value):
        path = f"profiles[{i}]"
        profile = _profile(raw, path, registry, problems)
        if profile is None:
            continue
        if profile.name in seen:
            problems.append(
                Problem(
                    f"{path}.name", f"duplicate profile name {profile.name!r} (also profiles[{seen[profile.name]}])"
                )
            )
        seen.setdefault(profile.name, i)
        profiles.append(profile)
    return profiles


def _profile(raw: Any, path: str, registry: Registry, problems: list[Problem]) -> Profile | None:
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, "must be a mapping with name, pluginConfig and plugins"))
        return None
    for key in raw:
        if key not in PROFILE_FIELDS:
            problems.append(Problem(f"{path}.{key}", f"unknown field; allowed fields: {', '.join(PROFILE_FIELDS)}"))
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        problems.append(Problem(f"{path}.name", "must be a non-empty string"))
        name = f"<profiles[{path}]>"
    enabled = _plugin_sets(raw.get("plugins"), f"{path}.plugins", registry, problems)
    # Like upstream: a profile without filters gets DefaultEvictor in both filter points.
    for point in ("filter", "preEvictionFilter"):
        if not enabled[point]:
            enabled[point] = [DEFAULT_EVICTOR]
    raw_configs = _plugin_configs(raw.get("pluginConfig"), f"{path}.pluginConfig", registry, problems)
    args: dict[str, Any] = {}
    for plugin in dict.fromkeys(p for names in enabled.values() for p in names):
        spec = registry.get(plugin)
        if spec is None:
            continue
        index, raw_args = raw_configs.get(plugin, (None, None))
        args_path = f"{path}.pluginConfig[{index}].args" if index is not None else f"{path}.pluginConfig[{plugin}]"
        decoded, arg_problems = argspec.decode(spec.args_type, raw_args, args_path)
        problems.extend(arg_problems)
        if decoded is not None:
            problems.extend(Problem(_join_path(args_path, p.path), p.message) for p in spec.validate(decoded))
            args[plugin] = decoded
    return Profile(
        name=name,
        args=args,
        deschedule=tuple(enabled["deschedule"]),
        balance=tuple(enabled["balance"]),
        filter=tuple(enabled["filter"]),
        pre_eviction_filter=tuple(enabled["preEvictionFilter"]),
    )


def _join_path(base: str, rel: str) -> str:
    if not rel:
        return base
    return f"{base}{rel}" if rel.startswith("[") else f"{base}.{rel}"


def _unknown_plugin(name: Any, path: str, registry: Registry) -> Problem:
    return Problem(path, f"unknown plugin {name!r}; known plugins: {', '.join(registry.names())}")


def _plugin_sets(raw: Any, path: str, registry: Registry, problems: list[Problem]) -> dict[str, list[str]]:
    enabled: dict[str, list[str]] = {point: [] for point in EXTENSION_POINTS}
    if raw is None:
        return enabled
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, f"must be a mapping of extension points: {', '.join(EXTENSION_POINTS)}"))
        return enabled
    for point, plugin_set in raw.items():
        point_path = f"{path}.{point}"
        if point not in PLUGIN_SET_FIELDS:
            problems.append(Problem(point_path, f"unknown extension point; allowed: {', '.join(EXTENSION_POINTS)}"))
            continue
        names = _enabled_names(plugin_set, point_path, problems)
        for j, name in names:
            where = f"{point_path}.enabled[{j}]"
            spec = registry.get(name)
            if spec is None:
                problems.append(_unknown_plugin(name, where, registry))
            elif point not in spec.extension_points:
                points = ", ".join(sorted(spec.extension_points))
                problems.append(Problem(where, f"plugin {name} does not implement {point}; it implements: {points}"))
            elif name in enabled[point]:
                problems.append(Problem(where, f"plugin {name} is enabled twice"))
            else:
                enabled[point].append(name)
    return enabled


def _enabled_names(raw: Any, path: str, problems: list[Problem]) -> list[tuple[int, str]]:
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, "must be a mapping with enabled and disabled lists"))
        return []
    for key in raw:
        if key not in ("enabled", "disabled"):
            problems.append(Problem(f"{path}.{key}", "unknown field; allowed fields: disabled, enabled"))
    lists: dict[str, list[str]] = {}
    for key in ("enabled", "disabled"):
        value = raw.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(Problem(f"{path}.{key}", "must be a list of plugin names"))
            value = []
        lists[key] = value
    disabled = set(lists["disabled"])
    return [(j, name) for j, name in enumerate(lists["enabled"]) if name not in disabled and "*" not in disabled]


def _plugin_configs(raw: Any, path: str, registry: Registry, problems: list[Problem]) -> dict[str, tuple[int, Any]]:
    configs: dict[str, tuple[int, Any]] = {}
    if raw is None:
        return configs
    if not isinstance(raw, list):
        problems.append(Problem(path, "must be a list of {name, args}"))
        return configs
    for j, entry in enumerate(raw):
        where = f"{path}[{j}]"
        if not isinstance(entry, Mapping):
            problems.append(Problem(where, "must be a mapping with name and args"))
            continue
        for key in entry:
            if key not in ("name", "args"):
                problems.append(Problem(f"{where}.{key}", "unknown field; allowed fields: args, name"))
        name = entry.get("name")
        if name not in registry:
            problems.append(_unknown_plugin(name, f"{where}.name", registry))
            continue
        if name in configs:
            problems.append(
                Problem(f"{where}.name", f"duplicate pluginConfig for {name} (also {path}[{configs[name][0]}])")
            )
            continue
        args = entry.get("args")
        configs[str(name)] = (j, args)
        if args is not None:
            # Validate configs of plugins that are not enabled too: a typo there is still a typo.
            spec = registry.get(str(name))
            assert spec is not None
            _decoded, arg_problems = argspec.decode(spec.args_type, args, f"{where}.args")
            if arg_problems:
                problems.extend(arg_problems)
                configs[str(name)] = (j, None)
    return configs
