"""The summary of a lower cluster: grouping, Pareto pruning, and its JSON form with its errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from descheduler import keys
from descheduler.model import Taint
from provider.fit import summary

GI = 2**30
ALLOC = {"cpu": 4000, "memory": 8 * GI, "pods": 110}


def node(
    name: str,
    *,
    free: dict[str, int],
    allocatable: dict[str, int] | None = None,
    taints: tuple[Taint, ...] = (),
    **labels: str,
) -> summary.NodeRoom:
    return summary.NodeRoom(
        labels={keys.HOSTNAME_LABEL: name, **labels},
        taints=taints,
        allocatable=allocatable or ALLOC,
        free=free,
    )


def free_vectors(group: summary.Group) -> list[dict[str, int]]:
    return [dict(room.free) for room in group.free]


# -- grouping -------------------------------------------------------------------------


def test_nodes_differing_only_in_hostname_share_a_group_without_it() -> None:
    result = summary.summarize([node("a", free={"cpu": 1000}, zone="z1"), node("b", free={"cpu": 2000}, zone="z1")])
    assert len(result.groups) == 1
    assert result.groups[0].labels == {"zone": "z1"}
    assert free_vectors(result.groups[0]) == [{"cpu": 1000}, {"cpu": 2000}]


def test_labels_and_taints_split_groups() -> None:
    gpu = Taint("gpu", "", "NoSchedule")
    result = summary.summarize(
        [
            node("a", free={"cpu": 1000}, zone="z1"),
            node("b", free={"cpu": 1000}, zone="z2"),
            node("c", free={"cpu": 1000}, zone="z1", taints=(gpu,)),
        ]
    )
    assert [(dict(g.labels), g.taints) for g in result.groups] == [
        ({"zone": "z1"}, ()),
        ({"zone": "z1"}, (gpu,)),
        ({"zone": "z2"}, ()),
    ]


def test_the_same_nodes_in_any_order_give_the_same_json() -> None:
    taints = (Taint("b", "", "NoSchedule"), Taint("a", "1", "NoExecute"))
    nodes = [
        node("a", free={"cpu": 1000, "memory": 4 * GI}, zone="z1", taints=taints),
        node("b", free={"cpu": 3000, "memory": GI}, zone="z1", taints=taints[::-1]),
        node("c", free={"cpu": 500}, zone="z2"),
    ]
    first = summary.to_json(summary.summarize(nodes))
    assert first == summary.to_json(summary.summarize(nodes[::-1]))
    assert summary.from_json(first).groups[0].taints == (Taint("a", "1", "NoExecute"), Taint("b", "", "NoSchedule"))


# -- Pareto pruning -------------------------------------------------------------------


def test_a_dominated_room_is_kept_for_scoring_and_dropped_when_pruned() -> None:
    whole = summary.summarize(
        [node("small", free={"cpu": 1000, "memory": GI}), node("big", free={"cpu": 2000, "memory": GI})]
    )
    assert len(whole.groups[0].free) == 2
    result = summary.pruned(whole)
    assert free_vectors(result.groups[0]) == [{"cpu": 2000, "memory": GI}]


def test_incomparable_free_vectors_are_kept() -> None:
    result = summary.summarize(
        [node("cpu", free={"cpu": 3000, "memory": GI}), node("mem", free={"cpu": 1000, "memory": 4 * GI})]
    )
    assert free_vectors(result.groups[0]) == [{"cpu": 1000, "memory": 4 * GI}, {"cpu": 3000, "memory": GI}]


def test_equal_free_vectors_are_kept_once() -> None:
    result = summary.summarize([node(n, free={"cpu": 1000}) for n in "abc"])
    assert free_vectors(result.groups[0]) == [{"cpu": 1000}]


def test_a_missing_resource_counts_as_zero() -> None:
    result = summary.pruned(
        summary.summarize([node("plain", free={"cpu": 2000}), node("gpu", free={"cpu": 2000, "nvidia.com/gpu": 1})])
    )
    assert free_vectors(result.groups[0]) == [{"cpu": 2000, "nvidia.com/gpu": 1}]


def test_each_room_keeps_the_allocatable_of_its_own_node() -> None:
    big = {"cpu": 16000, "memory": 64 * GI, "pods": 110}
    result = summary.summarize(
        [node("a", free={"cpu": 1000}), node("b", free={"cpu": 500, "pods": 5}, allocatable=big)]
    )
    rooms = {room.free: dict(room.allocatable) for room in result.groups[0].free}
    assert rooms == {(("cpu", 1000),): ALLOC, (("cpu", 500), ("pods", 5)): big}


def test_allocatable_vectors_are_pruned_separately() -> None:
    big = {"cpu": 16000, "memory": 64 * GI, "pods": 110}
    odd = {"cpu": 2000, "memory": 128 * GI, "pods": 110}
    result = summary.summarize(
        [
            node("a", free={"cpu": 1}),
            node("b", free={"cpu": 2}, allocatable=big),
            node("c", free={"cpu": 3}, allocatable=odd),
        ]
    )
    assert [dict(v) for v in result.groups[0].allocatable] == [odd, big]


def test_pareto_keeps_exactly_the_non_dominated_vectors() -> None:
    vectors = [(("a", a), ("b", b)) for a in range(4) for b in range(4) if a + b <= 3]
    front = summary.pareto(vectors, key=lambda v: v)
    assert sorted(front) == [(("a", a), ("b", 3 - a)) for a in range(4)]


# -- JSON -----------------------------------------------------------------------------


def sample() -> summary.Summary:
    return summary.summarize(
        [
            node("a", free={"cpu": 1000, "memory": GI, "pods": 3}, zone="z1"),
            node("b", free={"cpu": 500, "memory": 4 * GI, "pods": 0}, zone="z1"),
            node("g", free={"cpu": 0, "nvidia.com/gpu": 1}, taints=(Taint("gpu", "true", "NoSchedule"),), zone="z2"),
        ]
    )


def test_json_round_trips() -> None:
    original = sample()
    assert summary.from_json(summary.to_json(original)) == original


def test_a_partial_summary_round_trips() -> None:
    original = summary.Summary(groups=sample().groups, partial=True)
    assert summary.from_json(summary.to_json(original)) == original


def test_json_is_compact_with_sorted_keys_and_a_version() -> None:
    text = summary.to_json(summary.summarize([node("a", free={"cpu": 1}, allocatable={"cpu": 2})]))
    assert text == (
        '{"groups":[{"allocatable":[{"cpu":2}],"free":[{"allocatable":{"cpu":2},"free":{"cpu":1}}],'
        '"labels":{},"taints":[]}],"partial":false,"v":1}'
    )


def test_a_summary_over_the_cap_becomes_an_empty_partial_one() -> None:
    label = "x" * 60
    nodes = [node(f"n{i}", free={"cpu": i}, **{f"l{i}": label}) for i in range(3000)]
    big = summary.summarize(nodes)
    assert len(json.dumps([dict(g.labels) for g in big.groups])) > summary.MAX_SUMMARY_BYTES
    text = summary.to_json(big)
    assert summary.from_json(text) == summary.Summary(groups=(), partial=True)
    assert text == '{"groups":[],"partial":true,"v":1}'


def with_label_of(length: int) -> summary.Summary:
    return summary.summarize([node("a", free={"cpu": 1}, note="x" * length)])


@pytest.mark.parametrize(
    ("extra", "partial"), [(0, False), (1, True)], ids=["exactly the cap -> kept", "one byte over -> partial"]
)
def test_the_cap_is_on_the_bytes_of_the_json(extra: int, partial: bool) -> None:
    base = len(summary.to_json(with_label_of(0)))
    result = with_label_of(summary.MAX_SUMMARY_BYTES - base + extra)
    assert summary.from_json(summary.to_json(result)).partial is partial


def body(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(summary.to_json(sample()))
    raw.update(changes)
    return raw


def with_group(**changes: Any) -> str:
    raw = body()
    raw["groups"][0].update(changes)
    return json.dumps(raw)


def with_room(**changes: Any) -> str:
    raw = body()
    raw["groups"][0]["free"][0].update(changes)
    return json.dumps(raw)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "summary: not valid JSON (Expecting property name enclosed in double quotes at line 1 column 2)"),
        (" " * 200_001, "summary: longer than 200000 bytes"),
        ('"' + "é" * 100_001 + '"', "summary: longer than 200000 bytes"),
        ("[" * 50_000 + "]" * 50_000, "summary: not valid JSON (nested too deeply)"),
        ("[]", "summary: expected an object"),
        (json.dumps({"partial": False, "groups": []}), "summary.v: missing"),
        (json.dumps(body(v=2)), "summary.v: unsupported version 2 (expected 1)"),
        (json.dumps(body(v="1")), 'summary.v: unsupported version "1" (expected 1)'),
        (json.dumps(body(v=True)), "summary.v: unsupported version true (expected 1)"),
        (json.dumps(body(partial="no")), "summary.partial: expected true or false"),
        (json.dumps(body(groups={})), "summary.groups: expected a list"),
        (json.dumps(body(extra=1)), 'summary: unknown field "extra"'),
        (json.dumps(body(groups=[3])), "summary.groups[0]: expected an object"),
        (with_group(labels=["zone"]), "summary.groups[0].labels: expected an object of strings"),
        (with_group(labels={"zone": 1}), 'summary.groups[0].labels["zone"]: expected a string'),
        (with_group(taints={}), "summary.groups[0].taints: expected a list"),
        (with_group(taints=[{"key": "a", "value": ""}]), "summary.groups[0].taints[0].effect: missing"),
        (
            with_group(taints=[{"key": "a", "value": None, "effect": "NoSchedule"}]),
            "summary.groups[0].taints[0].value: expected a string",
        ),
        (with_group(free=None), "summary.groups[0].free: expected a list"),
        (with_group(allocatable=[[1]]), "summary.groups[0].allocatable[0]: expected an object of resource amounts"),
        (with_group(allocatable=[{"cpu": 1.5}]), 'summary.groups[0].allocatable[0]["cpu"]: expected a whole number'),
        (with_group(hosts=[]), 'summary.groups[0]: unknown field "hosts"'),
        (with_room(free={"cpu": "1"}), 'summary.groups[0].free[0].free["cpu"]: expected a whole number'),
        (with_room(free={"cpu": True}), 'summary.groups[0].free[0].free["cpu"]: expected a whole number'),
        (with_room(allocatable=None), "summary.groups[0].free[0].allocatable: expected an object of resource amounts"),
        (
            json.dumps(
                {"v": 1, "partial": False, "groups": [{"labels": {}, "taints": [], "free": [{}], "allocatable": []}]}
            ),
            "summary.groups[0].free[0].free: missing",
        ),
    ],
    ids=[
        "not JSON",
        "too long",
        "too many bytes",
        "nested too deeply",
        "not an object",
        "no version",
        "a newer version",
        "a version as a string",
        "a version as a boolean",
        "partial not a boolean",
        "groups not a list",
        "unknown top-level field",
        "group not an object",
        "labels not an object",
        "label value not a string",
        "taints not a list",
        "taint without effect",
        "taint value not a string",
        "rooms not a list",
        "allocatable vector not an object",
        "fractional amount",
        "unknown group field",
        "amount as a string",
        "amount as a boolean",
        "room without an allocatable object",
        "room without free",
    ],
)
def test_bad_json_raises_one_line_naming_where(text: str, message: str) -> None:
    with pytest.raises(summary.SummaryError) as caught:
        summary.from_json(text)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_a_summary_over_the_cap_with_dominated_rooms_is_published_pruned() -> None:
    # 4,000 distinct rooms of one group, each dominated by the largest: too many to list, one when pruned.
    rooms = [node(f"n{i}", free={"cpu": i, "memory": GI}) for i in range(1, 4001)]
    whole = summary.summarize(rooms)
    assert len(whole.groups[0].free) == 4000
    text = summary.to_json(whole)
    assert len(text.encode()) <= summary.MAX_SUMMARY_BYTES
    assert summary.from_json(text) == summary.pruned(whole)
    assert free_vectors(summary.from_json(text).groups[0]) == [{"cpu": 4000, "memory": GI}]
