"""Stopping and reloading: a pass stops between feeds, the daemon exits 0 promptly on SIGTERM
even during a slow download, SIGHUP reloads feeds.yaml (or keeps the running one when the new
file is invalid), and the daemon and ``run --once`` share the run lock.

The daemon runs as a real subprocess (``python -m aggregator run``) against the loopback
``feed_server`` of this test process; its log goes to a file the test reads.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import NOW, FeedServer
from test_lock import holder
from test_pipeline import rss, write_config

from aggregator import pipeline
from aggregator.cli import cli
from aggregator.config import load_config
from aggregator.lock import lock_path
from aggregator.models import FeedReport
from aggregator.pipeline import run_pass

FAST = rss("Alpha", [("urn:a:1", "Volcano erupts in Iceland", "https://a.test/1", 1)])
SLOW = rss("Beta", [("urn:b:1", "Floods in Pakistan kill dozens", "https://b.test/1", 1)])


def wait_for(condition: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def check_database(db: Path) -> None:
    """Consistent after a stop: integrity ok, every story has entries, counts agree."""
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    # the full-text index is sound (an FTS5 'delete' of a row never indexed would break it)
    conn = sqlite3.connect(db)
    try:
        conn.execute("INSERT INTO entries_fts (entries_fts) VALUES ('integrity-check')")
        conn.execute("INSERT INTO stories_fts (stories_fts) VALUES ('integrity-check')")
    finally:
        conn.close()
    assert query(db, "PRAGMA foreign_key_check") == []
    empty = (
        "SELECT count(*) FROM stories s"
        " WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.story_id = s.id)"
    )
    assert query(db, empty) == [(0,)]
    dangling = (
        "SELECT count(*) FROM entries e WHERE e.story_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM stories s WHERE s.id = e.story_id)"
    )
    assert query(db, dangling) == [(0,)]


class Daemon:
    """``aggregator -v run`` in a subprocess, its stderr in a file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        self._file = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "-c", str(config), "-v", "run"],
            stdout=subprocess.DEVNULL,
            stderr=self._file,
        )

    def text(self) -> str:
        return self.log.read_text()

    def logged(self, needle: str, seconds: float = 10) -> bool:
        return wait_for(lambda: needle in self.text(), seconds)

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, float]:
        """Send ``signum``; the exit status and the seconds it took."""
        started = time.monotonic()
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout=15)
        return code, time.monotonic() - started

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._file.close()


@contextmanager
def daemon(config: Path, log: Path) -> Iterator[Daemon]:
    d = Daemon(config, log)
    try:
        yield d
    finally:
        d.close()


# -- run_pass(stop=...) in this process ------------------------------------------------------


def test_a_pass_stops_between_feeds_and_the_next_pass_clusters_what_was_stored(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    fast = feed_server.add("/fast.xml", FAST)
    slow = feed_server.add("/slow.xml", SLOW, delay=30)
    config = load_config(write_config(tmp_path, {"alpha": fast, "beta": slow}))
    db = tmp_path / "data" / "agg.db"
    stop = threading.Event()

    def progress(report: FeedReport, done: int, total: int) -> None:
        stop.set()  # the first feed is stored; the other is still downloading

    started = time.monotonic()
    report = run_pass(config, now=NOW, stop=stop, progress=progress)
    assert time.monotonic() - started < 3  # not the 30 s of the slow server, nor its timeout
    assert [(f.name, f.new_entries) for f in report.feeds] == [("Alpha", 1)]
    assert report.stories_touched == 0
    assert report.rendered == ()
    assert query(db, "SELECT title, story_id FROM entries") == [("Volcano erupts in Iceland", None)]
    assert not (tmp_path / "site" / "index.html").exists()  # no render after a stop
    check_database(db)

    # the next pass: the stored entry gets its story although its feed is not due again
    feed_server.add("/slow.xml", SLOW)
    report = run_pass(config, now=NOW)
    assert [f.name for f in report.feeds] == ["Beta"]
    assert report.stories_touched == 2
    assert query(db, "SELECT count(*) FROM entries WHERE story_id IS NULL") == [(0,)]
    assert "Volcano erupts in Iceland" in (tmp_path / "site" / "index.html").read_text()
    check_database(db)


def test_a_stop_during_clustering_skips_the_render_and_asks_the_next_pass_for_it(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(write_config(tmp_path, {"alpha": feed_server.add("/a.xml", FAST)}))
    run_pass(config, now=NOW)  # a digest exists
    stamp = tmp_path / "site" / ".rendered"
    assert stamp.exists()
    feed_server.add(
        "/a.xml", rss("Alpha", [("urn:a:3", "Storm hits the coast", "https://a.test/3", 1)])
    )
    stop = threading.Event()
    real = pipeline.update_stories

    def update_then_stop(*args: Any, **kwargs: Any) -> set[int]:
        touched = real(*args, **kwargs)  # its transaction completes
        stop.set()  # a signal arrives while the stories are written
        return touched

    monkeypatch.setattr(pipeline, "update_stories", update_then_stop)
    report = run_pass(config, now=NOW, stop=stop, all_feeds=True)
    monkeypatch.undo()
    assert report.stories_touched == 1
    assert report.rendered == ()
    assert "Storm hits the coast" not in (tmp_path / "site" / "index.html").read_text()
    assert not stamp.exists()  # so the next pass renders even with nothing new
    check_database(tmp_path / "data" / "agg.db")
    report = run_pass(config, now=NOW)
    assert report.feeds == ()
    assert "Storm hits the coast" in (tmp_path / "site" / "index.html").read_text()


# -- the daemon -------------------------------------------------------------------------------


def test_sigterm_during_a_slow_download_exits_0_promptly_and_leaves_a_sound_database(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    fast = feed_server.add("/fast.xml", FAST)
    slow = feed_server.add("/slow.xml", SLOW, drip=1.0, chunk_size=16)  # ~25 s of body
    config = write_config(tmp_path, {"alpha": fast, "beta": slow}, interval="5s")
    # a deadline far beyond the 10 s budget: the stop must not wait for it
    config.write_text(config.read_text().replace("timeout: 5\n", "timeout: 60\n"))
    db = tmp_path / "data" / "agg.db"
    with daemon(config, tmp_path / "daemon.log") as d:
        assert d.logged("Alpha: 200 in"), d.text()
        assert wait_for(lambda: any(r.path == "/slow.xml" for r in feed_server.requests))
        time.sleep(0.3)  # well inside the slow body
        code, seconds = d.stop(signal.SIGTERM)
        log = d.text()
    assert code == 0, log
    assert seconds < 10, log
    print(f"SIGTERM to exit during a slow download: {seconds:.2f} s")
    assert "received SIGTERM: stopping" in log
    assert "pass stopped after 1 of 2 feeds" in log
    assert "Traceback" not in log
    check_database(db)
    assert query(db, "SELECT count(*) FROM entries WHERE story_id IS NULL") == [(1,)]
    assert query(db, "SELECT count(*) FROM stories") == [(0,)]

    # a later cron run completes: the slow feed answers now, the stored entry gets its story
    feed_server.add("/slow.xml", SLOW)
    result = CliRunner().invoke(cli, ["-c", str(config), "run", "--once"])
    assert result.exit_code == 0, result.output
    assert "1 feeds fetched (1 updated" in result.output
    assert query(db, "SELECT count(*) FROM entries WHERE story_id IS NULL") == [(0,)]
    assert query(db, "SELECT count(*) FROM stories") == [(2,)]
    check_database(db)


def test_sigint_between_passes_exits_0(tmp_path: Path, feed_server: FeedServer) -> None:
    config = write_config(tmp_path, {"alpha": feed_server.add("/a.xml", FAST)}, interval="5s")
    with daemon(config, tmp_path / "daemon.log") as d:
        assert d.logged("pass done"), d.text()
        code, seconds = d.stop(signal.SIGINT)
        log = d.text()
    assert (code, "received SIGINT: stopping" in log) == (0, True), log
    assert seconds < 2
    assert "KeyboardInterrupt" not in log


def test_sighup_reloads_a_valid_config_and_keeps_the_old_one_when_invalid(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    alpha = feed_server.add("/a.xml", FAST, etag='"a1"')
    beta = feed_server.add("/b.xml", SLOW)
    config = write_config(tmp_path, {"alpha": alpha}, interval="1h")
    with daemon(config, tmp_path / "daemon.log") as d:
        assert d.logged("pass done"), d.text()
        assert [r.path for r in feed_server.requests] == ["/a.xml"]

        # a valid new file: a new source, fetched right after the reload
        write_config(tmp_path, {"alpha": alpha, "beta": beta}, interval="1h")
        d.proc.send_signal(signal.SIGHUP)
        assert d.logged("reloaded"), d.text()
        assert wait_for(lambda: any(r.path == "/b.xml" for r in feed_server.requests)), d.text()
        assert d.logged("Beta: 200 in")

        # an invalid one: refused in one line, the old configuration keeps running
        config.write_text(config.read_text().replace(beta, "ftp://example.org/feed"))
        d.proc.send_signal(signal.SIGHUP)
        assert d.logged("reload refused"), d.text()
        assert d.proc.poll() is None
        code, _ = d.stop()
        log = d.text()
    assert code == 0, log
    refused = [line for line in log.splitlines() if "reload refused" in line]
    assert len(refused) == 1, log
    assert "sources[1].url: " in refused[0]
    assert refused[0].endswith("'ftp://example.org/feed'")
    assert " ERROR: reload refused, the running configuration stays: " in refused[0]
    assert log.count("reloaded ") == 1
    assert "Traceback" not in log


def test_the_daemon_holds_the_lock_and_waits_for_a_run_in_progress(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = write_config(tmp_path, {"alpha": feed_server.add("/a.xml", FAST)}, interval="5s")
    lock = lock_path(tmp_path / "data" / "agg.db")
    with holder(lock) as other, daemon(config, tmp_path / "daemon.log") as d:
        assert d.logged(f"another run (pid {other.pid}) is in progress"), d.text()
        assert "waiting for it to finish" in d.text()
        time.sleep(0.5)
        assert feed_server.requests == []  # nothing fetched while the other run holds it
        other.kill()
        other.wait()
        assert d.logged("pass done"), d.text()
        # while the daemon runs, cron runs skip
        result = CliRunner().invoke(cli, ["-c", str(config), "run", "--once"])
        assert result.exit_code == 0
        assert result.output == f"another run (pid {d.proc.pid}) is in progress; skipping\n"
        code, _ = d.stop()
    assert code == 0


def test_sigterm_while_waiting_for_the_lock_exits_0(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"alpha": "http://127.0.0.1:9/feed"})
    with holder(lock_path(tmp_path / "data" / "agg.db")), daemon(config, tmp_path / "d.log") as d:
        assert d.logged("waiting for it to finish"), d.text()
        code, seconds = d.stop()
    assert code == 0
    assert seconds < 2
