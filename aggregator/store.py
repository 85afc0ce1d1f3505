"""The only module that talks SQL: schema, migrations, reads and writes (sqlite-utils).

The database is the public archive (Datasette users query it), so its tables and columns are
documented in the README and each column is commented below. Times are ISO 8601 UTC text
(``2026-01-15T12:00:00Z``), which sorts and facets well. The database runs in WAL mode so a
reader (Datasette, ``aggregator render``) never blocks a writer; every per-feed write is one
transaction, so a crash loses at most the feed being written.

Tables:

* ``feeds`` - one row per source: config, HTTP validators, health, schedule;
* ``entries`` - one row per item per feed, stable across fetches, with its story and labels;
* ``stories`` - one row per story (its id is the id of the entry that opened it);
* ``related_links`` - links an entry's item carries (other outlets' coverage, related);
* ``fetch_log`` - one row per fetch attempt;
* ``archive_days`` - how many stories each archive day page showed, for days pruned.

Write transactions begin ``IMMEDIATE``: the write lock is taken (waiting up to the busy timeout)
before the first read, so a pass never reads a snapshot it then cannot write from (in WAL mode a
deferred transaction that reads, then finds another writer, fails at once with SQLITE_BUSY).
Retention (`Store.prune`) deletes whole stories, with their entries, older than a cutoff, in
short transactions, and gives the space back a bounded number of pages at a time
(``auto_vacuum = INCREMENTAL``, set when the database file is created).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import Counter
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from aggregator.errors import StoreError
from aggregator.models import (
    Entry,
    EntryRecord,
    FeedState,
    FetchResult,
    Labels,
    ParsedFeed,
    RelatedLink,
    Source,
    StoryRecord,
)

log = logging.getLogger(__name__)

migrations = Migrations("aggregator")


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 UTC text with a ``Z``: the one time format in the database."""
    if dt is None:
        return None
    u = dt.astimezone(UTC)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}Z"


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    dt = datetime.fromisoformat(value)  # Python 3.11 reads the "Z" itself
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt if dt.tzinfo is UTC else dt.astimezone(UTC)


def _must(value: str | None) -> datetime:
    dt = parse_iso(value)
    if dt is None:
        raise StoreError("missing timestamp in a row that requires one")
    return dt


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE feeds (
            url TEXT PRIMARY KEY,           -- the feed URL as configured
            name TEXT NOT NULL,             -- outlet name shown in the digest
            kind TEXT NOT NULL DEFAULT 'feed', -- source kind: feed
            region_hint TEXT,               -- region given in feeds.yaml (a prior)
            topic_hint TEXT,                -- topic given in feeds.yaml (a prior)
            interval_seconds INTEGER,       -- per-source fetch interval; NULL = the default
            active INTEGER NOT NULL DEFAULT 1, -- 1 while the source is in feeds.yaml
            title TEXT,                     -- title the feed gives itself
            site_url TEXT,                  -- the feed's home page
            etag TEXT,                      -- last ETag, sent as If-None-Match
            last_modified TEXT,             -- last Last-Modified, sent as If-Modified-Since
            ttl_minutes INTEGER,            -- RSS <ttl>, lengthens the interval
            added_at TEXT NOT NULL,         -- first time the source was seen in feeds.yaml
            last_fetched_at TEXT,           -- last fetch attempt
            last_success_at TEXT,           -- last fetch that returned 200 or 304
            last_status INTEGER,            -- HTTP status of the last attempt
            last_error TEXT,                -- message of the last failure (NULL after a success)
            last_error_kind TEXT,           -- http, transport, too_large, parse
            last_error_at TEXT,             -- when the last failure happened
            consecutive_failures INTEGER NOT NULL DEFAULT 0, -- failures since the last success
            next_fetch_at TEXT,             -- the feed is due from this time
            bozo INTEGER NOT NULL DEFAULT 0, -- 1 if the last body was malformed but usable
            bozo_message TEXT               -- what was malformed
        )
        """
    )
    db.execute(
        """
        CREATE TABLE stories (
            id INTEGER PRIMARY KEY,         -- id of the entry that opened the story (stable)
            headline TEXT NOT NULL,         -- the lead headline
            url TEXT,                       -- link of the lead entry
            lead_entry_id INTEGER REFERENCES entries(id), -- the lead entry
            outlet TEXT,                    -- outlet of the lead entry
            published TEXT NOT NULL,        -- publication time of the lead entry
            first_seen TEXT NOT NULL,       -- earliest publication time of a member
            last_seen TEXT NOT NULL,        -- latest publication time of a member
            outlets INTEGER NOT NULL,       -- distinct outlets (feeds) that covered it
            entries INTEGER NOT NULL,       -- member entries
            region TEXT NOT NULL,           -- primary region (vote of the members)
            countries TEXT NOT NULL DEFAULT '[]', -- JSON list of ISO country codes
            topic TEXT NOT NULL,            -- primary topic (vote of the members)
            topics TEXT NOT NULL DEFAULT '[]', -- JSON list of secondary topics
            updated_at TEXT NOT NULL        -- last time this row changed
        )
        """
    )
    db.execute(
        """
        CREATE TABLE entries (
            id INTEGER PRIMARY KEY,         -- stable row id
            feed_url TEXT NOT NULL REFERENCES feeds(url), -- the feed it came from
            identity TEXT NOT NULL,         -- guid:..., link:... or hash:...; unique per feed
            guid TEXT,                      -- the GUID / Atom id as given
            url TEXT,                       -- canonical link (tracking parameters removed)
            title TEXT NOT NULL,            -- clean headline
            title_raw TEXT,                 -- headline as the feed gave it
            summary TEXT,                   -- plain-text summary (HTML removed)
            author TEXT,
            categories TEXT NOT NULL DEFAULT '[]', -- JSON list of the feed's categories
            published TEXT NOT NULL,        -- publication time (first seen if missing)
            updated TEXT,                   -- update time the feed gave
            first_seen TEXT NOT NULL,       -- first fetch that saw it
            last_seen TEXT NOT NULL,        -- last fetch that saw it
            story_id INTEGER REFERENCES stories(id), -- the story it belongs to
            region TEXT,                    -- region of this headline alone
            region_weight REAL,             -- weight in the story's vote (1 = named in headline)
            countries TEXT NOT NULL DEFAULT '[]', -- JSON list of ISO codes in this headline
            topic TEXT,                     -- topic of this headline alone
            UNIQUE (feed_url, identity)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE fetch_log (
            id INTEGER PRIMARY KEY,
            feed_url TEXT NOT NULL REFERENCES feeds(url), -- the feed fetched
            fetched_at TEXT NOT NULL,       -- when the request started
            duration_ms INTEGER,            -- wall time of the request
            status INTEGER,                 -- HTTP status, if any
            outcome TEXT NOT NULL,          -- ok, not_modified, error
            error_kind TEXT,                -- http, transport, too_large, parse
            error TEXT,                     -- error message
            bytes INTEGER,                  -- body size
            new_entries INTEGER NOT NULL DEFAULT 0,
            updated_entries INTEGER NOT NULL DEFAULT 0,
            bozo INTEGER NOT NULL DEFAULT 0 -- 1 if the body was malformed but usable
        )
        """
    )
    db.execute("CREATE INDEX idx_entries_feed_url ON entries(feed_url, url)")
    db.execute("CREATE INDEX idx_entries_story ON entries(story_id)")
    db.execute("CREATE INDEX idx_entries_published ON entries(published)")
    db.execute("CREATE INDEX idx_stories_last_seen ON stories(last_seen)")
    db.execute("CREATE INDEX idx_stories_region_topic ON stories(region, topic)")
    db.execute("CREATE INDEX idx_fetch_log_feed ON fetch_log(feed_url, fetched_at)")


@migrations()
def m002_embeddings(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE embeddings (
            entry_id INTEGER PRIMARY KEY REFERENCES entries(id), -- the entry embedded
            model TEXT NOT NULL,            -- embedding model id
            vector BLOB NOT NULL            -- unit vector, float32 little-endian
        )
        """
    )


@migrations()
def m003_feed_moves_and_gone(db: sqlite_utils.Database) -> None:
    for column in (
        "fetch_url TEXT",  # where the feed is fetched from after a permanent move (else url)
        "moved_to TEXT",  # where permanent (301/308) redirects pointed on the last fetches
        "moved_streak INTEGER NOT NULL DEFAULT 0",  # fetches running that redirected there
        "disabled_at TEXT",  # when the feed was disabled (410 Gone); NULL while enabled
        "disabled_reason TEXT",  # why, for `aggregator status`
    ):
        db.execute(f"ALTER TABLE feeds ADD COLUMN {column}")
    db.execute("ALTER TABLE fetch_log ADD COLUMN requested_url TEXT")  # the URL asked for
    db.execute("ALTER TABLE fetch_log ADD COLUMN final_url TEXT")  # after redirects


@migrations()
def m004_related_links(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE related_links (
            entry_id INTEGER NOT NULL REFERENCES entries(id), -- the item that carries it
            position INTEGER NOT NULL,      -- order in the item (0 first)
            url TEXT NOT NULL,              -- canonical link
            title TEXT NOT NULL DEFAULT '', -- its headline, when the feed gives one
            outlet TEXT,                    -- who published it (coverage lists name them)
            rel TEXT NOT NULL,              -- coverage (same story, other outlet) or related
            PRIMARY KEY (entry_id, position)
        )
        """
    )
    db.execute("CREATE INDEX idx_related_links_url ON related_links(url)")


FTS_TOKENIZER = "unicode61 remove_diacritics 2"  # "Turkiye" finds "Türkiye"


@migrations()
def m005_browse(db: sqlite_utils.Database) -> None:
    """Made for Datasette: indexes on the label columns it facets, full-text search kept in
    step by triggers, and three views (story overview, coverage, feed health)."""
    db.execute("CREATE INDEX idx_entries_region ON entries(region)")
    db.execute("CREATE INDEX idx_entries_topic ON entries(topic)")
    db.execute("CREATE INDEX idx_stories_topic ON stories(topic)")
    db.execute("CREATE INDEX idx_stories_outlet ON stories(outlet)")
    db["entries"].enable_fts(  # type: ignore[union-attr]
        ["title", "summary"], create_triggers=True, tokenize=FTS_TOKENIZER
    )
    db["stories"].enable_fts(  # type: ignore[union-attr]
        ["headline"], create_triggers=True, tokenize=FTS_TOKENIZER
    )
    # sqlite-utils' update triggers fire on any column; a pass updates every new entry's
    # story and labels, which would rewrite its index rows twice for nothing
    for table, columns in (("entries", ("title", "summary")), ("stories", ("headline",))):
        _narrow_update_trigger(db, table, columns)
    for view in VIEWS.values():
        db.execute(view)


def _narrow_update_trigger(db: sqlite_utils.Database, table: str, columns: Sequence[str]) -> None:
    """Make the FTS update trigger of ``table`` fire only when ``columns`` are written."""
    fts = f"{table}_fts"
    old = ", ".join(f"old.[{c}]" for c in columns)
    new = ", ".join(f"new.[{c}]" for c in columns)
    listed = ", ".join(f"[{c}]" for c in columns)
    db.execute(f"DROP TRIGGER IF EXISTS [{table}_au]")
    db.execute(
        f"""
        CREATE TRIGGER [{table}_au] AFTER UPDATE OF {listed} ON [{table}] BEGIN
          INSERT INTO [{fts}] ([{fts}], rowid, {listed}) VALUES ('delete', old.rowid, {old});
          INSERT INTO [{fts}] (rowid, {listed}) VALUES (new.rowid, {new});
        END
        """
    )


VIEWS = {
    "story_overview": """
        CREATE VIEW story_overview AS  -- one row per story, the questions a desk asks first
        SELECT s.id AS story_id, s.headline, s.url AS lead_url, s.outlet AS lead_outlet,
               s.outlets, s.entries AS reports, s.first_seen, s.last_seen,
               substr(s.last_seen, 1, 10) AS day, s.region, s.topic, s.countries
        FROM stories s
    """,
    "story_coverage": """
        CREATE VIEW story_coverage AS  -- every report of every story: who, when, which link
        SELECT e.story_id, s.headline AS story, e.id AS entry_id, f.name AS outlet,
               e.title, e.url, e.published, e.first_seen, e.region, e.topic, e.feed_url
        FROM entries e
        JOIN feeds f ON f.url = e.feed_url
        LEFT JOIN stories s ON s.id = e.story_id
    """,
    "feed_health": """
        CREATE VIEW feed_health AS  -- is each source working, and since when not
        SELECT f.name AS outlet, f.url, f.kind,
               CASE
                   WHEN f.disabled_at IS NOT NULL THEN 'disabled'
                   WHEN f.active = 0 THEN 'removed'
                   WHEN f.consecutive_failures > 0 THEN 'failing'
                   WHEN f.last_success_at IS NULL THEN 'not fetched yet'
                   ELSE 'ok'
               END AS health,
               f.last_success_at, f.last_error_at, f.last_error_kind, f.last_error,
               f.last_status, f.consecutive_failures, f.next_fetch_at,
               f.disabled_reason,
               (SELECT count(*) FROM entries e WHERE e.feed_url = f.url) AS entries
        FROM feeds f
    """,
}


@migrations()
def m006_retention(db: sqlite_utils.Database) -> None:
    """Retention: what each pruned archive day showed, an index to find old fetch log rows
    without reading the whole log, and when each feed last sent its items."""
    db.execute(
        """
        CREATE TABLE archive_days (
            day TEXT PRIMARY KEY,           -- YYYY-MM-DD (UTC), an archive day page
            stories INTEGER NOT NULL        -- stories it listed before retention pruned them
        )
        """
    )
    db.execute("CREATE INDEX idx_fetch_log_fetched_at ON fetch_log(fetched_at)")
    # the last 200: the entries it saw (last_seen at or after it) are still in the feed for
    # as long as it answers 304, however long that is
    db.execute("ALTER TABLE feeds ADD COLUMN last_content_at TEXT")
    db.execute(
        "UPDATE feeds SET last_content_at ="
        " (SELECT max(e.last_seen) FROM entries e WHERE e.feed_url = feeds.url)"
    )


@migrations()
def m007_fts_in_bulk(db: sqlite_utils.Database) -> None:
    """New entries are put in the full-text index in bulk (`Store.index_pending`, once per
    pass) instead of one at a time by a trigger: the per-row trigger over a first pass's
    per-feed transactions cost 2.5 s of the 3.9 s of storing 34,562 entries, one statement
    0.28 s. The insert trigger now only notes the new row in ``fts_pending``; the delete and
    update triggers leave rows still pending alone (the FTS5 'delete' of a row that was
    never indexed would corrupt the index) and forget them instead."""
    db.execute("CREATE TABLE fts_pending (entry_id INTEGER PRIMARY KEY)")  # not indexed yet
    db.execute("DROP TRIGGER IF EXISTS [entries_ai]")
    db.execute("DROP TRIGGER IF EXISTS [entries_ad]")
    db.execute("DROP TRIGGER IF EXISTS [entries_au]")
    db.execute(
        """
        CREATE TRIGGER [entries_ai] AFTER INSERT ON [entries] BEGIN
          INSERT INTO fts_pending (entry_id) VALUES (new.id);
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER [entries_ad] AFTER DELETE ON [entries] BEGIN
          INSERT INTO [entries_fts] ([entries_fts], rowid, [title], [summary])
            SELECT 'delete', old.rowid, old.[title], old.[summary]
            WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE entry_id = old.id);
          DELETE FROM fts_pending WHERE entry_id = old.id;
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER [entries_au] AFTER UPDATE OF [title], [summary] ON [entries]
        WHEN NOT EXISTS (SELECT 1 FROM fts_pending WHERE entry_id = old.id) BEGIN
          INSERT INTO [entries_fts] ([entries_fts], rowid, [title], [summary])
            VALUES ('delete', old.rowid, old.[title], old.[summary]);
          INSERT INTO [entries_fts] (rowid, [title], [summary])
            VALUES (new.rowid, new.[title], new.[summary]);
        END
        """
    )


def _dicts(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
    """A query's rows as column -> value mappings."""
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def _chunks(ids: Iterable[int], size: int = 500) -> Iterator[list[int]]:
    """``ids`` in lists small enough for one ``IN (...)`` (SQLite caps bound parameters)."""
    id_list = list(ids)
    for start in range(0, len(id_list), size):
        yield id_list[start : start + size]


@dataclass(frozen=True)
class WriteResult:
    new_ids: tuple[int, ...] = ()
    updated_ids: tuple[int, ...] = ()


class _Database(sqlite_utils.Database):
    """sqlite-utils' Database whose outermost ``atomic()`` begins ``IMMEDIATE``: the write
    lock is waited for (busy timeout) before the transaction reads anything. A deferred
    transaction that reads first and then meets another writer cannot wait: SQLite fails it
    with SQLITE_BUSY at once, since its snapshot would be stale. Nested blocks are savepoints,
    as in sqlite-utils."""

    @contextmanager
    def atomic(self) -> Generator[sqlite_utils.Database, None, None]:
        if self.conn.in_transaction:
            with super().atomic() as db:
                yield db
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.rollback()  # a no-op if SQLite already rolled back (SQLITE_FULL does)
            raise
        try:
            self.conn.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise


BUSY_TIMEOUT_MS = 30_000  # how long a write waits for another writer's lock
WAL_LIMIT = 64 * 1024 * 1024  # bytes the WAL file is cut back to after a checkpoint


def retention_cutoff(now: datetime, retention_days: float | None) -> datetime | None:
    """The oldest time the live tables keep at ``now`` (``retention_days`` before it), or
    None when everything is kept (no retention, or 0)."""
    if not retention_days:
        return None
    return now - timedelta(days=retention_days)


@dataclass(frozen=True)
class PruneResult:
    """What one `Store.prune` removed. ``done`` is false when it stopped at its budget with
    more to remove (the next pass goes on)."""

    stories: int = 0
    entries: int = 0
    fetch_log: int = 0
    pages_freed: int = 0
    done: bool = True


# an entry a feed still carries: seen since the cutoff, or at the feed's last 200 (a feed that
# answers 304 for months still has it, and would bring it back as new on its next change)
_CARRIED = (
    "(e.last_seen >= ? OR e.last_seen >= (SELECT f.last_content_at FROM feeds f"
    " WHERE f.url = e.feed_url))"
)
PRUNE_CHUNK = 500  # stories (with their entries), or log rows / 10, deleted per transaction
PRUNE_CHUNKS = 20  # transactions per pass: a big backlog is worked off over several passes
VACUUM_PAGES = 2048  # free pages given back to the file system per pass (8 MiB of 4 KiB)


class Store:
    """All reads and writes of the aggregator database."""

    Error = sqlite3.Error  # what a database call can raise; `failure` turns it into a message

    def __init__(self, db: sqlite_utils.Database, path: Path | None = None) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open (creating if needed) and migrate the database at ``path``.

        A new file gets ``auto_vacuum = INCREMENTAL`` before WAL mode and the first table
        (it cannot be switched on later without a full ``VACUUM``)."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            db = _Database(conn)
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
                db.execute("PRAGMA auto_vacuum = INCREMENTAL")
                if db.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
                    db.execute("VACUUM")  # WAL was set already (a crash on the first open)
            db.enable_wal()
            db.execute("PRAGMA synchronous = NORMAL")
            # the WAL file keeps its largest size unless told (a first pass writes a lot)
            db.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT}")
            migrations.apply(db)
        except (sqlite3.Error, OSError) as e:
            raise StoreError(f"{path}: cannot open database: {e}") from e
        return cls(db, path)

    @classmethod
    def memory(cls) -> Store:
        db = _Database(memory=True)
        db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        migrations.apply(db)
        return cls(db)

    def close(self) -> None:
        self.db.close()

    def index_pending(self) -> int:
        """Put the entries stored since the last call in the full-text index, in one
        statement and one transaction (see m007); how many."""
        with self.db.atomic():
            cur = self.db.execute(
                "INSERT INTO entries_fts (rowid, title, summary)"
                " SELECT e.id, e.title, e.summary FROM fts_pending p"
                " JOIN entries e ON e.id = p.entry_id"
            )
            self.db.execute("DELETE FROM fts_pending")
        return max(cur.rowcount, 0)

    def failure(self, error: sqlite3.Error) -> StoreError:
        """A one-line error naming the database for a failed database call."""
        where = self.path if self.path is not None else "database"
        name = getattr(error, "sqlite_errorname", "")
        if name == "SQLITE_FULL":
            return StoreError(
                f"{where}: database or disk is full; the write in progress was rolled back and "
                "what was stored before is kept: free disk space (or lower retention_days), "
                "then run again"
            )
        if name.startswith("SQLITE_BUSY") or name.startswith("SQLITE_LOCKED"):
            seconds = BUSY_TIMEOUT_MS // 1000
            return StoreError(
                f"{where}: database is locked: another process kept writing for over "
                f"{seconds} s; nothing was lost, run again later"
            )
        return StoreError(f"{where}: database error: {error}")

    # -- feeds ----------------------------------------------------------------------------

    def sync_sources(self, sources: Sequence[Source], now: datetime) -> None:
        """Make the feeds table match feeds.yaml; removed sources stay, marked inactive."""
        with self.db.atomic():
            self.db.execute("UPDATE feeds SET active = 0")
            for s in sources:
                interval = int(s.interval.total_seconds()) if s.interval else None
                self.db.execute(
                    """
                    INSERT INTO feeds (url, name, kind, region_hint, topic_hint,
                                       interval_seconds, active, added_at)
                    VALUES (?, ?, ?, ?, ?, ?, 1, ?)
                    ON CONFLICT(url) DO UPDATE SET name = excluded.name, kind = excluded.kind,
                        region_hint = excluded.region_hint, topic_hint = excluded.topic_hint,
                        interval_seconds = excluded.interval_seconds, active = 1
                    """,
                    [s.url, s.name, s.kind, s.region, s.topic, interval, iso(now)],
                )

    def feed_states(self, *, due_at: datetime | None = None) -> list[FeedState]:
        """Active feeds with their validators; only those due at ``due_at`` if given."""
        sql = (
            "SELECT url, etag, last_modified, fetch_url FROM feeds"
            " WHERE active = 1 AND disabled_at IS NULL"
        )
        params: list[Any] = []
        if due_at is not None:
            sql += " AND (next_fetch_at IS NULL OR next_fetch_at <= ?)"
            params.append(iso(due_at))
        sql += " ORDER BY url"
        return [
            FeedState(url=r[0], etag=r[1], last_modified=r[2], fetch_url=r[3])
            for r in self.db.execute(sql, params).fetchall()
        ]

    def feed_row(self, url: str) -> dict[str, Any]:
        rows = _dicts(self.db.execute("SELECT * FROM feeds WHERE url = ?", [url]))
        if not rows:
            raise StoreError(f"no feed {url!r} in the database")
        return rows[0]

    def feeds(self) -> list[dict[str, Any]]:
        return _dicts(self.db.execute("SELECT * FROM feeds ORDER BY name"))

    def _log(
        self,
        result: FetchResult,
        outcome: str,
        *,
        error_kind: str | None = None,
        error: str | None = None,
        new: int = 0,
        updated: int = 0,
        bozo: bool = False,
    ) -> None:
        self.db.execute(
            """
            INSERT INTO fetch_log (feed_url, fetched_at, duration_ms, status, outcome,
                                   error_kind, error, bytes, new_entries, updated_entries, bozo,
                                   requested_url, final_url)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                result.url,
                iso(result.fetched_at),
                round(result.elapsed * 1000),
                result.status,
                outcome,
                error_kind,
                error,
                len(result.body) if result.body is not None else None,
                new,
                updated,
                int(bozo),
                result.requested_url,
                result.final_url,
            ],
        )

    def note_location(
        self, url: str, moved_to: str | None, streak: int, fetch_url: str | None
    ) -> None:
        """Where the feed's permanent redirects point, and where to fetch it from."""
        self.db.execute(
            "UPDATE feeds SET moved_to = ?, moved_streak = ?, fetch_url = ? WHERE url = ?",
            [moved_to, streak, fetch_url, url],
        )

    def disable(self, url: str, reason: str, when: datetime) -> None:
        """Stop fetching a feed (410 Gone); `aggregator feeds enable` undoes it."""
        self.db.execute(
            "UPDATE feeds SET disabled_at = ?, disabled_reason = ?, next_fetch_at = NULL"
            " WHERE url = ?",
            [iso(when), reason, url],
        )

    def enable(self, url: str) -> bool:
        """Fetch a disabled feed again (from its configured URL); False if unknown."""
        cur = self.db.execute(
            "UPDATE feeds SET disabled_at = NULL, disabled_reason = NULL, next_fetch_at = NULL,"
            " consecutive_failures = 0, fetch_url = NULL, moved_to = NULL, moved_streak = 0"
            " WHERE url = ?",
            [url],
        )
        return bool(cur.rowcount)

    def record_failure(
        self, result: FetchResult, kind: str, message: str, next_fetch_at: datetime
    ) -> None:
        """Store a failed fetch or parse on the feed row and in the fetch log."""
        with self.db.atomic():
            self.db.execute(
                """
                UPDATE feeds SET last_fetched_at = ?, last_status = ?, last_error = ?,
                    last_error_kind = ?, last_error_at = ?,
                    consecutive_failures = consecutive_failures + 1, next_fetch_at = ?
                WHERE url = ?
                """,
                [
                    iso(result.fetched_at),
                    result.status,
                    message,
                    kind,
                    iso(result.fetched_at),
                    iso(next_fetch_at),
                    result.url,
                ],
            )
            self._log(result, "error", error_kind=kind, error=message)

    def record_not_modified(self, results: Sequence[tuple[FetchResult, datetime]]) -> None:
        """Store many 304s in one transaction (each is only a health update and a log row,
        so a batch loses nothing a single write would keep)."""
        with self.db.atomic():
            for result, next_fetch_at in results:
                self._not_modified(result, next_fetch_at)

    def _not_modified(self, result: FetchResult, next_fetch_at: datetime) -> None:
        self.db.execute(
            """
            UPDATE feeds SET last_fetched_at = ?, last_success_at = ?, last_status = ?,
                last_error = NULL, last_error_kind = NULL, consecutive_failures = 0,
                etag = ?, last_modified = ?, next_fetch_at = ?
            WHERE url = ?
            """,
            [
                iso(result.fetched_at),
                iso(result.fetched_at),
                result.status,
                result.etag,
                result.last_modified,
                iso(next_fetch_at),
                result.url,
            ],
        )
        self._log(result, "not_modified")

    def record_success(
        self,
        result: FetchResult,
        feed: ParsedFeed,
        entries: Sequence[Entry],
        next_fetch_at: datetime,
    ) -> WriteResult:
        """Upsert a feed's entries and its health in one transaction.

        An entry is matched by its identity, or failing that by its canonical link (a GUID
        that changed while the link stayed is the same entry). A changed headline, summary or
        link updates the row; it never makes a second one.
        """
        new_ids: list[int] = []
        updated_ids: list[int] = []
        now = result.fetched_at
        identities = {e.identity for e in entries}
        link_counts = Counter(e.url for e in entries if e.url)
        with self.db.atomic():
            for e in entries:
                row = self.db.execute(
                    "SELECT id, title, summary, url, identity FROM entries "
                    "WHERE feed_url = ? AND identity = ?",
                    [e.feed_url, e.identity],
                ).fetchone()
                if row is None and e.url and link_counts[e.url] == 1:
                    # The same link under a new identity (a GUID that changed) is the same
                    # entry, unless the row found is still in the feed under its own identity.
                    row = self.db.execute(
                        "SELECT id, title, summary, url, identity FROM entries "
                        "WHERE feed_url = ? AND url = ? ORDER BY id LIMIT 1",
                        [e.feed_url, e.url],
                    ).fetchone()
                    if row is not None and row[4] in identities:
                        row = None
                if row is None:
                    cur = self.db.execute(
                        """
                        INSERT INTO entries (feed_url, identity, guid, url, title, title_raw,
                            summary, author, categories, published, updated, first_seen,
                            last_seen)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                        [
                            e.feed_url,
                            e.identity,
                            e.guid,
                            e.url,
                            e.title,
                            e.title_raw,
                            e.summary,
                            e.author,
                            json.dumps(list(e.categories), ensure_ascii=False),
                            iso(e.published),
                            iso(e.updated),
                            iso(e.first_seen),
                            iso(now),
                        ],
                    )
                    assert cur.lastrowid is not None
                    new_ids.append(cur.lastrowid)
                    if e.related:
                        self._insert_related(cur.lastrowid, e.related)
                    continue
                entry_id, title, summary, url, identity = row
                if identity != e.identity:  # follow the feed's new identity for the row
                    self.db.execute(
                        "UPDATE entries SET identity = ?, guid = ? WHERE id = ?",
                        [e.identity, e.guid, entry_id],
                    )
                changed = (title, summary, url) != (e.title, e.summary, e.url)
                changed |= self._replace_related(entry_id, e.related)
                if changed:
                    updated_ids.append(entry_id)
                    self.db.execute(
                        """
                        UPDATE entries SET title = ?, title_raw = ?, summary = ?, url = ?,
                            guid = ?, updated = ?, categories = ?, last_seen = ?
                        WHERE id = ?
                        """,
                        [
                            e.title,
                            e.title_raw,
                            e.summary,
                            e.url,
                            e.guid,
                            iso(e.updated),
                            json.dumps(list(e.categories), ensure_ascii=False),
                            iso(now),
                            entry_id,
                        ],
                    )
                else:
                    self.db.execute(
                        "UPDATE entries SET last_seen = ? WHERE id = ?", [iso(now), entry_id]
                    )
            self.db.execute(
                """
                UPDATE feeds SET last_fetched_at = ?, last_success_at = ?, last_status = ?,
                    last_error = NULL, last_error_kind = NULL, consecutive_failures = 0,
                    etag = ?, last_modified = ?, next_fetch_at = ?, title = ?, site_url = ?,
                    ttl_minutes = ?, bozo = ?, bozo_message = ?, last_content_at = ?
                WHERE url = ?
                """,
                [
                    iso(now),
                    iso(now),
                    result.status,
                    result.etag,
                    result.last_modified,
                    iso(next_fetch_at),
                    feed.title,
                    feed.link,
                    feed.ttl_minutes,
                    int(feed.bozo),
                    feed.bozo_message,
                    iso(now),
                    result.url,
                ],
            )
            self._log(
                result,
                "ok",
                new=len(new_ids),
                updated=len(updated_ids),
                bozo=feed.bozo,
            )
        return WriteResult(tuple(new_ids), tuple(updated_ids))

    def _insert_related(self, entry_id: int, links: Sequence[RelatedLink]) -> None:
        self.db.conn.executemany(
            "INSERT INTO related_links (entry_id, position, url, title, outlet, rel) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(entry_id, i, r.url, r.title, r.outlet, r.rel) for i, r in enumerate(links)],
        )

    def _replace_related(self, entry_id: int, links: Sequence[RelatedLink]) -> bool:
        """Make an entry's stored related links ``links``; whether they changed."""
        stored = self.db.execute(
            "SELECT url, title, outlet, rel FROM related_links WHERE entry_id = ? "
            "ORDER BY position",
            [entry_id],
        ).fetchall()
        if [RelatedLink(*row) for row in stored] == list(links):
            return False
        self.db.execute("DELETE FROM related_links WHERE entry_id = ?", [entry_id])
        self._insert_related(entry_id, links)
        return True

    def _with_related(self, records: list[EntryRecord]) -> list[EntryRecord]:
        """``records`` with their related links filled in (one query per 500 entries)."""
        found: dict[int, list[RelatedLink]] = {}
        for chunk in _chunks(r.id for r in records):
            rows = self.db.execute(
                "SELECT entry_id, url, title, outlet, rel FROM related_links "
                f"WHERE entry_id IN ({','.join('?' * len(chunk))}) ORDER BY entry_id, position",
                chunk,
            ).fetchall()
            for row in rows:
                found.setdefault(row[0], []).append(RelatedLink(*row[1:]))
        if not found:
            return records
        return [replace(r, related=tuple(found[r.id])) if r.id in found else r for r in records]

    # -- entries and stories --------------------------------------------------------------

    _ENTRY_SELECT = """
        SELECT e.id, e.feed_url, f.name, e.title, e.url, e.published, e.first_seen,
               e.summary, e.categories, e.story_id, f.region_hint, f.topic_hint
        FROM entries e JOIN feeds f ON f.url = e.feed_url
    """

    @staticmethod
    def _entry(row: Sequence[Any]) -> EntryRecord:
        return EntryRecord(
            id=row[0],
            feed_url=row[1],
            outlet=row[2],
            title=row[3],
            url=row[4],
            published=_must(row[5]),
            first_seen=_must(row[6]),
            summary=row[7],
            categories=tuple(json.loads(row[8])) if row[8] and row[8] != "[]" else (),
            story_id=row[9],
            region_hint=row[10],
            topic_hint=row[11],
        )

    def entries(
        self,
        *,
        since: datetime | None = None,
        ids: Iterable[int] | None = None,
        unassigned: bool = False,
        assigned: bool = False,
    ) -> list[EntryRecord]:
        """Entries in published order (ties by id), filtered as asked. Many ``ids`` are
        read in chunks (SQLite caps the parameters of one statement)."""
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            where.append("e.published >= ?")
            params.append(iso(since))
        if unassigned:
            where.append("e.story_id IS NULL")
        if assigned:
            where.append("e.story_id IS NOT NULL")
        if ids is None:
            sql = self._ENTRY_SELECT + (" WHERE " + " AND ".join(where) if where else "")
            sql += " ORDER BY e.published, e.id"
            return self._with_related(
                [self._entry(r) for r in self.db.execute(sql, params).fetchall()]
            )
        out: list[EntryRecord] = []
        for chunk in _chunks(ids):
            clauses = [*where, f"e.id IN ({','.join('?' * len(chunk))})"]
            sql = self._ENTRY_SELECT + " WHERE " + " AND ".join(clauses)
            out.extend(self._entry(r) for r in self.db.execute(sql, [*params, *chunk]))
        out.sort(key=lambda e: (e.published, e.id))
        return self._with_related(out)

    def iter_entries(
        self,
        *,
        since: datetime | None = None,
        spans: Sequence[tuple[datetime, datetime | None]] = (),
        assigned: bool = False,
        batch: int = 2000,
    ) -> Iterator[EntryRecord]:
        """Like `entries`, in published order, read ``batch`` rows at a time (a window of a
        busy archive need not be in memory at once); only those published at or after
        ``since``, and within one of ``spans`` (``(start, end)``, end excluded or None for
        open) when there are any."""
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            where.append("e.published >= ?")
            params.append(iso(since))
        if spans:
            parts = []
            for start, end in spans:
                parts.append("(e.published >= ?" + (" AND e.published < ?)" if end else ")"))
                params.extend([iso(start), iso(end)] if end else [iso(start)])
            where.append("(" + " OR ".join(parts) + ")")
        if assigned:
            where.append("e.story_id IS NOT NULL")
        sql = self._ENTRY_SELECT + (" WHERE " + " AND ".join(where) if where else "")
        cur = self.db.conn.execute(sql + " ORDER BY e.published, e.id", params)
        while rows := cur.fetchmany(batch):
            yield from self._with_related([self._entry(r) for r in rows])

    def assign(self, assignments: Mapping[int, int]) -> None:
        """Set each entry's story."""
        with self.db.atomic():
            self.db.conn.executemany(
                "UPDATE entries SET story_id = ? WHERE id = ?",
                [(story, entry) for entry, story in assignments.items()],
            )

    def label_entries(self, labels: Mapping[int, Labels]) -> None:
        with self.db.atomic():
            self.db.conn.executemany(
                "UPDATE entries SET region = ?, region_weight = ?, countries = ?, topic = ? "
                "WHERE id = ?",
                [
                    (
                        lab.region,
                        lab.region_weight,
                        json.dumps(list(lab.countries)),
                        lab.topic,
                        entry_id,
                    )
                    for entry_id, lab in labels.items()
                ],
            )

    def entry_labels(self, ids: Iterable[int]) -> dict[int, Labels]:
        out: dict[int, Labels] = {}
        for chunk in _chunks(ids):
            rows = self.db.execute(
                f"SELECT id, region, countries, topic, region_weight FROM entries "
                f"WHERE id IN ({','.join('?' * len(chunk))}) AND region IS NOT NULL",
                chunk,
            ).fetchall()
            for r in rows:
                out[r[0]] = Labels(
                    region=r[1],
                    countries=tuple(json.loads(r[2])),
                    topic=r[3],
                    region_weight=r[4] if r[4] is not None else 1.0,
                )
        return out

    _LEAD_SUMMARY_ONLY = (
        "CASE WHEN e.id = (SELECT lead_entry_id FROM stories s WHERE s.id = e.story_id) "
        "THEN e.summary END"
    )

    def story_members(
        self, story_ids: Iterable[int], *, lead_summary_only: bool = False
    ) -> dict[int, list[EntryRecord]]:
        """Each story's members in published order. With ``lead_summary_only`` only the lead
        carries its summary (the digest shows no other: a story of thousands of reports
        need not bring thousands of summaries into memory)."""
        out: dict[int, list[EntryRecord]] = {}
        select = self._ENTRY_SELECT
        if lead_summary_only:
            select = select.replace("e.summary,", self._LEAD_SUMMARY_ONLY + ",", 1)
        for chunk in _chunks(story_ids):
            sql = (
                select
                + f" WHERE e.story_id IN ({','.join('?' * len(chunk))}) ORDER BY e.published, e.id"
            )
            for rec in self._with_related([self._entry(r) for r in self.db.execute(sql, chunk)]):
                assert rec.story_id is not None
                out.setdefault(rec.story_id, []).append(rec)
        return out

    def save_story(
        self,
        story_id: int,
        lead: EntryRecord,
        members: Sequence[EntryRecord],
        labels: Labels,
        now: datetime,
    ) -> None:
        """Write a story's row from its members (lead chosen by clustering)."""
        self.db.execute(
            """
            INSERT INTO stories (id, headline, url, lead_entry_id, outlet, published,
                first_seen, last_seen, outlets, entries, region, countries, topic, topics,
                updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET headline = excluded.headline, url = excluded.url,
                lead_entry_id = excluded.lead_entry_id, outlet = excluded.outlet,
                published = excluded.published, first_seen = excluded.first_seen,
                last_seen = excluded.last_seen, outlets = excluded.outlets,
                entries = excluded.entries, region = excluded.region,
                countries = excluded.countries, topic = excluded.topic, topics = excluded.topics,
                updated_at = excluded.updated_at
            WHERE stories.headline IS NOT excluded.headline OR stories.url IS NOT excluded.url
                OR stories.lead_entry_id IS NOT excluded.lead_entry_id
                OR stories.last_seen IS NOT excluded.last_seen
                OR stories.first_seen IS NOT excluded.first_seen
                OR stories.entries IS NOT excluded.entries
                OR stories.outlets IS NOT excluded.outlets
                OR stories.region IS NOT excluded.region OR stories.topic IS NOT excluded.topic
                OR stories.countries IS NOT excluded.countries
                OR stories.topics IS NOT excluded.topics
            """,
            [
                story_id,
                lead.title,
                lead.url,
                lead.id,
                lead.outlet,
                iso(lead.published),
                iso(min(m.published for m in members)),
                iso(max(m.published for m in members)),
                len({m.feed_url for m in members}),
                len(members),
                labels.region,
                json.dumps(list(labels.countries)),
                labels.topic,
                json.dumps(list(labels.topics)),
                iso(now),
            ],
        )

    def delete_stories(self, story_ids: Iterable[int]) -> None:
        for chunk in _chunks(story_ids):
            self.db.execute(
                f"DELETE FROM stories WHERE id IN ({','.join('?' * len(chunk))})", chunk
            )

    def clear_assignments(self, since: datetime | None = None) -> list[int]:
        """Forget story assignments (for recluster); returns the story ids dropped."""
        where, params = ("WHERE published >= ?", [iso(since)]) if since else ("", [])
        rows = self.db.execute(
            f"SELECT DISTINCT story_id FROM entries {where} AND story_id IS NOT NULL"
            if where
            else "SELECT DISTINCT story_id FROM entries WHERE story_id IS NOT NULL",
            params,
        ).fetchall()
        story_ids = [r[0] for r in rows]
        self.db.execute(f"UPDATE entries SET story_id = NULL {where}", params)
        return story_ids

    def stories(
        self,
        *,
        since: datetime | None = None,
        limit: int | None = None,
        lead_summary_only: bool = False,
    ) -> list[StoryRecord]:
        """Stories last seen at or after ``since``, most covered and most recent first,
        each with its members (lead first, then by publication time; see `story_members`
        for ``lead_summary_only``)."""
        sql = (
            "SELECT id, headline, url, outlet, first_seen, last_seen, published, outlets, "
            "region, topic, countries, topics, lead_entry_id FROM stories"
        )
        params: list[Any] = []
        if since is not None:
            sql += " WHERE last_seen >= ?"
            params.append(iso(since))
        sql += " ORDER BY outlets DESC, last_seen DESC, id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self.db.execute(sql, params).fetchall()
        members = self.story_members((r[0] for r in rows), lead_summary_only=lead_summary_only)
        out: list[StoryRecord] = []
        for r in rows:
            ms = members.get(r[0], [])
            lead_id = r[12]
            ordered = sorted(ms, key=lambda m: (m.id != lead_id, m.published, m.id))
            out.append(
                StoryRecord(
                    id=r[0],
                    headline=r[1],
                    url=r[2],
                    outlet=r[3],
                    first_seen=_must(r[4]),
                    last_seen=_must(r[5]),
                    published=_must(r[6]),
                    outlets=r[7],
                    region=r[8],
                    topic=r[9],
                    countries=tuple(json.loads(r[10])),
                    topics=tuple(json.loads(r[11])),
                    members=tuple(ordered),
                )
            )
        return out

    def story_days(self) -> list[tuple[str, int]]:
        """``(YYYY-MM-DD, stories)`` for each UTC day on which a story had a report
        published, oldest first (the digest's daily archive). Days that retention pruned
        keep the count their page showed (``archive_days``), so the archive index still
        lists their pages."""
        rows = self.db.execute(
            "SELECT day, max(n) FROM ("
            " SELECT substr(published, 1, 10) AS day, count(DISTINCT story_id) AS n"
            " FROM entries WHERE story_id IS NOT NULL GROUP BY day"
            " UNION ALL SELECT day, stories AS n FROM archive_days"
            ") GROUP BY day ORDER BY day"
        ).fetchall()
        return [(r[0], int(r[1])) for r in rows]

    def embeddings(self, ids: Iterable[int], model: str) -> dict[int, bytes]:
        """Stored embedding vectors (as bytes) of ``ids`` made by ``model``."""
        out: dict[int, bytes] = {}
        for chunk in _chunks(ids):
            rows = self.db.execute(
                f"SELECT entry_id, vector FROM embeddings WHERE model = ? "
                f"AND entry_id IN ({','.join('?' * len(chunk))})",
                [model, *chunk],
            ).fetchall()
            out.update((r[0], bytes(r[1])) for r in rows)
        return out

    def save_embeddings(self, model: str, vectors: Mapping[int, bytes]) -> None:
        with self.db.atomic():
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO embeddings (entry_id, model, vector) VALUES (?, ?, ?)",
                [(entry_id, model, data) for entry_id, data in vectors.items()],
            )

    def feed_health(self) -> list[dict[str, Any]]:
        """Every feed in feeds.yaml with its health and number of entries, by name."""
        cur = self.db.execute(
            """
            SELECT f.url, f.name, f.fetch_url, f.moved_to, f.moved_streak, f.disabled_at,
                   f.disabled_reason, f.last_fetched_at, f.last_success_at, f.last_status,
                   f.last_error, f.last_error_kind, f.last_error_at, f.consecutive_failures,
                   f.next_fetch_at, f.bozo,
                   (SELECT count(*) FROM entries e WHERE e.feed_url = f.url) AS entries
            FROM feeds f WHERE f.active = 1 ORDER BY f.name COLLATE NOCASE, f.url
            """
        )
        return _dicts(cur)

    # -- retention --------------------------------------------------------------------------

    def apply_retention(self, retention_days: float | None, now: datetime) -> PruneResult | None:
        """Prune what is older than ``retention_days`` before ``now`` (nothing when it is
        None); the end of every pass."""
        cutoff = retention_cutoff(now, retention_days)
        if cutoff is None:
            return None
        result = self.prune(cutoff)
        if result != PruneResult():
            log.info(
                "retention: removed %d stories, %d entries and %d fetch log rows older than "
                "%s; %d free pages given back%s",
                result.stories,
                result.entries,
                result.fetch_log,
                iso(cutoff),
                result.pages_freed,
                "" if result.done else " (more next pass)",
            )
        return result

    def prune(
        self,
        cutoff: datetime,
        *,
        chunk: int = PRUNE_CHUNK,
        chunks: int = PRUNE_CHUNKS,
        vacuum_pages: int = VACUUM_PAGES,
    ) -> PruneResult:
        """Delete from the live tables what is older than ``cutoff``, then give back up to
        ``vacuum_pages`` free pages to the file system.

        * whole stories whose every report was published before ``cutoff`` and whose members
          no feed has carried since (an old story that is still growing keeps every member,
          its lead included; an item still in its feed is kept, or it would come back as new
          on the feed's next change: one seen by the feed's last 200 counts as still there
          while the feed answers 304), with their entries, related links and embeddings
          (full-text rows follow through the triggers);
        * entries without a story, published before ``cutoff`` and no longer carried;
        * fetch log rows of attempts before ``cutoff``.

        Each transaction deletes at most ``chunk`` stories (or ``10 * chunk`` log rows), so
        the write lock is held briefly, and whole stories only, so a reader never sees a story
        without its members. At most ``chunks`` transactions run; the rest waits for the
        next call (``done`` is false). Days losing stories are remembered in
        ``archive_days``: their archive pages stay on disk and in the archive index."""
        limit = iso(cutoff)
        assert limit is not None
        removed: Counter[str] = Counter()
        budget, done = chunks, True
        steps = (
            (self._prune_stories, chunk),
            (self._prune_unassigned, chunk),
            (self._prune_log, chunk * 10),
        )
        for step, size in steps:
            while done:
                if budget == 0:
                    done = False
                    break
                budget -= 1
                if step(limit, size, removed) < size:
                    break
        return PruneResult(
            stories=removed["stories"],
            entries=removed["entries"],
            fetch_log=removed["fetch_log"],
            pages_freed=self.vacuum(vacuum_pages),
            done=done,
        )

    def _prune_stories(self, cutoff: str, size: int, removed: Counter[str]) -> int:
        with self.db.atomic():
            ids = [
                r[0]
                for r in self.db.execute(
                    "SELECT s.id FROM stories s WHERE s.last_seen < ? AND NOT EXISTS ("
                    " SELECT 1 FROM entries e WHERE e.story_id = s.id AND " + _CARRIED + ")"
                    " ORDER BY s.last_seen, s.id LIMIT ?",
                    [cutoff, cutoff, size],
                )
            ]
            if not ids:
                return 0
            entry_ids: list[int] = []
            for part in _chunks(ids):
                marks = ",".join("?" * len(part))
                entry_ids.extend(
                    r[0]
                    for r in self.db.execute(
                        f"SELECT id FROM entries WHERE story_id IN ({marks})", part
                    )
                )
            self._remember_days(entry_ids)
            self._delete_entries(entry_ids)
            self.delete_stories(ids)
        removed["stories"] += len(ids)
        removed["entries"] += len(entry_ids)
        return len(ids)

    def _prune_unassigned(self, cutoff: str, size: int, removed: Counter[str]) -> int:
        with self.db.atomic():
            ids = [
                r[0]
                for r in self.db.execute(
                    "SELECT e.id FROM entries e WHERE e.story_id IS NULL AND e.published < ?"
                    " AND NOT " + _CARRIED + " LIMIT ?",
                    [cutoff, cutoff, size],
                )
            ]
            self._delete_entries(ids)
        removed["entries"] += len(ids)
        return len(ids)

    def _prune_log(self, cutoff: str, size: int, removed: Counter[str]) -> int:
        with self.db.atomic():
            cur = self.db.execute(
                "DELETE FROM fetch_log WHERE id IN"
                " (SELECT id FROM fetch_log WHERE fetched_at < ? LIMIT ?)",
                [cutoff, size],
            )
        removed["fetch_log"] += cur.rowcount
        return cur.rowcount

    def _delete_entries(self, ids: Sequence[int]) -> None:
        for part in _chunks(ids):
            marks = ",".join("?" * len(part))
            for sql in (
                f"DELETE FROM related_links WHERE entry_id IN ({marks})",
                f"DELETE FROM embeddings WHERE entry_id IN ({marks})",
                f"DELETE FROM entries WHERE id IN ({marks})",
            ):
                self.db.execute(sql, part)

    def _remember_days(self, entry_ids: Sequence[int]) -> None:
        """Keep, for each day of ``entry_ids``, how many stories its archive page lists
        (before they are deleted)."""
        days: set[str] = set()
        for part in _chunks(entry_ids):
            marks = ",".join("?" * len(part))
            days.update(
                r[0]
                for r in self.db.execute(
                    f"SELECT DISTINCT substr(published, 1, 10) FROM entries WHERE id IN ({marks})",
                    part,
                )
            )
        for day in sorted(days):
            following = (datetime.fromisoformat(day) + timedelta(days=1)).strftime("%Y-%m-%d")
            (count,) = self.db.execute(
                "SELECT count(DISTINCT story_id) FROM entries WHERE story_id IS NOT NULL"
                " AND published >= ? AND published < ?",
                [day, following],
            ).fetchone()
            self.db.execute(
                "INSERT INTO archive_days (day, stories) VALUES (?, ?) ON CONFLICT(day)"
                " DO UPDATE SET stories = max(stories, excluded.stories)",
                [day, count],
            )

    def vacuum(self, pages: int = VACUUM_PAGES) -> int:
        """Give up to ``pages`` free pages back to the file system; how many were. Only
        databases created with ``auto_vacuum = INCREMENTAL`` can (see the README for the
        one-time conversion of older ones); elsewhere free pages are reused by new rows."""
        if self.db.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            return 0
        (free,) = self.db.execute("PRAGMA freelist_count").fetchone()
        if not free or pages <= 0:
            return 0
        # executescript steps the pragma to the end (execute frees one page per call)
        self.db.conn.executescript(f"PRAGMA incremental_vacuum({int(pages)});")
        (left,) = self.db.execute("PRAGMA freelist_count").fetchone()
        return int(free - left)

    def counts(self) -> dict[str, int]:
        return {
            table: int(self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("feeds", "entries", "stories", "fetch_log")
        }
