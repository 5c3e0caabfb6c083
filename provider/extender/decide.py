"""Filter and prioritize: the extender's two answers, from the fit summaries on the board.

Non-virtual candidates always pass, untouched and unscored by preference (they get the middle
score, so the extender's weight moves pods between virtual nodes, not between virtual and real
ones). A virtual node passes when its lower cluster has one node that fits the pod now
(:func:`provider.fit.judge.judge`), and also, undecided, when its summary cannot be used (missing,
stale, partial) or the pod's lower constraints name single nodes the summary no longer tells
apart: a fallback, counted, since the descheduler still catches what slips through.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from provider.extender import api
from provider.extender.board import SummaryBoard
from provider.fit import judge, needs
from provider.metrics import ExtenderMetrics

NEUTRAL_SCORE = (api.MIN_SCORE + api.MAX_SCORE) // 2
REMEMBER_SECONDS = 0.5
"""Verdicts of a filter call are reused by the prioritize call for the same pod within this long (the
scheduler sends both in one scheduling cycle): half the work per pod, on lower state no older."""
REMEMBERED_PODS = 256


def _pod_key(pod: Mapping[str, Any]) -> tuple[str, str]:
    meta = pod.get("metadata") or {}
    return str(meta.get("uid") or ""), str(meta.get("resourceVersion") or "")


@dataclass(frozen=True)
class Decisions:
    """The verdicts of one call: per virtual node decided, and the names let through undecided."""

    verdicts: Mapping[str, judge.Verdict]
    undecided: tuple[str, ...]
    others: tuple[str, ...]
    """Candidates that are not virtual nodes."""


class Decider:
    """Answers filter and prioritize calls from ``board``; ``strategy`` is one of :data:`judge.STRATEGIES`."""

    def __init__(
        self,
        board: SummaryBoard,
        *,
        strategy: str,
        metrics: ExtenderMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._board = board
        self._strategy = strategy
        self._metrics = metrics
        self._clock = clock
        self._recent: OrderedDict[tuple[str, str], tuple[float, dict[str, judge.Verdict]]] = OrderedDict()
        """The verdicts of the last filter calls, by pod uid and resourceVersion: prioritize comes right after."""
        self._lock = threading.Lock()

    def decide(self, args: api.ExtenderArgs, *, count: bool) -> Decisions:
        pod_needs = needs.needs_of(args.pod)
        key = _pod_key(args.pod)
        known_verdicts = self._remembered(key)
        verdicts: dict[str, judge.Verdict] = {}
        undecided: list[str] = []
        others: list[str] = []
        for name in args.node_names:
            if not self._board.is_virtual(name):
                others.append(name)
                continue
            known = self._board.known(name)
            why = known.problem or ("by hostname" if pod_needs.by_hostname else None)
            if known.summary is None or why is not None:
                undecided.append(name)
                if count:
                    self._metrics.fell_back(why or "no summary")
                continue
            remembered = known_verdicts.get(name)
            verdicts[name] = remembered or judge.judge(pod_needs, known.summary, cluster=known.cluster)
        self._remember(key, verdicts)
        return Decisions(verdicts, tuple(undecided), tuple(others))

    def _remembered(self, key: tuple[str, str]) -> dict[str, judge.Verdict]:
        with self._lock:
            found = self._recent.get(key)
        if found is None or self._clock() - found[0] > REMEMBER_SECONDS:
            return {}
        return found[1]

    def _remember(self, key: tuple[str, str], verdicts: dict[str, judge.Verdict]) -> None:
        if not key[0]:
            return
        with self._lock:
            self._recent[key] = (self._clock(), verdicts)
            self._recent.move_to_end(key)
            while len(self._recent) > REMEMBERED_PODS:
                self._recent.popitem(last=False)

    def filter(self, args: api.ExtenderArgs) -> api.FilterResult:
        decided = self.decide(args, count=True)
        failed: dict[str, str] = {}
        unresolvable: dict[str, str] = {}
        for name, verdict in decided.verdicts.items():
            if verdict.fits:
                continue
            (failed if verdict.resolvable else unresolvable)[name] = verdict.reason
            self._metrics.struck_out("blocked" if verdict.resolvable else "unresolvable")
        passing = tuple(n for n in args.node_names if n not in failed and n not in unresolvable)
        return api.FilterResult(node_names=passing, failed=failed, unresolvable=unresolvable)

    def prioritize(self, args: api.ExtenderArgs) -> dict[str, int]:
        decided = self.decide(args, count=False)
        fitting = {name: v for name, v in decided.verdicts.items() if v.fits}
        scored = judge.scores(fitting, self._strategy)
        return {name: scored.get(name, NEUTRAL_SCORE) for name in args.node_names}
