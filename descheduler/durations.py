"""Go duration strings (``time.ParseDuration``: ``30s``, ``5m``, ``1h30m``, ``1.5h``, ``-2m``)
in seconds: the one parser for flags (intervals, leases) and for policy arguments (minPodAge)."""

from __future__ import annotations

import re

from descheduler import wording

_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)"
_WHOLE = re.compile(f"(?:{_PART})+")


def parse_duration(text: str) -> float:
    """Seconds, signed as Go allows; ValueError naming the text (shortened) for anything else."""
    sign = -1.0 if text.startswith("-") else 1.0
    body = text[1:] if text.startswith(("-", "+")) else text
    if body == "0":
        return 0.0
    if not _WHOLE.fullmatch(body):
        raise ValueError(f"invalid duration {wording.shown(text)} (use e.g. 30s, 5m, 1h30m)")
    return sign * sum(float(number) * _UNIT_SECONDS[unit] for number, unit in re.findall(_PART, body))
