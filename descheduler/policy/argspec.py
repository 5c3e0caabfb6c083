"""Plugin arguments described once, as frozen dataclasses, and used three ways.

1. :func:`decode` turns a policy's ``args`` mapping into the dataclass, collecting a
   :class:`~descheduler.errors.Problem` (with its path) for every unknown field or wrong type;
2. :func:`json_schema` renders the same dataclass as JSON Schema for editors;
3. :func:`describe` lists the fields for ``tensile-deschedule plugins``.

Wire names are the upstream camelCase names, derived from the snake_case field name
unless ``wire(...)`` overrides it. Field docs come from ``doc(...)`` metadata.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal, NewType, TypeVar, Union, get_args, get_origin

from descheduler import matching, wording
from descheduler.errors import Problem

T = TypeVar("T")

Int32 = NewType("Int32", int)
"""An upstream ``int32`` field."""
UInt = NewType("UInt", int)
"""An upstream ``uint`` field (64 bits, never negative)."""
# A plain ``int`` is upstream's ``int``/``int64``: 64 bits, signed.
INT_RANGES: dict[Any, tuple[int, int]] = {
    int: (-(2**63), 2**63 - 1),
    Int32: (-(2**31), 2**31 - 1),
    UInt: (0, 2**64 - 1),
}
_INT_NAMES = {int: "int64", Int32: "int32", UInt: "uint"}

LabelSelector = NewType("LabelSelector", dict[str, Any])
"""A raw ``metav1.LabelSelector`` (matchLabels / matchExpressions), validated structurally."""

_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def doc(text: str, *, wire: str | None = None) -> dict[str, Any]:
    """Field metadata: the help text and, when it is not the camelCase of the name, the wire name."""
    meta: dict[str, Any] = {"doc": text}
    if wire is not None:
        meta["wire"] = wire
    return meta


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def wire_name(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get("wire") or camel(f.name))


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_optional(tp: Any) -> tuple[bool, Any]:
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) < len(get_args(tp)):
            return True, args[0] if len(args) == 1 else Union[tuple(args)]  # noqa: UP007
    return False, tp


def decode(cls: type[T], raw: Any, path: str) -> tuple[T | None, list[Problem]]:
    """Build ``cls`` from ``raw``; on problems return None and every problem found."""
    problems: list[Problem] = []
    value = _decode_value(cls, raw, path, problems)
    return (value if not problems else None), problems


def _decode_dataclass(cls: type, raw: Any, path: str, problems: list[Problem]) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, f"must be a mapping, got {wording.type_word(raw)}"))
        return None
    fields = {wire_name(f): f for f in dataclasses.fields(cls)}
    hints = _hints(cls)
    for key in raw:
        if key not in fields:
            allowed = ", ".join(sorted(fields)) or "none"
            problems.append(Problem(_join(path, str(key)), f"unknown field; allowed fields: {allowed}"))
    kwargs: dict[str, Any] = {}
    for key, f in fields.items():
        # Upstream's JSON decoding leaves a field given as null at its zero value, which its
        # defaulting then fills: null means "unset" (``excludedTaints:`` with nothing after it).
        if key in raw and raw[key] is not None:
            kwargs[f.name] = _decode_value(hints[f.name], raw[key], _join(path, key), problems)
    if any(p.path.startswith(path) for p in problems):
        return None
    return cls(**kwargs)


def _decode_value(tp: Any, raw: Any, path: str, problems: list[Problem]) -> Any:
    optional, tp = _is_optional(tp)
    if raw is None:
        if optional:
            return None
        if dataclasses.is_dataclass(tp):
            return _decode_dataclass(typing.cast(type, tp), {}, path, problems)
    if dataclasses.is_dataclass(tp):
        return _decode_dataclass(typing.cast(type, tp), raw, path, problems)
    if tp is LabelSelector:
        problems.extend(validate_label_selector(raw, path))
        return dict(raw) if isinstance(raw, Mapping) else None
    origin = get_origin(tp)
    if origin is Literal:
        allowed = get_args(tp)
        if not isinstance(raw, str | int | bool) or raw not in allowed:
            problems.append(Problem(path, f"must be one of {', '.join(map(str, allowed))}; got {wording.shown(raw)}"))
        return raw
    if origin in (tuple, list):
        item_tp = get_args(tp)[0]
        if not isinstance(raw, list):
            problems.append(Problem(path, f"must be a list, got {wording.type_word(raw)}"))
            return ()
        return tuple(_decode_value(item_tp, item, f"{path}[{i}]", problems) for i, item in enumerate(raw))
    if origin in (dict, Mapping):
        _key_tp, value_tp = get_args(tp)
        if not isinstance(raw, Mapping):
            problems.append(Problem(path, f"must be a mapping, got {wording.type_word(raw)}"))
            return {}
        for key in raw:
            if not isinstance(key, str):
                problems.append(
                    Problem(path, f"keys must be strings, got {wording.type_word(key)} {wording.shown(key)}")
                )
        return {str(k): _decode_value(value_tp, v, _join(path, str(k)), problems) for k, v in raw.items()}
    return _decode_scalar(tp, raw, path, problems)


def _decode_scalar(tp: Any, raw: Any, path: str, problems: list[Problem]) -> Any:
    if tp in INT_RANGES:
        ok = isinstance(raw, int) and not isinstance(raw, bool)
        low, high = INT_RANGES[tp]
        if ok and not low <= raw <= high:
            if low == 0:
                bound = "must be >= 0" if raw < 0 else f"must be at most {high} ({_INT_NAMES[tp]})"
            else:
                bound = f"must be between {low} and {high} ({_INT_NAMES[tp]})"
            problems.append(Problem(path, f"{bound}, got {wording.shown(raw)}"))
            return raw
    elif tp is bool:
        ok = isinstance(raw, bool)
    elif tp is float:
        ok = isinstance(raw, int | float) and not isinstance(raw, bool)
        if ok and not math.isfinite(raw):
            problems.append(Problem(path, f"must be a finite number, got {wording.shown(raw)}"))
            return raw
        raw = float(raw) if ok else raw
    elif tp is str:
        ok = isinstance(raw, str)
    elif tp is Any:
        ok = True
    else:  # pragma: no cover - a programming error in an Args definition
        raise TypeError(f"unsupported argument type {tp!r} at {path}")
    if not ok:
        problems.append(
            Problem(path, f"must be {_schema_type_word(tp)}, got {wording.type_word(raw)} {wording.shown(raw)}")
        )
    return raw


def _schema_type_word(tp: Any) -> str:
    if tp in INT_RANGES:
        return "an integer"
    return {bool: "a boolean", float: "a number", str: "a string"}.get(tp, str(tp))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def validate_label_selector(raw: Any, path: str) -> list[Problem]:
    """Structural checks of a metav1.LabelSelector, as the API server would apply."""
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        return [Problem(path, f"must be a label selector mapping, got {wording.type_word(raw)}")]
    problems = [
        Problem(_join(path, k), "unknown field; allowed fields: matchExpressions, matchLabels")
        for k in raw
        if k not in ("matchLabels", "matchExpressions")
    ]
    labels = raw.get("matchLabels")
    labels = {} if labels is None else labels
    if not isinstance(labels, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        problems.append(Problem(_join(path, "matchLabels"), "must map label keys to string values"))
    else:
        problems.extend(_label_problems(labels.items(), _join(path, "matchLabels")))
    expressions = raw.get("matchExpressions")
    expressions = [] if expressions is None else expressions
    if not isinstance(expressions, list):
        return [*problems, Problem(_join(path, "matchExpressions"), "must be a list")]
    for i, expr in enumerate(expressions):
        where = f"{path}.matchExpressions[{i}]"
        if not isinstance(expr, Mapping) or not isinstance(expr.get("key"), str) or not expr.get("key"):
            problems.append(Problem(where, "must have a key and an operator"))
            continue
        operator, values = expr.get("operator"), expr.get("values")
        values = [] if values is None else values
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            problems.append(Problem(f"{where}.values", "must be a list of strings"))
            continue
        problems.extend(_label_problems([(expr["key"], v) for v in values] or [(expr["key"], "")], where))
        if operator not in _SELECTOR_OPERATORS:
            problems.append(Problem(f"{where}.operator", f"must be one of {', '.join(_SELECTOR_OPERATORS)}"))
        elif operator in ("In", "NotIn") and not values:
            problems.append(Problem(f"{where}.values", f"must be non-empty for operator {operator}"))
        elif operator in ("Exists", "DoesNotExist") and values:
            problems.append(Problem(f"{where}.values", f"must be empty for operator {operator}"))
    return problems


def _label_problems(pairs: Iterable[tuple[str, str]], path: str) -> list[Problem]:
    """Label keys and values as the API server checks them, reported once per key or value."""
    problems: dict[str, Problem] = {}
    for key, value in pairs:
        key_problem = matching.label_key_problem(key)
        if key_problem is not None:
            problems.setdefault(key, Problem(path, f"key {wording.shown(key)} {key_problem}"))
        value_problem = matching.label_value_problem(value)
        if value_problem is not None:
            problems.setdefault(f"={value}", Problem(path, f"value {wording.shown(value)} {value_problem}"))
    return list(problems.values())


# -- JSON Schema and descriptions ------------------------------------------------------


def json_schema(tp: Any) -> dict[str, Any]:
    optional, tp = _is_optional(tp)
    schema = _json_schema(tp)
    if optional and "type" in schema:
        current = schema["type"]
        schema["type"] = [*current, "null"] if isinstance(current, list) else [current, "null"]
    return schema


def _json_schema(tp: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(tp):
        cls = typing.cast(type, tp)
        hints = _hints(cls)
        props: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            prop = json_schema(hints[f.name])
            if f.metadata.get("doc"):
                prop["description"] = f.metadata["doc"]
            default = _default_of(f)
            if default is not None and default not in ((), {}):
                prop["default"] = default
            props[wire_name(f)] = prop
        return {"type": "object", "additionalProperties": False, "properties": props}
    if tp is LabelSelector:
        return {"$ref": "#/$defs/labelSelector"}
    origin = get_origin(tp)
    if origin is Literal:
        return {"enum": list(get_args(tp))}
    if origin in (tuple, list):
        return {"type": "array", "items": json_schema(get_args(tp)[0])}
    if origin in (dict, Mapping):
        return {"type": "object", "additionalProperties": json_schema(get_args(tp)[1])}
    scalars: dict[Any, dict[str, Any]] = {
        bool: {"type": "boolean"},
        int: {"type": "integer"},
        Int32: {"type": "integer", "minimum": INT_RANGES[Int32][0], "maximum": INT_RANGES[Int32][1]},
        UInt: {"type": "integer", "minimum": 0},
        float: {"type": "number"},
        str: {"type": "string"},
    }
    return dict(scalars.get(tp, {}))


LABEL_SELECTOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "operator"],
                "properties": {
                    "key": {"type": "string"},
                    "operator": {"enum": list(_SELECTOR_OPERATORS)},
                    "values": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return _plain(f.default)
    if f.default_factory is not dataclasses.MISSING:
        return _plain(f.default_factory())
    return None


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {wire_name(f): _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def type_label(tp: Any) -> str:
    """Short type text for the ``plugins`` listing."""
    _optional, tp = _is_optional(tp)
    if dataclasses.is_dataclass(tp):
        text = "object"
    elif tp is LabelSelector:
        text = "labelSelector"
    elif get_origin(tp) is Literal:
        text = "|".join(map(str, get_args(tp)))
    elif get_origin(tp) in (tuple, list):
        text = f"list[{type_label(get_args(tp)[0])}]"
    elif get_origin(tp) in (dict, Mapping):
        text = f"map[string]{type_label(get_args(tp)[1])}"
    else:
        text = {bool: "bool", int: "int", Int32: "int32", UInt: "uint", float: "float", str: "string"}.get(tp, str(tp))
    return text


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """One argument as ``tensile-deschedule plugins`` lists it: dotted wire path, type text, default and help."""

    path: str
    type: str
    default: Any
    doc: str


def describe(cls: type, prefix: str = "") -> list[FieldInfo]:
    """Flattened field list (nested objects as dotted paths) for human listings."""
    rows: list[FieldInfo] = []
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        path = _join(prefix, wire_name(f))
        tp = hints[f.name]
        rows.append(FieldInfo(path, type_label(tp), _default_of(f), str(f.metadata.get("doc", ""))))
        _opt, inner = _is_optional(tp)
        if dataclasses.is_dataclass(inner):
            rows.extend(describe(typing.cast(type, inner), path))
    return rows


def to_wire(value: Any) -> Any:
    """Dataclass instance back to its wire form (camelCase mappings)."""
    return _plain(value)
