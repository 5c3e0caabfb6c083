"""Cluster state from files: ``kubectl get nodes,pods,pdb,namespaces,priorityclasses,pvc
-A -o yaml|json`` output, one file or a folder of such files, so the planner runs offline.

JSON is decoded item by item straight into records (no dict tree); YAML is read under the
limits of :mod:`descheduler.documents`. Every object tensile reads is checked by
:mod:`descheduler.cluster.decoding`; all bad objects are reported at once, each with its file,
its place and its name (``items[12] (Pod shop/web-1): metadata.namespace: must be a string,
got a list``), and then nothing is planned.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from descheduler import documents, wire_errors, wording
from descheduler.cluster import decoding
from descheduler.cluster.sources import build_state
from descheduler.cluster.state import ClusterState
from descheduler.errors import Problem, SnapshotError

SUFFIXES = (".json", ".yaml", ".yml")
MAX_PROBLEMS = 50
"""Bad objects listed before the rest are only counted."""


class _Envelope(msgspec.Struct, gc=False):
    """A JSON document: a List (``items``) or one object. ``items`` stays undecoded bytes (empty when
    absent): decoding it as ``Any`` would build the whole dict tree, 1.6 GB at 150k pods."""

    kind: Any = None
    items: msgspec.Raw = msgspec.Raw()


class _List(msgspec.Struct, gc=False):
    """A JSON List document read in one pass: each item stays undecoded bytes. Anything else
    (no ``items``, ``items`` not an array, not an object) goes the careful way, through ``_Envelope``."""

    items: list[msgspec.Raw] | None = None


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_LIST = msgspec.json.Decoder(_List)
_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])
_NULL = b"null"


class SnapshotSource:
    """Reads the snapshot anew on every cycle (a long-lived run against files sees them change)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._name = f"snapshot {self.path}"

    def files(self) -> list[Path]:
        if self.path.is_dir():
            found = sorted(p for p in self.path.iterdir() if p.suffix in SUFFIXES and p.is_file())
            if not found:
                raise SnapshotError.single("folder has no .json, .yaml or .yml files", source=self._name)
            return found
        if not self.path.exists():
            raise SnapshotError.single("no such file or folder", source=self._name)
        if not self.path.is_file():
            raise SnapshotError.single("not a regular file or folder", source=self._name)
        return [self.path]

    def load(self, *, now: float) -> ClusterState:
        collected = _Collector()
        for file in self.files():
            collected.read_file(file)
        collected.raise_problems()
        if not collected.objects["Node"]:
            raise SnapshotError.single("contains no Node objects", source=self._name)
        return build_state(collected.objects, now=now)


class _Collector:
    """Records by kind from every file, and every problem found on the way."""

    def __init__(self) -> None:
        self.objects: dict[str, list[Any]] = {kind: [] for kind in decoding.KINDS}
        self.problems: list[Problem] = []
        self._seen: dict[tuple[str, str, str], tuple[Path, str]] = {}
        """Where each object came first: (file, place in it), put into words only for a repeated object."""

    def read_file(self, file: Path) -> None:
        try:
            for where, item in _items(file):
                self._add(file, where, item)
        except documents.DocumentError as exc:
            self.problems.append(Problem(str(file), str(exc)))

    def raise_problems(self) -> None:
        if not self.problems:
            return
        shown = self.problems[:MAX_PROBLEMS]
        if len(self.problems) > MAX_PROBLEMS:
            shown.append(Problem("", f"... and {len(self.problems) - MAX_PROBLEMS} more problems"))
        raise SnapshotError(shown)

    def _add(self, file: Path, where: str, item: Any) -> None:
        known = decoding.decode_known(item) if isinstance(item, msgspec.Raw) else None
        if known is not None:
            self._add_decoded(file, where, item, *known)
            return
        header: decoding.Header | decoding.KindOnly | None = None
        if isinstance(item, dict):
            header = decoding.header_of(item)
        elif isinstance(item, msgspec.Raw):
            header = _kind_of(item)
        if header is None:
            self.problems.append(Problem(f"{file}: {where}", "must be an object (a mapping)"))
            return
        problem = decoding.kind_problem(header.kind, header.api_version)
        kind = decoding.KINDS.get(header.kind) if problem is None else None
        if kind is None:
            if problem is not None:
                self._problem(file, where, item, problem)
            return  # another Kubernetes kind (Deployment, Service, ...) or a custom resource: ignored
        try:
            record = kind.from_raw(item) if isinstance(item, dict) else kind.from_json(item)
        except wire_errors.ObjectError as exc:
            self._problem(file, where, item, str(exc))
            return
        self._keep(file, where, item, kind, record)

    def _add_decoded(self, file: Path, where: str, item: Any, kind: decoding.Kind[Any, Any], obj: Any) -> None:
        try:
            record = kind.from_wire(obj)
        except wire_errors.ObjectError as exc:
            self._problem(file, where, item, str(exc))
            return
        self._keep(file, where, item, kind, record)

    def _keep(self, file: Path, where: str, item: Any, kind: decoding.Kind[Any, Any], record: Any) -> None:
        """Keep the record unless the same object came before."""
        key = (kind.name, getattr(record, "namespace", ""), record.name)
        first = self._seen.get(key)
        if first is not None:
            self._problem(file, where, item, f"the same object again (first at {first[0]}: {first[1]})")
            return
        self._seen[key] = (file, where)
        self.objects[kind.name].append(record)

    def _problem(self, file: Path, where: str, item: Any, message: str) -> None:
        label = decoding.header_of(item).label()
        self.problems.append(Problem(f"{file}: {where} ({label})", message))


def _kind_of(raw: msgspec.Raw) -> decoding.KindOnly | None:
    try:
        return decoding.KIND_ONLY.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def _items(file: Path) -> Iterator[tuple[str, Any]]:
    """Yield (place in the file, item): undecoded JSON bytes, or a parsed YAML mapping."""
    data = documents.read_bytes(file, limits=documents.SNAPSHOT_LIMITS)
    if _is_json(file, data):
        yield from _json_items(_as_utf8(data))
        return
    text = documents.decode_text(data)
    for index, doc in enumerate(documents.load_yaml(text, limits=documents.SNAPSHOT_LIMITS)):
        yield from _yaml_items(doc, f"document {index}" if index else "")


def _is_json(file: Path, data: bytes) -> bool:
    head = data[:64].lstrip(codecs.BOM_UTF8).lstrip()
    return file.suffix == ".json" or head[:1] == b"{"


def _as_utf8(data: bytes) -> bytes:
    """JSON as UTF-8 (RFC 8259); a byte-order mark, as some editors write, is dropped."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :]
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or b"\0" in data[:4]:
        return documents.decode_text(data).encode()
    return data


def _json_items(data: bytes) -> Iterator[tuple[str, Any]]:
    try:
        listed = _LIST.decode(data).items
    except (msgspec.ValidationError, msgspec.DecodeError):
        listed = None
    if listed is not None:
        for index, raw in enumerate(listed):
            yield f"items[{index}]", raw
        return
    try:
        envelope = _ENVELOPE.decode(data)
    except msgspec.ValidationError as exc:
        raise documents.DocumentError("must be a JSON object, as kubectl get -o json writes") from exc
    except msgspec.DecodeError as exc:
        raise documents.DocumentError(f"invalid JSON: {_json_position(data, exc)}") from exc
    if _absent(envelope.items) and not _is_list_kind(envelope.kind):
        yield "document 0", msgspec.Raw(data)
        return
    try:
        items = _ITEMS.decode(envelope.items or _NULL)
    except msgspec.ValidationError as exc:
        raise documents.DocumentError(f"items: {wire_errors.problem_of(exc)[1]}") from exc
    for index, raw in enumerate(items):
        yield f"items[{index}]", raw


def _absent(items: msgspec.Raw) -> bool:
    """No ``items`` key, or ``"items": null``."""
    return not items or (len(items) == len(_NULL) and bytes(items) == _NULL)  # bytes() copies: short ones only


def _json_position(data: bytes, exc: msgspec.DecodeError) -> str:
    """msgspec names a byte offset; a user's editor wants a line."""
    message = str(exc)
    marker = message.rfind("(byte ")
    if marker < 0:
        return message
    try:
        offset = int(message[marker + 6 :].rstrip(")"))
    except ValueError:
        return message
    line = data.count(b"\n", 0, offset) + 1
    return f"{message[:marker].strip()} on line {line}"


def _is_list_kind(kind: object) -> bool:
    return isinstance(kind, str) and kind.endswith("List")


def _yaml_items(doc: Any, where: str) -> Iterator[tuple[str, Any]]:
    if doc is None:
        return
    prefix = f"{where} " if where else ""
    if not isinstance(doc, dict):
        raise documents.DocumentError(f"{prefix}must be a mapping, as kubectl get -o yaml writes")
    if "items" not in doc and not _is_list_kind(doc.get("kind")):
        yield where or "document 0", doc
        return
    items = doc.get("items")
    if items is None:
        return
    if not isinstance(items, list):
        raise documents.DocumentError(f"{prefix}items: must be a list, got {wording.type_word(items)}")
    for index in range(len(items)):
        # Released as handed out, so the dict tree and the records are never both whole.
        item, items[index] = items[index], None
        yield f"{prefix}items[{index}]", item
