"""Every eviction writer: what the evictor asks to carry out (or only record) an eviction.

:class:`ApiWriter` evicts through policy/v1 Eviction, writes Events and avoidance records;
a 429 from the Eviction API means a PodDisruptionBudget refused (reported as blocked, never
retried in the cycle), a 404 that the pod is already gone. :class:`DryRunRecorder` does no
I/O; :class:`FencedWriter` stops writing the moment a replica loses leadership.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from descheduler import avoidance, bodies, keys
from descheduler.kube import errors, paths, retry
from descheduler.kube.client import Kube
from descheduler.model import OwnerRef, Pod
from descheduler.report import Result

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    result: Result
    message: str = ""


Undo = Callable[[], None]
"""Takes back what a writer just recorded (an avoidance whose eviction did not happen)."""


class EvictionWriter(Protocol):
    """Carries out (or only records) evictions and avoidance records."""

    dry_run: bool

    def evict(self, pod: Pod, *, reason: str, grace_period_seconds: int | None) -> Outcome: ...

    def record_avoidance(self, pod: Pod, *, node: str, until: float) -> Undo | None:
        """Record "avoid ``node`` until ``until``" on the pod's owner; a way to take it back, if written."""


class DryRunRecorder:
    """Plans evictions without any I/O."""

    dry_run = True

    def evict(self, pod: Pod, *, reason: str, grace_period_seconds: int | None) -> Outcome:
        return Outcome(Result.PLANNED)

    def record_avoidance(self, pod: Pod, *, node: str, until: float) -> Undo | None:
        logger.debug("dry run: would avoid node %s for %s until %s", node, pod.key, until)
        return None


class FencedWriter:
    """Passes writes on only while ``allowed()`` says so.

    With leader election, a replica that loses the lease in the middle of a cycle must stop
    evicting at once, or it and the new leader would evict side by side; the rest of its
    cycle is reported as failed, and nothing more is written.
    """

    def __init__(self, inner: EvictionWriter, allowed: Callable[[], bool]) -> None:
        self.inner = inner
        self.allowed = allowed
        self.dry_run = inner.dry_run

    def evict(self, pod: Pod, *, reason: str, grace_period_seconds: int | None) -> Outcome:
        if not self.allowed():
            return Outcome(Result.FAILED, "not evicted: this replica is no longer the leader")
        return self.inner.evict(pod, reason=reason, grace_period_seconds=grace_period_seconds)

    def record_avoidance(self, pod: Pod, *, node: str, until: float) -> Undo | None:
        if not self.allowed():
            return None
        return self.inner.record_avoidance(pod, node=node, until=until)


REPORTING_CONTROLLER = "tensile.io/descheduler"


class ApiWriter:
    dry_run = False

    def __init__(self, kube: Kube, *, record_events: bool = True, failure_events: bool = False) -> None:
        self.kube = kube
        self.record_events = record_events
        self.failure_events = failure_events
        """evictionFailureEventNotification: a Warning Event on pods whose eviction failed."""
        self.instance = socket.gethostname()

    def evict(self, pod: Pod, *, reason: str, grace_period_seconds: int | None) -> Outcome:
        body: dict[str, Any] = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": pod.name, "namespace": pod.namespace},
        }
        if grace_period_seconds is not None:
            body["deleteOptions"] = {"gracePeriodSeconds": grace_period_seconds}
        try:
            self.kube.post(paths.pod(pod.namespace, pod.name, "eviction"), body, policy=retry.EVICTIONS)
        except errors.TooManyRequestsError as exc:
            return self._failed(pod, Outcome(Result.BLOCKED, exc.message))
        except errors.NotFoundError:
            return Outcome(Result.GONE, "pod no longer exists")
        except errors.ApiError as exc:
            return self._failed(pod, Outcome(Result.FAILED, str(exc)))
        if self.record_events:
            self._event(pod, f"pod evicted from {pod.node_name or 'no'} node by tensile-deschedule: {reason}")
        return Outcome(Result.EVICTED)

    def _failed(self, pod: Pod, outcome: Outcome) -> Outcome:
        if self.failure_events:
            note = f"eviction by tensile-deschedule failed: {outcome.message}"
            self._event(pod, note, reason="EvictionFailed", event_type="Warning")
        return outcome

    def _event(self, pod: Pod, note: str, *, reason: str = "Descheduled", event_type: str = "Normal") -> None:
        now = time.time()
        event = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            # Named like client-go's recorder does: <object>.<unix nanos in hex>.
            "metadata": {"name": f"{pod.name}.{time.time_ns():x}", "namespace": pod.namespace},
            "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z",
            "reportingController": REPORTING_CONTROLLER,
            "reportingInstance": self.instance,
            "action": "Descheduled",
            "reason": reason,
            "type": event_type,
            "note": note[:1024],
            "regarding": {
                "apiVersion": "v1",
                "kind": "Pod",
                "namespace": pod.namespace,
                "name": pod.name,
                "uid": pod.uid,
            },
        }
        try:
            self.kube.post(paths.events(pod.namespace), event, policy=retry.NO_RETRY)
        except errors.ApiError as exc:
            logger.warning("could not record an Event for %s: %s", pod.key, exc)

    def record_avoidance(self, pod: Pod, *, node: str, until: float) -> Undo | None:
        """Write "avoid ``node`` until ``until``" on the pod's owner; the returned call takes it back."""
        owner = pod.controller
        path = paths.owner(owner.kind, pod.namespace, owner.name) if owner is not None else None
        if owner is None or path is None:
            logger.info("no avoidance recorded for %s: owner kind is not supported", pod.key)
            return None
        previous: list[float | None] = []

        def add(record: avoidance.Record) -> avoidance.Record:
            previous[:] = [record.get(node)]
            return avoidance.add(record, node, until, now=time.time())

        if not self._update_avoidance(path, owner, add, what=f"record avoidance of {node}"):
            return None

        def undo() -> None:
            def withdraw(record: avoidance.Record) -> avoidance.Record:
                return avoidance.withdraw(record, node, until, previous[0], now=time.time())

            self._update_avoidance(path, owner, withdraw, what=f"withdraw avoidance of {node} (it expires by itself)")

        return undo

    def _update_avoidance(
        self, path: str, owner: OwnerRef, change: Callable[[avoidance.Record], avoidance.Record], *, what: str
    ) -> bool:
        """Read-modify-write of the owner's record with its resourceVersion; True when written."""
        for _attempt in range(3):
            try:
                self._patch_avoidance(path, owner, change)
                return True
            except errors.ConflictError:
                continue
            except errors.ApiError as exc:
                logger.warning("could not %s on %s %s: %s", what, owner.kind, owner.name, exc)
                return False
        logger.warning("could not %s on %s %s: it kept changing", what, owner.kind, owner.name)
        return False

    def _patch_avoidance(
        self, path: str, owner: OwnerRef, change: Callable[[avoidance.Record], avoidance.Record]
    ) -> None:
        current = self.kube.get(path)
        meta = bodies.metadata_of(current)
        if owner.uid and meta.get("uid") != owner.uid:
            raise errors.NotFoundError(404, "NotFound", f"{owner.kind} {owner.name} was replaced")
        record = avoidance.decode((meta.get("annotations") or {}).get(keys.AVOID_NODES_ANNOTATION))
        patch = {
            "metadata": {
                "resourceVersion": meta.get("resourceVersion"),
                "annotations": {keys.AVOID_NODES_ANNOTATION: avoidance.encode(change(record))},
            }
        }
        self.kube.patch(path, patch)
