"""FencedWriter: a replica that stops leading mid-cycle writes nothing more."""

from __future__ import annotations

from descheduler.evictor import limits
from descheduler.evictor.evictor import Evictor
from descheduler.evictor.writers import DryRunRecorder, FencedWriter, Outcome
from descheduler.model import Pod
from descheduler.policy.types import Limits
from descheduler.report import Result
from tests.descheduler import factories as f


class CountingWriter(DryRunRecorder):
    dry_run = False

    def __init__(self) -> None:
        self.evicted: list[str] = []
        self.avoided: list[str] = []

    def evict(self, pod: Pod, *, reason: str, grace_period_seconds: int | None) -> Outcome:
        self.evicted.append(pod.name)
        return Outcome(Result.EVICTED)

    def record_avoidance(self, pod: Pod, *, node: str, until: float) -> None:
        self.avoided.append(pod.name)


def test_writes_stop_the_moment_leadership_is_lost() -> None:
    leading = [True]
    inner = CountingWriter()
    pods = [f.pod(f"p{i}", node="n1") for i in range(3)]
    evictor = Evictor(
        f.state([f.node("n1")], pods), FencedWriter(inner, lambda: leading[0]), limits.LimitCounter(Limits())
    )

    assert evictor.evict(pods[0], plugin="P", profile="x", reason="r", avoid_node="vk", avoid_seconds=60)
    leading[0] = False
    assert not evictor.evict(pods[1], plugin="P", profile="x", reason="r", avoid_node="vk", avoid_seconds=60)
    assert not evictor.evict(pods[2], plugin="P", profile="x", reason="r")

    assert (inner.evicted, inner.avoided) == (["p0"], ["p0"])
    results = [(d.pod, d.result, d.message) for d in evictor.decisions]
    assert results[0] == ("p0", Result.EVICTED, "")
    assert results[1:] == [
        (name, Result.FAILED, "not evicted: this replica is no longer the leader") for name in ("p1", "p2")
    ]


def test_the_fence_keeps_the_inner_mode() -> None:
    assert FencedWriter(DryRunRecorder(), lambda: True).dry_run is True
    assert FencedWriter(CountingWriter(), lambda: True).dry_run is False
