"""Passes against a real loopback server: moves, 410, 429/503, cache hints, faults.

Each test runs ``run_pass`` with a fixed ``now`` and ``all_feeds`` where it needs a refetch,
then reads the feed row back from the database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conftest import FeedServer
from test_pipeline import rss

from aggregator.config import parse_config
from aggregator.pipeline import run_pass
from aggregator.store import Store, parse_iso

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
FEED = rss("Alpha", [("a1", "Floods hit Mozambique", "https://alpha.test/a1", 1)])


def config(tmp_path: Path, urls: list[str], **settings: Any) -> Any:
    return parse_config(
        {
            "settings": {"database": "agg.db", "output_dir": "site", "timeout": 5, **settings},
            "sources": [{"url": u, "name": f"Feed {i}"} for i, u in enumerate(urls)],
        },
        base=tmp_path,
    )


def feed_row(cfg: Any, url: str) -> dict[str, Any]:
    store = Store.open(cfg.settings.database)
    try:
        return store.feed_row(url)
    finally:
        store.close()


def test_a_feed_moves_after_three_permanent_redirects(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    old = feed_server.add("/old.xml", status=301, headers={"Location": "/new.xml"})
    new = feed_server.add("/new.xml", FEED)
    cfg = config(tmp_path, [old])
    for n in (1, 2):
        run_pass(cfg, now=NOW + timedelta(hours=n), all_feeds=True, render=False)
        row = feed_row(cfg, old)
        assert (row["moved_to"], row["moved_streak"], row["fetch_url"]) == (new, n, None)
    run_pass(cfg, now=NOW + timedelta(hours=3), all_feeds=True, render=False)
    row = feed_row(cfg, old)
    assert (row["moved_to"], row["moved_streak"], row["fetch_url"]) == (new, 3, new)
    asked = len(feed_server.requests)
    report = run_pass(cfg, now=NOW + timedelta(hours=4), all_feeds=True, render=False)
    # straight to the new address, no redirect; the feed keeps its configured name and URL
    assert [r.path for r in feed_server.requests[asked:]] == ["/new.xml"]
    assert [f.url for f in report.feeds] == [old]
    assert feed_row(cfg, old)["fetch_url"] == new


def test_a_temporary_redirect_never_moves_a_feed(tmp_path: Path, feed_server: FeedServer) -> None:
    old = feed_server.add("/old.xml", status=302, headers={"Location": "/new.xml"})
    feed_server.add("/new.xml", FEED)
    cfg = config(tmp_path, [old])
    for n in range(4):
        report = run_pass(cfg, now=NOW + timedelta(hours=n), all_feeds=True, render=False)
        assert report.feeds[0].outcome == "ok"
    row = feed_row(cfg, old)
    assert (row["moved_to"], row["moved_streak"], row["fetch_url"]) == (None, 0, None)


def test_an_interrupted_streak_starts_again(tmp_path: Path, feed_server: FeedServer) -> None:
    old = feed_server.add("/old.xml", status=308, headers={"Location": "/new.xml"})
    feed_server.add("/new.xml", FEED)
    cfg = config(tmp_path, [old])
    run_pass(cfg, now=NOW, all_feeds=True, render=False)
    run_pass(cfg, now=NOW + timedelta(hours=1), all_feeds=True, render=False)
    feed_server.add("/old.xml", FEED)  # the old address works again
    run_pass(cfg, now=NOW + timedelta(hours=2), all_feeds=True, render=False)
    assert feed_row(cfg, old)["moved_streak"] == 0


def test_410_disables_the_feed_until_enabled(tmp_path: Path, feed_server: FeedServer) -> None:
    gone = feed_server.add("/gone.xml", status=410, body=b"gone")
    fine = feed_server.add("/fine.xml", FEED)
    cfg = config(tmp_path, [gone, fine])
    report = run_pass(cfg, now=NOW, render=False)
    assert {f.url: f.status for f in report.feeds} == {gone: 410, fine: 200}
    row = feed_row(cfg, gone)
    assert row["disabled_at"] == "2026-01-15T12:00:00Z"
    assert row["disabled_reason"].startswith("410 Gone on 2026-01-15")
    # never fetched again, not even with --all
    report = run_pass(cfg, now=NOW + timedelta(days=2), all_feeds=True, render=False)
    assert [f.url for f in report.feeds] == [fine]
    store = Store.open(cfg.settings.database)
    try:
        assert store.enable(gone)
        assert not store.enable("https://unknown.example/feed")
    finally:
        store.close()
    feed_server.add("/gone.xml", FEED)
    report = run_pass(cfg, now=NOW + timedelta(days=3), render=False)
    assert gone in [f.url for f in report.feeds]
    assert feed_row(cfg, gone)["disabled_at"] is None


def test_429_retry_after_is_honoured(tmp_path: Path, feed_server: FeedServer) -> None:
    busy = feed_server.add("/busy.xml", status=429, headers={"Retry-After": "7200"})
    cfg = config(tmp_path, [busy], interval="10m")
    run_pass(cfg, now=NOW, render=False)
    row = feed_row(cfg, busy)
    assert row["last_status"] == 429
    assert row["consecutive_failures"] == 1
    assert parse_iso(row["next_fetch_at"]) == NOW + timedelta(hours=2)
    # not due before then
    report = run_pass(cfg, now=NOW + timedelta(hours=1), render=False)
    assert report.feeds == ()


def test_503_retry_after_date_is_capped_by_max_wait(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    busy = feed_server.add(
        "/busy.xml", status=503, headers={"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"}
    )
    cfg = config(tmp_path, [busy], interval="10m", max_wait="2d")
    run_pass(cfg, now=NOW, render=False)
    assert parse_iso(feed_row(cfg, busy)["next_fetch_at"]) == NOW + timedelta(days=2)


def test_cache_control_lengthens_the_interval(tmp_path: Path, feed_server: FeedServer) -> None:
    url = feed_server.add("/cached.xml", FEED, headers={"Cache-Control": "max-age=14400"})
    cfg = config(tmp_path, [url], interval="30m")
    run_pass(cfg, now=NOW, render=False)
    wait = parse_iso(feed_row(cfg, url)["next_fetch_at"]) - NOW
    assert timedelta(hours=4) <= wait <= timedelta(hours=4, minutes=3)


def test_backoff_grows_and_is_capped(tmp_path: Path, feed_server: FeedServer) -> None:
    url = feed_server.add("/down.xml", status=500, body=b"oops")
    cfg = config(tmp_path, [url], interval="30m", max_backoff="2h")
    waits = []
    for n in range(5):
        when = NOW + timedelta(days=n)
        run_pass(cfg, now=when, all_feeds=True, render=False)
        row = feed_row(cfg, url)
        waits.append(parse_iso(row["next_fetch_at"]) - when)
        assert row["last_error"] == "HTTP 500 Internal Server Error"
        assert row["last_error_kind"] == "http"
    assert [w // timedelta(minutes=30) for w in waits] == [1, 2, 4, 4, 4]
    assert feed_row(cfg, url)["consecutive_failures"] == 5


def test_fetch_log_records_where_a_fetch_went(tmp_path: Path, feed_server: FeedServer) -> None:
    old = feed_server.add("/a.xml", status=302, headers={"Location": "/b.xml"})
    new = feed_server.add("/b.xml", FEED)
    cfg = config(tmp_path, [old])
    run_pass(cfg, now=NOW, render=False)
    store = Store.open(cfg.settings.database)
    try:
        rows = store.db.execute(
            "SELECT feed_url, requested_url, final_url, status FROM fetch_log"
        ).fetchall()
    finally:
        store.close()
    assert rows == [(old, old, new, 200)]


def test_redirect_loop_is_recorded_and_retried(tmp_path: Path, feed_server: FeedServer) -> None:
    a = feed_server.add("/a.xml", status=301, headers={"Location": "/b.xml"})
    feed_server.add("/b.xml", status=301, headers={"Location": "/a.xml"})
    cfg = config(tmp_path, [a])
    report = run_pass(cfg, now=NOW, render=False)
    assert report.feeds[0].error == f"redirect loop at {a}"
    row = feed_row(cfg, a)
    assert row["disabled_at"] is None
    assert row["next_fetch_at"] is not None
