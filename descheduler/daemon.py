"""Long-lived mode: run cycles on an interval or a cron schedule (APScheduler), optionally only while leader.

The app parses ``--schedule`` with :func:`parse_schedule`, builds the
cycle callable around :func:`descheduler.runner.run_cycle` and hands it to :class:`Daemon`.
Only this module and the runner import apscheduler.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import TypeAlias

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from descheduler.errors import TensileError
from descheduler.kube import leaderelection

logger = logging.getLogger(__name__)

Trigger: TypeAlias = BaseTrigger
"""What :class:`Daemon` runs cycles on: an interval or a cron trigger."""

JOB_ID = "descheduling-cycle"
EXTRA_JOB_ID = "triggered-run"


def parse_schedule(text: str) -> CronTrigger:
    """A 5-field cron expression (minute hour day-of-month month day-of-week), in UTC."""
    if len(text.split()) != 5:
        raise ValueError(f"invalid schedule {text!r}: need 5 fields (minute hour day month weekday)")
    try:
        return CronTrigger.from_crontab(text, timezone=UTC)
    except ValueError as exc:
        raise ValueError(f"invalid schedule {text!r}: {exc}") from exc


def interval_trigger(seconds: float) -> IntervalTrigger:
    return IntervalTrigger(seconds=seconds, timezone=UTC)


class Daemon:
    """Runs ``cycle`` on ``trigger``: never two at once, a failure is logged and the next still runs.

    Without an elector cycles start at once; with one they run only between the elector's
    ``on_started`` and ``on_stopped`` (wire them to :meth:`start_cycles` / :meth:`stop_cycles`).
    """

    def __init__(self, cycle: Callable[[], object], trigger: Trigger, *, grace_period: float = 30.0) -> None:
        self._cycle = cycle
        self._trigger = trigger
        self.grace_period = grace_period
        self._scheduler = BackgroundScheduler(timezone=UTC)
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._stop = threading.Event()
        self._one_at_a_time = threading.Lock()
        self.cycles = 0

    def start_cycles(self) -> None:
        """Schedule cycles, the first one now. Idempotent."""
        with self._lock:
            if self._stop.is_set() or self._scheduler.get_job(JOB_ID) is not None:
                return
            # coalesce + max_instances=1: a cycle longer than the interval delays the next
            # one instead of overlapping it or queueing a backlog of runs.
            self._scheduler.add_job(
                self._run_one,
                self._trigger,
                id=JOB_ID,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                next_run_time=datetime.now(UTC),
            )
            logger.info("descheduling cycles started")

    def stop_cycles(self) -> None:
        """Schedule no more cycles; a running one finishes. Idempotent."""
        with self._lock:
            if self._scheduler.get_job(JOB_ID) is not None:
                self._scheduler.remove_job(JOB_ID)
                logger.info("descheduling cycles stopped")

    def run_soon(self, run: Callable[[], object], what: str) -> bool:
        """Run ``run`` once now, as a cycle (never beside one), if cycles are running; False if not.

        Requests made while one is waiting or running coalesce into that one."""
        with self._lock:
            if self._stop.is_set() or self._scheduler.get_job(JOB_ID) is None:
                return False
            self._scheduler.add_job(
                self._run_one,
                "date",
                args=(run, what),
                id=EXTRA_JOB_ID,
                replace_existing=True,
                max_instances=1,
                misfire_grace_time=None,
                run_date=datetime.now(UTC),
            )
            return True

    def _run_one(self, run: Callable[[], object] | None = None, what: str = "cycle") -> None:
        with self._one_at_a_time:
            self._run_locked(run or self._cycle, what)

    def _run_locked(self, run: Callable[[], object], what: str) -> None:
        self._idle.clear()
        self.cycles += 1
        number = self.cycles
        try:
            if what == "cycle":
                logger.info("cycle %d starting", number)
            else:
                logger.info("cycle %d starting: %s", number, what)
            run()
        except TensileError as exc:
            # Expected failures (an API server that does not answer in time) are one line each.
            logger.error("cycle %d failed; the next one runs as scheduled: %s", number, exc)
        except Exception:
            logger.exception("cycle %d failed; the next one runs as scheduled", number)
        finally:
            self._idle.set()

    def request_stop(self) -> None:
        self._stop.set()

    def run(self, *, elector: leaderelection.LeaderElector | None = None) -> bool:
        """Block until SIGTERM/SIGINT (or :meth:`request_stop`); return False if a cycle had to be abandoned."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        self._scheduler.start()
        try:
            if elector is None:
                self.start_cycles()
            else:
                elector.start()
            while not self._stop.wait(1.0):
                pass
            return self._shut_down(elector)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        logger.info("signal %d: stopping after the running cycle (grace period %.0fs)", signum, self.grace_period)
        self._stop.set()

    def _shut_down(self, elector: leaderelection.LeaderElector | None) -> bool:
        self.stop_cycles()
        self._scheduler.shutdown(wait=False)
        finished = self._idle.wait(self.grace_period)
        if not finished:
            logger.warning("cycle still running after %.0fs; abandoning it", self.grace_period)
        if elector is not None:
            # Release only once our cycle is over, so the next leader never overlaps it.
            elector.stop(release=finished)
        return finished
