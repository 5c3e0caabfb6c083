"""Filter and prioritize: the extender's two answers, from the fit summaries on the board.

Non-virtual candidates always pass, untouched and unscored by preference (they get the middle
score, so the extender's weight moves pods between virtual nodes, not between virtual and real
ones). A virtual node passes when its lower cluster has one node that fits the pod now
(:func:`provider.fit.judge.judge`), and also, undecided, when its summary cannot be used (missing,
stale, partial) or the pod's lower constraints name single nodes the summary no longer tells
apart: a fallback, counted, since the descheduler still catches what slips through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from provider.extender import api
from provider.extender.board import SummaryBoard
from provider.fit import judge, needs
from provider.metrics import ExtenderMetrics

NEUTRAL_SCORE = (api.MIN_SCORE + api.MAX_SCORE) // 2


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

    def decide(self, args: api.ExtenderArgs, *, count: bool) -> Decisions:
        pod_needs = needs.needs_of(args.pod)
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
            verdicts[name] = judge.judge(pod_needs, known.summary, cluster=known.cluster)
        return Decisions(verdicts, tuple(undecided), tuple(others))

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
