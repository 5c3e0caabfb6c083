"""Policy loading: the upstream v1alpha2 format is accepted unchanged, and every error
names its path and what is allowed."""

from __future__ import annotations

import textwrap

import pytest

from descheduler.errors import PolicyError
from descheduler.plugins import default_registry
from descheduler.policy.loading import parse_policy
from descheduler.policy.types import Policy

REGISTRY = default_registry()


def load(text: str) -> Policy:
    return parse_policy(textwrap.dedent(text), registry=REGISTRY)


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load(text)
    return [str(p) for p in info.value.problems]


HEADER = "apiVersion: descheduler/v1alpha2\nkind: DeschedulerPolicy\n"
R = "RemovePodsHavingTooManyRestarts"
ENABLED = f"plugins: {{deschedule: {{enabled: [{R}]}}}}"


def test_upstream_policy_loads_with_limits_selector_and_default_evictor() -> None:
    policy = load(
        HEADER
        + """
nodeSelector: "type=virtual-kubelet,zone in (a,b)"
maxNoOfPodsToEvictPerNode: 2
maxNoOfPodsToEvictPerNamespace: 3
maxNoOfPodsToEvictTotal: 10
gracePeriodSeconds: 30
profiles:
  - name: default
    pluginConfig:
      - name: RemovePodsHavingTooManyRestarts
        args:
          podRestartThreshold: 5
          includingInitContainers: true
    plugins:
      deschedule:
        enabled: [RemovePodsHavingTooManyRestarts]
"""
    )
    assert (policy.limits.per_node, policy.limits.per_namespace, policy.limits.total) == (2, 3, 10)
    assert policy.grace_period_seconds == 30
    assert policy.node_selector == {
        "matchLabels": {"type": "virtual-kubelet"},
        "matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}],
    }
    profile = policy.profiles[0]
    assert profile.deschedule == ("RemovePodsHavingTooManyRestarts",)
    assert profile.filter == ("DefaultEvictor",) and profile.pre_eviction_filter == ("DefaultEvictor",)
    assert profile.args["RemovePodsHavingTooManyRestarts"].pod_restart_threshold == 5
    assert "DefaultEvictor" in profile.args


def test_disabled_plugins_are_not_run() -> None:
    policy = load(
        HEADER
        + """
profiles:
  - name: p
    pluginConfig: [{name: RemovePodsHavingTooManyRestarts, args: {podRestartThreshold: 1}}]
    plugins:
      deschedule: {enabled: [RemovePodsHavingTooManyRestarts], disabled: [RemovePodsHavingTooManyRestarts]}
"""
    )
    assert policy.profiles[0].deschedule == ()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "profiles: [{name: p, plugins: {deschedule: {enabled: [NoSuchPlugin]}}}]",
            "profiles[0].plugins.deschedule.enabled[0]: unknown plugin 'NoSuchPlugin'; known plugins: ",
        ),
        ("profiles: [{name: p, colour: red}]", "profiles[0].colour: unknown field; allowed fields: name, pluginConfig"),
        ("profiles: [{name: p}]\nmaxNoOfPodsToEvictTotal: many", "maxNoOfPodsToEvictTotal: must be a non-negative"),
        ("profiles: [{name: p}]\nmaxNoOfPodsToEvictPerNode: -1", "maxNoOfPodsToEvictPerNode: must be >= 0, got -1"),
        ("profiles: [{name: p}, {name: p}]", "profiles[1].name: duplicate profile name 'p' (also profiles[0])"),
        ("profiles: []", "profiles: must be a non-empty list"),
        ("profiles: [{name: p}]\nnodeSelector: 'a in b'", "nodeSelector: cannot parse label selector requirement"),
        (
            f"profiles: [{{name: p, pluginConfig: [{{name: {R}, args: {{podRestartThreshold: x}}}}]}}]",
            "profiles[0].pluginConfig[0].args.podRestartThreshold: must be an integer, got a string 'x'",
        ),
        (
            "profiles: [{name: p, pluginConfig: [{name: RemovePodsHavingTooManyRestarts, args: {threshold: 1}}]}]",
            "profiles[0].pluginConfig[0].args.threshold: unknown field; allowed fields: ",
        ),
        (
            f"profiles: [{{name: p, pluginConfig: [{{name: {R}, args: {{podRestartThreshold: 0}}}}], {ENABLED}}}]",
            "profiles[0].pluginConfig[0].args.podRestartThreshold: must be > 0, got 0",
        ),
        (
            f"profiles: [{{name: p, pluginConfig: [{{name: {R}, args: {{podRestartThreshold: 1,"
            f" namespaces: {{include: [a], exclude: [b]}}}}}}], {ENABLED}}}]",
            "profiles[0].pluginConfig[0].args.namespaces: only one of include and exclude can be set",
        ),
        (
            "profiles: [{name: p, plugins: {balance: {enabled: [RemovePodsHavingTooManyRestarts]}}}]",
            "profiles[0].plugins.balance.enabled[0]: plugin RemovePodsHavingTooManyRestarts does not implement balance",
        ),
        (
            "profiles: [{name: p, pluginConfig: [{name: RemovePodsHavingTooManyRestarts}, "
            "{name: RemovePodsHavingTooManyRestarts}]}]",
            "profiles[0].pluginConfig[1].name: duplicate pluginConfig for RemovePodsHavingTooManyRestarts",
        ),
    ],
    ids=[
        "unknown plugin lists the known ones",
        "unknown profile field",
        "wrong type for a limit",
        "negative limit",
        "duplicate profile names",
        "no profiles",
        "unparsable nodeSelector",
        "wrong argument type",
        "unknown argument",
        "out-of-range argument",
        "mutually exclusive arguments",
        "plugin at an extension point it does not implement",
        "duplicate pluginConfig",
    ],
)
def test_policy_errors_name_their_path(body: str, expected: str) -> None:
    found = problems(HEADER + body)
    assert any(p.startswith(expected) for p in found), found


def test_every_problem_is_reported_at_once() -> None:
    found = problems("apiVersion: descheduler/v1alpha1\nkind: Policy\nstrategies: {}\n")
    assert [p.split(":")[0] for p in found] == ["apiVersion", "kind", "strategies", "profiles"]
    assert "v1alpha1 'strategies' policies must be converted" in found[0]


def test_invalid_yaml_names_line_and_column() -> None:
    found = problems(HEADER + "profiles: [\n  - name: p\n")
    assert found[0].startswith("invalid YAML at line 4, column 3: ")


def test_a_policy_that_is_not_a_mapping_is_rejected() -> None:
    assert problems("- just\n- a list\n") == ["a policy must be a YAML mapping (apiVersion, kind, profiles)"]
