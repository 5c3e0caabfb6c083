"""Read an upstream ``descheduler/v1alpha2`` DeschedulerPolicy into a :class:`Policy`.

Validation collects every problem with its path before raising one
:class:`~descheduler.errors.PolicyError`, so a user fixes a policy in one pass.
``load_policy_file`` is the only function here that does I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from descheduler import documents, matching, wording
from descheduler.errors import PolicyError, Problem
from descheduler.policy import argspec
from descheduler.policy.types import EXTENSION_POINTS, Limits, Policy, Profile, Specs

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
UINT_MAX = 2**64 - 1
INT64_MAX = 2**63 - 1
INT_LIMITS = {
    "maxNoOfPodsToEvictPerNode": "per_node",
    "maxNoOfPodsToEvictPerNamespace": "per_namespace",
    "maxNoOfPodsToEvictTotal": "total",
}


def load_policy_file(path: str | Path, *, registry: Specs) -> Policy:
    """Read and parse a policy file (at most 1 MiB, UTF-8 or UTF-16/32 with a byte-order mark)."""
    source = str(path)
    try:
        text = documents.decode_text(documents.read_bytes(path, limits=documents.POLICY_LIMITS))
    except documents.DocumentError as exc:
        raise PolicyError([Problem("", str(exc))], source=source) from exc
    return parse_policy(text, registry=registry, source=source)


def parse_policy(text: str, *, registry: Specs, source: str = "") -> Policy:
    """The policy, with its warnings; PolicyError lists every error (and the warnings) when there is one."""
    try:
        docs = [doc for doc in documents.load_yaml(text, limits=documents.POLICY_LIMITS) if doc is not None]
    except documents.DocumentError as exc:
        raise PolicyError([Problem("", str(exc))], source=source) from exc
    if len(docs) > 1:
        message = f"holds {len(docs)} YAML documents; a policy is one document (remove the extra '---')"
        raise PolicyError([Problem("", message)], source=source)
    problems: list[Problem] = []
    policy = _policy(docs[0] if docs else None, registry, problems)
    errors = [p for p in problems if not p.warning]
    warnings = tuple(p for p in problems if p.warning)
    if errors or policy is None:
        raise PolicyError([*errors, *warnings], source=source)
    return dataclasses.replace(policy, warnings=warnings)


def _type_problem(value: Any, path: str, expected: str) -> Problem:
    return Problem(path, f"must be {expected}, got {wording.type_word(value)}")


def _policy(raw: Any, registry: Specs, problems: list[Problem]) -> Policy | None:
    if raw is None:
        problems.append(Problem("", "the policy is empty; it needs apiVersion, kind and profiles"))
        return None
    if not isinstance(raw, Mapping):
        problems.append(Problem("", "a policy must be a YAML mapping (apiVersion, kind, profiles)"))
        return None
    if raw.get("apiVersion") != API_VERSION:
        hint = (
            " (v1alpha1 'strategies' policies must be converted to v1alpha2 profiles)"
            if raw.get("apiVersion") == "descheduler/v1alpha1"
            else ""
        )
        got = wording.shown(raw.get("apiVersion"))
        problems.append(Problem("apiVersion", f"must be {API_VERSION}, got {got}{hint}"))
    if raw.get("kind") != KIND:
        problems.append(Problem("kind", f"must be {KIND}, got {wording.shown(raw.get('kind'))}"))
    for key in raw:
        if key not in TOP_LEVEL_FIELDS:
            field = key if isinstance(key, str) else wording.shown(key)
            problems.append(Problem(field, f"unknown field; allowed fields: {', '.join(TOP_LEVEL_FIELDS)}"))
    _unsupported_metrics(raw, problems)
    limits = Limits(**{attr: _non_negative_int(raw, key, problems, high=UINT_MAX) for key, attr in INT_LIMITS.items()})
    grace = _non_negative_int(raw, "gracePeriodSeconds", problems, high=INT64_MAX)
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


def _non_negative_int(raw: Mapping[str, Any], key: str, problems: list[Problem], *, high: int) -> int | None:
    """Upstream's limits are ``*uint`` and gracePeriodSeconds ``*int64`` (never negative here)."""
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        problems.append(_type_problem(value, key, "a non-negative integer"))
        return None
    if value < 0:
        problems.append(Problem(key, f"must be >= 0, got {value}"))
        return None
    if value > high:
        problems.append(Problem(key, f"must be at most {high}, got {wording.shown(value)}"))
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


def _profiles(value: Any, registry: Specs, problems: list[Problem]) -> list[Profile]:
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
                    f"{path}.name",
                    f"duplicate profile name {wording.shown(profile.name)} (also profiles[{seen[profile.name]}])",
                )
            )
        seen.setdefault(profile.name, i)
        profiles.append(profile)
    return profiles


def _profile(raw: Any, path: str, registry: Specs, problems: list[Problem]) -> Profile | None:
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, "must be a mapping with name, pluginConfig and plugins"))
        return None
    for key in raw:
        if key not in PROFILE_FIELDS:
            problems.append(Problem(f"{path}.{key}", f"unknown field; allowed fields: {', '.join(PROFILE_FIELDS)}"))
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        problems.append(Problem(f"{path}.name", "must be a non-empty string"))
        name = f"<{path}>"
    enabled = _plugin_sets(raw.get("plugins"), f"{path}.plugins", registry, problems)
    # Like upstream: a profile without filters gets DefaultEvictor in both filter points.
    for point in ("filter", "preEvictionFilter"):
        if not enabled[point]:
            enabled[point] = [DEFAULT_EVICTOR]
    raw_configs = _plugin_configs(raw.get("pluginConfig"), f"{path}.pluginConfig", registry, problems)
    in_use = dict.fromkeys(p for names in enabled.values() for p in names)
    args: dict[str, Any] = {}
    args_paths: dict[str, str] = {}
    for plugin in in_use:
        spec = registry.get(plugin)
        config = raw_configs.get(plugin)
        if spec is None or (config is not None and config.broken):
            continue  # already reported; judging defaults instead would only add false problems
        args_path = f"{path}.pluginConfig[{config.index}].args" if config else f"{path}.pluginConfig[{plugin}]"
        decoded, arg_problems = argspec.decode(spec.args_type, config.args if config else None, args_path)
        problems.extend(arg_problems)
        if decoded is not None:
            problems.extend(
                Problem(_join_path(args_path, p.path), p.message, p.warning) for p in spec.validate(decoded)
            )
            args[plugin] = decoded
            args_paths[plugin] = args_path
    for plugin, config in raw_configs.items():
        if plugin not in in_use:
            where = f"{path}.pluginConfig[{config.index}]"
            message = f"configures {plugin}, which this profile does not enable; ignored as upstream does"
            problems.append(Problem(where, message, warning=True))
    return Profile(
        name=name,
        args=args,
        deschedule=tuple(enabled["deschedule"]),
        balance=tuple(enabled["balance"]),
        filter=tuple(enabled["filter"]),
        pre_eviction_filter=tuple(enabled["preEvictionFilter"]),
        args_paths=args_paths,
    )


def _join_path(base: str, rel: str) -> str:
    if not rel:
        return base
    return f"{base}{rel}" if rel.startswith("[") else f"{base}.{rel}"


def _unknown_plugin(name: Any, path: str, registry: Specs) -> Problem:
    return Problem(path, f"unknown plugin {wording.shown(name)}; known plugins: {', '.join(registry.names())}")


def _plugin_sets(raw: Any, path: str, registry: Specs, problems: list[Problem]) -> dict[str, list[str]]:
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
        value = raw.get(key)
        value = [] if value is None else value  # null is unset; '' or 0 is a mistake
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(Problem(f"{path}.{key}", "must be a list of plugin names"))
            value = []
        lists[key] = value
    disabled = set(lists["disabled"])
    return [(j, name) for j, name in enumerate(lists["enabled"]) if name not in disabled and "*" not in disabled]


@dataclass(frozen=True)
class _PluginConfig:
    """One ``pluginConfig`` entry: where it is, its raw args, and whether they already failed to decode."""

    index: int
    args: Any
    broken: bool = False


def _plugin_configs(raw: Any, path: str, registry: Specs, problems: list[Problem]) -> dict[str, _PluginConfig]:
    configs: dict[str, _PluginConfig] = {}
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
                field = key if isinstance(key, str) else wording.shown(key)
                problems.append(Problem(f"{where}.{field}", "unknown field; allowed fields: args, name"))
        name = entry.get("name")
        spec = registry.get(name) if isinstance(name, str) else None
        if spec is None:
            problems.append(_unknown_plugin(name, f"{where}.name", registry))
            continue
        if spec.name in configs:
            message = f"duplicate pluginConfig for {spec.name} (also {path}[{configs[spec.name].index}])"
            problems.append(Problem(f"{where}.name", message))
            continue
        args = entry.get("args")
        # Decoded here too, so a typo in the config of a plugin that is not enabled is still reported.
        _decoded, arg_problems = argspec.decode(spec.args_type, args, f"{where}.args")
        problems.extend(arg_problems)
        configs[spec.name] = _PluginConfig(j, args, broken=bool(arg_problems))
    return configs
