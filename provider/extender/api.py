"""The kube-scheduler extender wire format (``k8s.io/kube-scheduler/extender/v1``), read and written.

The Go types carry no JSON tags, so the field names are the Go names: ``ExtenderArgs{Pod, Nodes,
NodeNames}``, ``ExtenderFilterResult{Nodes, NodeNames, FailedNodes, FailedAndUnresolvableNodes,
Error}`` and ``HostPriorityList = [{Host, Score}]``. With ``nodeCacheCapable: true`` the scheduler
sends ``NodeNames`` and expects ``NodeNames`` back; without it, whole ``Nodes`` (a NodeList) both
ways. Go's decoder matches field names case-insensitively, so this module does too when reading.
A frame that is not one of these raises :class:`FrameError` with one line naming what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from descheduler.errors import InputError

Raw = dict[str, Any]

MIN_SCORE = 0
MAX_SCORE = 10
"""``MinExtenderPriority`` and ``MaxExtenderPriority``."""


class FrameError(InputError):
    """A request body that is not the JSON the scheduler sends."""


@dataclass(frozen=True)
class ExtenderArgs:
    """One filter or prioritize call: the pod and its candidate nodes (by name, or whole)."""

    pod: Raw
    node_names: tuple[str, ...]
    nodes: tuple[Raw, ...] | None = None
    """The candidate Node objects when the scheduler sent ``Nodes`` (``nodeCacheCapable: false``)."""


@dataclass(frozen=True)
class FilterResult:
    """What a filter call answers: the nodes that pass, and why the others do not."""

    node_names: tuple[str, ...]
    failed: Mapping[str, str] = field(default_factory=dict)
    """Struck out for now: preemption upstairs or time may change that."""
    unresolvable: Mapping[str, str] = field(default_factory=dict)
    """Struck out for good: preempting upper pods cannot make room below."""
    error: str = ""


def _field(body: Mapping[str, Any], name: str) -> Any:
    """``body[name]`` as Go's decoder finds it: the exact name first, then any spelling of it."""
    if name in body:
        return body[name]
    lowered = name.lower()
    return next((value for key, value in body.items() if key.lower() == lowered), None)


def _object(text: bytes, what: str) -> Mapping[str, Any]:
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"{what}: not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(body, dict):
        raise FrameError(f"{what}: expected a JSON object")
    return body


def parse_args(text: bytes) -> ExtenderArgs:
    """An ``ExtenderArgs`` body, checked."""
    body = _object(text, "ExtenderArgs")
    pod = _field(body, "Pod")
    if not isinstance(pod, dict) or not isinstance(pod.get("metadata"), dict):
        raise FrameError("ExtenderArgs.Pod: expected a Pod object with metadata")
    names = _field(body, "NodeNames")
    node_list = _field(body, "Nodes")
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise FrameError("ExtenderArgs.NodeNames: expected a list of node names")
        return ExtenderArgs(pod=pod, node_names=tuple(names))
    if node_list is None:
        return ExtenderArgs(pod=pod, node_names=())
    items = node_list.get("items") if isinstance(node_list, dict) else None
    if not isinstance(items, list) or not all(isinstance(n, dict) and _node_name(n) for n in items):
        raise FrameError("ExtenderArgs.Nodes: expected a NodeList whose items have metadata.name")
    nodes = tuple(items)
    return ExtenderArgs(pod=pod, node_names=tuple(_node_name(n) for n in nodes), nodes=nodes)


def _node_name(node: Mapping[str, Any]) -> str:
    meta = node.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else ""


def filter_body(result: FilterResult, args: ExtenderArgs) -> bytes:
    """The ``ExtenderFilterResult`` for ``args``: by name, or as a NodeList when whole nodes came."""
    body: Raw = {
        "FailedNodes": dict(result.failed),
        "FailedAndUnresolvableNodes": dict(result.unresolvable),
        "Error": result.error,
    }
    if args.nodes is None:
        body["NodeNames"] = list(result.node_names)
    else:
        passing = set(result.node_names)
        body["Nodes"] = {
            "apiVersion": "v1",
            "kind": "NodeList",
            "metadata": {},
            "items": [n for n in args.nodes if _node_name(n) in passing],
        }
    return orjson.dumps(body)


def priorities_body(scores: Mapping[str, int]) -> bytes:
    """A ``HostPriorityList``, scores clamped to 0..10."""
    return orjson.dumps(
        [{"Host": host, "Score": max(MIN_SCORE, min(MAX_SCORE, int(score)))} for host, score in scores.items()]
    )


def parse_filter_result(text: bytes) -> FilterResult:
    """An ``ExtenderFilterResult`` body (what the scheduler reads back; for tests and tools)."""
    body = _object(text, "ExtenderFilterResult")
    names = _field(body, "NodeNames")
    if names is None:
        node_list = _field(body, "Nodes") or {}
        names = [_node_name(n) for n in node_list.get("items") or ()]
    return FilterResult(
        node_names=tuple(names),
        failed=dict(_field(body, "FailedNodes") or {}),
        unresolvable=dict(_field(body, "FailedAndUnresolvableNodes") or {}),
        error=str(_field(body, "Error") or ""),
    )


def parse_priorities(text: bytes) -> dict[str, int]:
    """A ``HostPriorityList`` body as {host: score}."""
    body = orjson.loads(text)
    if not isinstance(body, list):
        raise FrameError("HostPriorityList: expected a JSON list")
    return {str(_field(item, "Host")): int(_field(item, "Score") or 0) for item in body}
