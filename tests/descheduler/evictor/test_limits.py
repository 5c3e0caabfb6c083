"""LimitCounter.allows: a whole set of evictions is checked against the limits before any of it happens."""

from __future__ import annotations

from descheduler.evictor import limits
from descheduler.policy.types import Limits
from tests.descheduler import factories as f


def counter(**kw: int) -> limits.LimitCounter:
    return limits.LimitCounter(Limits(**kw))


def test_an_unlimited_counter_allows_any_set() -> None:
    assert counter().allows([f.pod(f"p{i}", node="n1") for i in range(50)])


def test_total_counts_what_was_already_evicted() -> None:
    c = counter(total=3)
    c.record(f.pod("done", node="n1"))
    assert c.allows([f.pod("a", node="n1"), f.pod("b", node="n2")])
    assert not c.allows([f.pod("a", node="n1"), f.pod("b", node="n2"), f.pod("c", node="n3")])


def test_per_node_and_per_namespace_count_the_set_itself() -> None:
    two_on_n1 = [f.pod("a", node="n1"), f.pod("b", node="n1")]
    assert not counter(per_node=1).allows(two_on_n1)
    assert counter(per_node=2).allows(two_on_n1)
    spread = [f.pod("a", node="n1", namespace="x"), f.pod("b", node="n2", namespace="x")]
    assert counter(per_node=1).allows(spread)
    assert not counter(per_namespace=1).allows(spread)
    assert counter(per_namespace=1).allows([f.pod("a", node="n1", namespace="x"), f.pod("b", node="n2")])
