"""Soak test of the daemon (issue 9, "Unattended for months"): ``aggregator run`` against a
loopback feed farm whose content moves on and whose feeds fail in every way for a while.

``bench/farm.py --soak`` runs as a separate process on 127.0.0.1 with ``--feeds`` feeds
(default 500) of their 12 newest items: every 5 s about 20 % of the feeds gain one to three
items and drop their oldest (new ETag and Last-Modified), so a feed rolls over in about
2.5 minutes; 2 % never change; for the first 60 % of the run 10 % of the requests fail (slow
beyond the timeout, hang, connection closed, body cut off, 500, 503 with Retry-After,
malformed XML, an HTML page), and 5 % of the feeds fail every request. The daemon
(``aggregator -v run``) gets a feeds.yaml with its times shortened to seconds: ``interval``
10 s, ``max_backoff`` 30 s, ``timeout`` 3 s, ``digest_window`` 60 s, ``retention_days`` 90 s
(so retention prunes during the run), ``cluster_window`` 3 min, and two ``editions`` inside
the run. While it runs, the bench samples the process tree's RSS and the database, WAL and
shm sizes every second, reads the new fetch log rows and entries every 5 s (read-only, so
nothing is missed when retention prunes old log rows) and follows the daemon's log. At the
end it sends SIGTERM (the daemon must exit 0 within 10 s), then checks the database.

Reported: passes completed, fetches by outcome and error kind, the farm's faults, peak RSS,
RSS after warm-up against the end, database size over time, ``PRAGMA integrity_check`` and
``foreign_key_check``, stories without entries, entries stored twice (a retention prune
followed by the same item coming back as new), and stuck feeds: every feed must have an
``ok`` or ``not_modified`` fetch after the faults stopped, and end with no failure on its row.

    .venv/bin/python bench/soak.py                          # 10 minutes, 500 feeds
    .venv/bin/python bench/soak.py --seconds 90 --feeds 100  # a quick run
    .venv/bin/python bench/soak.py --json > soak.json        # machine output on stdout

The work directory (feeds.yaml, database, site, ``daemon.log``, ``farm.log``) is kept and
named at the start and the end; on a failure the daemon log's tail is printed.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import re
import shlex
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from xml.etree import ElementTree

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fetch import _children, _rss_kb, _tail, clean_env

HERE = Path(__file__).resolve().parent
FARM = HERE / "farm.py"
AGGREGATOR = Path(sys.executable).with_name("aggregator")

INTERVAL = 10  # seconds between two fetches of a feed
MAX_BACKOFF = 30  # seconds: the longest wait of a failing feed
TIMEOUT = 3  # seconds: the fetch deadline (the farm's slow answers take TIMEOUT + 3)
DIGEST_WINDOW = 60  # seconds (48 h by default)
RETENTION = 90  # seconds (retention_days may not be shorter than digest_window)
CLUSTER_WINDOW = 180  # seconds (72 h by default): new items cannot join the farm's old stories
KEEP_ITEMS = 12  # items a farm feed carries: it rolls over in about 2.5 minutes
STOP_WITHIN = 10.0  # seconds the daemon gets to exit after SIGTERM
GROWTH_LIMIT = 0.10  # RSS growth from the warm-up plateau to the end that fails the run
POLL_EVERY = 5.0  # seconds between two reads of the database
PROGRESS_EVERY = 30.0  # seconds between two progress lines

SETTINGS = """\
settings:
  database: {db}
  output_dir: {site}
  interval: {interval}s
  timeout: {timeout}
  connect_timeout: 2
  concurrency: 16
  per_host: 16       # every farm feed is on 127.0.0.1; the default (2) would serialise a pass
  max_backoff: {max_backoff}s
  digest_window: {digest_window}s
  cluster_window: {cluster_window}s
  retention_days: {retention_days!r}   # {retention} s
  editions: {editions}
sources:
"""


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """The database's time format (``2026-01-15T12:00:00Z``)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the farm and the daemon ------------------------------------------------------------------


class SoakFarm:
    """``bench/farm.py --soak`` in its own process (stops when its stdin closes)."""

    def __init__(self, n: int, seed: int, options: dict[str, float], log: Path) -> None:
        argv = [sys.executable, str(FARM), "--n", str(n), "--seed", str(seed), "--soak"]
        for key, value in options.items():
            argv += [f"--{key.replace('_', '-')}", str(value)]
        self.log = open(log, "ab")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, env=clean_env()
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise RuntimeError(f"the feed farm did not start (see {log})")
        self.info: dict[str, Any] = json.loads(line)
        self.url: str = self.info["url"]
        self._open = urllib.request.build_opener(urllib.request.ProxyHandler({})).open
        root = ElementTree.fromstring(self.get("/feeds.opml"))
        self.feeds = [(o.attrib["text"], o.attrib["xmlUrl"]) for o in root.iter("outline")]

    def get(self, path: str) -> bytes:
        with self._open(self.url + path, timeout=60) as r:
            body: bytes = r.read()
            return body

    def json(self, path: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.get(path))
        return data

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()


def edition_times(start: datetime, seconds: float) -> list[str]:
    """Up to two UTC minutes (``HH:MM``) well inside the run, for the daemon's editions."""
    first = (start + timedelta(seconds=20)).replace(second=0, microsecond=0)
    minutes = []
    at = first + timedelta(minutes=1)
    while at < start + timedelta(seconds=seconds - 20):
        minutes.append(at)
        at += timedelta(minutes=1)
    if len(minutes) > 2:
        minutes = [minutes[len(minutes) // 3], minutes[2 * len(minutes) // 3]]
    return [f"{m:%H:%M}" for m in minutes]


def write_config(
    work: Path, farm: SoakFarm, editions: list[str], threshold: float | None = None
) -> Path:
    lines = [
        SETTINGS.format(
            db=work / "aggregator.db",
            site=work / "site",
            interval=INTERVAL,
            timeout=TIMEOUT,
            max_backoff=MAX_BACKOFF,
            digest_window=DIGEST_WINDOW,
            cluster_window=CLUSTER_WINDOW,
            retention_days=RETENTION / 86400,
            retention=RETENTION,
            editions=json.dumps(editions),
        )
    ]
    if threshold is not None:
        lines[0] = lines[0].replace("sources:\n", f"  cluster_threshold: {threshold}\nsources:\n")
    for name, url in farm.feeds:
        lines.append(f"  - url: {url}\n    name: {json.dumps(name)}\n")
    path = work / "feeds.yaml"
    path.write_text("".join(lines))
    return path


def tree_rss_kb(pid: int) -> int:
    """The summed RSS of ``pid`` and its descendants."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo.extend(_children(p))
    return sum(_rss_kb(p) for p in pids)


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# -- what the bench follows while the daemon runs ---------------------------------------------


@dataclass
class Sample:
    t: float  # seconds after the daemon started
    rss_kb: int
    db: int  # bytes
    wal: int
    shm: int


PASS_LINE = re.compile(
    r"pass (done|stopped): (\d+) feeds, (\d+) new entries, (\d+) errors, (\d+) stories updated"
)
STAGES_LINE = re.compile(r"INFO: pass: (.*)$")
RETENTION_LINE = re.compile(
    r"retention: removed (\d+) stories, (\d+) entries and (\d+) fetch log rows"
)


@dataclass
class LogFollower:
    """Reads the daemon's log as it grows and counts what matters."""

    path: Path
    offset: int = 0
    passes: Counter[str] = field(default_factory=Counter)  # done / stopped
    pass_feeds: int = 0
    pass_seconds: list[float] = field(default_factory=list)
    pruned: Counter[str] = field(default_factory=Counter)  # stories / entries / fetch_log
    prunes: int = 0
    editions: int = 0
    levels: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # ERROR lines and tracebacks (first ones)
    stopped: bool = False
    _partial: str = ""

    def read(self) -> None:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                f.seek(self.offset)
                text = f.read()
                self.offset = f.tell()
        except OSError:
            return
        text = self._partial + text
        lines = text.split("\n")
        self._partial = lines.pop()
        for line in lines:
            self.line(line)

    def line(self, line: str) -> None:
        for level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            if f" {level}: " in line or line.startswith(f"{level}: "):
                self.levels[level] += 1
                break
        if m := PASS_LINE.search(line):
            self.passes[m.group(1)] += 1
            self.pass_feeds += int(m.group(2))
        elif m := STAGES_LINE.search(line):
            secs = re.findall(r"([\d.]+) s", m.group(1))
            self.pass_seconds.append(sum(float(s) for s in secs))
        elif m := RETENTION_LINE.search(line):
            self.prunes += any(int(g) for g in m.groups())
            for key, value in zip(("stories", "entries", "fetch_log"), m.groups(), strict=True):
                self.pruned[key] += int(value)
        elif "edition frozen:" in line:
            self.editions += 1
        elif line.endswith("INFO: stopped"):
            self.stopped = True
        if (" ERROR: " in line or "Traceback" in line) and len(self.errors) < 20:
            self.errors.append(line)


@dataclass
class FeedTrack:
    """One feed as the fetch log tells it."""

    fetches: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    last_error_at: str | None = None
    first_ok_after: str | None = None  # first ok/not_modified started after the faults ended
    errors_after: int = 0  # failures started after the faults ended
    full_oks: list[str] = field(default_factory=list)  # 200s with a well-formed body


@dataclass
class DbFollower:
    """Reads the new fetch log rows and entries every few seconds over a read-only
    connection (opened for each read, so it never holds a snapshot the daemon's
    checkpoints would wait for)."""

    path: Path
    faults_end: str  # iso time at which the farm stops failing
    log_id: int = 0
    entry_id: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    bozo: int = 0
    new_entries: int = 0  # fetch_log.new_entries summed
    feeds: dict[str, FeedTrack] = field(default_factory=dict)
    # (feed, identity) -> first_seen of each row stored for it (more than one: re-inserted)
    identities: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # t, entries, stories, fetch log rows, members of the largest story
    counts: list[tuple[float, int, int, int, int]] = field(default_factory=list)

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        conn.isolation_level = None
        return conn

    def poll(self, t: float) -> None:
        if not self.path.exists():
            return
        try:
            conn = self.connect()
        except sqlite3.Error:
            return
        try:
            rows = conn.execute(
                "SELECT id, feed_url, fetched_at, status, outcome, error_kind, new_entries, bozo"
                " FROM fetch_log WHERE id > ? ORDER BY id",
                [self.log_id],
            ).fetchall()
            entries = conn.execute(
                "SELECT id, feed_url, identity, first_seen FROM entries WHERE id > ? ORDER BY id",
                [self.entry_id],
            ).fetchall()
            (n_entries,) = conn.execute("SELECT count(*) FROM entries").fetchone()
            (n_stories,) = conn.execute("SELECT count(*) FROM stories").fetchone()
            (n_log,) = conn.execute("SELECT count(*) FROM fetch_log").fetchone()
            (largest,) = conn.execute("SELECT coalesce(max(entries), 0) FROM stories").fetchone()
        except sqlite3.Error:  # no tables yet (the first open is migrating)
            return
        finally:
            conn.close()
        for row_id, url, at, status, outcome, kind, new, bozo in rows:
            self.log_id = row_id
            self.outcomes[outcome] += 1
            self.statuses[str(status)] += 1
            self.bozo += bool(bozo)
            self.new_entries += new
            track = self.feeds.setdefault(url, FeedTrack())
            track.fetches += 1
            if outcome == "error":
                self.kinds[kind or "?"] += 1
                track.errors[kind or "?"] += 1
                track.last_error_at = at
                if at > self.faults_end:
                    track.errors_after += 1
            else:
                if outcome == "ok" and not bozo:
                    track.full_oks.append(at)
                if at > self.faults_end and track.first_ok_after is None:
                    track.first_ok_after = at
        for row_id, url, identity, first_seen in entries:
            self.entry_id = row_id
            self.identities.setdefault((url, identity), []).append(first_seen)
        self.counts.append((t, n_entries, n_stories, n_log, largest))


# -- the verdict -------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    warn: bool = False  # a finding that does not fail the run

    @property
    def verdict(self) -> str:
        return "PASS" if self.ok else ("WARN" if self.warn else "FAIL")


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def window(samples: list[Sample], start: float, end: float) -> list[int]:
    return [s.rss_kb for s in samples if start <= s.t <= end and s.rss_kb]


def mb(kb: float) -> str:
    return f"{kb / 1024:.0f} MB"


def mib(size: float) -> str:
    return f"{size / 2**20:.1f} MiB"


def at_time(samples: list[Sample], t: float) -> Sample | None:
    before = [s for s in samples if s.t <= t]
    return before[-1] if before else None


def database_checks(db: Path) -> dict[str, Any]:
    """Integrity and consistency of the database after the daemon stopped (read-only)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:

        def one(sql: str) -> Any:
            return conn.execute(sql).fetchone()[0]

        integrity = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        return {
            "integrity": integrity,
            "foreign_key_violations": len(conn.execute("PRAGMA foreign_key_check").fetchall()),
            "feeds": one("SELECT count(*) FROM feeds"),
            "entries": one("SELECT count(*) FROM entries"),
            "stories": one("SELECT count(*) FROM stories"),
            "fetch_log": one("SELECT count(*) FROM fetch_log"),
            "stories_without_entries": one(
                "SELECT count(*) FROM stories s WHERE s.entries = 0 OR NOT EXISTS"
                " (SELECT 1 FROM entries e WHERE e.story_id = s.id)"
            ),
            "stories_miscounted": one(
                "SELECT count(*) FROM stories s WHERE s.entries !="
                " (SELECT count(*) FROM entries e WHERE e.story_id = s.id)"
            ),
            "entries_dangling": one(
                "SELECT count(*) FROM entries e WHERE e.story_id IS NOT NULL AND NOT EXISTS"
                " (SELECT 1 FROM stories s WHERE s.id = e.story_id)"
            ),
            "entries_unassigned": one("SELECT count(*) FROM entries WHERE story_id IS NULL"),
            "failing_feeds": [
                {"url": r[0], "failures": r[1], "kind": r[2], "error": r[3]}
                for r in conn.execute(
                    "SELECT url, consecutive_failures, last_error_kind, last_error FROM feeds"
                    " WHERE consecutive_failures > 0 OR last_error IS NOT NULL ORDER BY url"
                )
            ],
            "largest_story": one("SELECT coalesce(max(entries), 0) FROM stories"),
            "disabled_feeds": one("SELECT count(*) FROM feeds WHERE disabled_at IS NOT NULL"),
            "page_size": one("PRAGMA page_size"),
            "freelist_pages": one("PRAGMA freelist_count"),
        }
    finally:
        conn.close()


def dir_size(path: Path) -> tuple[int, int]:
    """(bytes, files) under ``path``."""
    total = files = 0
    for p in path.rglob("*"):
        if p.is_file():
            total += file_size(p)
            files += 1
    return total, files


# -- running -----------------------------------------------------------------------------------


def run(args: argparse.Namespace, out: TextIO) -> dict[str, Any]:
    def say(text: str) -> None:
        print(text, file=out, flush=True)

    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    faults_until = args.faults_until
    if faults_until is None:  # 60 % of the run, leaving at least a minute to recover
        faults_until = max(seconds * 0.3, min(seconds * 0.6, seconds - 60))
    work = Path(args.workdir or tempfile.mkdtemp(prefix="soak-"))
    work.mkdir(parents=True, exist_ok=True)
    say(f"soak: {args.feeds} feeds, {seconds:.0f} s, faults for {faults_until:.0f} s; in {work}")
    options = {
        "change_every": args.change_every,
        "change_share": args.change_share,
        "keep_items": KEEP_ITEMS,
        "static_share": 0.02,
        "fault_rate": args.fault_rate,
        "broken_share": args.broken_share,
        "faults_until": faults_until,
        "slow": TIMEOUT + 3,
        "hang": 60,
    }
    farm = SoakFarm(args.feeds, args.seed, options, work / "farm.log")
    daemon: subprocess.Popen[bytes] | None = None
    try:
        info = farm.info
        farm_started = datetime.fromisoformat(info["soak"]["started"])
        faults_end = farm_started + timedelta(seconds=faults_until)
        # a fetch that started in the second the faults ended may still have met one
        faults_end_iso = iso(faults_end + timedelta(seconds=1))
        say(
            f"farm at {farm.url}: {info['feeds']} feeds, {info['items']:,} items, "
            f"{info['soak']['static']} never change, {info['soak']['broken']} always fail "
            f"until {iso(faults_end)}"
        )
        editions = edition_times(utcnow(), seconds)
        config = write_config(work, farm, editions, args.cluster_threshold)
        db = work / "aggregator.db"
        log_path = work / "daemon.log"
        daemon_cmd = shlex.split(args.wrap) if args.wrap else [str(AGGREGATOR)]
        argv = [*daemon_cmd, "-v", "-c", str(config), "run"]
        if args.nice:
            argv = ["nice", "-n", str(args.nice), *argv]
        with open(log_path, "ab") as log_file:
            daemon = subprocess.Popen(
                argv,
                cwd=work,
                env=clean_env(),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
            )
        started = time.monotonic()
        say(f"daemon pid {daemon.pid}: {' '.join(argv)} (log: {log_path})")
        samples: list[Sample] = []
        follower = LogFollower(log_path)
        dbf = DbFollower(db, faults_end_iso)
        next_poll = next_progress = 0.0
        crashed = None
        while (t := time.monotonic() - started) < seconds:
            samples.append(
                Sample(
                    t,
                    tree_rss_kb(daemon.pid),
                    file_size(db),
                    file_size(db.with_name(db.name + "-wal")),
                    file_size(db.with_name(db.name + "-shm")),
                )
            )
            follower.read()
            if t >= next_poll:
                dbf.poll(t)
                next_poll = t + POLL_EVERY
            if t >= next_progress:
                s = samples[-1]
                say(
                    f"  {t:5.0f} s  RSS {mb(s.rss_kb):>7}  db {mib(s.db):>9} "
                    f"wal {mib(s.wal):>8}  passes {sum(follower.passes.values()):3d}  "
                    f"fetches {sum(dbf.outcomes.values()):6d}  errors {dbf.outcomes['error']:5d}"
                    f"  entries {dbf.counts[-1][1] if dbf.counts else 0:6d}"
                    f"  stories {dbf.counts[-1][2] if dbf.counts else 0:6d}"
                    f"  largest {dbf.counts[-1][4] if dbf.counts else 0:5d}"
                )
                next_progress = t + PROGRESS_EVERY
            if daemon.poll() is not None:
                crashed = daemon.returncode
                break
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started - t)))
        run_seconds = time.monotonic() - started
        final_rss = samples[-1].rss_kb if samples else 0
        # stop: SIGTERM, then up to STOP_WITHIN seconds
        stop_seconds: float | None = None
        rc: int | None = crashed
        if crashed is None:
            daemon.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            try:
                rc = daemon.wait(timeout=STOP_WITHIN)
                stop_seconds = time.monotonic() - sent
            except subprocess.TimeoutExpired:
                say(f"daemon did not exit within {STOP_WITHIN:g} s of SIGTERM: killing it")
                daemon.kill()
                daemon.wait()
        follower.read()
        dbf.poll(time.monotonic() - started)
        soak = farm.json("/_soak")
        served = farm.json("/_stats")
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        farm.close()
    checks = database_checks(db)
    site_bytes, site_files = dir_size(work / "site")
    return analyse(
        args=args,
        work=work,
        seconds=seconds,
        run_seconds=run_seconds,
        faults_until=faults_until,
        faults_end_iso=faults_end_iso,
        farm_urls=[url for _, url in farm.feeds],
        samples=samples,
        final_rss=final_rss,
        follower=follower,
        dbf=dbf,
        rc=rc,
        crashed=crashed,
        stop_seconds=stop_seconds,
        soak=soak,
        served=served,
        checks=checks,
        editions=editions,
        final_sizes={
            "db": file_size(db),
            "wal": file_size(db.with_name(db.name + "-wal")),
            "site": site_bytes,
            "site_files": site_files,
        },
    )


def analyse(
    *,
    args: argparse.Namespace,
    work: Path,
    seconds: float,
    run_seconds: float,
    faults_until: float,
    faults_end_iso: str,
    farm_urls: list[str],
    samples: list[Sample],
    final_rss: int,
    follower: LogFollower,
    dbf: DbFollower,
    rc: int | None,
    crashed: int | None,
    stop_seconds: float | None,
    soak: dict[str, Any],
    served: dict[str, int],
    checks: dict[str, Any],
    editions: list[str],
    final_sizes: dict[str, int],
) -> dict[str, Any]:
    index_of = {url: int(url.rsplit("/", 1)[1].split(".")[0]) for url in farm_urls}
    farm_feeds: dict[str, Any] = soak["feeds"]
    static = set(soak["static"])
    broken = set(soak["broken"])
    # memory: the plateau after warm-up (second sixth) against the end (last sixth)
    plateau = window(samples, seconds / 6, seconds / 3)
    end = window(samples, seconds * 5 / 6, seconds)
    rss_all = [s.rss_kb for s in samples if s.rss_kb]
    peak = max(rss_all, default=0)
    plateau_median = statistics.median(plateau) if plateau else 0
    end_median = statistics.median(end) if end else 0
    growth = end_median / plateau_median - 1 if plateau_median else 0.0
    plateau_peak, end_peak = max(plateau, default=0), max(end, default=0)
    peak_growth = end_peak / plateau_peak - 1 if plateau_peak else 0.0
    # stuck feeds
    faulted = {url for url in farm_urls if farm_feeds[str(index_of[url])]["faults"]}
    faulted |= {url for url, track in dbf.feeds.items() if track.errors}
    never_fetched = [url for url in farm_urls if url not in dbf.feeds]
    stuck = [
        url for url in farm_urls if url in never_fetched or dbf.feeds[url].first_ok_after is None
    ]
    recovery = []
    for url in faulted:
        track = dbf.feeds.get(url)
        if track and track.first_ok_after:
            delay = datetime.fromisoformat(track.first_ok_after) - datetime.fromisoformat(
                faults_end_iso
            )
            recovery.append(delay.total_seconds() + 1)
    errors_after = Counter({url: t.errors_after for url, t in dbf.feeds.items() if t.errors_after})
    # entries stored more than once: pruned, then back as new. Retention keeps an entry its
    # feed carried within retention_days (entries.last_seen), but only a 200 with a body
    # moves last_seen on: after a longer run of 304s or failures the entries go, and come
    # back as new with the next body ("explained"); any other re-insertion is a bug
    twice: Counter[str] = Counter()
    unexplained: list[dict[str, Any]] = []
    for (url, identity), inserts in dbf.identities.items():
        full = dbf.feeds[url].full_oks if url in dbf.feeds else []
        for previous, at in itertools.pairwise(inserts):
            # the entry was last seen at its previous insert or the last full body before
            # this one, whichever is later (a malformed body may have carried it too)
            before = full[: bisect.bisect_left(full, at)]
            seen = max(previous, before[-1]) if before else previous
            gap = (_when(at) - _when(seen)).total_seconds()
            if gap >= RETENTION - 2:
                i = index_of.get(url, -1)
                kind = "static" if i in static else ("broken" if i in broken else "changing")
                twice[kind] += 1
            else:
                unexplained.append({"feed": url, "identity": identity, "at": at, "gap": gap})
    sizes: dict[str, Sample] = {}
    for frac in (0.25, 0.5, 0.75, 1.0):
        if sample := at_time(samples, seconds * frac):
            sizes[str(frac)] = sample
    max_wal = max((s.wal for s in samples), default=0)
    max_db = max((s.db for s in samples), default=0)
    db_end = [s.db + s.wal for s in samples if s.t >= seconds * 5 / 6]
    db_mid = [s.db + s.wal for s in samples if seconds / 2 <= s.t <= seconds * 2 / 3]
    passes = follower.passes["done"] + follower.passes["stopped"]
    db_mid_median = statistics.median(db_mid) if db_mid else 0
    db_end_median = statistics.median(db_end) if db_end else 0
    db_growth = db_end_median / db_mid_median - 1 if db_mid_median else 0.0

    results = [
        Check(
            "daemon ran the whole time",
            crashed is None,
            "yes" if crashed is None else f"exited early with status {crashed}",
        ),
        Check(
            f"SIGTERM: exit status 0 within {STOP_WITHIN:g} s",
            rc == 0 and stop_seconds is not None,
            f"status {rc} after {stop_seconds:.1f} s"
            if stop_seconds is not None
            else f"status {rc}, not within {STOP_WITHIN:g} s",
        ),
        Check(
            "no pass failed, no ERROR line, no traceback",
            not follower.errors,
            "none" if not follower.errors else f"{len(follower.errors)}: {follower.errors[0]}",
        ),
        Check(
            f"RSS after warm-up vs end grows < {GROWTH_LIMIT:.0%}",
            growth <= GROWTH_LIMIT,
            f"median {mb(plateau_median)} -> {mb(end_median)} ({growth:+.1%}); "
            f"peak {mb(plateau_peak)} -> {mb(end_peak)} ({peak_growth:+.1%})",
        ),
        Check(
            "PRAGMA integrity_check / foreign_key_check",
            checks["integrity"] == ["ok"] and not checks["foreign_key_violations"],
            f"{'; '.join(checks['integrity'][:3])}; "
            f"{checks['foreign_key_violations']} foreign key violations",
        ),
        Check(
            "no story without entries (and counts agree)",
            not (
                checks["stories_without_entries"]
                or checks["stories_miscounted"]
                or checks["entries_dangling"]
            ),
            f"{checks['stories_without_entries']} empty, {checks['stories_miscounted']} "
            f"miscounted, {checks['entries_dangling']} entries pointing at no story",
        ),
        Check(
            "no feed stuck: each fetched ok/304 after the faults stopped",
            not stuck,
            f"{len(farm_urls) - len(stuck)} of {len(farm_urls)} "
            f"({len(faulted)} had faults)" + (f"; stuck: {', '.join(stuck[:10])}" if stuck else ""),
        ),
        Check(
            "every feed ends without a failure on its row",
            not checks["failing_feeds"],
            f"{len(checks['failing_feeds'])} failing"
            + (
                f": {checks['failing_feeds'][0]['url']} {checks['failing_feeds'][0]['error']}"
                if checks["failing_feeds"]
                else ""
            ),
        ),
        Check(
            "no failure after the faults stopped",
            not errors_after,
            f"{sum(errors_after.values())} on {len(errors_after)} feeds",
            warn=True,
        ),
        Check(
            "retention pruned during the run",
            follower.prunes > 0,
            f"{follower.prunes} passes pruned {follower.pruned['stories']:,} stories, "
            f"{follower.pruned['entries']:,} entries, {follower.pruned['fetch_log']:,} log rows",
            warn=seconds < 2 * RETENTION,
        ),
        Check(
            "database + WAL stop growing (2/3 of the run -> the end)",
            db_growth <= GROWTH_LIMIT,
            f"median {mib(db_mid_median)} -> {mib(db_end_median)} ({db_growth:+.1%})",
            warn=True,
        ),
        Check(
            "no entry stored twice, but after its feed went retention_days without a 200",
            not unexplained,
            f"{len(unexplained)} re-inserted otherwise"
            + (f", e.g. {unexplained[0]}" if unexplained else ""),
        ),
        Check(
            "no entry pruned while its feed still carried it (304s, failures)",
            not sum(twice.values()),
            f"{sum(twice.values())} came back as new: {twice['changing']} on changing feeds, "
            f"{twice['static']} on never-changing ones, {twice['broken']} on always-failing "
            "ones",
            warn=True,
        ),
        Check(
            "editions frozen",
            follower.editions >= len(editions),
            f"{follower.editions} of {len(editions)} ({', '.join(editions) or 'none due'})",
        ),
    ]
    failed = [c for c in results if c.verdict == "FAIL"]
    return {
        "ok": not failed,
        "workdir": str(work),
        "feeds": len(farm_urls),
        "seconds": seconds,
        "run_seconds": run_seconds,
        "faults_until": faults_until,
        "nice": args.nice,
        "passes": dict(follower.passes),
        "passes_total": passes,
        "pass_seconds": {
            "median": statistics.median(follower.pass_seconds) if follower.pass_seconds else 0,
            "max": max(follower.pass_seconds, default=0),
        },
        "fetches": sum(dbf.outcomes.values()),
        "fetches_logged_by_daemon": follower.pass_feeds,
        "outcomes": dict(dbf.outcomes),
        "error_kinds": dict(dbf.kinds),
        "statuses": dict(dbf.statuses),
        "bozo": dbf.bozo,
        "new_entries": dbf.new_entries,
        "entries_twice": dict(twice),
        "entries_twice_unexplained": unexplained[:20],
        "farm": {
            "served": served,
            "items_added": soak["items_added"],
            "items_served": soak["items_served"],
            "static": len(static),
            "broken": len(broken),
            "faulted_feeds": sum(1 for f in farm_feeds.values() if f["faults"]),
        },
        "faulted_feeds": len(faulted),
        "recovery_seconds": {
            "median": statistics.median(recovery) if recovery else None,
            "max": max(recovery, default=None),
        },
        "stuck": stuck,
        "errors_after_faults": dict(errors_after),
        "rss": {
            "peak_kb": peak,
            "final_kb": final_rss,
            "plateau_median_kb": plateau_median,
            "end_median_kb": end_median,
            "growth": growth,
            "plateau_peak_kb": plateau_peak,
            "end_peak_kb": end_peak,
            "peak_growth": peak_growth,
        },
        "sizes": {k: asdict(v) for k, v in sizes.items()},
        "db_max": max_db,
        "wal_max": max_wal,
        "db_wal_mid_median": db_mid_median,
        "db_wal_end_median": db_end_median,
        "db_growth": db_growth,
        "final_sizes": final_sizes,
        "counts": dbf.counts,
        "log": {
            "levels": dict(follower.levels),
            "errors": follower.errors,
            "stopped_line": follower.stopped,
            "editions": follower.editions,
            "prunes": follower.prunes,
            "pruned": dict(follower.pruned),
        },
        "database": {k: v for k, v in checks.items() if k != "failing_feeds"},
        "failing_feeds": checks["failing_feeds"],
        "checks": [{**asdict(c), "verdict": c.verdict} for c in results],
        "samples": [asdict(s) for s in samples],
    }


def table(r: dict[str, Any]) -> str:
    rss = r["rss"]
    farm = r["farm"]
    served = farm["served"]
    faults = ", ".join(
        f"{k.removeprefix('fault:')} {v:,}" for k, v in sorted(served.items()) if "fault:" in k
    )
    answers = ", ".join(f"{k} {v:,}" for k, v in sorted(served.items()) if k.isdigit())
    outcomes = ", ".join(f"{k} {v:,}" for k, v in sorted(r["outcomes"].items()))
    kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(r["error_kinds"].items())) or "none"
    sizes = "; ".join(
        f"{float(k) * r['seconds']:.0f} s: {mib(s['db'] + s['wal'])}" for k, s in r["sizes"].items()
    )
    counts = r["counts"]
    entries = (
        f"{counts[len(counts) // 2][1]:,} at {counts[len(counts) // 2][0]:.0f} s, "
        f"{counts[-1][1]:,} at the end"
        if counts
        else "?"
    )
    stories = (
        f"{counts[len(counts) // 2][2]:,} at {counts[len(counts) // 2][0]:.0f} s, "
        f"{counts[-1][2]:,} at the end; the largest has "
        + ", ".join(f"{counts[len(counts) * k // 4][4]:,}" for k in (1, 2, 3) if len(counts) >= 4)
        + f", {counts[-1][4]:,} members (1/4, 1/2, 3/4, end)"
        if counts
        else "?"
    )
    rec = r["recovery_seconds"]
    rows = [
        ("run", f"{r['run_seconds']:.0f} s, {r['feeds']} feeds, faults for "
                f"{r['faults_until']:.0f} s" + (f", nice {r['nice']}" if r["nice"] else "")),
        ("passes completed", f"{r['passes'].get('done', 0)} done, "
                             f"{r['passes'].get('stopped', 0)} stopped by SIGTERM; "
                             f"median {r['pass_seconds']['median']:.1f} s, "
                             f"max {r['pass_seconds']['max']:.1f} s"),
        ("feeds fetched", f"{r['fetches']:,} fetch log rows ({outcomes}); "
                          f"{r['bozo']:,} malformed but usable"),
        ("error kinds", kinds),
        ("farm answered", answers),
        ("farm faults", f"{faults or 'none'} on {farm['faulted_feeds']} feeds "
                        f"({farm['broken']} always failing)"),
        ("recovery", f"first ok/304 after the faults: median {rec['median'] or 0:.0f} s, "
                     f"max {rec['max'] or 0:.0f} s after they stopped"),
        ("entries", f"{entries}; {r['new_entries']:,} stored new, "
                    f"{farm['items_served']:,} distinct items served"),
        ("stories", stories),
        ("retention", f"{r['log']['prunes']} prunes: {r['log']['pruned'].get('stories', 0):,} "
                      f"stories, {r['log']['pruned'].get('entries', 0):,} entries, "
                      f"{r['log']['pruned'].get('fetch_log', 0):,} log rows"),
        ("RSS peak / final", f"{mb(rss['peak_kb'])} / {mb(rss['final_kb'])}"),
        ("RSS warm-up -> end", f"median {mb(rss['plateau_median_kb'])} -> "
                               f"{mb(rss['end_median_kb'])} ({rss['growth']:+.1%}), "
                               f"peak {mb(rss['plateau_peak_kb'])} -> {mb(rss['end_peak_kb'])} "
                               f"({rss['peak_growth']:+.1%})"),
        ("db + WAL over time", sizes),
        ("db + WAL mid / end", f"median {mib(r['db_wal_mid_median'])} (1/2-2/3) -> "
                               f"{mib(r['db_wal_end_median'])} (last 1/6); "
                               f"max db {mib(r['db_max'])}, max WAL {mib(r['wal_max'])}"),
        ("at exit", f"db {mib(r['final_sizes']['db'])}, WAL {mib(r['final_sizes']['wal'])}, "
                    f"site {mib(r['final_sizes']['site'])} in {r['final_sizes']['site_files']} "
                    f"files; {r['database']['entries']:,} entries, "
                    f"{r['database']['stories']:,} stories, {r['database']['fetch_log']:,} log "
                    f"rows, {r['database']['entries_unassigned']} entries without a story"),
        ("log lines", ", ".join(f"{k} {v:,}" for k, v in sorted(r["log"]["levels"].items()))),
    ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    lines = [f"{k.ljust(width)}  {v}" for k, v in rows]
    lines.append("")
    lines += [f"{c['verdict']}  {c['name']}: {c['detail']}" for c in r["checks"]]
    lines.append("")
    lines.append(f"{'PASS' if r['ok'] else 'FAIL'}  soak test ({r['workdir']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=500, help="feeds in the farm (500)")
    parser.add_argument("--minutes", type=float, default=10, help="length of the run (10)")
    parser.add_argument("--seconds", type=float, help="length of the run, in seconds")
    parser.add_argument("--seed", type=int, default=1, help="farm seed (1)")
    parser.add_argument(
        "--faults-until", type=float, metavar="S", help="seconds of faults (60 %% of the run)"
    )
    parser.add_argument("--fault-rate", type=float, default=0.1, help="requests failing (0.1)")
    parser.add_argument(
        "--broken-share", type=float, default=0.05, help="feeds failing every request (0.05)"
    )
    parser.add_argument("--change-every", type=float, default=5, help="seconds a step (5)")
    parser.add_argument(
        "--change-share", type=float, default=0.2, help="feeds gaining items a step (0.2)"
    )
    parser.add_argument(
        "--cluster-threshold",
        type=float,
        help="settings.cluster_threshold (default: the daemon's); 0.9 keeps the farm's "
        "look-alike headlines from chaining into stories that never stop growing",
    )
    parser.add_argument(
        "--wrap",
        metavar="CMD",
        help="run the daemon as CMD -v -c feeds.yaml run instead of the venv's aggregator "
        "(a profiler, a wrapper script that starts tracemalloc)",
    )
    parser.add_argument("--nice", type=int, default=0, help="run the daemon under nice -n N")
    parser.add_argument("--workdir", type=Path, help="work directory (default: a new temp dir)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if not AGGREGATOR.exists():
        print(f"no {AGGREGATOR}: run this with the dev venv's python (.venv/bin/python)")
        return 2
    progress = sys.stderr if args.json else sys.stdout
    results = run(args, progress)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        print()
        print(table(results))
    if not results["ok"]:
        print(f"\ndaemon log tail ({results['workdir']}/daemon.log):", file=progress)
        print(_tail(Path(results["workdir"]) / "daemon.log", 20), file=progress)
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
