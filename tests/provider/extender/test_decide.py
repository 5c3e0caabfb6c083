"""Filter and prioritize decisions on plain data: struck out, unresolvable, fallbacks, scores."""

from __future__ import annotations

import json

from provider.extender import api
from provider.extender.board import STALE_SECONDS, SummaryBoard
from provider.extender.decide import NEUTRAL_SCORE, Decider
from provider.metrics import ExtenderMetrics
from tests.provider.extender.support import Clock, lease, room, upper_pod, virtual_node

NODES = {"vk-a": virtual_node("vk-a", "lower-a"), "vk-b": virtual_node("vk-b", "lower-b")}
CANDIDATES = ("vk-a", "vk-b", "real-1")


def setup() -> tuple[Decider, SummaryBoard, Clock, ExtenderMetrics]:
    clock = Clock()
    board = SummaryBoard(node_of=NODES.get, clock=clock)
    board.on_lease("ADDED", lease("vk-a", room(1000), room(1000)))  # 1 CPU free on each of two nodes
    board.on_lease("ADDED", lease("vk-b", room(2000, labels={"disk": "ssd"})))
    metrics = ExtenderMetrics()
    return Decider(board, strategy="bestFit", metrics=metrics), board, clock, metrics


def args(pod: dict[str, object]) -> api.ExtenderArgs:
    return api.ExtenderArgs(pod=pod, node_names=CANDIDATES)


def counter(metrics: ExtenderMetrics, line: str) -> float:
    for text in metrics.render().decode().splitlines():
        if text.startswith(line + " "):
            return float(text.rsplit(" ", 1)[1])
    return 0.0


def test_a_two_cpu_pod_is_kept_off_the_cluster_without_one_node_of_two_cpus() -> None:
    decider, _board, _clock, metrics = setup()
    result = decider.filter(args(upper_pod("2")))
    assert result.node_names == ("vk-b", "real-1")
    assert result.failed == {"vk-a": "lower-a: no single node has cpu 2 free (largest free: 1)"}
    assert result.unresolvable == {}
    assert counter(metrics, 'tensile_extender_struck_out_total{reason="blocked"}') == 1


def test_a_pod_larger_than_every_lower_node_is_unresolvable() -> None:
    decider, _board, _clock, metrics = setup()
    result = decider.filter(args(upper_pod("16")))
    assert result.node_names == ("real-1",), "a non-virtual node is never struck out"
    assert set(result.unresolvable) == {"vk-a", "vk-b"}
    assert result.unresolvable["vk-a"].startswith("lower-a: no node can ever hold cpu 16")
    assert counter(metrics, 'tensile_extender_struck_out_total{reason="unresolvable"}') == 2


def test_the_stashed_lower_node_selector_is_judged_against_lower_labels() -> None:
    decider, _board, _clock, _metrics = setup()
    result = decider.filter(args(upper_pod("100m", stash=json.dumps({"nodeSelector": {"disk": "ssd"}}))))
    assert result.node_names == ("vk-b", "real-1") and "vk-a" in result.unresolvable


def test_a_stale_summary_lets_its_node_pass_and_is_counted() -> None:
    decider, board, clock, metrics = setup()
    clock.now += STALE_SECONDS + 1
    board.on_lease("MODIFIED", lease("vk-b", room(2000), version="2"))  # vk-b renewed, vk-a silent
    result = decider.filter(args(upper_pod("2")))
    assert result.node_names == CANDIDATES
    assert counter(metrics, 'tensile_extender_fallbacks_total{why="stale"}') == 1


def test_prioritize_ranks_fitting_virtual_nodes_and_leaves_others_neutral() -> None:
    decider, board, _clock, _metrics = setup()
    board.on_lease("MODIFIED", lease("vk-a", room(1000), room(3000), version="2"))
    scores = decider.prioritize(args(upper_pod("1")))
    assert scores["real-1"] == NEUTRAL_SCORE
    assert scores["vk-a"] == 10, "vk-a has a node the pod fills exactly: the tightest fit"
    assert scores["vk-b"] == 0, "vk-b's node would be left with 1 of 4 CPUs"


def test_pods_of_one_shape_are_judged_once_per_summary() -> None:
    decider, board, _clock, _metrics = setup()
    first, second = upper_pod("2"), upper_pod("2")
    second["metadata"]["name"] = "web-1"
    assert decider.filter(args(first)).node_names == ("vk-b", "real-1")
    assert decider.filter(args(second)).node_names == ("vk-b", "real-1")
    board.on_lease("MODIFIED", lease("vk-a", room(3000), version="2"))  # a new summary: judged again
    assert decider.filter(args(second)).node_names == CANDIDATES
    assert decider.filter(args(upper_pod("4"))).node_names == ("real-1",), "another shape, another verdict"
