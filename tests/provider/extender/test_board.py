"""The summary board: which virtual nodes have a usable summary, and when one is stale."""

from __future__ import annotations

from provider.extender.board import STALE_SECONDS, SummaryBoard
from tests.provider.extender.support import Clock, lease, room, virtual_node

NODES = {"vk-a": virtual_node("vk-a", "lower-a")}


def board(clock: Clock) -> SummaryBoard:
    return SummaryBoard(node_of=NODES.get, clock=clock)


def test_a_fresh_summary_is_known_with_the_lower_cluster_name() -> None:
    clock = Clock()
    found = board(clock)
    found.on_lease("ADDED", lease("vk-a", room(1000)))
    known = found.known("vk-a")
    assert known.cluster == "lower-a" and known.problem is None and known.summary is not None
    assert found.is_virtual("vk-a") and not found.is_virtual("real-1")


def test_a_summary_not_renewed_for_two_seconds_is_stale_and_a_renewal_revives_it() -> None:
    clock = Clock()
    found = board(clock)
    found.on_lease("ADDED", lease("vk-a", room(1000), version="1"))
    clock.now += STALE_SECONDS + 0.1
    assert found.known("vk-a").problem == "stale"
    found.on_lease("MODIFIED", lease("vk-a", room(1000), version="1"))  # a relist of the same version: no renewal
    assert found.known("vk-a").problem == "stale"
    found.on_lease("MODIFIED", lease("vk-a", room(1000), version="2"))
    assert found.known("vk-a").problem is None


def test_missing_deleted_unreadable_and_partial_summaries_are_named() -> None:
    clock = Clock()
    found = board(clock)
    assert found.known("vk-a").problem == "no summary"
    found.on_lease("ADDED", lease("vk-a", text="{not json"))
    assert found.known("vk-a").problem == "unreadable"
    found.on_lease("MODIFIED", lease("vk-a", version="2", text='{"v":1,"partial":true,"groups":[]}'))
    assert found.known("vk-a").problem == "partial"
    found.on_lease("DELETED", lease("vk-a", version="3"))
    assert found.known("vk-a").problem == "no summary"


def test_a_lease_without_the_virtual_node_label_is_ignored() -> None:
    found = board(Clock())
    body = lease("vk-a", room(1000))
    del body["metadata"]["labels"]["tensile.io/virtual-node"]
    found.on_lease("ADDED", body)
    assert found.known("vk-a").problem == "no summary"
