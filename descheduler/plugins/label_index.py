"""Pods grouped by identical label sets, for plugins that match many selectors against one namespace.

Used by RemovePodsViolatingInterPodAntiAffinity (anti-affinity terms) and
RemovePodsViolatingTopologySpreadConstraint (spread constraints narrowed by ``matchLabelKeys``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from descheduler import matching
from descheduler.model import Pod


class LabelIndex:
    """Pods of one namespace grouped by identical label sets, with (key, value) -> groups postings.

    Replicas share their labels, so a selector is evaluated once per group, and only on the
    groups that carry one of its required labels.
    """

    def __init__(self, pods: Iterable[Pod]) -> None:
        groups: dict[frozenset[tuple[str, str]], list[Pod]] = {}
        for pod in pods:
            groups.setdefault(frozenset(pod.labels.items()), []).append(pod)
        self.groups = [(members[0].labels, members) for members in groups.values()]
        self.postings: dict[tuple[str, str], list[int]] = {}
        for i, (labels, _members) in enumerate(self.groups):
            for item in labels.items():
                self.postings.setdefault(item, []).append(i)

    def _narrowest(self, selector: Mapping[str, Any], extra_labels: Sequence[tuple[str, str]]) -> Sequence[int]:
        """The fewest groups that can match: a required label's postings, else every group."""
        required = [*(selector.get("matchLabels") or {}).items(), *extra_labels]
        options = [self.postings.get(item, []) for item in required]
        for expr in selector.get("matchExpressions") or ():
            if expr.get("operator") == "In":
                key = expr.get("key", "")
                groups = (i for v in expr.get("values") or () for i in self.postings.get((key, v), []))
                options.append(list(dict.fromkeys(groups)))
        return min(options, key=len) if options else range(len(self.groups))

    def matching(
        self, selector: Mapping[str, Any] | None, *, extra_labels: Sequence[tuple[str, str]] = ()
    ) -> list[Pod]:
        """Pods whose labels match ``selector`` and carry every ``extra_labels`` pair, in group order.

        A nil selector matches nothing, as in the Kubernetes API.
        """
        if selector is None:
            return []
        found: list[Pod] = []
        for i in self._narrowest(selector, extra_labels):
            labels, members = self.groups[i]
            if matching.selector_matches(selector, labels) and all(labels.get(k) == v for k, v in extra_labels):
                found.extend(members)
        return found
