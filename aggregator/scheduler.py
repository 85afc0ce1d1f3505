"""Daemon mode: APScheduler runs a tick that fetches the feeds that are due, then re-renders.

Each feed has its own next-fetch time in the database, so the tick itself is frequent (the
shortest feed interval, at most a minute) and cheap when nothing is due. The job runs with
``max_instances=1`` and ``coalesce=True`` (a slow pass is never run twice at once or queued up)
and a misfire grace time. SIGTERM and SIGINT stop the scheduler after the current pass.
"""

from __future__ import annotations

import logging
import signal
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler

from aggregator.config import Config
from aggregator.errors import AggregatorError
from aggregator.pipeline import run_pass

log = logging.getLogger(__name__)


def tick_interval(config: Config) -> timedelta:
    intervals = [config.settings.interval] + [s.interval for s in config.sources if s.interval]
    return max(timedelta(seconds=5), min([*intervals, timedelta(minutes=1)]))


def run_daemon(config: Config) -> None:
    """Run until SIGTERM/SIGINT; a failing pass is logged and retried at the next tick."""
    scheduler = BlockingScheduler(timezone=UTC)

    def tick() -> None:
        try:
            report = run_pass(config)
        except AggregatorError as e:
            log.error("pass failed: %s", e)
            return
        log.info(
            "pass done: %d feeds, %d new entries, %d errors",
            len(report.feeds),
            report.new_entries,
            report.errors,
        )

    interval = tick_interval(config)
    scheduler.add_job(
        tick,
        "interval",
        seconds=interval.total_seconds(),
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(30, int(interval.total_seconds())),
        id="tick",
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("received signal %d, stopping after the current pass", signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("daemon started: checking for due feeds every %s", interval)
    scheduler.start()
