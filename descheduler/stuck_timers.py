"""A timer per pod that may get stuck behind a virtual node, for the long-lived mode.

PendingOnVirtualNode evicts a pod once it has been ``PodScheduled=False`` (Unschedulable,
SchedulerError) for ``minTimeSinceLastTransitionSeconds``, or Pending for ``maxPendingSeconds``;
a cycle every interval finds it up to one interval late. :class:`StuckPodTimers` hears every pod
change from the watch cache, keeps for each pod the moment it would turn stuck
(:func:`descheduler.plugins.pending_on_virtual_node.due_at`, for each profile's arguments), and when
that moment comes calls ``fire`` once (the app runs PendingOnVirtualNode then, within the
daemon's one-cycle-at-a-time rule and the leader's fence). One thread sleeps until the earliest
moment; a change moves or drops the pod's timer, a deleted pod drops it.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import threading
import time
from collections.abc import Callable, Sequence

from descheduler.kube import informer
from descheduler.model import Pod
from descheduler.plugins import pending_on_virtual_node as stuck
from descheduler.policy import types as policy_types

logger = logging.getLogger(__name__)

SLACK_SECONDS = 0.05
"""Fire this much after the moment, so the cycle's own clock has passed it too."""


class StuckPodTimers:
    """The moment each watched pod would turn stuck, and a thread that calls ``fire`` at the earliest."""

    def __init__(
        self,
        args: Sequence[stuck.Args],
        fire: Callable[[list[str]], None],
        *,
        on_virtual_node: Callable[[str], bool] = lambda _node: True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.args = tuple(args)
        self.fire = fire
        self.on_virtual_node = on_virtual_node
        self.clock = clock
        self._due: dict[str, tuple[float, str]] = {}
        """pod uid -> (moment, namespace/name) of its timer."""
        self._fired: dict[str, float] = {}
        """pod uid -> the moment its timer fired: the same moment never fires twice."""
        self._heap: list[tuple[float, str]] = []
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def on_pod(self, event_type: informer.EventType, pod: Pod) -> None:
        """A watch cache's handler: set, move or drop ``pod``'s timer."""
        moment = None if event_type == "DELETED" else self._moment(pod)
        with self._changed:
            if moment is None:
                self._due.pop(pod.uid, None)
                self._fired.pop(pod.uid, None)
                return
            if self._due.get(pod.uid, (None, ""))[0] == moment or self._fired.get(pod.uid) == moment:
                return
            self._due[pod.uid] = (moment, pod.key)
            heapq.heappush(self._heap, (moment, pod.uid))
            self._changed.notify()

    def _moment(self, pod: Pod) -> float | None:
        if not pod.node_name or not self.on_virtual_node(pod.node_name):
            return None
        moments = [m for m in (stuck.due_at(pod, a) for a in self.args) if m is not None]
        return min(moments) if moments else None

    def pending(self) -> int:
        """How many pods have a timer."""
        with self._changed:
            return len(self._due)

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(target=self._run, args=(stop,), name="stuck-pod-timers", daemon=True)
        self._thread.start()

        def wake_on_stop() -> None:
            stop.wait()
            with self._changed:
                self._changed.notify()

        threading.Thread(target=wake_on_stop, name="stuck-pod-timers-stop", daemon=True).start()

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            due = self._take_due()
            if due:
                logger.info("%d pod(s) reached their stuck threshold: %s", len(due), ", ".join(due[:5]))
                try:
                    self.fire(due)
                except Exception:
                    logger.exception("running PendingOnVirtualNode for pods past their threshold failed")

    def _take_due(self) -> list[str]:
        """Wait until the earliest timer is due (or a change); the pods due now, their timers dropped."""
        with self._changed:
            while self._heap:
                moment, uid = self._heap[0]
                if self._due.get(uid, (None, ""))[0] != moment:
                    heapq.heappop(self._heap)  # moved or dropped since
                    continue
                wait = moment + SLACK_SECONDS - self.clock()
                if wait > 0:
                    self._changed.wait(timeout=wait)
                    return []
                break
            else:
                self._changed.wait(timeout=60.0)
                return []
            due = []
            now = self.clock()
            while self._heap and self._heap[0][0] + SLACK_SECONDS <= now:
                moment, uid = heapq.heappop(self._heap)
                entry = self._due.get(uid)
                if entry is not None and entry[0] == moment:
                    due.append(entry[1])
                    del self._due[uid]
                    self._fired[uid] = moment
            return due


def stuck_only(policy: policy_types.Policy) -> policy_types.Policy | None:
    """The policy cut down to PendingOnVirtualNode in the profiles that enable it, or None if none does.

    What a timer's run plans: the same arguments, evictor rules and limits as the policy's cycles."""
    profiles = tuple(
        dataclasses.replace(p, deschedule=(stuck.NAME,), balance=())
        for p in policy.profiles
        if stuck.NAME in p.deschedule
    )
    return dataclasses.replace(policy, profiles=profiles) if profiles else None


def arguments(policy: policy_types.Policy) -> list[stuck.Args]:
    """PendingOnVirtualNode's arguments in each profile that enables it."""
    return [p.args[stuck.NAME] for p in policy.profiles if stuck.NAME in p.deschedule]
