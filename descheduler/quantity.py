"""Kubernetes resource quantities parsed once into integers.

CPU is kept in millicores and everything else in base units (bytes, counts), as the
scheduler does, so that hot loops over 150k pods compare plain ints. Parsing is cached:
real clusters repeat a handful of request sizes.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

CPU = "cpu"
MEMORY = "memory"
PODS = "pods"
EPHEMERAL_STORAGE = "ephemeral-storage"

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_PATTERN = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$")


@lru_cache(maxsize=4096)
def parse_decimal(text: str) -> Decimal:
    """Parse a quantity string into an exact Decimal; ValueError names the bad part."""
    match = _PATTERN.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"invalid quantity {text!r}: expected a number with an optional suffix like 500m, 2Gi, 1e3")
    number, exponent, suffix = match.groups()
    try:
        value = Decimal(number)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guarantees a number
        raise ValueError(f"invalid quantity {text!r}") from exc
    if exponent:
        return value * (Decimal(10) ** int(exponent[1:]))
    if suffix in _BINARY:
        return value * _BINARY[suffix]
    return value * _DECIMAL[suffix or ""]


def to_int(value: str | int | float, resource: str) -> int:
    """A quantity in tensile's integer unit for ``resource`` (millicores for cpu), rounded up."""
    if isinstance(value, bool):
        raise ValueError(f"invalid quantity {value!r}")
    if isinstance(value, int):
        return value * 1000 if resource == CPU else value
    if isinstance(value, float):
        return math.ceil(value * 1000) if resource == CPU else math.ceil(value)
    return _to_int_cached(value, resource == CPU)


@lru_cache(maxsize=8192)
def _to_int_cached(text: str, milli: bool) -> int:
    amount = parse_decimal(text)
    if milli:
        amount *= 1000
    return math.ceil(amount)


def format_amount(amount: int, resource: str) -> str:
    """Human form for reports: cpu as cores/millicores, memory in Mi/Gi."""
    if resource == CPU:
        return f"{amount // 1000}" if amount % 1000 == 0 else f"{amount}m"
    if resource in (MEMORY, EPHEMERAL_STORAGE):
        for suffix, factor in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if amount % factor == 0 and amount >= factor:
                return f"{amount // factor}{suffix}"
    return str(amount)
