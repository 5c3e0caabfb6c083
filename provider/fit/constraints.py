"""The lower scheduling constraints of an upper pod: the swap the mirror makes (DESIGN.md §3).

Node constraints in the upper spec address *virtual* nodes, so the mirror drops them and takes
the ones the admission webhook stashed in ``tensile.io/lower-constraints``. The lower scheduler
sees exactly that result, so :mod:`provider.pods.mirror` builds the mirror from it and
:mod:`provider.fit.needs` judges it: one code path for both.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from descheduler import keys

Raw = dict[str, Any]

# nodeSelector keys that describe the pod's binaries rather than a node, so they hold below too.
PLATFORM_LABELS = frozenset({keys.OS_LABEL, keys.ARCH_LABEL})
_STASH_SHAPES: dict[str, tuple[type, str]] = {
    "nodeSelector": (dict, "dict"),
    "nodeAffinity": (dict, "dict"),
    "tolerations": (list, "list"),
}


@dataclass(frozen=True)
class Constraints:
    """What the lower scheduler sees of a mirror: its nodeSelector, affinity and tolerations.

    Each field is None when the mirror's spec leaves it out. ``problems`` lists the parts of the
    stash that were ignored, one line each, for the caller to log: a bad stash never blocks.
    """

    node_selector: Raw | None
    """The platform entries of the upper nodeSelector plus the stashed ones."""
    affinity: Raw | None
    """The upper affinity with its nodeAffinity replaced by the stashed one."""
    tolerations: list[Raw] | None
    """The upper tolerations plus the stashed ones not already present."""
    problems: tuple[str, ...] = ()


def lower_constraints(spec: Mapping[str, Any], annotations: Mapping[str, str]) -> Constraints:
    """The lower constraints of an upper pod spec and its annotations (neither is changed)."""
    stash, problems = _stash(annotations.get(keys.STASHED_CONSTRAINTS_ANNOTATION))
    selector = {k: v for k, v in (spec.get("nodeSelector") or {}).items() if k in PLATFORM_LABELS}
    selector.update(stash.get("nodeSelector") or {})
    affinity = copy.deepcopy(dict(spec.get("affinity") or {}))
    affinity.pop("nodeAffinity", None)
    if stash.get("nodeAffinity"):
        affinity["nodeAffinity"] = stash["nodeAffinity"]
    tolerations = copy.deepcopy(list(spec.get("tolerations") or ()))
    # Extra tolerations only permit, so keeping the upper ones is harmless below.
    tolerations += [t for t in stash.get("tolerations") or () if t not in tolerations]
    return Constraints(
        node_selector=selector or None,
        affinity=affinity or None,
        tolerations=tolerations or None,
        problems=problems,
    )


def _stash(text: str | None) -> tuple[Raw, tuple[str, ...]]:
    """The webhook's stash, keeping only well-formed parts, and a line for each part ignored."""
    if not text:
        return {}, ()
    try:
        raw = json.loads(text)
    except ValueError:
        raw = None
    if not isinstance(raw, dict):
        return {}, (f"ignoring {keys.STASHED_CONSTRAINTS_ANNOTATION}: not a JSON object",)
    stash: Raw = {}
    problems: list[str] = []
    for name, (shape, shape_name) in _STASH_SHAPES.items():
        value = raw.get(name)
        if isinstance(value, shape):
            stash[name] = copy.deepcopy(value)
        elif value is not None:
            problems.append(f"ignoring {keys.STASHED_CONSTRAINTS_ANNOTATION}.{name}: not a JSON {shape_name}")
    return stash, tuple(problems)
