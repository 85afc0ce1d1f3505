"""Store: schema and migrations, feed rows, entry upserts, health, scheduling queries, times."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.errors import StoreError
from aggregator.models import Entry, FeedState, FetchResult, ParsedFeed, Source
from aggregator.normalise import normalise_feed
from aggregator.parse import parse_feed
from aggregator.store import Store, iso, migrations, parse_iso

FEED = "https://feeds.example/world.xml"
OTHER = "https://other.example/rss"
TABLES = {"feeds", "entries", "stories", "fetch_log"}


def result(url: str, at: datetime, **kw: Any) -> FetchResult:
    kw.setdefault("status", 200)
    return FetchResult(url=url, fetched_at=at, **kw)


def parsed(url: str = FEED, **kw: Any) -> ParsedFeed:
    kw.setdefault("title", "World Feed")
    kw.setdefault("link", "https://feeds.example/")
    return ParsedFeed(url=url, **kw)


def make_entry(
    identity: str,
    title: str,
    url: str | None,
    at: datetime,
    *,
    feed_url: str = FEED,
    guid: str | None = None,
    summary: str | None = None,
    categories: tuple[str, ...] = (),
) -> Entry:
    return Entry(
        feed_url=feed_url,
        identity=identity,
        title=title,
        title_raw=title,
        url=url,
        guid=guid,
        summary=summary,
        published=at - timedelta(hours=1),
        first_seen=at,
        categories=categories,
    )


def two_entries(at: datetime) -> list[Entry]:
    return [
        make_entry("guid:1", "Floods in Mozambique", "https://feeds.example/1", at, guid="1"),
        make_entry(
            "guid:2",
            "EU energy talks",
            "https://feeds.example/2",
            at,
            guid="2",
            summary="Ministers meet.",
            categories=("Europe", "Énergie"),
        ),
    ]


def dump(store: Store, table: str, skip: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    cols = [r[1] for r in store.db.execute(f"PRAGMA table_info({table})") if r[1] not in skip]
    return store.db.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY id").fetchall()


@pytest.fixture
def synced(store: Store, now: datetime) -> Store:
    store.sync_sources(
        [Source(url=FEED, name="World"), Source(url=OTHER, name="Other")], now - timedelta(days=1)
    )
    return store


# -- opening --------------------------------------------------------------------------------

MIGRATIONS = [
    "m001_initial",
    "m002_embeddings",
    "m003_feed_moves_and_gone",
    "m004_related_links",
    "m005_browse",
    "m006_retention",
    "m007_fts_in_bulk",
]


def test_migrations_apply_on_a_fresh_file_and_reopen_idempotently(
    tmp_path: Path, now: datetime
) -> None:
    path = tmp_path / "nested" / "agg.db"
    store = Store.open(path)
    try:
        assert path.exists()
        assert set(store.db.table_names()) >= TABLES
        assert [m.name for m in migrations.applied(store.db)] == MIGRATIONS
        assert migrations.pending(store.db) == []
        store.sync_sources([Source(url=FEED, name="World")], now)
    finally:
        store.close()
    again = Store.open(path)
    try:
        assert [m.name for m in migrations.applied(again.db)] == MIGRATIONS
        assert [f["url"] for f in again.feeds()] == [FEED]  # data survived the re-open
    finally:
        again.close()


def test_file_database_uses_wal(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "agg.db")
    try:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        store.close()


def test_unopenable_path_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open database"):
        Store.open(tmp_path)  # a directory


def test_memory_store_is_migrated(store: Store) -> None:
    assert set(store.db.table_names()) >= TABLES
    assert store.counts() == dict.fromkeys(("feeds", "entries", "stories", "fetch_log"), 0)


# -- feeds ----------------------------------------------------------------------------------


def test_sync_sources_inserts_updates_and_deactivates(store: Store, now: datetime) -> None:
    earlier = now - timedelta(days=2)
    store.sync_sources(
        [
            Source(url=FEED, name="World", region="Europe", interval=timedelta(minutes=15)),
            Source(url=OTHER, name="Other", topic="economy"),
        ],
        earlier,
    )
    rows = {r["url"]: r for r in store.feeds()}
    assert set(rows) == {FEED, OTHER}
    assert rows[FEED]["name"] == "World"
    assert rows[FEED]["region_hint"] == "Europe"
    assert rows[FEED]["interval_seconds"] == 900
    assert rows[OTHER]["topic_hint"] == "economy"
    assert rows[OTHER]["interval_seconds"] is None
    assert {r["active"] for r in rows.values()} == {1}
    assert rows[FEED]["added_at"] == iso(earlier)

    third = "https://third.example/atom"
    store.sync_sources([Source(url=FEED, name="World News"), Source(url=third, name="Third")], now)
    rows = {r["url"]: r for r in store.feeds()}
    assert set(rows) == {FEED, OTHER, third}  # removed sources stay, inactive
    assert rows[FEED]["name"] == "World News"
    assert rows[FEED]["region_hint"] is None
    assert rows[FEED]["interval_seconds"] is None
    assert rows[FEED]["added_at"] == iso(earlier)  # unchanged by an update
    assert rows[third]["added_at"] == iso(now)
    assert (rows[FEED]["active"], rows[OTHER]["active"], rows[third]["active"]) == (1, 0, 1)
    assert [s.url for s in store.feed_states()] == sorted([FEED, third])

    store.sync_sources([Source(url=OTHER, name="Other")], now)
    assert [s.url for s in store.feed_states()] == [OTHER]  # re-activated


def test_feed_row_of_unknown_feed_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no feed"):
        store.feed_row("https://nowhere.example/")


# -- entries --------------------------------------------------------------------------------


def test_record_success_inserts_entries_and_feed_health(synced: Store, now: datetime) -> None:
    feed = parsed(ttl_minutes=60, bozo=True, bozo_message="SAXParseException: oops")
    res = result(FEED, now, etag='"v1"', last_modified="Thu, 15 Jan 2026 10:00:00 GMT", body=b"x")
    written = synced.record_success(res, feed, two_entries(now), now + timedelta(minutes=30))
    assert len(written.new_ids) == 2
    assert written.updated_ids == ()
    rows = synced.db.execute(
        "SELECT identity, guid, url, title, summary, categories, published, first_seen, "
        "last_seen, story_id FROM entries ORDER BY id"
    ).fetchall()
    assert rows == [
        (
            "guid:1",
            "1",
            "https://feeds.example/1",
            "Floods in Mozambique",
            None,
            "[]",
            "2026-01-15T11:00:00Z",
            "2026-01-15T12:00:00Z",
            "2026-01-15T12:00:00Z",
            None,
        ),
        (
            "guid:2",
            "2",
            "https://feeds.example/2",
            "EU energy talks",
            "Ministers meet.",
            '["Europe", "Énergie"]',
            "2026-01-15T11:00:00Z",
            "2026-01-15T12:00:00Z",
            "2026-01-15T12:00:00Z",
            None,
        ),
    ]
    row = synced.feed_row(FEED)
    assert row["etag"] == '"v1"'
    assert row["last_modified"] == "Thu, 15 Jan 2026 10:00:00 GMT"
    assert row["next_fetch_at"] == "2026-01-15T12:30:00Z"
    assert row["last_success_at"] == row["last_fetched_at"] == "2026-01-15T12:00:00Z"
    assert (row["last_status"], row["consecutive_failures"], row["last_error"]) == (200, 0, None)
    assert (row["title"], row["site_url"], row["ttl_minutes"]) == (
        "World Feed",
        "https://feeds.example/",
        60,
    )
    assert (row["bozo"], row["bozo_message"]) == (1, "SAXParseException: oops")
    log = synced.db.execute(
        "SELECT feed_url, outcome, status, new_entries, updated_entries, bytes, bozo FROM fetch_log"
    ).fetchall()
    assert log == [(FEED, "ok", 200, 2, 0, 1, 1)]
    records = synced.entries()
    assert [(r.outlet, r.title, r.categories) for r in records] == [
        ("World", "Floods in Mozambique", ()),
        ("World", "EU energy talks", ("Europe", "Énergie")),
    ]
    assert records[0].published == now - timedelta(hours=1)


def test_second_identical_success_changes_nothing(synced: Store, now: datetime) -> None:
    synced.record_success(result(FEED, now), parsed(), two_entries(now), now)
    before = dump(synced, "entries", skip=("last_seen",))
    later = now + timedelta(minutes=30)
    written = synced.record_success(result(FEED, later), parsed(), two_entries(now), later)
    assert (written.new_ids, written.updated_ids) == ((), ())
    assert dump(synced, "entries", skip=("last_seen",)) == before
    assert synced.db.execute("SELECT DISTINCT last_seen FROM entries").fetchall() == [
        ("2026-01-15T12:30:00Z",)
    ]
    assert synced.counts()["entries"] == 2


def test_edited_title_updates_the_same_row(synced: Store, now: datetime) -> None:
    first = synced.record_success(result(FEED, now), parsed(), two_entries(now), now)
    edited = two_entries(now)
    edited[0] = make_entry(
        "guid:1",
        "Floods in Mozambique displace thousands",
        "https://feeds.example/1",
        now,
        guid="1",
    )
    later = now + timedelta(hours=1)
    written = synced.record_success(result(FEED, later), parsed(), edited, later)
    assert written.new_ids == ()
    assert written.updated_ids == (first.new_ids[0],)
    assert synced.counts()["entries"] == 2
    row = synced.db.execute(
        "SELECT id, title, title_raw, first_seen, last_seen FROM entries WHERE identity = 'guid:1'"
    ).fetchone()
    assert row == (
        first.new_ids[0],
        "Floods in Mozambique displace thousands",
        "Floods in Mozambique displace thousands",
        "2026-01-15T12:00:00Z",
        "2026-01-15T13:00:00Z",
    )


def test_guid_change_with_the_same_link_maps_to_the_same_row(synced: Store, now: datetime) -> None:
    link = "https://feeds.example/story"
    first = synced.record_success(
        result(FEED, now), parsed(), [make_entry("guid:old", "Story", link, now)], now
    )
    later = now + timedelta(hours=1)
    written = synced.record_success(
        result(FEED, later), parsed(), [make_entry("guid:new", "Story", link, later)], later
    )
    assert written.new_ids == ()
    assert synced.counts()["entries"] == 1
    assert [r.id for r in synced.entries()] == list(first.new_ids)
    # and again, with an edited title: still the same row
    much_later = later + timedelta(hours=1)
    edited = [make_entry("guid:new", "Story, updated", link, much_later)]
    written = synced.record_success(result(FEED, much_later), parsed(), edited, much_later)
    assert written.updated_ids == first.new_ids
    assert [r.title for r in synced.entries()] == ["Story, updated"]


def test_same_identity_in_two_feeds_is_two_rows(synced: Store, now: datetime) -> None:
    synced.record_success(
        result(FEED, now), parsed(), [make_entry("guid:1", "A", "https://x.example/a", now)], now
    )
    other = [make_entry("guid:1", "A", "https://x.example/a", now, feed_url=OTHER)]
    written = synced.record_success(result(OTHER, now), parsed(OTHER), other, now)
    assert len(written.new_ids) == 1
    assert synced.counts()["entries"] == 2


def test_items_sharing_a_link_are_kept_apart(synced: Store, now: datetime, data_dir: Path) -> None:
    body = (data_dir / "feeds" / "identities.rss").read_bytes()
    feed = parse_feed(FEED, body, {"content-type": "application/rss+xml"})
    entries = normalise_feed(feed, "Ids", now)
    assert len({e.identity for e in entries}) == 7  # the exact repeat G is dropped
    first = synced.record_success(result(FEED, now), feed, entries, now)
    assert len(first.new_ids) == 7
    assert synced.counts()["entries"] == 7
    later = now + timedelta(minutes=30)
    again = synced.record_success(result(FEED, later), feed, entries, later)
    assert (again.new_ids, again.updated_ids) == ((), ())


# -- health ---------------------------------------------------------------------------------


def test_record_failure_counts_and_stores_the_error(synced: Store, now: datetime) -> None:
    synced.record_success(result(FEED, now, etag='"v1"'), parsed(), two_entries(now), now)
    entries_before = dump(synced, "entries")
    t1, t2 = now + timedelta(minutes=30), now + timedelta(hours=2)
    failed = result(FEED, t1, status=503, etag='"v1"')
    synced.record_failure(failed, "http", "HTTP 503 Service Unavailable", t1 + timedelta(hours=1))
    row = synced.feed_row(FEED)
    assert row["consecutive_failures"] == 1
    assert (row["last_error"], row["last_error_kind"]) == ("HTTP 503 Service Unavailable", "http")
    assert row["last_error_at"] == row["last_fetched_at"] == "2026-01-15T12:30:00Z"
    assert row["last_status"] == 503
    assert row["last_success_at"] == "2026-01-15T12:00:00Z"
    assert row["next_fetch_at"] == "2026-01-15T13:30:00Z"
    assert row["etag"] == '"v1"'

    synced.record_failure(
        result(FEED, t2, status=None), "transport", "ConnectError: refused", t2 + timedelta(hours=2)
    )
    row = synced.feed_row(FEED)
    assert row["consecutive_failures"] == 2
    assert (row["last_error_kind"], row["last_status"]) == ("transport", None)
    assert row["last_error_at"] == "2026-01-15T14:00:00Z"
    assert dump(synced, "entries") == entries_before
    log = synced.db.execute(
        "SELECT outcome, error_kind, error FROM fetch_log WHERE outcome = 'error' ORDER BY id"
    ).fetchall()
    assert log == [
        ("error", "http", "HTTP 503 Service Unavailable"),
        ("error", "transport", "ConnectError: refused"),
    ]


def test_record_not_modified_resets_failures(synced: Store, now: datetime) -> None:
    synced.record_failure(result(OTHER, now, status=500), "http", "HTTP 500", now)
    synced.record_failure(result(OTHER, now, status=500), "http", "HTTP 500", now)
    assert synced.feed_row(OTHER)["consecutive_failures"] == 2
    later = now + timedelta(hours=1)
    not_modified = result(
        OTHER, later, status=304, etag='"v9"', last_modified="Thu, 15 Jan 2026 12:00:00 GMT"
    )
    synced.record_not_modified([(not_modified, later + timedelta(minutes=30))])
    row = synced.feed_row(OTHER)
    assert row["consecutive_failures"] == 0
    assert (row["last_error"], row["last_error_kind"]) == (None, None)
    assert row["last_status"] == 304
    assert row["last_success_at"] == "2026-01-15T13:00:00Z"
    assert (row["etag"], row["last_modified"]) == ('"v9"', "Thu, 15 Jan 2026 12:00:00 GMT")
    assert row["next_fetch_at"] == "2026-01-15T13:30:00Z"
    outcomes = [r[0] for r in synced.db.execute("SELECT outcome FROM fetch_log ORDER BY id")]
    assert outcomes == ["error", "error", "not_modified"]


def test_feed_states_respect_next_fetch_at(synced: Store, now: datetime) -> None:
    third = "https://third.example/atom"
    synced.sync_sources(
        [Source(url=FEED, name="World"), Source(url=OTHER, name="Other"), Source(third, "Third")],
        now,
    )
    # FEED: fetched, due in 30 min; OTHER: failed, due 1 min ago; third: never fetched.
    synced.record_success(
        result(FEED, now, etag='"e"', last_modified="Thu, 15 Jan 2026 11:00:00 GMT"),
        parsed(),
        [],
        now + timedelta(minutes=30),
    )
    synced.record_failure(result(OTHER, now), "http", "HTTP 500", now - timedelta(minutes=1))
    assert [s.url for s in synced.feed_states(due_at=now)] == [OTHER, third]
    assert [s.url for s in synced.feed_states(due_at=now + timedelta(minutes=29))] == [OTHER, third]
    assert [s.url for s in synced.feed_states(due_at=now + timedelta(minutes=30))] == [
        FEED,
        OTHER,
        third,
    ]
    assert synced.feed_states() == [
        FeedState(FEED, etag='"e"', last_modified="Thu, 15 Jan 2026 11:00:00 GMT"),
        FeedState(OTHER),
        FeedState(third),
    ]


# -- times ----------------------------------------------------------------------------------


def test_iso_and_parse_iso() -> None:
    assert iso(datetime(2026, 1, 15, 12, 0, tzinfo=UTC)) == "2026-01-15T12:00:00Z"
    delhi = timezone(timedelta(hours=5, minutes=30))
    assert iso(datetime(2026, 1, 15, 10, 0, tzinfo=delhi)) == "2026-01-15T04:30:00Z"
    assert iso(datetime(2026, 1, 15, 12, 0, 0, 999_999, tzinfo=UTC)) == "2026-01-15T12:00:00Z"
    assert iso(None) is None
    assert parse_iso("2026-01-15T12:00:00Z") == datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    assert parse_iso("2026-01-15T14:00:00+02:00") == datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    assert parse_iso("2026-01-15T12:00:00Z").tzinfo == UTC  # type: ignore[union-attr]
    assert parse_iso(None) is None
    assert parse_iso("") is None


_offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
_times = st.datetimes(
    min_value=datetime(1970, 1, 2),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=_offsets,
)


@settings(derandomize=True, database=None, deadline=None, max_examples=200)
@given(_times, _times)
def test_iso_round_trips_and_sorts_like_time(a: datetime, b: datetime) -> None:
    assert parse_iso(iso(a)) == a.replace(microsecond=0)
    assert parse_iso(iso(a)).tzinfo == UTC  # type: ignore[union-attr]
    a, b = a.replace(microsecond=0), b.replace(microsecond=0)
    assert (iso(a) < iso(b)) == (a < b)  # type: ignore[operator]


def test_iso_zero_pads_early_years() -> None:
    early = datetime(1, 1, 1, tzinfo=UTC)
    assert iso(early) == "0001-01-01T00:00:00Z"
    assert parse_iso(iso(early)) == early


_titles = (
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30)
    .map(str.strip)
    .filter(bool)
)


@settings(derandomize=True, database=None, deadline=None, max_examples=50)
@given(
    st.lists(
        st.tuples(_titles, st.lists(_titles, max_size=3, unique=True)),
        min_size=1,
        max_size=5,
    )
)
def test_write_then_read_returns_the_same_data(items: list[tuple[str, list[str]]]) -> None:
    now = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    store = Store.memory()
    try:
        store.sync_sources([Source(url=FEED, name="World")], now)
        entries = [
            make_entry(
                f"guid:{i}", title, f"https://feeds.example/{i}", now, categories=tuple(cats)
            )
            for i, (title, cats) in enumerate(items)
        ]
        written = store.record_success(result(FEED, now), parsed(), entries, now)
        assert len(written.new_ids) == len(entries)
        back = store.entries(ids=written.new_ids)
        assert [(r.title, r.url, tuple(r.categories), r.published) for r in back] == [
            (e.title, e.url, tuple(e.categories), e.published) for e in entries
        ]
        raw = store.db.execute("SELECT categories FROM entries ORDER BY id").fetchall()
        assert [json.loads(r[0]) for r in raw] == [list(e.categories) for e in entries]
    finally:
        store.close()


def test_store_does_not_leak_connections(tmp_path: Path) -> None:
    path = tmp_path / "agg.db"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    try:
        conn.execute("BEGIN EXCLUSIVE")  # nobody else holds the database
        conn.rollback()
    finally:
        conn.close()


def test_many_ids_are_read_in_chunks_and_in_published_order(synced: Store, now: datetime) -> None:
    # 1,300 entries published in reverse id order: the result must be sorted by time
    entries = [
        make_entry(f"guid:{i}", f"Item {i}", f"https://feeds.example/{i}", now - timedelta(i))
        for i in range(1300)
    ]
    written = synced.record_success(result(FEED, now), parsed(), entries, now)
    ids = list(written.new_ids)
    got = synced.entries(ids=reversed(ids))
    assert len(got) == 1300
    assert [e.published for e in got] == sorted(e.published for e in got)
    assert {e.id for e in got} == set(ids)
    synced.assign({ids[0]: ids[0], ids[5]: ids[0]})
    assert [e.id for e in synced.entries(ids=ids, assigned=True)] == [ids[5], ids[0]]
    assert len(synced.entries(ids=ids, unassigned=True)) == 1298
    assert [e.id for e in synced.entries(assigned=True)] == [ids[5], ids[0]]


def test_new_entries_are_indexed_for_search_in_bulk(store: Store, now: datetime) -> None:
    """The insert trigger only notes new rows; `index_pending` (once per pass) indexes them.
    Deleting or editing a row before it is indexed leaves the index sound."""
    from aggregator.models import Entry, FetchResult, ParsedFeed, Source

    feed = "https://a.test/rss"
    store.sync_sources([Source(feed, "A")], now)

    def entry(key: str, title: str) -> Entry:
        return Entry(
            feed_url=feed,
            identity=f"guid:{key}",
            guid=key,
            title=title,
            url=f"https://a.test/{key}",
            published=now,
            first_seen=now,
        )

    def search(word: str) -> list[str]:
        rows = store.db.execute(
            "SELECT e.title FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid"
            " WHERE entries_fts MATCH ? ORDER BY e.id",
            [word],
        )
        return [r[0] for r in rows]

    def fetch(*entries: Entry) -> list[int]:
        result = FetchResult(url=feed, fetched_at=now, status=200)
        return list(store.record_success(result, ParsedFeed(url=feed), entries, now).new_ids)

    ids = fetch(entry("1", "Floods in Türkiye"), entry("2", "Budget vote in Lisbon"))
    assert search("turkiye") == []  # not indexed yet
    assert store.index_pending() == 2
    assert search("turkiye") == ["Floods in Türkiye"]
    assert store.index_pending() == 0
    # an edit of an indexed row re-indexes it; one of a pending row waits for the bulk
    fetch(
        entry("1", "Floods in Türkiye kill dozens"),
        entry("3", "Strike in Lisbon"),
        entry("4", "Gone before it was indexed, in Lisbon"),
    )
    store.db.execute("UPDATE entries SET title = 'Strike ends in Lisbon' WHERE guid = '3'")
    # a pending row deleted before it is indexed is simply forgotten; an indexed one leaves
    store.db.execute("DELETE FROM entries WHERE guid = '4'")
    store.db.execute("DELETE FROM entries WHERE id = ?", [ids[1]])
    assert store.index_pending() == 1
    assert search("lisbon") == ["Strike ends in Lisbon"]
    assert search("dozens") == ["Floods in Türkiye kill dozens"]
    store.db.execute("DELETE FROM entries WHERE guid = '3'")
    assert search("lisbon") == []
    store.db.execute("INSERT INTO entries_fts (entries_fts) VALUES ('integrity-check')")
    assert store.db.execute("SELECT count(*) FROM fts_pending").fetchone()[0] == 0
