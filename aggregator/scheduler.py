"""Daemon mode (``aggregator run``): APScheduler jobs, reloads, editions and a clean shutdown.

Jobs (APScheduler 3, ``BlockingScheduler``, times in UTC):

- ``tick``, every :func:`tick_interval` (the shortest feed interval, at most a minute, at
  least 5 s): first checks whether feeds.yaml changed (and reloads it), then runs one pass
  over the feeds that are due (each feed has its own next-fetch time in the database), which
  re-renders the digest when anything changed. ``max_instances=1`` and ``coalesce=True``: a
  slow pass is never run twice at once nor queued up; a misfire grace time lets a late tick
  still run.
- ``edition-HHMM``, one per ``settings.editions`` time (cron triggers): renders the digest
  and freezes a copy of its front page into ``archive/editions/`` (see :func:`freeze_edition`),
  even when nothing changed since the last render.

A pass and an edition never run at the same time (one work lock). The whole daemon holds the
run lock next to the database (:mod:`aggregator.lock`), so a cron ``run --once`` meanwhile
skips; a daemon started while another run holds it waits for it.

Signals are turned into messages by a handler that only queues them (``SimpleQueue.put`` is
safe in a signal handler), and acted on by a control thread, outside any signal context:

- SIGTERM, SIGINT: stop. The scheduler shuts down, and the current pass stops between feeds
  (the downloads still running are cancelled) and before its clustering and render stages;
  a pass that is inside a transaction finishes it. The process then exits with status 0, in
  well under a second in practice; if the pass has not ended within :data:`STOP_GRACE`
  seconds, the process exits without it (SQLite rolls back an unfinished transaction). A
  second SIGTERM/SIGINT while stopping exits at once, with status 1.
- SIGHUP: reload feeds.yaml now (and run a tick soon). A changed feeds.yaml (size and mtime,
  then its hash) is reloaded at the next tick without a signal. An invalid file is refused
  with a one-line error in the log and the running configuration stays.

The decisions are pure functions (:func:`tick_interval`, :func:`config_changed`,
:func:`reload_problem`, :func:`edition_time`, :func:`edition_page`, :func:`rebase_links`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import queue
import re
import signal
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from aggregator.config import Config, load_config
from aggregator.errors import AggregatorError, ConfigError, RenderError
from aggregator.lock import LockBusy, RunLock, lock_path
from aggregator.models import PassReport
from aggregator.pipeline import run_pass

log = logging.getLogger(__name__)

STOP_GRACE = 8.0  # seconds the current pass gets to stop before the process exits anyway
LOCK_POLL = 1.0  # seconds between two tries at the run lock while another run holds it
EDITION_GRACE = 30 * 60  # an edition job woken this late (suspend, clock jump) still runs
EDITIONS_DIR = "archive/editions"
EDITIONS_INDEX = "index.json"


def utcnow() -> datetime:
    return datetime.now(UTC)


# -- pure decisions -----------------------------------------------------------------------------


def tick_interval(config: Config) -> timedelta:
    intervals = [config.settings.interval] + [s.interval for s in config.sources if s.interval]
    return max(timedelta(seconds=5), min([*intervals, timedelta(minutes=1)]))


@dataclass(frozen=True)
class FileStamp:
    """What we know of feeds.yaml's state: mtime and size (cheap), and a hash of its bytes."""

    mtime_ns: int
    size: int
    digest: str


def file_stamp(path: Path, previous: FileStamp | None = None) -> FileStamp | None:
    """The stamp of ``path`` now (None when it cannot be read). The file is only read and
    hashed when its mtime or size differ from ``previous``."""
    try:
        st = path.stat()
        if previous is not None and (st.st_mtime_ns, st.st_size) == (
            previous.mtime_ns,
            previous.size,
        ):
            return previous
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
    return FileStamp(st.st_mtime_ns, st.st_size, digest)


def config_changed(loaded: FileStamp | None, now: FileStamp | None) -> bool:
    """Whether the file must be reloaded: its content differs from the one loaded. A file
    that is missing or unreadable (an editor between unlink and rename) is not a change:
    the running configuration stays; a touch that keeps the bytes is not one either."""
    return now is not None and (loaded is None or now.digest != loaded.digest)


def reload_problem(running: Config, new: Config) -> str | None:
    """Why a valid ``new`` configuration cannot replace ``running`` without a restart."""
    if Path(new.settings.database) != Path(running.settings.database):
        return "settings.database: changing the database needs a restart"
    return None


def edition_time(slot: time, now: datetime) -> datetime:
    """The latest moment at or before ``now`` (UTC) whose time of day is ``slot``: the time
    an edition job woken at ``now`` stands for, even if it ran late (past midnight too)."""
    now = now.astimezone(UTC)
    at = now.replace(hour=slot.hour, minute=slot.minute, second=0, microsecond=0)
    return at if at <= now else at - timedelta(days=1)


def edition_page(at: datetime) -> str:
    """The file name of the edition of ``at``: ``2026-01-15-0700.html``."""
    return f"{at.astimezone(UTC):%Y-%m-%d-%H%M}.html"


# a relative URL in an href or src attribute (not a scheme, a fragment or an absolute path)
_RELATIVE = re.compile(r"""(\s(?:href|src)\s*=\s*["'])(?![a-zA-Z][a-zA-Z0-9+.-]*:|[#/?])""")


def rebase_links(html: str, prefix: str) -> str:
    """``html`` with every relative link (``style.css``, ``region/europe.html``) prefixed by
    ``prefix``, so a page written for the site's root still works from a folder below it.
    Fragments (``#main``) and absolute URLs are left alone."""
    return _RELATIVE.sub(lambda m: m.group(1) + prefix, html)


# -- editions ------------------------------------------------------------------------------------


def freeze_edition(config: Config, now: datetime, slot: time | None = None) -> Path:
    """Render the digest as of ``now`` and keep a frozen copy of its front page.

    The render is the ordinary one (every page that changed is rewritten, the archive day
    pages included, and ``.edition.json`` moves on if the stories changed), run even when a
    pass would not render. Then ``index.html`` is copied to
    ``archive/editions/YYYY-MM-DD-HHMM.html`` (the slot's time, UTC), with its relative links
    rebased so the navigation, style sheet and feeds resolve from there to the live site, and
    a record is added to ``archive/editions/index.json`` (a list, oldest first: ``at``,
    ``page``, ``rendered_at``, ``content_since`` (when the digest last changed),
    ``fingerprint`` and ``stories`` (in the digest window)). The copy is written once per
    slot and never touched again by later renders. Returns the path of the copy."""
    from aggregator.render import EDITION_FILE, load_edition, render_site, write_atomic
    from aggregator.store import Store

    at = edition_time(slot, now) if slot is not None else now.replace(second=0, microsecond=0)
    store = Store.open(config.settings.database)
    try:
        render_site(store, config, now)
    finally:
        store.close()
    out = Path(config.settings.output_dir)
    try:
        front = (out / "index.html").read_text("utf-8")
    except OSError as e:
        raise RenderError(f"{out / 'index.html'}: cannot read: {e.strerror or e}") from e
    edition = load_edition(out / EDITION_FILE)
    folder = out / EDITIONS_DIR
    page = edition_page(at)
    depth = len(Path(EDITIONS_DIR).parts)
    write_atomic(folder / page, rebase_links(front, "../" * depth))
    records = [r for r in _edition_records(folder / EDITIONS_INDEX) if r.get("page") != page]
    records.append(
        {
            "at": _iso(at),
            "page": page,
            "rendered_at": _iso(now),
            "content_since": _iso(edition.generated_at) if edition else None,
            "fingerprint": edition.fingerprint if edition else None,
            "stories": len(edition.reports) if edition else 0,
        }
    )
    records.sort(key=lambda r: str(r.get("at")))
    write_atomic(folder / EDITIONS_INDEX, json.dumps(records, indent=1, sort_keys=True) + "\n")
    return folder / page


def _edition_records(path: Path) -> list[dict[str, Any]]:
    """The records of ``index.json`` (none when it is missing or unreadable: the pages are
    what matters, and the list is rebuilt from the next edition on)."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return []
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the daemon ----------------------------------------------------------------------------------


class Daemon:
    """The scheduler, its jobs and the state a reload swaps (the configuration)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.stop = threading.Event()
        self.scheduler = BlockingScheduler(timezone=UTC)
        self._work = threading.Lock()  # one pass or edition at a time
        self._reloading = threading.Lock()
        self._stamp = file_stamp(config.path) if config.path is not None else None
        self._signals: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._done = threading.Event()  # run() has left the scheduler (or never started it)
        self._interval: timedelta | None = None

    # jobs

    def tick(self) -> PassReport | None:
        """Reload feeds.yaml if it changed, then one pass over the due feeds."""
        if self.stop.is_set():
            return None
        self.check_config()
        with self._work:
            if self.stop.is_set():
                return None
            try:
                report = run_pass(self.config, stop=self.stop)
            except AggregatorError as e:
                log.error("pass failed: %s", e)
                return None
            except Exception as e:  # a bug: say so in one line, keep the daemon running
                log.error(
                    "pass failed: internal error: %s: %s (run with -vv for the traceback)",
                    type(e).__name__,
                    e,
                    exc_info=log.isEnabledFor(logging.DEBUG),
                )
                return None
        log.info(
            "pass %s: %d feeds, %d new entries, %d errors, %d stories updated",
            "stopped" if self.stop.is_set() else "done",
            len(report.feeds),
            report.new_entries,
            report.errors,
            report.stories_touched,
        )
        return report

    def edition(self, now: datetime | None = None, slot: time | None = None) -> Path | None:
        """The edition job: render and freeze the front page (see :func:`freeze_edition`)."""
        with self._work:
            if self.stop.is_set():
                return None
            try:
                path = freeze_edition(self.config, now or utcnow(), slot)
            except AggregatorError as e:
                log.error("edition failed: %s", e)
                return None
        log.info("edition frozen: %s", path)
        return path

    # configuration

    def check_config(self) -> bool:
        """Reload feeds.yaml when its content changed since it was loaded."""
        path = self.config.path
        if path is None:
            return False
        if not config_changed(self._stamp, file_stamp(path, self._stamp)):
            return False
        return self.reload(f"{path.name} changed")

    def reload(self, reason: str) -> bool:
        """Load feeds.yaml again and use it from the next pass on; an invalid file (or one
        that changes what needs a restart) is refused with one line in the log."""
        with self._reloading:
            running = self.config
            path = running.path
            if path is None:
                log.error("reload refused: the configuration was not read from a file")
                return False
            self._stamp = file_stamp(path, self._stamp)  # a refused file is not retried
            try:
                new = load_config(path)
            except ConfigError as e:
                log.error("reload refused, the running configuration stays: %s", e)
                return False
            problem = reload_problem(running, new)
            if problem is not None:
                log.error("reload refused, the running configuration stays: %s: %s", path, problem)
                return False
            self.config = new
            self._schedule(new)
        log.info("reloaded %s (%s): %d sources", path, reason, len(new.sources))
        return True

    def _schedule(self, config: Config, *, first: bool = False) -> None:
        """Add the tick and the edition jobs, or change them after a reload."""
        interval = tick_interval(config)
        if first or interval != self._interval:
            extra: dict[str, Any] = {"next_run_time": utcnow()} if first else {}
            self.scheduler.add_job(
                self.tick,
                "interval",
                seconds=interval.total_seconds(),
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(30, int(interval.total_seconds())),
                id="tick",
                replace_existing=True,
                **extra,
            )
            self._interval = interval
        wanted = {f"edition-{t:%H%M}": t for t in config.settings.editions}
        for job in self.scheduler.get_jobs():
            if job.id.startswith("edition-") and job.id not in wanted:
                job.remove()
        for job_id, slot in wanted.items():
            if self.scheduler.get_job(job_id) is None:
                self.scheduler.add_job(
                    self.edition,
                    CronTrigger(hour=slot.hour, minute=slot.minute, timezone=UTC),
                    kwargs={"slot": slot},
                    max_instances=1,
                    coalesce=True,
                    misfire_grace_time=EDITION_GRACE,
                    id=job_id,
                )

    # signals and life cycle

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals.put_nowait(signum)  # reentrant: nothing else happens in the handler

    def _control(self) -> None:
        while (signum := self._signals.get()) is not None:
            name = signal.Signals(signum).name
            if signum == signal.SIGHUP:
                log.info("received SIGHUP: reloading the configuration")
                if self.reload("SIGHUP"):
                    self._tick_soon()
            elif self.stop.is_set():
                log.warning("received %s again: exiting now", name)
                _flush_logs()
                os._exit(1)
            else:
                log.info("received %s: stopping (the current pass stops between feeds)", name)
                self.request_stop()

    def request_stop(self) -> None:
        """Stop the current pass and the scheduler (from any thread but the scheduler's)."""
        self.stop.set()
        while not self._done.is_set():
            try:
                self.scheduler.shutdown(wait=False)
                return
            except SchedulerNotRunningError:  # starting right now: try again in a moment
                self._done.wait(0.05)

    def _tick_soon(self) -> None:
        if self.scheduler.running and not self._work.locked():
            with contextlib.suppress(LookupError):  # (JobLookupError) not scheduled yet
                self.scheduler.modify_job("tick", next_run_time=utcnow())

    def _take_lock(self) -> RunLock | None:
        """The run lock, waiting (and still answering signals) while another run holds it;
        None when asked to stop first."""
        path = lock_path(self.config.settings.database)
        said = False
        while not self.stop.is_set():
            try:
                return RunLock.acquire(path)
            except LockBusy as e:
                if not said:
                    log.warning("%s (%s): waiting for it to finish", e, path)
                    said = True
            self.stop.wait(LOCK_POLL)
        return None

    def run(self) -> bool:
        """Run until SIGTERM/SIGINT. Returns True once every job has ended, False when the
        current pass did not end within :data:`STOP_GRACE` seconds (the caller should then
        exit without waiting for it). Call from the main thread (signals are set up here)."""
        watched = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        previous = {s: signal.signal(s, self._on_signal) for s in watched}
        control = threading.Thread(target=self._control, name="signals", daemon=True)
        control.start()
        try:
            lock = self._take_lock()
            if lock is None:
                return True
            with lock:
                self._schedule(self.config, first=True)
                editions = ", ".join(f"{t:%H:%M}" for t in self.config.settings.editions)
                log.info(
                    "daemon started (pid %d, lock %s): due feeds checked every %s%s",
                    os.getpid(),
                    lock.path,
                    self._interval,
                    f"; editions at {editions} UTC" if editions else "",
                )
                if not self.stop.is_set():
                    self.scheduler.start()  # returns once request_stop shut it down
                self._done.set()
                if not self._work.acquire(timeout=STOP_GRACE):
                    log.error(
                        "the current pass did not stop within %g s: exiting without it "
                        "(SQLite rolls back an unfinished transaction)",
                        STOP_GRACE,
                    )
                    return False
                self._work.release()
            log.info("stopped")
            return True
        finally:
            self._done.set()
            for s, handler in previous.items():
                signal.signal(s, handler)
            self._signals.put(None)
            control.join(timeout=1)


def _flush_logs() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def run_daemon(config: Config) -> bool:
    """Run the daemon until SIGTERM/SIGINT (see :class:`Daemon`). Returns False when the
    process should exit without waiting for a pass that did not stop in time."""
    return Daemon(config).run()
