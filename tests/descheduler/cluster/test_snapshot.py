"""Snapshots: kubectl's List output in YAML or JSON, one file or a folder; malformed
input names the file and the object."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from descheduler.cluster.snapshot import SnapshotSource
from descheduler.errors import SnapshotError
from tests.descheduler import factories as f


def kubectl_list(*items: dict[str, object]) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "List", "items": list(items)}


def with_kind(kind: str, raw: dict[str, object]) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": kind, **raw}


NODE = with_kind("Node", f.raw_node("n1"))
POD = with_kind("Pod", f.raw_pod("p1", node="n1"))


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_kubectl_list_file_loads_in_both_formats(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"snap{suffix}"
    doc = kubectl_list(NODE, POD, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ignored"}})
    path.write_text(json.dumps(doc) if suffix == ".json" else yaml.safe_dump(doc))
    state = SnapshotSource(path).load(now=f.NOW)
    assert list(state.nodes) == ["n1"]
    assert [p.name for p in state.pods_on("n1")] == ["p1"]


def test_a_folder_of_files_is_merged(tmp_path: Path) -> None:
    (tmp_path / "nodes.json").write_text(json.dumps(kubectl_list(NODE)))
    (tmp_path / "pods.yaml").write_text(yaml.safe_dump_all([POD]))
    (tmp_path / "README.txt").write_text("not a snapshot")
    state = SnapshotSource(tmp_path).load(now=f.NOW)
    assert len(state.pods) == 1 and len(state.nodes) == 1


def test_a_malformed_object_names_file_and_object(tmp_path: Path) -> None:
    broken = with_kind(
        "Pod",
        {
            "metadata": {"name": "bad", "namespace": "shop"},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "lots"}}}]},
        },
    )
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(kubectl_list(NODE, broken)))
    with pytest.raises(SnapshotError) as info:
        SnapshotSource(path).load(now=f.NOW)
    message = str(info.value)
    assert message.startswith(
        f"{path}: items[1] (Pod shop/bad): spec.containers[0].resources.requests.cpu: invalid quantity 'lots'"
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "invalid JSON"),
        ("items: [\n", "invalid YAML"),
        ("- 1\n- 2\n", "must be a mapping, as kubectl get -o yaml writes"),
    ],
    ids=["broken JSON", "broken YAML", "not an object"],
)
def test_unreadable_files_are_errors(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / ("snap.json" if content.startswith("{") else "snap.yaml")
    path.write_text(content)
    with pytest.raises(SnapshotError, match=expected):
        SnapshotSource(path).load(now=f.NOW)


def test_a_snapshot_without_nodes_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "snap.yaml"
    path.write_text(yaml.safe_dump(kubectl_list(POD)))
    with pytest.raises(SnapshotError, match="contains no Node objects"):
        SnapshotSource(path).load(now=f.NOW)


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="no such file or folder"):
        SnapshotSource(tmp_path / "nope.yaml").load(now=f.NOW)
