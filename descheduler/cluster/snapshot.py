"""Cluster state from files: ``kubectl get nodes,pods,pdb,namespaces,priorityclasses,pvc
-A -o yaml|json`` output, one file or a folder of such files, so the planner runs offline.

A malformed file or object is a :class:`~descheduler.errors.SnapshotError` naming the file
and the object.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import yaml

from descheduler.cluster.sources import CONVERTERS, build_state
from descheduler.cluster.state import ClusterState
from descheduler.errors import SnapshotError

SUFFIXES = (".json", ".yaml", ".yml")
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SnapshotSource:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def files(self) -> list[Path]:
        if self.path.is_dir():
            found = sorted(p for p in self.path.iterdir() if p.suffix in SUFFIXES and p.is_file())
            if not found:
                raise SnapshotError(f"snapshot folder {self.path} has no .json/.yaml files")
            return found
        if not self.path.is_file():
            raise SnapshotError(f"snapshot {self.path}: no such file or folder")
        return [self.path]

    def load(self, *, now: float) -> ClusterState:
        objects: dict[str, list[Any]] = {kind: [] for kind in CONVERTERS}
        for file in self.files():
            for where, item in _items(file):
                _convert_into(objects, file, where, item)
        if not objects["Node"]:
            raise SnapshotError(f"snapshot {self.path} contains no Node objects")
        return build_state(objects, now=now)


def _documents(file: Path) -> Iterator[Any]:
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise SnapshotError(f"snapshot {file}: cannot read: {exc.strerror or exc}") from exc
    if file.suffix == ".json" or data.lstrip()[:1] in (b"{", b"["):
        try:
            yield orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise SnapshotError(f"snapshot {file}: invalid JSON: {exc}") from exc
        return
    try:
        yield from yaml.load_all(data, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise SnapshotError(f"snapshot {file}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from exc


def _items(file: Path) -> Iterator[tuple[str, Any]]:
    """Yield (location, object); list items are released as they are handed out."""
    for doc_index, doc in enumerate(_documents(file)):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise SnapshotError(f"snapshot {file}: document {doc_index} is not an object")
        kind = doc.get("kind", "")
        if (isinstance(kind, str) and kind.endswith("List")) or "items" in doc:
            items = doc.get("items")
            if not isinstance(items, list):
                raise SnapshotError(f"snapshot {file}: document {doc_index}: items must be a list")
            for i in range(len(items)):
                item, items[i] = items[i], None
                yield f"items[{i}]", item
        else:
            yield f"document {doc_index}", doc


def _convert_into(objects: dict[str, list[Any]], file: Path, where: str, item: Any) -> None:
    if not isinstance(item, dict):
        raise SnapshotError(f"snapshot {file}: {where}: not an object")
    kind = item.get("kind")
    converter = CONVERTERS.get(kind) if isinstance(kind, str) else None
    if converter is None:
        return  # other kinds (Deployments, Services, ...) are allowed and ignored
    try:
        objects[str(kind)].append(converter(item))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raw_meta = item.get("metadata")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        name = "/".join(str(x) for x in (meta.get("namespace"), meta.get("name")) if x) or "<unnamed>"
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise SnapshotError(f"snapshot {file}: {where} ({kind} {name}): {detail}") from exc
