"""StuckPodTimers: one timer per pod, at the moment PendingOnVirtualNode would call it stuck."""

from __future__ import annotations

import threading
import time
from typing import Any

from descheduler import stuck_timers
from descheduler.plugins import default_registry
from descheduler.plugins import pending_on_virtual_node as plugin
from descheduler.policy import loading
from tests.descheduler import factories as f
from tests.descheduler.plugins.test_pending_on_virtual_node import args, unschedulable


def test_due_at_is_the_earlier_of_the_two_thresholds() -> None:
    stuck = unschedulable("web-1", since=10, age_seconds=100)
    a = args(minTimeSinceLastTransitionSeconds=60, maxPendingSeconds=300)
    assert plugin.due_at(stuck, a) == f.NOW - 10 + 60
    assert plugin.stuck_reason(stuck, a, now=f.NOW + 50) is not None
    assert plugin.stuck_reason(stuck, a, now=f.NOW + 49) is None
    # Pending long enough whatever the condition: then the pending threshold comes first.
    old = unschedulable("web-2", since=10, age_seconds=290)
    assert plugin.due_at(old, a) == f.NOW - 290 + 300


def test_running_unbound_or_deleting_pods_get_no_timer() -> None:
    a = args()
    assert plugin.due_at(f.pod("run", node="vk-a"), a) is None
    assert plugin.due_at(unschedulable("free", node=""), a) is None
    assert plugin.due_at(unschedulable("gone", deleting=True), a) is None


def started(**kw: Any) -> tuple[stuck_timers.StuckPodTimers, list[list[str]], threading.Event]:
    """Timers on a clock that starts at the factories' NOW and runs in real time; stuck after 1 s."""
    fired: list[list[str]] = []
    stop = threading.Event()
    t0 = time.monotonic()
    a = args(minTimeSinceLastTransitionSeconds=1)
    timers = stuck_timers.StuckPodTimers([a], fired.append, clock=lambda: f.NOW + time.monotonic() - t0, **kw)
    timers.start(stop)
    return timers, fired, stop


def wait(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_a_pod_fires_once_at_its_moment_and_not_again_for_the_same_moment() -> None:
    timers, fired, stop = started()
    try:
        pod = unschedulable("web-1", since=0, age_seconds=10)
        timers.on_pod("ADDED", pod)
        assert timers.pending() == 1
        assert not fired
        assert wait(lambda: fired == [["default/web-1"]]), fired
        timers.on_pod("MODIFIED", pod)  # the same condition again: no second run
        time.sleep(0.2)
        assert fired == [["default/web-1"]] and timers.pending() == 0
    finally:
        stop.set()


def test_a_change_moves_or_drops_the_timer() -> None:
    timers, fired, stop = started()
    try:
        pod = unschedulable("web-1", since=0, age_seconds=10)
        timers.on_pod("ADDED", pod)
        timers.on_pod("MODIFIED", f.pod("web-1", node="vk-a"))  # scheduled after all: Running
        assert timers.pending() == 0
        time.sleep(1.2)
        assert fired == []
        timers.on_pod("MODIFIED", pod)
        timers.on_pod("DELETED", pod)
        time.sleep(1.2)
        assert fired == [] and timers.pending() == 0
    finally:
        stop.set()


def test_only_pods_on_virtual_nodes_get_timers() -> None:
    timers, _fired, stop = started(on_virtual_node=lambda node: node.startswith("vk-"))
    try:
        timers.on_pod("ADDED", unschedulable("real", node="node-1"))
        timers.on_pod("ADDED", unschedulable("virtual", node="vk-a"))
        assert timers.pending() == 1
    finally:
        stop.set()


def test_the_policy_is_cut_down_to_pending_on_virtual_node() -> None:
    policy = loading.parse_policy(
        """
        apiVersion: descheduler/v1alpha2
        kind: DeschedulerPolicy
        profiles:
          - name: both
            pluginConfig: [{name: PendingOnVirtualNode}, {name: RemoveDuplicates}]
            plugins: {deschedule: {enabled: [PendingOnVirtualNode]}, balance: {enabled: [RemoveDuplicates]}}
          - name: other
            pluginConfig: [{name: RemoveFailedPods}]
            plugins: {deschedule: {enabled: [RemoveFailedPods]}}
        """,
        registry=default_registry(),
    )
    cut = stuck_timers.stuck_only(policy)
    assert cut is not None
    assert [(p.name, p.deschedule, p.balance) for p in cut.profiles] == [("both", ("PendingOnVirtualNode",), ())]
    assert cut.limits == policy.limits
    assert len(stuck_timers.arguments(policy)) == 1
    assert stuck_timers.stuck_only(cut) is not None
