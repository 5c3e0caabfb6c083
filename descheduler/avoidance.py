"""The "avoid virtual node V until T" record kept on a pod's controlling owner.

Stored as JSON ``{"node": "RFC 3339 expiry", ...}`` in the annotation
``tensile.io/avoid-nodes`` (see :mod:`descheduler.keys`). Pure functions: the clock is a
parameter. Written by the evictor's API writer, read by the admission webhook.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

Record = dict[str, float]


def format_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decode(text: str | None) -> Record:
    """Parse the annotation; anything malformed counts as no record (never blocks scheduling)."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(raw, dict):
        return {}
    record: Record = {}
    for node, expiry in raw.items():
        try:
            record[str(node)] = datetime.fromisoformat(str(expiry).replace("Z", "+00:00")).timestamp()
        except ValueError:
            continue
    return record


def encode(record: Record) -> str:
    return json.dumps({node: format_time(expiry) for node, expiry in sorted(record.items())}, sort_keys=True)


def live(record: Record, *, now: float) -> Record:
    return {node: expiry for node, expiry in record.items() if expiry > now}


def add(record: Record, node: str, until: float, *, now: float) -> Record:
    """Live entries plus ``node`` until the later of its old and new expiry."""
    updated = live(record, now=now)
    updated[node] = max(until, updated.get(node, 0.0))
    return updated


def withdraw(record: Record, node: str, until: float, previous: float | None, *, now: float) -> Record:
    """Undo :func:`add` of ``node`` until ``until``: back to ``previous`` (or gone), unless extended since."""
    updated = live(record, now=now)
    if node in updated and format_time(updated[node]) == format_time(until):
        if previous is not None and previous > now:
            updated[node] = previous
        else:
            del updated[node]
    return updated
