"""One descheduling cycle: state -> profiles -> evictor/writer -> report.

The runner alone chooses between the API writer and the dry-run recorder; plugins
never see the mode.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Iterator

from descheduler import matching, utilisation
from descheduler import metrics as metering
from descheduler.cluster.sources import StateSource
from descheduler.cluster.state import ClusterState
from descheduler.evictor import limits
from descheduler.evictor.evictor import Evictor
from descheduler.evictor.writers import EvictionWriter
from descheduler.framework.profile import run_profiles
from descheduler.framework.registry import Registry
from descheduler.kube import retry
from descheduler.model import Node
from descheduler.policy.types import Policy
from descheduler.report import Report

logger = logging.getLogger(__name__)

DEFAULT_CYCLE_TIMEOUT = 30.0
"""Seconds a cycle may take, API calls and evictions included: a silent API server fails the
cycle instead of hanging it. A live dry run on 20k pods takes about 6 s."""


def eligible_nodes(state: ClusterState, policy: Policy) -> list[Node]:
    """Ready nodes matching the policy's nodeSelector, as upstream's ReadyNodes."""
    nodes = [n for n in state.nodes.values() if n.ready]
    if policy.node_selector is not None:
        nodes = [n for n in nodes if matching.selector_matches(policy.node_selector, n.labels)]
    return sorted(nodes, key=lambda n: n.name)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a cycle builds millions of small objects.

    Each generation-2 pass walks every live object, so at 150k pods repeated passes cost
    more than the whole plan. A cycle creates no reference cycles worth collecting early;
    collection resumes afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def run_cycle(
    policy: Policy,
    registry: Registry,
    source: StateSource,
    writer: EvictionWriter,
    *,
    now: float | None = None,
    metrics: metering.Metrics | None = None,
    timeout: float | None = DEFAULT_CYCLE_TIMEOUT,
) -> Report:
    """One cycle on freshly read state; its decisions and timings go to ``metrics`` when given.

    ``timeout`` is the cycle's own deadline (None: none): no API request starts after it, and
    each one is cut to the time left (:func:`descheduler.kube.retry.deadline`), so a silent
    server raises ``DeadlineExceededError`` instead of hanging the cycle.
    """
    with paused_gc(), retry.deadline(timeout):
        report = _run_cycle(policy, registry, source, writer, now=now, metrics=metrics)
    if metrics is not None:
        metrics.record_report(report)
    return report


def _run_cycle(
    policy: Policy,
    registry: Registry,
    source: StateSource,
    writer: EvictionWriter,
    *,
    now: float | None,
    metrics: metering.Metrics | None,
) -> Report:
    started = time.monotonic()
    state = source.load(now=time.time() if now is None else now)
    loaded = time.monotonic()
    logger.debug("cluster state loaded in %.2fs", loaded - started)
    report = Report(dry_run=writer.dry_run, nodes=len(state.nodes), pods=len(state.pods))
    requested_before = {name: state.usage(name) for name in state.nodes}  # copies: the cycle changes the state
    nodes = eligible_nodes(state, policy)
    if len(nodes) <= 1:
        logger.warning("%d eligible node(s): evicting would only disrupt; nothing to do this cycle", len(nodes))
    else:
        evictor = Evictor(state, writer, limits.LimitCounter(policy.limits), policy.grace_period_seconds)
        timer = metrics.observe_strategy if metrics is not None else None
        report.plugin_errors = run_profiles(policy, registry, state, evictor, nodes, on_plugin_done=timer)
        report.decisions = evictor.decisions
    # The state has freed what each eviction held and reserved each predicted replacement's room.
    requested_after = {name: state.usage(name) for name in state.nodes}
    report.node_figures = utilisation.node_figures(state.nodes.values(), before=requested_before, after=requested_after)
    report.duration_seconds = time.monotonic() - started
    return report
