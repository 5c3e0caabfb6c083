"""How input values are named and shown in messages to users: type words in the user's
terms (a YAML/JSON user knows "a list", not ``list`` or ``NoneType``) and values shortened
so that a huge or self-referencing value never floods, or hangs, an error message.

Used by the policy and snapshot decoders and by :mod:`descheduler.documents`.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Mapping

MAX_SHOWN = 60
"""Characters of a value echoed in a message; the rest is elided."""


def type_word(value: object) -> str:
    """What the value is, as a YAML/JSON user would say it: 'a string', 'a list', 'null'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, datetime.date):
        return "a timestamp"
    if isinstance(value, bytes | bytearray):
        return "binary data"
    return "an unsupported value"


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """A short rendering of ``value`` for a message, at most about ``limit`` characters.

    Walks containers with a budget instead of calling ``repr`` on them, so a YAML alias
    bomb (a few lines that expand to billions of nodes) is shown in microseconds.
    """
    parts: list[str] = []
    _render(value, parts, [limit])
    text = "".join(parts)
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def _render(value: object, out: list[str], budget: list[int]) -> None:
    if budget[0] <= 0:
        return
    if isinstance(value, Mapping):
        _render_items(value.items(), "{", "}", out, budget)
    elif isinstance(value, list | tuple):
        _render_items(((None, v) for v in value), "[", "]", out, budget)
    else:
        text = _scalar(value)
        out.append(text[: budget[0] + 1])
        budget[0] -= len(text)


def _render_items(
    items: Iterable[tuple[object, object]], open_: str, close: str, out: list[str], budget: list[int]
) -> None:
    out.append(open_)
    budget[0] -= 1
    for index, (key, item) in enumerate(items):
        if budget[0] <= 0:
            out.append("…")
            return
        if index:
            out.append(", ")
            budget[0] -= 2
        if key is not None:
            _render(key, out, budget)
            out.append(": ")
            budget[0] -= 2
        _render(item, out, budget)
    out.append(close)
    budget[0] -= 1


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int) and value.bit_length() > 200:
        # str() of a huge int is slow, and refused past 4,300 digits: estimate instead.
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, str):
        return repr(value if len(value) <= 200 else value[:200])
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return type_word(value)
