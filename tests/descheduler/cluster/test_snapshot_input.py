"""Malformed snapshots: every field tensile reads is checked for type and form; each bad
object is named with its file, place, kind and name and the field's path, all at once, and
nothing is planned. The live source decodes the same way and skips a corrupt object."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from descheduler.cluster import decoding, live
from descheduler.cluster.snapshot import SnapshotSource
from descheduler.errors import SnapshotError
from tests.descheduler import factories as f

Raw = dict[str, Any]
PYTHON_WORDS = ("NoneType", "dict", "unhashable", "isoformat", "subscriptable", "Traceback", "KeyError")


def node() -> Raw:
    return {"apiVersion": "v1", "kind": "Node", **f.raw_node("n1")}


def pod(name: str = "web-1") -> Raw:
    raw = {"apiVersion": "v1", "kind": "Pod", **f.raw_pod(name, node="n1", namespace="shop")}
    raw["status"]["containerStatuses"] = [{"name": "c0", "restartCount": 2, "state": {}}]
    return raw


def problems(tmp_path: Path, items: list[Raw], *, suffix: str = ".json") -> list[str]:
    path = tmp_path / f"snapshot{suffix}"
    doc = {"apiVersion": "v1", "kind": "List", "items": items}
    path.write_text(json.dumps(doc) if suffix == ".json" else yaml.safe_dump(doc))
    with pytest.raises(SnapshotError) as info:
        SnapshotSource(path).load(now=f.NOW)
    lines = info.value.lines()
    for line in lines:
        assert not any(word in line for word in PYTHON_WORDS), line
    return [line.replace(f"{path}: ", "") for line in lines]


def edited(change: Callable[[Raw], None], base: Callable[[], Raw] = pod) -> Raw:
    raw = copy.deepcopy(base())
    change(raw)
    return raw


CASES: list[tuple[str, Callable[[], Raw], str]] = [
    (
        "pod name is a number",
        lambda: edited(lambda p: p["metadata"].update(name=7)),
        "items[1] (Pod shop): metadata.name: must be a string, got an integer",
    ),
    (
        "node name is a list",
        lambda: edited(lambda n: n["metadata"].update(name=["n1"]), node),
        "items[1] (Node unnamed): metadata.name: must be a string, got a list",
    ),
    (
        "pod name is null",
        lambda: edited(lambda p: p["metadata"].update(name=None)),
        "items[1] (Pod shop): metadata.name: must be a string, got null",
    ),
    (
        "namespace is a list",
        lambda: edited(lambda p: p["metadata"].update(namespace=["shop"])),
        "items[1] (Pod web-1): metadata.namespace: must be a string, got a list",
    ),
    (
        "namespace is null",
        lambda: edited(lambda p: p["metadata"].update(namespace=None)),
        "items[1] (Pod web-1): metadata.namespace: must be a string, got null",
    ),
    (
        "namespace is missing",
        lambda: edited(lambda p: p["metadata"].pop("namespace")),
        "items[1] (Pod web-1): metadata.namespace: required, a non-empty string",
    ),
    (
        "priority is a word",
        lambda: edited(lambda p: p["spec"].update(priority="high")),
        "items[1] (Pod shop/web-1): spec.priority: must be an integer, got a string",
    ),
    (
        "owner uid is a mapping",
        lambda: edited(lambda p: p["metadata"]["ownerReferences"][0].update(uid={"a": 1})),
        "items[1] (Pod shop/web-1): metadata.ownerReferences[0].uid: must be a string, got a mapping",
    ),
    (
        "creationTimestamp missing",
        lambda: edited(lambda p: p["metadata"].pop("creationTimestamp")),
        "items[1] (Pod shop/web-1): metadata.creationTimestamp: required, an RFC 3339 timestamp",
    ),
    (
        "creationTimestamp empty",
        lambda: edited(lambda p: p["metadata"].update(creationTimestamp="")),
        "items[1] (Pod shop/web-1): metadata.creationTimestamp: must be an RFC 3339 timestamp",
    ),
    (
        "timestamp not RFC 3339",
        lambda: edited(lambda p: p["status"].update(startTime="yesterday at noon")),
        "items[1] (Pod shop/web-1): status.startTime: must be an RFC 3339 timestamp",
    ),
    (
        "timestamp without a zone",
        lambda: edited(lambda p: p["metadata"].update(creationTimestamp="2024-01-01T00:00:00")),
        "items[1] (Pod shop/web-1): metadata.creationTimestamp: must be an RFC 3339 timestamp with a time zone",
    ),
    (
        "negative quantity",
        lambda: edited(lambda p: p["spec"]["containers"][0]["resources"]["requests"].update(cpu="-500m")),
        "items[1] (Pod shop/web-1): spec.containers[0].resources.requests.cpu: must not be negative, got '-500m'",
    ),
    (
        "quantity that does not parse",
        lambda: edited(lambda p: p["spec"]["containers"][0]["resources"]["requests"].update(memory="lots")),
        "items[1] (Pod shop/web-1): spec.containers[0].resources.requests.memory: invalid quantity 'lots'",
    ),
    (
        "negative allocatable",
        lambda: edited(lambda n: n["status"]["allocatable"].update(cpu=-4), node),
        "items[1] (Node n1): status.allocatable.cpu: must not be negative, got -4",
    ),
    (
        "negative restart count",
        lambda: edited(lambda p: p["status"]["containerStatuses"][0].update(restartCount=-3)),
        "items[1] (Pod shop/web-1): status.containerStatuses[0].restartCount: must be an integer >= 0",
    ),
    (
        "float restart count",
        lambda: edited(lambda p: p["status"]["containerStatuses"][0].update(restartCount=2.5)),
        "items[1] (Pod shop/web-1): status.containerStatuses[0].restartCount: must be an integer, got a number",
    ),
    (
        "containers is false",
        lambda: edited(lambda p: p["spec"].update(containers=False)),
        "items[1] (Pod shop/web-1): spec.containers: must be a list, got a boolean",
    ),
    (
        "a label value is a number",
        lambda: edited(lambda p: p["metadata"].update(labels={"app": 1})),
        "items[1] (Pod shop/web-1): metadata.labels: each value must be a string, got an integer",
    ),
    (
        "unknown phase",
        lambda: edited(lambda p: p["status"].update(phase="Runing")),
        "items[1] (Pod shop/web-1): status.phase: unknown value 'Runing'",
    ),
    (
        "unknown taint effect",
        lambda: edited(lambda n: n["spec"].update(taints=[{"key": "k", "effect": "Sometimes"}]), node),
        "items[1] (Node n1): spec.taints[0].effect: unknown value 'Sometimes'",
    ),
    (
        "a typo in a core kind",
        lambda: edited(lambda p: p.update(kind="Podd")),
        "items[1] (Podd shop/web-1): kind: unknown kind 'Podd'; tensile reads Node, Pod",
    ),
    (
        "kind is missing",
        lambda: edited(lambda p: p.pop("kind")),
        "items[1] (object shop/web-1): kind: required, a string such as Pod or Node",
    ),
    (
        "an item that is not an object",
        lambda: "just text",  # type: ignore[return-value,arg-type]
        "items[1]: must be an object (a mapping)",
    ),
]


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
@pytest.mark.parametrize(("bad", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_field_is_named_with_its_object_and_path(
    tmp_path: Path, bad: Callable[[], Raw], expected: str, suffix: str
) -> None:
    (line,) = problems(tmp_path, [node(), bad()], suffix=suffix)
    assert line.startswith(expected), line


def test_an_exact_duplicate_pod_is_refused_not_counted_twice(tmp_path: Path) -> None:
    (line,) = problems(tmp_path, [node(), pod(), pod()])
    assert line.startswith("items[2] (Pod shop/web-1): the same object again (first at ")
    assert line.endswith("items[1])")


def test_every_bad_object_is_reported_at_once(tmp_path: Path) -> None:
    bad = [edited(lambda p, i=i: p["metadata"].update(name=f"web-{i}", labels={"app": i})) for i in range(3)]
    found = problems(tmp_path, [node(), *bad])
    assert [line.split(":")[0] for line in found] == [f"items[{i}] (Pod shop/web-{i - 1})" for i in (1, 2, 3)]


def test_other_kinds_and_custom_resources_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    items = [
        node(),
        pod(),
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}},
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
    ]
    path.write_text(json.dumps({"kind": "List", "items": items}))
    state = SnapshotSource(path).load(now=f.NOW)
    assert [p.name for p in state.pods] == ["web-1"]


def test_broken_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    path.write_text('{"kind": "List",\n "items": [\n  {"kind": "Node",, }\n]}')
    with pytest.raises(SnapshotError) as info:
        SnapshotSource(path).load(now=f.NOW)
    (line,) = info.value.lines()
    assert line.startswith(f"{path}: invalid JSON: ") and line.endswith("on line 3")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x7fELF\x00\x00\x00binary", "contains NUL bytes"),
        (b"kind: List\nitems: 5\n", "items: must be a list, got an integer"),
        (b"[1, 2]", "must be a mapping, as kubectl get -o yaml writes"),
        (b"a: &a [x]\nb: [*a, *a]\nitems:\n" + b"".join(b"- *a\n" for _ in range(100)), ""),
    ],
    ids=["a binary", "items not a list", "a list", "aliases (never in kubectl output) still decode"],
)
def test_unusable_documents_are_one_line(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "snapshot.yaml"
    path.write_bytes(content)
    with pytest.raises(SnapshotError) as info:
        SnapshotSource(path).load(now=f.NOW)
    assert expected in str(info.value)


def test_a_device_is_not_a_snapshot() -> None:
    with pytest.raises(SnapshotError, match="not a regular file"):
        SnapshotSource("/dev/zero").load(now=f.NOW)


def test_the_live_source_skips_a_corrupt_object_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    bad = json.dumps(edited(lambda p: p["metadata"].update(labels={"app": 1}))).encode()
    good = json.dumps(pod("web-2")).encode()
    with caplog.at_level(logging.WARNING):
        records = [live.decoded(decoding.KINDS["Pod"], memoryview(raw)) for raw in (bad, good)]
    assert records[0] is None and records[1].name == "web-2"
    (message,) = [r.getMessage() for r in caplog.records]
    assert message == (
        "skipping Pod shop/web-1 from the API server: metadata.labels: each value must be a string, got an integer"
    )
