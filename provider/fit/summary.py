"""The summary a provider publishes of its lower cluster, and its JSON form (issue 15).

The provider calls :func:`summarize` on its lower nodes and publishes :func:`to_json`; the
scheduler extender reads it back with :func:`from_json` and hands it to :mod:`provider.fit.judge`.
A pod fits some node exactly when it fits one of the free rooms of a group
whose labels and taints admit it, so the summary answers the question without listing nodes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from descheduler import keys
from descheduler.model import Taint

VERSION = 1
MAX_SUMMARY_BYTES = 200_000
"""A larger summary is published as an empty partial one, which lets the virtual node pass."""

T = TypeVar("T")
Vector = tuple[tuple[str, int], ...]
"""Resource amounts as sorted (name, amount) pairs, in descheduler.quantity's integer units."""
_Labels = tuple[tuple[str, str], ...]


class SummaryError(ValueError):
    """A summary that does not parse: one line naming the field and what is wrong with it."""


@dataclass(frozen=True)
class NodeRoom:
    """One lower node as the summary needs it: labels, taints, allocatable and free amounts."""

    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    allocatable: Mapping[str, int]
    free: Mapping[str, int]
    """Allocatable minus the requests of the pods on the node (cpu millicores, memory bytes, pods)."""


@dataclass(frozen=True)
class Room:
    """The free amounts of one node, with that node's allocatable, so a score can say how full it gets."""

    free: Vector
    allocatable: Vector

    @functools.cached_property
    def free_amounts(self) -> dict[str, int]:
        """``free`` as a mapping, made once: the extender asks every room about every pod."""
        return dict(self.free)

    @functools.cached_property
    def allocatable_amounts(self) -> dict[str, int]:
        return dict(self.allocatable)


@dataclass(frozen=True)
class Group:
    """Nodes with the same labels (hostname aside) and taints, with their rooms and largest allocatables."""

    labels: Mapping[str, str]
    """Node labels without ``kubernetes.io/hostname``."""
    taints: tuple[Taint, ...]
    free: tuple[Room, ...]
    """The distinct rooms of the group's nodes (only the non-dominated ones when :func:`pruned`)."""
    allocatable: tuple[Vector, ...]
    """The Pareto-maximal allocatable vectors: what a node of the group could ever hold."""


@dataclass(frozen=True)
class Summary:
    """A lower cluster's groups; ``partial`` when some nodes are missing (too large, not synced)."""

    groups: tuple[Group, ...]
    partial: bool = False


def vector(amounts: Mapping[str, int]) -> Vector:
    """The amounts as a sorted, hashable vector."""
    return tuple(sorted(amounts.items()))


# -- summarizing ----------------------------------------------------------------------


def summarize(rooms: Iterable[NodeRoom]) -> Summary:
    """Group the nodes by labels (minus hostname) and taints; keep every distinct room of a group
    (identical ones once), so the tightest fit can be scored, and the Pareto-maximal allocatables."""
    grouped: dict[tuple[_Labels, tuple[Taint, ...]], list[NodeRoom]] = {}
    for room in rooms:
        labels = tuple(sorted((k, v) for k, v in room.labels.items() if k != keys.HOSTNAME_LABEL))
        taints = tuple(sorted(set(room.taints), key=_taint_key))
        grouped.setdefault((labels, taints), []).append(room)
    groups = []
    for (labels, taints), members in sorted(grouped.items(), key=lambda item: _group_key(*item[0])):
        rooms_ = {Room(vector(m.free), vector(m.allocatable)) for m in members}
        allocatable = pareto({r.allocatable for r in rooms_}, key=lambda v: v)
        groups.append(
            Group(
                labels=dict(labels),
                taints=taints,
                free=tuple(sorted(rooms_, key=lambda r: (r.free, r.allocatable))),
                allocatable=tuple(sorted(allocatable)),
            )
        )
    return Summary(groups=tuple(groups))


def pruned(summary: Summary) -> Summary:
    """The same summary with only the Pareto-maximal rooms of each group: every fit decision stays
    exact (a pod fits some room iff it fits a non-dominated one), only best-fit scoring loses detail."""
    groups = tuple(
        Group(
            labels=g.labels,
            taints=g.taints,
            free=tuple(sorted(pareto(g.free, key=lambda r: r.free), key=lambda r: (r.free, r.allocatable))),
            allocatable=g.allocatable,
        )
        for g in summary.groups
    )
    return Summary(groups=groups, partial=summary.partial)


def _taint_key(taint: Taint) -> tuple[str, str, str]:
    return (taint.key, taint.value, taint.effect)


def _group_key(labels: _Labels, taints: tuple[Taint, ...]) -> tuple[_Labels, tuple[tuple[str, str, str], ...]]:
    return labels, tuple(_taint_key(t) for t in taints)


def pareto(items: Iterable[T], *, key: Callable[[T], Vector]) -> list[T]:
    """The items whose vector (``key(item)``) no other dominates; of equal vectors only the first.

    Sorted by descending total first, so a dominating vector (never smaller anywhere, larger
    somewhere, hence a larger total) is always met before what it dominates: each candidate is
    compared with the front kept so far, not with every item.
    """
    ordered = sorted(items, key=lambda item: (-sum(a for _, a in key(item)), key(item)))
    front: list[T] = []
    kept: list[dict[str, int]] = []
    for item in ordered:
        amounts = dict(key(item))
        if not any(_covers(other, amounts) for other in kept):
            front.append(item)
            kept.append(amounts)
    return front


def _covers(big: Mapping[str, int], small: Mapping[str, int]) -> bool:
    """Whether ``big`` is at least ``small`` in every resource either names (absent means 0)."""
    return all(big.get(name, 0) >= small.get(name, 0) for name in big.keys() | small.keys())


# -- JSON -----------------------------------------------------------------------------


def to_json(summary: Summary) -> str:
    """Compact JSON with sorted keys. Over MAX_SUMMARY_BYTES, the :func:`pruned` summary; still over,
    an empty partial one (the extender then lets the node pass)."""
    for candidate in (summary, pruned(summary)):
        text = _dumps(candidate)
        if len(text.encode()) <= MAX_SUMMARY_BYTES:
            return text
    return _dumps(Summary(groups=(), partial=True))


def _dumps(summary: Summary) -> str:
    body = {
        "v": VERSION,
        "partial": summary.partial,
        "groups": [
            {
                "labels": dict(group.labels),
                "taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in group.taints],
                "free": [{"free": dict(r.free), "allocatable": dict(r.allocatable)} for r in group.free],
                "allocatable": [dict(v) for v in group.allocatable],
            }
            for group in summary.groups
        ],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def from_json(text: str) -> Summary:
    """The summary ``to_json`` wrote; SummaryError names the first field that is wrong."""
    if len(text) > MAX_SUMMARY_BYTES or len(text.encode(errors="replace")) > MAX_SUMMARY_BYTES:
        raise SummaryError(f"summary: longer than {MAX_SUMMARY_BYTES} bytes")
    try:
        body = json.loads(text)
    except RecursionError:
        raise SummaryError("summary: not valid JSON (nested too deeply)") from None
    except ValueError as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else "cannot decode"
        raise SummaryError(f"summary: not valid JSON ({message}{where})") from None
    fields = _fields(body, "summary", required=("v", "partial", "groups"))
    if isinstance(fields["v"], bool) or fields["v"] != VERSION:
        raise SummaryError(f"summary.v: unsupported version {json.dumps(fields['v'])} (expected {VERSION})")
    partial = fields["partial"]
    if not isinstance(partial, bool):
        raise SummaryError("summary.partial: expected true or false")
    groups = _list(fields["groups"], "summary.groups")
    return Summary(groups=tuple(_group(g, f"summary.groups[{i}]") for i, g in enumerate(groups)), partial=partial)


def _group(raw: object, path: str) -> Group:
    fields = _fields(raw, path, required=("labels", "taints", "free", "allocatable"))
    rooms = _list(fields["free"], f"{path}.free")
    allocatable = _list(fields["allocatable"], f"{path}.allocatable")
    return Group(
        labels=_strings(fields["labels"], f"{path}.labels"),
        taints=tuple(_taint(t, f"{path}.taints[{i}]") for i, t in enumerate(_list(fields["taints"], f"{path}.taints"))),
        free=tuple(_room(r, f"{path}.free[{i}]") for i, r in enumerate(rooms)),
        allocatable=tuple(_vector(v, f"{path}.allocatable[{i}]") for i, v in enumerate(allocatable)),
    )


def _room(raw: object, path: str) -> Room:
    fields = _fields(raw, path, required=("free", "allocatable"))
    return Room(
        free=_vector(fields["free"], f"{path}.free"), allocatable=_vector(fields["allocatable"], f"{path}.allocatable")
    )


def _taint(raw: object, path: str) -> Taint:
    fields = _fields(raw, path, required=("key", "value", "effect"))
    for name in ("key", "value", "effect"):
        if not isinstance(fields[name], str):
            raise SummaryError(f"{path}.{name}: expected a string")
    return Taint(key=fields["key"], value=fields["value"], effect=fields["effect"])


def _vector(raw: object, path: str) -> Vector:
    if not isinstance(raw, dict):
        raise SummaryError(f"{path}: expected an object of resource amounts")
    for name, amount in raw.items():
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise SummaryError(f"{path}[{json.dumps(name)}]: expected a whole number")
    return vector(raw)


def _strings(raw: object, path: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise SummaryError(f"{path}: expected an object of strings")
    for name, value in raw.items():
        if not isinstance(value, str):
            raise SummaryError(f"{path}[{json.dumps(name)}]: expected a string")
    return dict(raw)


def _list(raw: object, path: str) -> list[Any]:
    if not isinstance(raw, list):
        raise SummaryError(f"{path}: expected a list")
    return raw


def _fields(raw: object, path: str, *, required: tuple[str, ...]) -> dict[str, Any]:
    """The object's fields, all of ``required`` present and nothing else."""
    if not isinstance(raw, dict):
        raise SummaryError(f"{path}: expected an object")
    for name in required:
        if name not in raw:
            raise SummaryError(f"{path}.{name}: missing")
    for name in raw:
        if name not in required:
            raise SummaryError(f"{path}: unknown field {json.dumps(name)}")
    return raw
