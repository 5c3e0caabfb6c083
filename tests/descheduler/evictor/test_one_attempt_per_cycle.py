"""One pod, one attempt per cycle; avoidance records only for evictions that happened;
a dry run predicts what PodDisruptionBudgets would refuse."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from descheduler import model
from descheduler.evictor import limits
from descheduler.evictor.evictor import Evictor
from descheduler.evictor.writers import DryRunRecorder, Outcome
from descheduler.framework.profile import PluginHandle
from descheduler.policy.types import Limits
from descheduler.report import Result
from tests.descheduler import factories as f


class ScriptedWriter:
    """A real-run writer whose API answers are given: it records every request it would send."""

    dry_run = False

    def __init__(self, answer: Result) -> None:
        self.answer = answer
        self.requests: list[str] = []

    def evict(self, pod: model.Pod, *, reason: str, grace_period_seconds: int | None) -> Outcome:
        self.requests.append(f"evict {pod.name}")
        return Outcome(self.answer, "scripted")

    def record_avoidance(self, pod: model.Pod, *, node: str, until: float) -> Callable[[], None]:
        self.requests.append(f"avoid {node} for {pod.name}")
        return lambda: self.requests.append(f"withdraw {node} for {pod.name}")


def pdb(name: str, allowed: int, app: str = "db") -> model.PodDisruptionBudget:
    return model.PodDisruptionBudget("default", name, {"matchLabels": {"app": app}}, allowed)


def evictor_for(pods: list[model.Pod], writer: Any, pdbs: Sequence[model.PodDisruptionBudget] = ()) -> Evictor:
    state = f.state([f.node("n1"), f.node("n2")], pods, pdbs=pdbs)
    return Evictor(state, writer, limits.LimitCounter(Limits()))


@pytest.mark.parametrize("answer", [Result.BLOCKED, Result.FAILED, Result.EVICTED, Result.GONE])
def test_a_pod_is_sent_to_the_api_once_per_cycle_whatever_the_answer(answer: Result) -> None:
    pod = f.pod("db-0", node="n1", labels={"app": "db"})
    writer = ScriptedWriter(answer)
    evictor = evictor_for([pod], writer)
    evictor.evict(pod, plugin="PendingOnVirtualNode", profile="p", reason="stuck")
    assert not evictor.evict(pod, plugin="VirtualNodeFragmentation", profile="p", reason="room")
    assert writer.requests == ["evict db-0"]
    assert [d.plugin for d in evictor.decisions] == ["PendingOnVirtualNode"]


def test_a_blocked_pod_is_no_candidate_for_later_plugins() -> None:
    pod = f.pod("db-0", node="n1")
    evictor = evictor_for([pod], ScriptedWriter(Result.BLOCKED))
    handle = PluginHandle(evictor.state, evictor, "RemoveDuplicates", "p")
    assert handle.filter(pod)
    evictor.evict(pod, plugin="PodLifeTime", profile="p", reason="old")
    assert not handle.filter(pod)


@pytest.mark.parametrize(
    ("answer", "requests"),
    [
        (Result.EVICTED, ["avoid vk-a for db-0", "evict db-0"]),
        (Result.BLOCKED, ["avoid vk-a for db-0", "evict db-0", "withdraw vk-a for db-0"]),
        (Result.FAILED, ["avoid vk-a for db-0", "evict db-0", "withdraw vk-a for db-0"]),
        (Result.GONE, ["avoid vk-a for db-0", "evict db-0", "withdraw vk-a for db-0"]),
    ],
    ids=["accepted -> record kept", "PDB refused -> record withdrawn", "failed -> withdrawn", "gone -> withdrawn"],
)
def test_the_avoidance_record_stays_only_when_the_eviction_was_accepted(answer: Result, requests: list[str]) -> None:
    pod = f.pod("db-0", node="n1")
    writer = ScriptedWriter(answer)
    evictor = evictor_for([pod], writer)
    evictor.evict(pod, plugin="P", profile="p", reason="stuck", avoid_node="vk-a", avoid_seconds=600)
    assert writer.requests == requests


def test_the_dry_run_predicts_a_pdb_refusal() -> None:
    pod = f.pod("db-0", node="n1", labels={"app": "db"})
    evictor = evictor_for([pod], DryRunRecorder(), [pdb("db", 0)])
    assert not evictor.evict(pod, plugin="P", profile="p", reason="stuck")
    (decision,) = evictor.decisions
    assert decision.result is Result.BLOCKED
    assert "db" in decision.message
    assert not evictor.state.is_evicted(pod)


def test_the_dry_run_counts_earlier_planned_evictions_against_the_same_pdb() -> None:
    pods = [f.pod(f"db-{i}", node="n1", labels={"app": "db"}) for i in range(3)]
    evictor = evictor_for(pods, DryRunRecorder(), [pdb("db", 2)])
    for pod in pods:
        evictor.evict(pod, plugin="P", profile="p", reason="r")
    assert [d.result for d in evictor.decisions] == [Result.PLANNED, Result.PLANNED, Result.BLOCKED]
    assert evictor.budgets.room("default/db") == 0


@pytest.mark.parametrize(
    ("phase", "deleting", "expected"),
    [
        ("Pending", False, Result.PLANNED),
        ("Failed", False, Result.PLANNED),
        ("Running", True, Result.PLANNED),
        ("Running", False, Result.BLOCKED),
    ],
    ids=["pending ignores budgets", "failed ignores budgets", "terminating ignores budgets", "running is held"],
)
def test_pods_the_eviction_api_lets_go_without_a_budget_are_planned(
    phase: str, deleting: bool, expected: Result
) -> None:
    pod = f.pod("db-0", node="n1", labels={"app": "db"}, phase=phase, deleting=deleting)
    evictor = evictor_for([pod], DryRunRecorder(), [pdb("db", 0)])
    evictor.evict(pod, plugin="P", profile="p", reason="r")
    assert evictor.decisions[0].result is expected


def test_a_pod_under_two_budgets_is_predicted_to_fail_as_the_api_server_refuses_it() -> None:
    pod = f.pod("db-0", node="n1", labels={"app": "db"})
    evictor = evictor_for([pod], DryRunRecorder(), [pdb("db-a", 5), pdb("db-b", 5)])
    evictor.evict(pod, plugin="P", profile="p", reason="r")
    assert evictor.decisions[0].result is Result.FAILED
    assert "more than one PodDisruptionBudget" in evictor.decisions[0].message


def test_the_real_run_leaves_the_decision_to_the_api_server() -> None:
    pod = f.pod("db-0", node="n1", labels={"app": "db"})
    writer = ScriptedWriter(Result.EVICTED)
    evictor = evictor_for([pod], writer, [pdb("db", 0)])
    assert evictor.evict(pod, plugin="P", profile="p", reason="r")
    assert writer.requests == ["evict db-0"]
