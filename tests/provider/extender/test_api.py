"""The extender wire format: every field of ExtenderArgs, ExtenderFilterResult and HostPriorityList,
as kube-scheduler writes and reads them (Go field names, no JSON tags), round-tripped."""

from __future__ import annotations

import orjson
import pytest

from provider.extender import api

POD = {"metadata": {"name": "web-0", "namespace": "shop"}, "spec": {"containers": []}}


def node(name: str) -> dict[str, object]:
    return {"metadata": {"name": name}, "status": {}}


def test_node_names_come_in_and_go_out_by_name() -> None:
    args = api.parse_args(orjson.dumps({"Pod": POD, "Nodes": None, "NodeNames": ["vk-a", "vk-b", "real-1"]}))
    assert args.pod == POD and args.node_names == ("vk-a", "vk-b", "real-1") and args.nodes is None
    result = api.FilterResult(
        node_names=("real-1",),
        failed={"vk-a": "lower-a: no single node has cpu 2 free (largest free: 1)"},
        unresolvable={"vk-b": "lower-b: no node can ever hold cpu 16 (largest allocatable: 4)"},
        error="",
    )
    body = orjson.loads(api.filter_body(result, args))
    assert body == {
        "NodeNames": ["real-1"],
        "FailedNodes": {"vk-a": "lower-a: no single node has cpu 2 free (largest free: 1)"},
        "FailedAndUnresolvableNodes": {"vk-b": "lower-b: no node can ever hold cpu 16 (largest allocatable: 4)"},
        "Error": "",
    }
    assert api.parse_filter_result(api.filter_body(result, args)) == result


def test_whole_nodes_come_in_and_the_passing_ones_go_back_as_a_node_list() -> None:
    nodes = {"kind": "NodeList", "items": [node("vk-a"), node("vk-b")]}
    args = api.parse_args(orjson.dumps({"Pod": POD, "Nodes": nodes}))
    assert args.node_names == ("vk-a", "vk-b") and args.nodes == (node("vk-a"), node("vk-b"))
    body = orjson.loads(api.filter_body(api.FilterResult(node_names=("vk-b",)), args))
    assert body["Nodes"]["items"] == [node("vk-b")] and "NodeNames" not in body
    assert api.parse_filter_result(orjson.dumps(body)).node_names == ("vk-b",)


def test_field_names_are_matched_like_gos_decoder_does() -> None:
    args = api.parse_args(orjson.dumps({"pod": POD, "nodenames": ["vk-a"]}))
    assert args.node_names == ("vk-a",)


def test_an_error_travels_in_the_error_field() -> None:
    args = api.parse_args(orjson.dumps({"Pod": POD, "NodeNames": []}))
    body = orjson.loads(api.filter_body(api.FilterResult(node_names=(), error="summaries not listed yet"), args))
    assert body["Error"] == "summaries not listed yet"


def test_priorities_are_a_host_priority_list_clamped_to_zero_to_ten() -> None:
    body = api.priorities_body({"vk-a": 10, "vk-b": 3, "real-1": 12, "real-2": -1})
    assert orjson.loads(body) == [
        {"Host": "vk-a", "Score": 10},
        {"Host": "vk-b", "Score": 3},
        {"Host": "real-1", "Score": 10},
        {"Host": "real-2", "Score": 0},
    ]
    assert api.parse_priorities(body) == {"vk-a": 10, "vk-b": 3, "real-1": 10, "real-2": 0}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "ExtenderArgs: not JSON"),
        (b"[]", "ExtenderArgs: expected a JSON object"),
        (b'{"NodeNames": []}', "ExtenderArgs.Pod: expected a Pod object with metadata"),
        (b'{"Pod": {"metadata": {}}, "NodeNames": "vk-a"}', "ExtenderArgs.NodeNames: expected a list of node names"),
        (b'{"Pod": {"metadata": {}}, "Nodes": {"items": [{}]}}', "ExtenderArgs.Nodes: expected a NodeList whose"),
    ],
)
def test_a_frame_that_is_not_extender_args_is_one_line_naming_the_field(body: bytes, message: str) -> None:
    with pytest.raises(api.FrameError) as caught:
        api.parse_args(body)
    text = str(caught.value)
    assert text.startswith(message) and "\n" not in text
    assert "dict" not in text and "list" not in text.replace("a list of", "")
