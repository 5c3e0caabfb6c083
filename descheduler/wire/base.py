"""What every wire Struct builds on: the base class, the checked field types, object metadata,
and the three ways in and out (:func:`convert`, :func:`decoder`, :func:`to_plain`).

As in Kubernetes' Go decoding, a ``null`` collection means empty. :func:`convert` and
:func:`decoder` raise :class:`descheduler.wire_errors.ObjectError` naming the field in the
user's terms.
"""

from __future__ import annotations

import datetime
import functools
import math
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

import msgspec

from descheduler import quantity, wire_errors, wording

W = TypeVar("W", bound="Wire")
Name = Annotated[str, msgspec.Meta(min_length=1)]
Int32 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]
Count = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
Timestamp = Annotated[datetime.datetime, msgspec.Meta(tz=True)]
Quantity = str | int | float
ResourceList = dict[str, Quantity]


class Wire(msgspec.Struct, rename="camel", gc=False):
    """Base of every wire Struct: camelCase names, no cycles (so not tracked by the GC). Read, never changed."""


def check_resources(resources: ResourceList | None, where: str) -> None:
    """Every quantity must parse and be finite and non-negative; ValueError names the resource."""
    if not resources:
        return
    for name, value in resources.items():
        problem = _text_problem(value, name) if isinstance(value, str) else _quantity_problem(value, name)
        if problem is not None:
            raise ValueError(f"{where}.{name}: {problem}")


@functools.lru_cache(maxsize=8192)
def _text_problem(text: str, name: str) -> str | None:
    """Cached: 150k pods repeat a handful of quantity strings in their requests and limits."""
    return _quantity_problem(text, name)


def _quantity_problem(value: Quantity, name: str) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite quantity, got {wording.shown(value)}"
    try:
        amount = quantity.to_int(value, name)
    except ValueError as exc:
        return str(exc)
    if amount < 0:
        return f"must not be negative, got {wording.shown(value)}"
    return None


# -- metadata ------------------------------------------------------------------------------


class OwnerReference(Wire):
    """``metadata.ownerReferences[]``: who owns the object; ``controller`` marks the one that replaces it."""

    kind: str
    name: str
    uid: str = ""
    controller: bool | None = None


class ObjectMeta(Wire):
    """``metadata``: identity, labels, annotations, owners, and when the object was created and deleted."""

    name: Name
    namespace: str = ""
    uid: str = ""
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    owner_references: list[OwnerReference] | None = None
    creation_timestamp: Timestamp | None = None
    deletion_timestamp: Timestamp | None = None


class Object(Wire):
    """A top-level object of a kind tensile reads: it always has metadata."""

    metadata: ObjectMeta


def convert(raw: object, cls: type[W]) -> W:
    """An already parsed object (YAML, a watch event) as ``cls``; ObjectError when it has the wrong shape."""
    try:
        return msgspec.convert(raw, cls)
    except msgspec.ValidationError as exc:
        raise wire_errors.ObjectError(*wire_errors.problem_of(exc)) from None


def decoder(cls: type[W]) -> Callable[[bytes | memoryview], W]:
    """A JSON decoder straight into ``cls`` (no dict tree); it raises ObjectError for a wrong shape."""
    decode = msgspec.json.Decoder(cls).decode

    def decode_checked(data: bytes | memoryview) -> W:
        try:
            return decode(data)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise wire_errors.ObjectError(*wire_errors.problem_of(exc)) from None

    return decode_checked


def to_plain(value: Wire | Sequence[Wire] | None) -> Any:
    """A Struct back to the plain camelCase mapping the matching code reads (absent fields as None)."""
    return msgspec.to_builtins(value)
