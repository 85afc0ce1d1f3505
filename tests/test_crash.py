"""Crash safety: ``kill -9`` at random points of a pass, a second writer holding the database
lock, and a disk that fills up during a write.

After each of them the database passes ``PRAGMA integrity_check``, no story is left without
entries (nor an entry pointing at a missing story), nothing that had been committed is lost,
and the next pass completes normally and stores everything the feeds carry.

Passes run as real subprocesses (``python -m aggregator run --once --all``) against the
loopback ``feed_server`` of this test process, except where a fault is injected in-process
(a page limit standing in for a full disk). The kill loop is bounded (``ROUNDS`` kills) and
seeded; the seed is in the assertion messages, so a failure can be replayed.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FeedServer
from test_pipeline import write_config
from test_signals import check_database, query

from aggregator import pipeline
from aggregator import store as store_module
from aggregator.cli import cli
from aggregator.config import load_config
from aggregator.errors import StoreError
from aggregator.pipeline import run_pass
from aggregator.store import Store

FEEDS = 12
ITEMS = 25  # new items per feed and round
ROUNDS = 6  # passes killed at a random point
SEED = 20261208

PLACES = (
    "Kyiv", "Gaza", "Khartoum", "Caracas", "Manila", "Nairobi", "Dhaka", "Lima", "Seoul",
    "Ankara", "Lagos", "Hanoi", "Quito", "Accra", "Riga", "Tunis", "Bogota", "Jakarta",
)  # fmt: skip
EVENTS = (
    "floods displace thousands in",
    "parliament approves budget in",
    "protesters rally against fuel prices in",
    "strike shuts ports in",
    "court jails opposition leader in",
    "earthquake damages homes near",
    "central bank raises rates in",
    "talks on ceasefire resume in",
)


def headline(story: int, outlet: int) -> str:
    """The headline outlet ``outlet`` gives story ``story``: several outlets word the same
    story alike (so stories gather reports), every story is distinct."""
    place = PLACES[story % len(PLACES)]
    event = EVENTS[(story // len(PLACES)) % len(EVENTS)]
    tail = ("", " officials say", " reports say", " as pressure mounts")[outlet % 4]
    return f"{event.capitalize()} {place} on day {story}{tail}"


def feed(outlet: int, rounds: int, now: datetime) -> bytes:
    """Feed ``outlet`` after ``rounds`` rounds: ``ITEMS`` items per round, newest first."""
    items = []
    for r in range(rounds):
        for j in range(ITEMS):
            story = r * ITEMS + (j + outlet) % ITEMS
            when = now - timedelta(minutes=5 * (rounds - r) + j)
            items.append(
                f"<item><guid>urn:o{outlet}:r{r}:{j}</guid>"
                f"<title>{headline(story, outlet)}</title>"
                f"<link>https://o{outlet}.test/{r}/{j}</link>"
                f"<description>Report {j} of round {r} by outlet {outlet}.</description>"
                f"<pubDate>{when:%a, %d %b %Y %H:%M:%S GMT}</pubDate></item>"
            )
    body = "".join(reversed(items))
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Outlet {outlet}</title><link>https://o{outlet}.test/</link>{body}"
        "</channel></rss>"
    ).encode()


class World:
    """``FEEDS`` feeds on the loopback server, grown one round at a time."""

    def __init__(self, server: FeedServer, tmp_path: Path, **settings: Any) -> None:
        self.server = server
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.rounds = 0
        urls = {f"outlet{i}": server.url(f"/o{i}.xml") for i in range(FEEDS)}
        settings.setdefault("retention_days", 0)
        self.config = write_config(tmp_path, urls, **settings)
        self.db = tmp_path / "data" / "agg.db"

    def grow(self) -> None:
        self.rounds += 1
        for i in range(FEEDS):
            self.server.add(f"/o{i}.xml", feed(i, self.rounds, self.now))

    @property
    def items(self) -> int:
        return FEEDS * ITEMS * self.rounds

    def command(self) -> list[str]:
        return [sys.executable, "-m", "aggregator", "-c", str(self.config), "-q", "run", "--once"]

    def run(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command(), *extra], capture_output=True, text=True, timeout=120, check=False
        )


def entry_keys(db: Path) -> set[tuple[str, str]]:
    """(feed, GUID) of every committed entry (a reader sees only committed data)."""
    if not db.exists():
        return set()
    return {(str(f), str(g)) for f, g in query(db, "SELECT feed_url, guid FROM entries")}


def assert_complete(world: World) -> None:
    """Everything the feeds carry is stored and belongs to a story."""
    check_database(world.db)
    assert query(world.db, "SELECT count(*) FROM entries") == [(world.items,)]
    assert query(world.db, "SELECT count(*) FROM entries WHERE story_id IS NULL") == [(0,)]


# -- kill -9 -------------------------------------------------------------------------------------


def test_kill_9_at_random_points_loses_nothing_committed(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    rng = random.Random(SEED)
    world = World(feed_server, tmp_path)
    world.grow()
    started = time.monotonic()
    done = world.run("--all")
    full = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert_complete(world)

    kills = 0
    for attempt in range(ROUNDS):
        world.grow()
        before = entry_keys(world.db)
        proc = subprocess.Popen(
            [*world.command(), "--all"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        # from the interpreter starting up to the render at the end of the pass
        time.sleep(rng.uniform(0.0, 1.2 * full))
        committed = entry_keys(world.db)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
        assert proc.stderr is not None
        stderr = proc.stderr.read().decode()
        proc.stderr.close()
        where = f"seed {SEED}, attempt {attempt}, exit {proc.returncode}: {stderr}"
        assert proc.returncode in (0, -signal.SIGKILL), where
        check_database(world.db)
        after = entry_keys(world.db)
        assert before <= after, where
        assert committed <= after, where
        assert query(world.db, "PRAGMA foreign_key_check") == [], where

    assert kills >= ROUNDS // 2  # the loop really killed passes, not only watched them end
    # the next pass completes normally: the stored-but-unclustered entries get stories and
    # the items the killed passes never reached are fetched (conditional requests)
    done = world.run("--all")
    assert done.returncode == 0, done.stderr
    assert_complete(world)
    again = world.run("--all")  # and a pass over unchanged feeds changes nothing
    assert again.returncode == 0, again.stderr
    assert_complete(world)


# -- a second writer -----------------------------------------------------------------------------


@contextmanager
def write_lock(db: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding the database's write lock until the block ends."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO archive_days (day, stories) VALUES ('1999-01-01', 0)")
        yield conn
        conn.execute("COMMIT")
    finally:
        conn.close()


def test_a_pass_waits_for_another_writer_and_loses_nothing(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    world = World(feed_server, tmp_path)
    world.grow()
    assert world.run("--all").returncode == 0
    world.grow()
    hold = 2.0
    with write_lock(world.db):
        started = time.monotonic()
        proc = subprocess.Popen(
            [*world.command(), "--all"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        time.sleep(hold)
        assert proc.poll() is None  # still waiting for the lock, not failed
    assert proc.wait(timeout=60) == 0
    assert time.monotonic() - started >= hold
    assert proc.stderr is not None
    assert proc.stderr.read() == b""
    proc.stderr.close()
    assert_complete(world)
    # the other writer's row is there too: nobody's write was lost
    assert query(world.db, "SELECT count(*) FROM archive_days WHERE day = '1999-01-01'") == [(1,)]


def test_a_writer_that_never_lets_go_fails_the_pass_in_one_line_and_the_next_one_recovers(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(feed_server, tmp_path)
    world.grow()
    assert world.run("--all").returncode == 0
    world.grow()
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 300)  # (30 s in real life)
    with write_lock(world.db):
        result = CliRunner().invoke(cli, ["-c", str(world.config), "run", "--once", "--all"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "agg.db: database is locked: another process kept writing" in lines[0]
    check_database(world.db)
    monkeypatch.undo()
    done = world.run("--all")
    assert done.returncode == 0, done.stderr
    assert_complete(world)


# -- disk full -----------------------------------------------------------------------------------


def limit_pages(monkeypatch: pytest.MonkeyPatch, spare_pages: int) -> None:
    """Every database the pass opens may grow by ``spare_pages`` pages only: SQLite then
    fails a write exactly as on a full disk (SQLITE_FULL)."""
    opened = Store.open.__func__  # type: ignore[attr-defined]

    def open_limited(cls: type[Store], path: str | Path) -> Store:
        store: Store = opened(cls, path)
        (pages,) = store.db.execute("PRAGMA page_count").fetchone()
        store.db.execute(f"PRAGMA max_page_count = {pages + spare_pages}")
        return store

    monkeypatch.setattr(Store, "open", classmethod(open_limited))


def test_a_full_database_fails_the_pass_in_one_line_and_the_next_pass_succeeds(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(feed_server, tmp_path)
    world.grow()
    assert world.run("--all").returncode == 0
    for _ in range(3):
        world.grow()
    before = entry_keys(world.db)
    limit_pages(monkeypatch, spare_pages=8)
    result = CliRunner().invoke(cli, ["-c", str(world.config), "run", "--once", "--all"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "agg.db: database or disk is full; the write in progress was rolled back" in lines[0]
    check_database(world.db)
    assert before <= entry_keys(world.db)
    assert len(entry_keys(world.db)) < world.items  # it did stop short
    monkeypatch.undo()  # space returns
    done = world.run("--all")
    assert done.returncode == 0, done.stderr
    assert_complete(world)


def test_a_full_database_during_clustering_keeps_the_stored_entries(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries stored, then the disk fills while stories are written: they are kept and
    the next pass gives them stories."""
    world = World(feed_server, tmp_path)
    world.grow()
    assert world.run("--all").returncode == 0
    world.grow()
    config = load_config(world.config)
    original = pipeline.update_stories

    def full_disk_while_clustering(store: Store, *args: Any, **kwargs: Any) -> Any:
        (pages,) = store.db.execute("PRAGMA page_count").fetchone()
        store.db.execute(f"PRAGMA max_page_count = {pages}")
        return original(store, *args, **kwargs)

    monkeypatch.setattr(pipeline, "update_stories", full_disk_while_clustering)
    with pytest.raises(StoreError, match="database or disk is full"):
        run_pass(config, all_feeds=True)
    check_database(world.db)
    assert len(entry_keys(world.db)) == world.items  # every entry was stored before
    monkeypatch.undo()
    done = world.run("--all")
    assert done.returncode == 0, done.stderr
    assert_complete(world)


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 384 KiB tmpfs mounted for the test (needs root and mount; skipped elsewhere)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tiny filesystem needs root")
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=384k", "tmpfs", str(mnt)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_really_full_disk_then_space_returning(
    tmp_path: Path, feed_server: FeedServer, tiny_filesystem: Path
) -> None:
    world = World(feed_server, tmp_path)
    # the database on the tiny filesystem, the digest beside the test
    text = world.config.read_text().replace("data/agg.db", str(tiny_filesystem / "agg.db"))
    world.config.write_text(text)
    world.db = tiny_filesystem / "agg.db"
    for _ in range(8):  # far more than 384 KiB of entries, stories and indexes
        world.grow()
    done = world.run("--all")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "disk is full" in lines[0], done.stderr
    check_database(world.db)
    stored = entry_keys(world.db)
    assert len(stored) < world.items

    remount = ["mount", "-o", "remount,size=64m", str(tiny_filesystem)]
    subprocess.run(remount, check=True)  # space returns
    done = world.run("--all")
    assert done.returncode == 0, done.stderr
    assert stored <= entry_keys(world.db)
    assert_complete(world)
