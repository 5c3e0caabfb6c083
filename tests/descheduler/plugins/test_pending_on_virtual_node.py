"""PendingOnVirtualNode: stuck pods behind virtual nodes are evicted, with an avoidance record."""

from __future__ import annotations

from typing import Any

import pytest

from descheduler.evictor import limits
from descheduler.evictor.evictor import Evictor
from descheduler.framework.profile import PluginHandle
from descheduler.model import Pod
from descheduler.plugins import pending_on_virtual_node as plugin
from descheduler.policy import argspec
from descheduler.policy.types import Limits
from tests.descheduler import factories as f

VIRTUAL = {"type": "virtual-kubelet"}


def args(**wire: Any) -> plugin.Args:
    decoded = f.decode_args(plugin.Args, **wire)
    assert plugin.validate(decoded) == []
    return decoded


def unschedulable(
    name: str, *, node: str = "vk-a", since: float = 120, reason: str = "Unschedulable", **kw: Any
) -> Pod:
    status = {
        "phase": "Pending",
        "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": reason, "lastTransitionTime": f.ts(since)}
        ],
    }
    kw.setdefault("age_seconds", since)  # created when it became unschedulable, unless said otherwise
    return f.pod(name, node=node, phase="Pending", status=status, **kw)


def run(wire: dict[str, Any], pods: list[Pod], *, limit: Limits | None = None) -> tuple[list[str], f.RecordingWriter]:
    nodes = [f.node("vk-a", labels=VIRTUAL), f.node("vk-b", labels=VIRTUAL), f.node("real-1")]
    state = f.state(nodes, pods)
    writer = f.RecordingWriter()
    evictor = Evictor(state, writer, limits.LimitCounter(limit or Limits()))
    handle = PluginHandle(state, evictor, plugin.NAME, "test-profile")
    plugin.PendingOnVirtualNode(args(**wire), handle).deschedule(list(state.nodes.values()))
    return [d.pod for d in evictor.decisions if d.result.succeeded], writer


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        (unschedulable("stuck", since=120), ["stuck"]),
        (unschedulable("fresh", since=30), []),
        (unschedulable("error", since=120, reason="SchedulerError"), ["error"]),
        (unschedulable("other-reason", since=120, reason="SchedulingGated", age_seconds=100), []),
        (unschedulable("on-real-node", node="real-1", since=120), []),
        (f.pod("running", node="vk-a"), []),
        (f.pod("long-pending", node="vk-a", phase="Pending", age_seconds=400), ["long-pending"]),
        (f.pod("short-pending", node="vk-a", phase="Pending", age_seconds=100), []),
    ],
    ids=[
        "Unschedulable for 2m >= 60s -> evicted",
        "Unschedulable for 30s -> kept",
        "SchedulerError counts too -> evicted",
        "another reason, young pod -> kept",
        "not a virtual node -> kept",
        "Running -> kept",
        "Pending 400s >= maxPendingSeconds 300 -> evicted",
        "Pending 100s -> kept",
    ],
)
def test_stuck_pods_behind_virtual_nodes_are_evicted(pod: Pod, expected: list[str]) -> None:
    evicted, _writer = run({}, [pod])
    assert evicted == expected


def test_eviction_records_an_avoidance_of_that_virtual_node() -> None:
    evicted, writer = run({"avoidanceSeconds": 900}, [unschedulable("stuck", node="vk-b")])
    assert evicted == ["stuck"]
    assert writer.avoidances == [("stuck", "vk-b", f.NOW + 900)]


def test_bare_pods_get_no_avoidance_record() -> None:
    evicted, writer = run({}, [unschedulable("bare", owner=None)])
    assert evicted == ["bare"] and writer.avoidances == []


def test_reason_says_how_long_the_pod_was_stuck() -> None:
    assert plugin.stuck_reason(unschedulable("p", since=7200), plugin.Args(), now=f.NOW) == (
        "Unschedulable behind the virtual node for 2h"
    )


def test_node_selector_and_thresholds_are_configurable() -> None:
    pods = [unschedulable("p", since=120)]
    assert run({"minTimeSinceLastTransitionSeconds": 300}, pods)[0] == []
    assert run({"nodeSelector": "type=other"}, pods)[0] == []


def test_namespace_and_label_filters_apply() -> None:
    pods = [unschedulable("a", namespace="shop"), unschedulable("b", namespace="batch", labels={"tier": "x"})]
    assert run({"namespaces": {"include": ["shop"]}}, pods)[0] == ["a"]
    assert run({"labelSelector": {"matchLabels": {"tier": "x"}}}, pods)[0] == ["b"]


def test_total_limit_stops_the_plugin() -> None:
    pods = [unschedulable("a"), unschedulable("b", node="vk-b")]
    evicted, _writer = run({}, pods, limit=Limits(total=1))
    assert evicted == ["a"]


@pytest.mark.parametrize(
    ("wire", "path"),
    [
        ({"nodeSelector": "a in b"}, "nodeSelector"),
        ({"maxPendingSeconds": 0}, "maxPendingSeconds"),
        ({"minTimeSinceLastTransitionSeconds": -1}, "minTimeSinceLastTransitionSeconds"),
        ({"avoidanceSeconds": -5}, "avoidanceSeconds"),
    ],
    ids=["unparsable selector", "zero max pending", "negative min time", "negative avoidance"],
)
def test_validation_names_the_path(wire: dict[str, Any], path: str) -> None:
    decoded, problems = argspec.decode(plugin.Args, wire, "")
    assert not problems and decoded is not None
    assert [p.path for p in plugin.validate(decoded)] == [path]
