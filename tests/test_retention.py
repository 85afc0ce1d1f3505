"""Retention: the cutoff, the setting, pruning whole stories (and what they own), the fetch log,
incremental vacuum, archive pages that outlive their stories, and database errors as one line."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import FeedServer

from aggregator.config import Settings, parse_config
from aggregator.errors import ConfigError, StoreError
from aggregator.models import Entry, FetchResult, Labels, ParsedFeed, RelatedLink, Source
from aggregator.pipeline import run_pass
from aggregator.store import PruneResult, Store, iso, retention_cutoff

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=90)
OLD = CUTOFF - timedelta(days=3)  # a time the default retention prunes at NOW
RECENT = NOW - timedelta(days=1)
ALPHA = "https://alpha.example/rss"
BETA = "https://beta.example/rss"
LABELS = Labels(region="Europe", topic="politics")


# -- the cutoff and the setting ---------------------------------------------------------------


def test_cutoff_is_retention_days_before_now() -> None:
    assert retention_cutoff(NOW, 90) == NOW - timedelta(days=90)
    assert retention_cutoff(NOW, 0.5) == NOW - timedelta(hours=12)
    assert retention_cutoff(NOW, None) is None
    assert retention_cutoff(NOW, 0) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), (0, None), (90, 90.0), (0.25, 0.25), (3650, 3650.0)],
)
def test_retention_days_setting(value: Any, expected: float | None) -> None:
    settings = parse_config({"settings": {"retention_days": value, "digest_window": "1h"}}).settings
    assert settings.retention_days == expected


def test_retention_days_defaults_to_90() -> None:
    assert parse_config({}).settings.retention_days == 90.0
    assert Settings().retention_days == 90.0


@pytest.mark.parametrize("value", [-1, "ten", True, float("nan"), 1e9, [90]])
def test_bad_retention_days_is_one_line_naming_the_key(value: Any) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config({"settings": {"retention_days": value}})
    message = str(e.value)
    assert message.startswith("settings.retention_days: expected a number of days")
    assert "\n" not in message


def test_retention_shorter_than_the_digest_window_is_refused() -> None:
    expected = r"^settings.retention_days: 1 day is shorter than digest_window \(2 days\)"
    with pytest.raises(ConfigError, match=expected):
        parse_config({"settings": {"retention_days": 1}})  # digest_window is 48h
    ok = parse_config({"settings": {"retention_days": 1, "digest_window": "24h"}})
    assert ok.settings.retention_days == 1.0


# -- pruning ----------------------------------------------------------------------------------


def entry(feed: str, key: str, published: datetime, **kw: Any) -> Entry:
    return Entry(
        feed_url=feed,
        identity=f"guid:{key}",
        guid=key,
        title=kw.pop("title", f"Headline {key} about the Danube floods"),
        url=f"{feed.removesuffix('/rss')}/{key}",
        published=published,
        first_seen=published,
        **kw,
    )


def stored(store: Store, feed: str, seen: datetime, entries: Sequence[Entry]) -> list[int]:
    """Store ``entries`` as one fetch of ``feed`` at ``seen``; their ids."""
    written = store.record_success(
        FetchResult(url=feed, fetched_at=seen, status=200),
        ParsedFeed(url=feed, title=feed),
        entries,
        seen + timedelta(minutes=30),
    )
    return list(written.new_ids)


def story(store: Store, ids: Sequence[int]) -> int:
    """Make ``ids`` one story (the first is its id and lead)."""
    store.assign(dict.fromkeys(ids, ids[0]))
    members = store.entries(ids=ids)
    store.save_story(ids[0], members[0], members, LABELS, NOW)
    return ids[0]


@pytest.fixture
def archive(store: Store) -> dict[str, int]:
    """An archive of four stories and some loose rows, named by what should happen to them."""
    store.sync_sources([Source(ALPHA, "Alpha"), Source(BETA, "Beta")], OLD)
    old_a = stored(store, ALPHA, OLD, [entry(ALPHA, "a1", OLD), entry(ALPHA, "a2", OLD)])
    old_b = stored(
        store,
        BETA,
        OLD,
        [
            entry(BETA, "b1", OLD - timedelta(hours=1), related=(RelatedLink("https://x.test/1"),)),
            entry(BETA, "b2", OLD, title="Budget vote passes in Lisbon"),
            entry(BETA, "lead", OLD - timedelta(hours=2), title="Growing story opens"),
            entry(BETA, "loose-old", OLD, title="Never clustered"),
        ],
    )
    still_carried = stored(store, ALPHA, OLD, [entry(ALPHA, "carried", OLD, title="Evergreen")])
    stored(store, ALPHA, RECENT, [entry(ALPHA, "carried", OLD, title="Evergreen")])
    recent = stored(
        store,
        BETA,
        RECENT,
        [
            entry(BETA, "b3", RECENT, title="Growing story grows"),
            entry(BETA, "b4", RECENT, title="A fresh story"),
            entry(BETA, "loose-new", RECENT, title="Also never clustered"),
        ],
    )
    store.save_embeddings("test-model", {old_a[0]: b"\0" * 8, recent[1]: b"\1" * 8})
    store.index_pending()  # as a pass does after storing
    return {
        "gone": story(store, [*old_a, old_b[0]]),
        "gone_too": story(store, [old_b[1]]),
        "growing": story(store, [old_b[2], recent[0]]),
        "carried": story(store, still_carried),
        "fresh": story(store, [recent[1]]),
        "loose_old": old_b[3],
        "loose_new": recent[2],
        "lead": old_b[2],
    }


def ids(store: Store, table: str) -> set[int]:
    return {r[0] for r in store.db.execute(f"SELECT id FROM {table}")}


def test_prune_removes_whole_old_stories_and_what_they_own(
    store: Store, archive: dict[str, int]
) -> None:
    days_before = dict(store.story_days())

    result = store.prune(CUTOFF)

    assert result == PruneResult(stories=2, entries=5, fetch_log=3, pages_freed=0, done=True)
    assert ids(store, "stories") == {archive["growing"], archive["carried"], archive["fresh"]}
    left = {r[0] for r in store.db.execute("SELECT identity FROM entries")}
    # the growing story keeps its old lead; an item its feed still carries stays
    assert left == {"guid:lead", "guid:b3", "guid:carried", "guid:b4", "guid:loose-new"}
    assert archive["lead"] in ids(store, "entries")
    assert store.db.execute("SELECT count(*) FROM related_links").fetchone()[0] == 0
    assert store.embeddings(ids(store, "entries"), "test-model").keys() == {archive["fresh"]}
    logged = [r[0] for r in store.db.execute("SELECT fetched_at FROM fetch_log")]
    assert logged == [iso(RECENT)] * 2  # the three fetches at OLD are gone
    # full-text search follows through the triggers
    assert store.db.execute("SELECT count(*) FROM entries_fts").fetchone()[0] == 5
    hits = store.db.execute("SELECT rowid FROM entries_fts WHERE entries_fts MATCH 'Lisbon'")
    assert hits.fetchall() == []
    store.db.execute("INSERT INTO entries_fts (entries_fts) VALUES ('integrity-check')")
    assert store.db.execute("SELECT count(*) FROM stories_fts").fetchone()[0] == 3
    # no story is left without members, no entry points at a story that is gone
    assert not store.db.execute(
        "SELECT id FROM stories s WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.story_id"
        " = s.id)"
    ).fetchall()
    assert not store.db.execute(
        "SELECT id FROM entries e WHERE story_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM"
        " stories s WHERE s.id = e.story_id)"
    ).fetchall()
    # the archive still lists the old day with the stories its page showed
    assert dict(store.story_days()) == days_before
    assert store.prune(CUTOFF) == PruneResult()  # nothing left to do


def test_prune_works_in_bounded_chunks(store: Store, archive: dict[str, int]) -> None:
    first = store.prune(CUTOFF, chunk=1, chunks=1)
    assert (first.stories, first.entries, first.done) == (1, 3, False)  # the oldest story
    # one story, none left, one loose entry: out of budget before the fetch log
    second = store.prune(CUTOFF, chunk=1, chunks=3)
    assert (second.stories, second.entries, second.fetch_log, second.done) == (1, 2, 0, False)
    last = store.prune(CUTOFF, chunk=1, chunks=10)
    assert last.done
    assert ids(store, "stories") == {archive["growing"], archive["carried"], archive["fresh"]}


def test_nothing_is_pruned_without_retention(store: Store, archive: dict[str, int]) -> None:
    before = ids(store, "entries")
    assert store.apply_retention(None, NOW) is None
    assert store.apply_retention(0, NOW) is None
    assert ids(store, "entries") == before
    result = store.apply_retention(90, NOW)
    assert result is not None
    assert result.stories == 2


# -- space ------------------------------------------------------------------------------------


def fill(store: Store, n: int, published: datetime) -> None:
    store.sync_sources([Source(ALPHA, "Alpha")], published)
    text = "Long summary of the story. " * 40
    for start in range(0, n, 200):
        new = stored(
            store,
            ALPHA,
            published,
            [entry(ALPHA, f"e{i}", published, summary=text) for i in range(start, start + 200)],
        )
        for i in new:
            story(store, [i])
    # the feed has moved on since: none of them is in it any more
    stored(store, ALPHA, published + timedelta(hours=1), [])


def test_a_new_database_gives_space_back_incrementally(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "agg.db")
    try:
        assert store.db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        fill(store, 1000, OLD)
        (full,) = store.db.execute("PRAGMA page_count").fetchone()
        result = store.prune(CUTOFF, vacuum_pages=50)
        assert (result.stories, result.entries) == (1000, 1000)
        assert result.pages_freed == 50  # bounded per call
        (free,) = store.db.execute("PRAGMA freelist_count").fetchone()
        assert free > 0
        assert store.vacuum(10**6) == free
        (small,) = store.db.execute("PRAGMA page_count").fetchone()
        assert small < full / 4
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        store.close()


def test_an_older_database_keeps_its_mode_and_reuses_free_pages(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE unrelated (x)")  # a database made before auto_vacuum was set
    conn.close()
    store = Store.open(path)
    try:
        assert store.db.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
        fill(store, 200, OLD)
        assert store.prune(CUTOFF).pages_freed == 0
        assert store.db.execute("PRAGMA freelist_count").fetchone()[0] > 0
        assert store.vacuum() == 0
    finally:
        store.close()


def test_a_first_open_cut_short_after_wal_still_gets_incremental_vacuum(tmp_path: Path) -> None:
    path = tmp_path / "agg.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")  # and then the process died: no table yet
    conn.close()
    store = Store.open(path)
    try:
        assert store.db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    finally:
        store.close()


# -- errors -----------------------------------------------------------------------------------


def sqlite_error(name: str) -> sqlite3.Error:
    error = sqlite3.OperationalError(name.lower())
    error.sqlite_errorname = name
    return error


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("SQLITE_FULL", "database or disk is full; the write in progress was rolled back"),
        ("SQLITE_BUSY", "database is locked: another process kept writing for over 30 s"),
        ("SQLITE_IOERR", "database error: sqlite_ioerr"),
    ],
)
def test_database_errors_become_one_line_naming_the_file(
    tmp_path: Path, name: str, words: str
) -> None:
    store = Store.open(tmp_path / "agg.db")
    try:
        error = store.failure(sqlite_error(name))
    finally:
        store.close()
    assert isinstance(error, StoreError)
    assert str(error).startswith(f"{tmp_path / 'agg.db'}: {words}")
    assert "\n" not in str(error)


# -- a pass -----------------------------------------------------------------------------------


def rss(items: Sequence[tuple[str, str, datetime]]) -> bytes:
    body = "".join(
        f"<item><guid>{guid}</guid><title>{title}</title><link>https://a.test/{guid}</link>"
        f"<pubDate>{when:%a, %d %b %Y %H:%M:%S GMT}</pubDate></item>"
        for guid, title, when in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>A</title>{body}</channel></rss>'
    ).encode()


def test_a_pass_prunes_and_the_archive_pages_stay(tmp_path: Path, feed_server: FeedServer) -> None:
    then = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    url = feed_server.add(
        "/a.xml",
        rss(
            [
                ("1", "Floods in Mozambique displace thousands", then - timedelta(hours=2)),
                ("2", "Mozambique floods displace thousands of people", then - timedelta(hours=1)),
                ("3", "Japan postpones rocket launch", then - timedelta(hours=3)),
            ]
        ),
    )
    config = parse_config(
        {
            "settings": {"database": "agg.db", "output_dir": "site", "retention_days": 30},
            "sources": [url],
        },
        base=tmp_path,
    )
    run_pass(config, now=then)
    site = tmp_path / "site"
    page = site / "archive" / "2026-01-15.html"
    text = page.read_text("utf-8")
    assert "Mozambique" in text

    later = then + timedelta(days=40)
    feed_server.add("/a.xml", rss([("4", "Elections in Chile", later - timedelta(hours=1))]))
    report = run_pass(config, now=later)
    assert "prune" in report.seconds
    store = Store.open(tmp_path / "agg.db")
    try:
        titles = {r[0] for r in store.db.execute("SELECT title FROM entries")}
        assert titles == {"Elections in Chile"}
        assert store.db.execute("SELECT count(*) FROM stories").fetchone()[0] == 1
        assert dict(store.story_days())["2026-01-15"] == 2
    finally:
        store.close()

    # a render after pruning leaves the old day's page alone and still links to it
    run_pass(config, now=later + timedelta(hours=2))  # the digest is over an hour old
    assert page.read_text("utf-8") == text
    index = (site / "archive" / "index.html").read_text("utf-8")
    assert 'href="2026-01-15.html"' in index
    assert 'href="2026-02-24.html"' in index


def test_items_of_a_feed_that_answers_304_for_months_are_kept(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A 304 does not list the feed's items, so their last_seen stays at the last 200; they
    are still in the feed all the same. Pruning them would bring them back as new entries
    (and new stories) on the feed's next change."""
    then = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    old = [
        ("1", "Floods in Mozambique displace thousands", then - timedelta(hours=2)),
        ("2", "Japan postpones rocket launch", then - timedelta(hours=3)),
    ]
    url = feed_server.add("/a.xml", rss(old), etag='"v1"')
    config = parse_config(
        {
            "settings": {"database": "agg.db", "output_dir": "site", "retention_days": 30},
            "sources": [url],
        },
        base=tmp_path,
    )
    run_pass(config, now=then)
    report = run_pass(config, now=then + timedelta(days=40))  # 304: the feed did not change
    assert [f.outcome for f in report.feeds] == ["not_modified"]
    db = tmp_path / "agg.db"
    store = Store.open(db)
    try:
        assert store.db.execute("SELECT count(*) FROM entries").fetchone()[0] == 2
        assert store.db.execute("SELECT count(*) FROM stories").fetchone()[0] == 2
    finally:
        store.close()

    later = then + timedelta(days=41)
    new = ("3", "Elections in Chile", later - timedelta(hours=1))
    feed_server.add("/a.xml", rss([new, *old]), etag='"v2"')
    report = run_pass(config, now=later)
    assert report.new_entries == 1  # the two old items are not new again
    # once the feed drops them, they go when they were last seen 30 days before
    feed_server.add("/a.xml", rss([new]), etag='"v3"')
    run_pass(config, now=later + timedelta(days=29))
    store = Store.open(db)
    try:
        assert store.db.execute("SELECT count(*) FROM entries").fetchone()[0] == 3
    finally:
        store.close()
    run_pass(config, now=later + timedelta(days=31))
    store = Store.open(db)
    try:
        titles = {r[0] for r in store.db.execute("SELECT title FROM entries")}
        assert titles == {"Elections in Chile"}
    finally:
        store.close()
