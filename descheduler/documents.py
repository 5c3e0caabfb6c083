"""Reading the YAML and JSON documents users hand us (policies, snapshots) safely.

Both decoders start here: bytes are read up to a size limit (``/dev/zero`` or a 50 MB file
is refused, not swallowed); the text encoding is detected as YAML defines it (UTF-8, or
UTF-16/32 as PowerShell writes them) and anything else is named; YAML is composed with limits
on nesting and on alias expansion (an alias bomb is refused instead of filling memory),
duplicate keys are refused with both line numbers, and only JSON-compatible values are
built (timestamps stay strings, as they would in JSON). Every failure is a
:class:`DocumentError` whose message is one line in the user's terms; callers prefix the
file name.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from descheduler.errors import InputError

try:
    from yaml._yaml import CParser as _EventSource  # libyaml: events in C
except ImportError:  # pragma: no cover - PyYAML built without libyaml

    class _EventSource(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)

        def dispose(self) -> None:
            pass


class DocumentError(InputError):
    """A document cannot be read: too large, not text, not YAML/JSON, or beyond a limit."""


@dataclass(frozen=True)
class ReadLimits:
    """How much a document may ask of us before it is refused."""

    max_bytes: int
    """Largest file accepted."""
    max_depth: int = 100
    """Deepest nesting of mappings and lists."""
    max_alias_nodes: int = 100_000
    """Nodes that aliases (``*name``) may add in all, counted as if expanded."""


POLICY_LIMITS = ReadLimits(max_bytes=1 << 20, max_depth=64, max_alias_nodes=10_000)
"""A policy is a ConfigMap's worth (1 MiB) of hand-written YAML."""

SNAPSHOT_LIMITS = ReadLimits(max_bytes=16 << 30, max_depth=100, max_alias_nodes=100_000)
"""kubectl output: large, never aliased, nesting well under 100 levels."""


def read_bytes(path: str | Path, *, limits: ReadLimits) -> bytes:
    """The file's bytes; a file (or pipe, or device) beyond ``limits.max_bytes`` is refused after that many."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(limits.max_bytes + 1)
    except IsADirectoryError as exc:
        raise DocumentError("is a folder, not a file") from exc
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > limits.max_bytes:
        raise DocumentError(f"larger than the {_size(limits.max_bytes)} allowed; is this the right file?")
    return data


def _size(amount: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if amount >= factor:
            return f"{amount / factor:g} {unit}"
    return f"{amount} bytes"


_TEXT_ASCII = frozenset({0x09, 0x0A, 0x0D, *range(0x20, 0x7F)})
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)


def decode_text(data: bytes) -> str:
    """Text in the encodings YAML allows (byte-order mark or the pattern of a first ASCII character)."""
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            return _decode(data[len(bom) :], codec, name)
    # Without a byte-order mark, YAML tells UTF-16 by its first character, which is ASCII.
    if len(data) >= 2 and data[0] == 0 and data[1] in _TEXT_ASCII:
        return _decode(data, "utf-16-be", "UTF-16")
    if len(data) >= 2 and data[1] == 0 and data[0] in _TEXT_ASCII and data[2:4] != b"\0\0":
        return _decode(data, "utf-16-le", "UTF-16")
    if b"\0" in data:
        raise DocumentError("contains NUL bytes: binary data, not a text file")
    return _decode(data, "utf-8", "UTF-8")


def _decode(data: bytes, codec: str, name: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start]
        if name != "UTF-8":
            raise DocumentError(f"starts like {name} text but is not valid {name} (line {line})") from exc
        guess = "Latin-1 or Windows-1252 text" if _looks_like_latin1(data) else "binary data"
        raise DocumentError(
            f"not UTF-8: byte 0x{byte:02x} on line {line} looks like {guess}; save the file as UTF-8"
        ) from exc


def _looks_like_latin1(data: bytes) -> bool:
    controls = set(range(0x20)) - {0x09, 0x0A, 0x0D}
    return not any(b in controls for b in data[:65536])


def load_json(data: bytes) -> Any:
    """One JSON document (orjson keeps nesting under 1024 levels and refuses integers beyond 64 bits)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DocumentError(f"invalid JSON: {exc}") from exc


def load_yaml(text: str, *, limits: ReadLimits) -> Iterator[Any]:
    """Every document of a YAML stream, each built under ``limits``."""
    loader = _LimitedLoader(text, limits)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                yield loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise DocumentError(_yaml_message(exc)) from exc
    except yaml.YAMLError as exc:
        raise DocumentError(f"invalid YAML: {exc}") from exc
    finally:
        loader.dispose()


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = exc.problem or exc.context or "not YAML"
    return f"invalid YAML at {where}{problem}".replace(": :", ":")


class _LimitedComposer(Composer):
    """Composes nodes like PyYAML, counting nesting depth and what aliases would expand to."""

    limits: ReadLimits
    _depth: int
    _alias_nodes: int
    _sizes: dict[int, int]
    check_event: Callable[..., bool]  # from the event source (the parser) it is mixed with
    peek_event: Callable[[], Any]

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            node = super().compose_node(parent, index)
            assert node is not None  # an alias always names a node
            self._alias_nodes += self._expanded_size(node)
            if self._alias_nodes > self.limits.max_alias_nodes:
                raise ConstructorError(
                    None,
                    None,
                    f"aliases expand to more than {self.limits.max_alias_nodes} nodes (an alias bomb?)",
                    node.start_mark,
                )
            return node
        self._depth += 1
        if self._depth > self.limits.max_depth:
            raise ConstructorError(
                None, None, f"nested more than {self.limits.max_depth} levels deep", self.peek_event().start_mark
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def _expanded_size(self, root: Node) -> int:
        """Nodes under ``root`` with every alias expanded, without recursion (memoized per node)."""
        pending = [root]
        while pending:
            node = pending[-1]
            if id(node) in self._sizes:
                pending.pop()
                continue
            children = _children(node)
            missing = [c for c in children if id(c) not in self._sizes]
            if missing:
                pending.extend(missing)
                continue
            pending.pop()
            self._sizes[id(node)] = min(1 + sum(self._sizes[id(c)] for c in children), 1 << 62)
        return self._sizes[id(root)]


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


class _JsonCompatibleConstructor(SafeConstructor):
    """SafeConstructor restricted to what JSON can hold, refusing duplicate keys."""

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, MappingNode):
            raise ConstructorError(None, None, "expected a mapping", node.start_mark)
        explicit = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
        self.flatten_mapping(node)
        merged = len(node.value) - explicit  # flatten_mapping puts merged pairs first; explicit ones override them
        mapping: dict[Any, Any] = {}
        lines: dict[Any, int] = {}
        for index, (key_node, value_node) in enumerate(node.value):
            key = self.construct_object(key_node, deep=deep)
            try:
                first = lines.get(key)
            except TypeError:
                raise ConstructorError(None, None, "a key must be a plain value", key_node.start_mark) from None
            if first is not None:
                raise ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {first})", key_node.start_mark
                )
            if index >= merged:
                lines[key] = key_node.start_mark.line + 1
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_yaml_int(self, node: ScalarNode) -> int:
        try:
            return super().construct_yaml_int(node)
        except ValueError as exc:  # more digits than Python converts (4,300)
            raise ConstructorError(None, None, "integer too large", node.start_mark) from exc

    def construct_unsupported(self, node: Node) -> None:
        raise ConstructorError(
            None, None, f"unsupported YAML tag {_short_tag(node.tag)}: only JSON-like values", node.start_mark
        )


def _short_tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


_UNSUPPORTED = _JsonCompatibleConstructor.construct_unsupported
_JsonCompatibleConstructor.yaml_constructors = {
    **SafeConstructor.yaml_constructors,
    # Timestamps stay strings, as in JSON and in Kubernetes' own YAML decoding.
    "tag:yaml.org,2002:timestamp": SafeConstructor.construct_yaml_str,
    "tag:yaml.org,2002:int": _JsonCompatibleConstructor.construct_yaml_int,
    **{f"tag:yaml.org,2002:{tag}": _UNSUPPORTED for tag in ("binary", "set", "omap", "pairs")},
    None: _UNSUPPORTED,
}


class _LimitedLoader(_LimitedComposer, _JsonCompatibleConstructor, Resolver, _EventSource):
    """Events from libyaml when available (fast), composition and construction in Python (limited)."""

    def __init__(self, text: str, limits: ReadLimits) -> None:
        _EventSource.__init__(self, text)
        _JsonCompatibleConstructor.__init__(self)
        Resolver.__init__(self)
        self.anchors = {}
        self.limits = limits
        self._depth = 0
        self._alias_nodes = 0
        self._sizes = {}
