"""What the extender knows of each virtual node's lower cluster: the published fit summaries.

Two watches of the upper cluster only: the virtual Nodes (which candidate nodes are virtual, and
the name of the lower cluster behind each) and the fit-summary Leases their providers renew
(:mod:`provider.node.fit_publisher`). A summary is trusted while its Lease was seen changing less
than :data:`STALE_SECONDS` ago, timed by this process's own clock when the change arrived (as
client-go's leader election does), so clocks of other machines never matter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from descheduler import keys
from descheduler.kube import paths
from descheduler.kube.client import Kube
from provider.fit import summary
from provider.kube.informer import Informer
from provider.kube.objects import EventType, ObjectKey, RawObject, metadata

STALE_SECONDS = 2.0
"""A summary older than this is not used: decisions rest on lower state at most this old."""

Problem = Literal["no summary", "stale", "partial", "unreadable"]


@dataclass(frozen=True)
class Known:
    """One virtual node as the extender sees it: its summary, or why there is none to use."""

    cluster: str
    summary: summary.Summary | None
    problem: Problem | None = None


@dataclass
class _Entry:
    summary: summary.Summary | None
    problem: Problem | None
    seen: float
    version: str
    text: str


class SummaryBoard:
    """The latest fit summary of every virtual node, with the local time it last changed."""

    def __init__(
        self, *, node_of: Callable[[str], RawObject | None], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._node_of = node_of
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def is_virtual(self, node_name: str) -> bool:
        return self._node_of(node_name) is not None

    def on_lease(self, event: EventType, obj: RawObject) -> None:
        meta = metadata(obj)
        node = str((meta.get("labels") or {}).get(keys.VIRTUAL_NODE_LABEL) or "")
        if not node:
            return
        with self._lock:
            if event == "DELETED":
                self._entries.pop(node, None)
                return
            version = str(meta.get("resourceVersion") or "")
            before = self._entries.get(node)
            if before is not None and before.version == version:
                return
        text = str((meta.get("annotations") or {}).get(keys.FIT_SUMMARY_ANNOTATION) or "")
        if before is not None and before.text == text:  # a heartbeat: the summary is as it was
            with self._lock:
                self._entries[node] = _Entry(before.summary, before.problem, self._clock(), version, text)
            return
        found: summary.Summary | None = None
        problem: Problem | None = None
        try:
            found = summary.from_json(text)
        except summary.SummaryError:
            problem = "unreadable"
        if found is not None and found.partial:
            problem = "partial"
        with self._lock:
            self._entries[node] = _Entry(found, problem, self._clock(), version, text)

    def known(self, node_name: str) -> Known:
        """What is known of virtual node ``node_name`` (call only for virtual nodes)."""
        node = self._node_of(node_name)
        labels = (metadata(node).get("labels") or {}) if node is not None else {}
        cluster = str(labels.get(keys.LOWER_CLUSTER_LABEL) or node_name)
        with self._lock:
            entry = self._entries.get(node_name)
        if entry is None:
            return Known(cluster, None, "no summary")
        if entry.problem is not None:
            return Known(cluster, None, entry.problem)
        if self._clock() - entry.seen > STALE_SECONDS:
            return Known(cluster, None, "stale")
        return Known(cluster, entry.summary)


class BoardWatches:
    """The two upper watches that feed a :class:`SummaryBoard`: virtual Nodes and fit-summary Leases."""

    def __init__(self, upper: Kube, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.nodes = Informer(
            upper,
            paths.node(),
            "virtual-nodes",
            {"labelSelector": f"{keys.VIRTUAL_NODE_TYPE_LABEL}={keys.VIRTUAL_NODE_TYPE_VALUE}"},
        )
        self.board = SummaryBoard(node_of=lambda name: self.nodes.get(ObjectKey("", name)), clock=clock)
        self.leases = Informer(
            upper,
            paths.lease(keys.NODE_LEASE_NAMESPACE),
            "fit-summaries",
            {"labelSelector": f"{keys.FIT_SUMMARY_LABEL}=true"},
            self.board.on_lease,
        )

    def informers(self) -> list[Informer]:
        return [self.nodes, self.leases]

    def synced(self) -> bool:
        return all(informer.synced.is_set() for informer in self.informers())
