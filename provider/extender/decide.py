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
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

from provider.extender import api
from provider.extender.board import SummaryBoard
from provider.fit import judge, needs, summary
from provider.metrics import ExtenderMetrics

NEUTRAL_SCORE = (api.MIN_SCORE + api.MAX_SCORE) // 2
REMEMBERED_VERDICTS = 4096
"""Verdicts kept by (pod shape, virtual node): the pods of one ReplicaSet, and the prioritize call that
follows each filter call, are judged once per summary the virtual node publishes."""


def _shape(pod_needs: needs.PodNeeds) -> bytes:
    """What a verdict depends on besides the summary: requests and lower constraints, not the pod's name."""
    fields = (pod_needs.requests, pod_needs.node_selector, pod_needs.affinity_terms, pod_needs.tolerations)
    return orjson.dumps(fields, default=dict, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True)
class Decisions:
    """The verdicts of one call: per virtual node decided, and the names let through undecided."""

    verdicts: Mapping[str, judge.Verdict]
    undecided: tuple[str, ...]
    others: tuple[str, ...]
    """Candidates that are not virtual nodes."""


class Decider:
    """Answers filter and prioritize calls from ``board``; ``strategy`` is one of :data:`judge.STRATEGIES`."""

    def __init__(self, board: SummaryBoard, *, strategy: str, metrics: ExtenderMetrics) -> None:
        self._board = board
        self._strategy = strategy
        self._metrics = metrics
        self._verdicts: OrderedDict[tuple[bytes, str], tuple[summary.Summary, judge.Verdict]] = OrderedDict()
        self._lock = threading.Lock()

    def decide(self, args: api.ExtenderArgs, *, count: bool) -> Decisions:
        pod_needs = needs.needs_of(args.pod)
        shape = _shape(pod_needs)
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
            verdicts[name] = self._judged(pod_needs, (shape, name), known.summary, known.cluster)
        return Decisions(verdicts, tuple(undecided), tuple(others))

    def _judged(
        self, pod_needs: needs.PodNeeds, key: tuple[bytes, str], found: summary.Summary, cluster: str
    ) -> judge.Verdict:
        """The verdict for this pod shape on this summary, judged once (the summary object changes
        whenever its content does)."""
        with self._lock:
            hit = self._verdicts.get(key)
        if hit is not None and hit[0] is found:
            return hit[1]
        verdict = judge.judge(pod_needs, found, cluster=cluster)
        with self._lock:
            self._verdicts[key] = (found, verdict)
            self._verdicts.move_to_end(key)
            while len(self._verdicts) > REMEMBERED_VERDICTS:
                self._verdicts.popitem(last=False)
        return verdict

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
