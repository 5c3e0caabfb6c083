from __future__ import annotations

import pytest

from descheduler.plugins import remove_pods_having_too_many_restarts as plugin
from descheduler.policy import argspec
from descheduler.policy.types import Limits
from tests.descheduler import factories as f


def restarting(name: str, count: int, *, node: str = "n1", waiting: str = "", **kw: object) -> object:
    status = {
        "containerStatuses": [
            {"name": "c0", "restartCount": count, "state": {"waiting": {"reason": waiting}} if waiting else {}}
        ]
    }
    return f.pod(name, node=node, status=status, **kw)


def args(**wire: object) -> plugin.Args:
    return f.decode_args(plugin.Args, **wire)


@pytest.mark.parametrize(
    ("counts", "threshold", "expected"),
    [
        ([0, 3, 5], 3, ["p2", "p1"]),  # most restarts first, as upstream sorts
        ([0, 2], 3, []),
    ],
    ids=["restarts at or over threshold -> evicted", "all under threshold -> none"],
)
def test_pods_at_threshold_are_evicted(counts: list[int], threshold: int, expected: list[str]) -> None:
    pods = [restarting(f"p{i}", c) for i, c in enumerate(counts)]
    h = f.harness(plugin.SPEC, args(podRestartThreshold=threshold), f.state([f.node("n1")], pods))
    assert h.run() == expected


def test_states_narrow_to_crashloop() -> None:
    pods = [restarting("crashing", 5, waiting="CrashLoopBackOff"), restarting("running", 5, phase="Pending")]
    h = f.harness(plugin.SPEC, args(podRestartThreshold=1, states=["CrashLoopBackOff"]), f.state([f.node("n1")], pods))
    assert h.run() == ["crashing"]


def test_node_limit_moves_to_next_node() -> None:
    pods = [restarting("a1", 5, node="a"), restarting("a2", 5, node="a"), restarting("b1", 5, node="b")]
    h = f.harness(
        plugin.SPEC,
        args(podRestartThreshold=1),
        f.state([f.node("a"), f.node("b")], pods),
        limit=Limits(per_node=1),
    )
    assert h.run() == ["a1", "b1"]
    assert [d.result.value for d in h.evictor.decisions] == ["planned", "limit", "planned"]


@pytest.mark.parametrize(
    ("wire", "path"),
    [
        ({"podRestartThreshold": 0}, "podRestartThreshold"),
        ({"podRestartThreshold": 1, "states": ["Sleeping"]}, "states[0]"),
        ({"podRestartThreshold": 1, "namespaces": {"include": ["a"], "exclude": ["b"]}}, "namespaces"),
    ],
    ids=["threshold 0 rejected", "unknown state rejected", "include and exclude rejected"],
)
def test_validation_names_the_path(wire: dict[str, object], path: str) -> None:
    decoded, problems = argspec.decode(plugin.Args, wire, "")
    assert not problems and decoded is not None
    assert [p.path for p in plugin.validate(decoded)] == [path]
