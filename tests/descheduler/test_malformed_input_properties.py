"""Property-based tests: the shipped policies and a generated snapshot, mutated (type swaps,
deletions, nulls, huge and non-finite numbers, unicode, encodings, duplicated keys and items,
malformed timestamps and quantities), never crash the command.

Each example asserts: the exit status is 0, 1 or 2; no traceback and no Python type name is
printed; a mutation known to make the input invalid exits 2 (a kind swap of a policy value,
or a bad value in a field tensile reads from the snapshot), and one known to keep it valid
exits 0. CI runs the ``ci`` profile (a few seconds, fixed examples); for a long local run:

    TENSILE_HYPOTHESIS_PROFILE=long python -m pytest tests/descheduler/test_malformed_input_properties.py
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from descheduler.cli import main
from tests.bench.gen_snapshot import generate

settings.register_profile(
    "ci", max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long",
    max_examples=int(os.environ.get("TENSILE_HYPOTHESIS_EXAMPLES", "20000")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PROFILE = os.environ.get("TENSILE_HYPOTHESIS_PROFILE", "ci")
# A long run takes far longer than the suite's per-test timeout.
pytestmark = pytest.mark.timeout(0 if PROFILE == "long" else 600)

ROOT = Path(__file__).resolve().parents[2]
POLICIES = sorted([*(ROOT / "policies").glob("*.yaml"), ROOT / "examples/policy.yaml"])
PYTHON = re.compile(
    r"Traceback|NoneType|unhashable|\bdict\b|<class|object of type|"
    r"\b(Type|Value|Key|Attribute|Index|Unicode\w*|Recursion|Overflow|Assertion)Error\b"
)
Path_ = tuple[str | int, ...]

# Values of every kind, including the awkward ones.
ODD_VALUES: list[Any] = [
    {"a": 1},
    [1, "x"],
    "text",
    "",
    "\u202e\u0000ünï\U0001f600",
    True,
    0,
    -1,
    7,
    2**70,
    -(2**70),
    1.5,
    math.inf,
    -math.inf,
    math.nan,
]


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def paths(doc: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield from paths(value, (*prefix, index))


def get(doc: Any, path: Path_) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def put(doc: Any, path: Path_, value: Any) -> Any:
    if not path:
        return value
    get(doc, path[:-1])[path[-1]] = value
    return doc


def remove(doc: Any, path: Path_) -> Any:
    parent = get(doc, path[:-1])
    del parent[path[-1]]
    return doc


def dump(doc: Any) -> str:
    """YAML that keeps inf/nan (PyYAML writes .inf, .nan) and any unicode."""
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash: hypothesis shrinks it and shows the traceback
    output = result.stdout + result.stderr
    assert result.exit_code in (0, 1, 2), (result.exit_code, output)
    assert not PYTHON.search(output), output
    return result.exit_code, output


@st.composite
def mutated_policy(draw: st.DrawFn) -> tuple[str, str]:
    """(policy text, what was done: "swap" for a kind swap, else "other")."""
    source = draw(st.sampled_from(POLICIES))
    doc = yaml.safe_load(source.read_text())
    path = draw(st.sampled_from(list(paths(doc))[1:]))
    old = get(doc, path)
    action = draw(st.sampled_from(["swap", "delete", "null", "duplicate-item", "unicode-key"]))
    if action == "swap":
        new = draw(st.sampled_from(ODD_VALUES))
        if kind_of(new) == kind_of(old) or (kind_of(old) == "number" and isinstance(new, int | float)):
            action = "other"  # same kind: may or may not be valid
        put(doc, path, copy.deepcopy(new))
    elif action == "delete":
        remove(doc, path)
    elif action == "null":
        put(doc, path, None)
    elif action == "duplicate-item" and isinstance(get(doc, path[:-1]), list):
        get(doc, path[:-1]).append(copy.deepcopy(old))
    elif action == "unicode-key" and isinstance(get(doc, path[:-1]), dict):
        get(doc, path[:-1])["ünï\u202ecode"] = old  # an unknown field, or a key of a free map (thresholds)
    return dump(doc), "swap" if action == "swap" else "other"


@settings(settings.get_profile(PROFILE))
@given(case=mutated_policy())
def test_mutated_policies_are_refused_cleanly(tmp_path_factory: pytest.TempPathFactory, case: tuple[str, str]) -> None:
    text, action = case
    path = tmp_path_factory.mktemp("policy") / "policy.yaml"
    path.write_text(text)
    code, output = run("validate", str(path))
    if action == "swap":
        assert code == 2, f"a kind swap was accepted:\n{text}\n{output}"


@settings(settings.get_profile(PROFILE))
@given(
    source=st.sampled_from(POLICIES),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252"]),
    duplicate=st.booleans(),
)
def test_encodings_and_duplicate_keys(
    tmp_path_factory: pytest.TempPathFactory, source: Path, encoding: str, duplicate: bool
) -> None:
    text = source.read_text().replace("kind: DeschedulerPolicy", "kind: DeschedulerPolicy  # ünïcode", 1)
    if duplicate:
        text += "\nkind: DeschedulerPolicy\n"
    data = text.encode(encoding)
    if encoding == "utf-16-le":
        data = b"\xff\xfe" + data
    path = tmp_path_factory.mktemp("policy") / "policy.yaml"
    path.write_bytes(data)
    code, output = run("validate", str(path))
    valid = not duplicate and encoding.startswith("utf")
    assert code == (0 if valid else 2), output


# -- snapshots -----------------------------------------------------------------------------

SNAPSHOT = generate(6, 30, 7)
ITEMS_BY_KIND: dict[str, list[int]] = {}
for _index, _item in enumerate(SNAPSHOT["items"]):
    ITEMS_BY_KIND.setdefault(_item["kind"], []).append(_index)

# Fields tensile reads, written down independently of descheduler/wire/ (the test's oracle):
# a value of the wrong kind, or a malformed one, in any of these must be refused.
READ = {
    "Pod": [
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "metadata.labels.*",
        "metadata.creationTimestamp",
        "metadata.ownerReferences.0.kind",
        "metadata.ownerReferences.0.name",
        "metadata.ownerReferences.0.uid",
        "spec.nodeName",
        "spec.priority",
        "spec.containers",
        "spec.containers.0.image",
        "spec.containers.0.resources.requests.cpu",
        "spec.containers.0.resources.requests.memory",
        "status.phase",
        "status.startTime",
        "status.containerStatuses.0.restartCount",
    ],
    "Node": ["metadata.name", "metadata.labels.*", "status.allocatable.cpu", "spec.taints", "status.conditions"],
}
MALFORMED = {
    "metadata.creationTimestamp": ["", "yesterday", "2024-02-30T00:00:00Z", "2024-01-01T00:00:00"],
    "status.startTime": ["noon", "2024-01-01 00:00"],
    "spec.containers.0.resources.requests.cpu": ["-1", "lots", "1.2.3", "1Qi", -5],
    "spec.containers.0.resources.requests.memory": ["-1Gi", "many"],
    "status.allocatable.cpu": ["-4", "four"],
    "status.containerStatuses.0.restartCount": [-1, 2.5, 2**40],
    "spec.priority": [2**40, "high", 1.5],
    "status.phase": ["Runing", 3],
    "metadata.name": ["", 5, None, ["x"]],
    "metadata.namespace": ["", None, {"n": 1}],
}
UNREAD = ["spec.schedulerName", "status.podIP", "metadata.resourceVersion"]


def resolve(item: dict[str, Any], dotted: str) -> Path_ | None:
    path: list[str | int] = []
    node: Any = item
    for wanted in dotted.split("."):
        part = wanted
        if wanted == "*":
            if not isinstance(node, dict) or not node:
                return None
            part = next(iter(node))
        elif wanted.isdigit():
            if not isinstance(node, list) or not node:
                return None
            path.append(0)
            node = node[0]
            continue
        if not isinstance(node, dict) or part not in node:
            return None
        path.append(part)
        node = node[part]
    return tuple(path)


@dataclass(frozen=True)
class SnapshotMutation:
    """One change to one item of the base snapshot; small, so a failing example prints readably."""

    index: int
    dotted: str
    value: Any
    must_refuse: bool

    def apply(self) -> dict[str, Any]:
        doc = copy.deepcopy(SNAPSHOT)
        item = doc["items"][self.index]
        path = resolve(item, self.dotted) if self.dotted else None
        if path is not None:
            put(item, path, copy.deepcopy(self.value))
        elif self.dotted and not self.must_refuse:  # an unread field the item lacks: add it
            *parents, last = self.dotted.split(".")
            node = item
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = copy.deepcopy(self.value)
        return doc


@st.composite
def mutated_snapshot(draw: st.DrawFn) -> SnapshotMutation:
    kind = draw(st.sampled_from(["Pod", "Node"]))
    index = draw(st.sampled_from(ITEMS_BY_KIND[kind]))
    item = SNAPSHOT["items"][index]
    if draw(st.booleans()):
        dotted = draw(st.sampled_from(UNREAD if kind == "Pod" else ["metadata.resourceVersion"]))
        return SnapshotMutation(index, dotted, draw(st.sampled_from(ODD_VALUES)), must_refuse=False)
    dotted = draw(st.sampled_from(READ[kind]))
    path = resolve(item, dotted)
    if path is None:
        return SnapshotMutation(index, "", None, must_refuse=False)  # the item lacks that field: unchanged
    old = get(item, path)
    choices = MALFORMED.get(dotted) or [v for v in ODD_VALUES if kind_of(v) not in (kind_of(old), "null")]
    new = draw(st.sampled_from(choices))
    if dotted == "metadata.uid" and isinstance(new, str):
        new = 5  # any string is a uid
    return SnapshotMutation(index, dotted, new, must_refuse=True)


@settings(settings.get_profile(PROFILE))
@given(case=mutated_snapshot(), as_yaml=st.booleans(), duplicate=st.booleans())
def test_mutated_snapshots_are_refused_cleanly(
    tmp_path_factory: pytest.TempPathFactory, case: SnapshotMutation, as_yaml: bool, duplicate: bool
) -> None:
    doc = case.apply()
    if duplicate:
        doc["items"].append(copy.deepcopy(doc["items"][case.index]))
    folder = tmp_path_factory.mktemp("snapshot")
    path = folder / ("snapshot.yaml" if as_yaml else "snapshot.json")
    path.write_text(dump(doc) if as_yaml else json.dumps(doc, allow_nan=True))
    code, output = run("--dry-run", "--snapshot", str(path), "--policy-config-file", str(ROOT / "examples/policy.yaml"))
    # JSON has no inf or nan: a snapshot holding one is not JSON at all, wherever it is.
    not_json = isinstance(case.value, float) and not math.isfinite(case.value) and not as_yaml
    if not_json:
        assert code == 2 and "invalid JSON" in output, output
    elif case.must_refuse or duplicate:
        assert code == 2, output
        last = len(doc["items"]) - 1
        assert f"items[{case.index}]" in output or f"items[{last}]" in output, output
    else:
        assert code == 0, output
