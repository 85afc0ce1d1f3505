"""End to end: `aggregator run --once` against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from conftest import FeedServer

from aggregator.cli import cli
from aggregator.store import Store

NOW = datetime.now(UTC).replace(microsecond=0)


def rss(title: str, items: list[tuple[str, str, str, float]]) -> bytes:
    """An RSS 2.0 document; items are (guid, title, link, hours ago)."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{title}</title><link>https://{title.lower()}.test/</link>",
    ]
    for guid, item_title, link, hours in items:
        when = (NOW - timedelta(hours=hours)).strftime("%a, %d %b %Y %H:%M:%S GMT")
        parts.append(
            f"<item><guid>{guid}</guid><title>{item_title}</title><link>{link}</link>"
            f"<pubDate>{when}</pubDate></item>"
        )
    parts.append("</channel></rss>")
    return "\n".join(parts).encode()


def atom(title: str, items: list[tuple[str, str, str, float]]) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{title}</title><id>tag:{title.lower()}.test,2026:feed</id>",
        f"<updated>{NOW.strftime('%Y-%m-%dT%H:%M:%SZ')}</updated>",
    ]
    for guid, item_title, link, hours in items:
        when = (NOW - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts.append(
            f'<entry><id>{guid}</id><title>{item_title}</title><link href="{link}"/>'
            f"<published>{when}</published><updated>{when}</updated></entry>"
        )
    parts.append("</feed>")
    return "\n".join(parts).encode()


def serve_world(server: FeedServer) -> dict[str, str]:
    """Two good feeds sharing one story, a 500 and a garbage body."""
    urls = {
        "alpha": server.add(
            "/alpha.xml",
            rss(
                "Alpha",
                [
                    (
                        "a1",
                        "Russia launches drone attack on Kyiv, killing four",
                        "https://alpha.test/kyiv-drones?utm_source=rss",
                        3,
                    ),
                    (
                        "a2",
                        "Uganda votes in tense presidential election",
                        "https://alpha.test/uganda",
                        5,
                    ),
                    (
                        "a3",
                        "<b>Fed</b> holds interest rates steady &amp; signals patience",
                        "https://alpha.test/fed",
                        8,
                    ),
                ],
            ),
            etag='"alpha-1"',
            headers={"Content-Type": "application/rss+xml"},
        ),
        "beta": server.add(
            "/beta.atom",
            atom(
                "Beta",
                [
                    (
                        "tag:beta.test,2026:1",
                        "Four killed as Russian drones hit Kiev overnight",
                        "https://beta.test/kiev",
                        2,
                    ),
                    (
                        "tag:beta.test,2026:2",
                        "Japan's space agency postpones rocket launch",
                        "https://beta.test/h3",
                        6,
                    ),
                ],
            ),
            etag='"beta-1"',
            last_modified="Thu, 15 Jan 2026 10:00:00 GMT",
            headers={"Content-Type": "application/atom+xml"},
        ),
        "broken": server.add("/broken.xml", b"oops", status=500),
        "garbage": server.add(
            "/garbage.xml", b"\x00\x01 this is not a feed", headers={"Content-Type": "text/plain"}
        ),
    }
    return urls


def write_config(tmp_path: Path, urls: dict[str, str], **settings: Any) -> Path:
    lines = ["settings:", "  database: data/agg.db", "  output_dir: site", "  timeout: 5"]
    lines += [f"  {k}: {v}" for k, v in settings.items()]
    lines.append("sources:")
    for name, url in urls.items():
        lines += [f"  - name: {name.title()}", f"    url: {url}"]
    path = tmp_path / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def dump(db: Path, table: str, skip: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})") if r[1] not in skip]
        return conn.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY 1").fetchall()
    finally:
        conn.close()


def test_run_once_end_to_end(tmp_path: Path, feed_server: FeedServer) -> None:
    urls = serve_world(feed_server)
    config = write_config(tmp_path, urls)
    runner = CliRunner()
    result = runner.invoke(cli, ["-c", str(config), "run", "--once"])
    assert result.exit_code == 0, result.output
    assert "4 feeds fetched (2 updated, 0 not modified, 2 failed): 5 new entries" in result.output

    db = tmp_path / "data" / "agg.db"
    entries = dump(db, "entries")
    assert len(entries) == 5
    conn = sqlite3.connect(db)
    titles = dict(conn.execute("SELECT title, url FROM entries"))
    # normalised: tags and entities cleaned, tracking parameters dropped
    assert titles["Fed holds interest rates steady & signals patience"] == "https://alpha.test/fed"
    assert titles["Russia launches drone attack on Kyiv, killing four"] == (
        "https://alpha.test/kyiv-drones"
    )
    # the Kyiv/Kiev story is one story with two outlets; the others stand alone
    stories = conn.execute("SELECT outlets, entries FROM stories ORDER BY outlets DESC").fetchall()
    assert stories == [(2, 2), (1, 1), (1, 1), (1, 1)]
    # broken sources are recorded, not fatal
    errors = dict(
        conn.execute("SELECT url, last_error_kind FROM feeds WHERE last_error_kind IS NOT NULL")
    )
    assert errors == {urls["broken"]: "http", urls["garbage"]: "parse"}
    assert conn.execute("SELECT count(*) FROM fetch_log").fetchone()[0] == 4
    conn.close()

    index = (tmp_path / "site" / "index.html").read_text()
    assert index.count('class="story"') == 4
    assert "https://beta.test/kiev" in index
    assert "https://alpha.test/kyiv-drones" in index
    assert "2 outlets" in index


def test_second_pass_is_conditional_and_changes_nothing(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    urls = serve_world(feed_server)
    del urls["broken"], urls["garbage"]
    config = write_config(tmp_path, urls)
    runner = CliRunner()
    assert runner.invoke(cli, ["-c", str(config), "run", "--once"]).exit_code == 0
    db = tmp_path / "data" / "agg.db"
    before = (dump(db, "entries", skip=("last_seen",)), dump(db, "stories"))
    index = tmp_path / "site" / "index.html"
    mtime = index.stat().st_mtime_ns
    first_requests = len(feed_server.requests)

    # not due yet: nothing is fetched at all
    result = runner.invoke(cli, ["-c", str(config), "run", "--once"])
    assert result.exit_code == 0, result.output
    assert len(feed_server.requests) == first_requests
    assert "0 feeds fetched" in result.output

    # --all: every feed is asked conditionally and answers 304
    result = runner.invoke(cli, ["-c", str(config), "run", "--once", "--all"])
    assert result.exit_code == 0, result.output
    assert "2 not modified" in result.output
    second = feed_server.requests[first_requests:]
    assert {r.header("If-None-Match") for r in second} == {'"alpha-1"', '"beta-1"'}
    assert (dump(db, "entries", skip=("last_seen",)), dump(db, "stories")) == before
    assert dump(db, "entries") == dump(db, "entries")  # stable read
    assert index.stat().st_mtime_ns == mtime  # nothing changed: the digest is not rewritten


def test_changed_feed_updates_in_place(tmp_path: Path, feed_server: FeedServer) -> None:
    urls = serve_world(feed_server)
    del urls["broken"], urls["garbage"]
    config = write_config(tmp_path, urls)
    runner = CliRunner()
    assert runner.invoke(cli, ["-c", str(config), "run", "--once"]).exit_code == 0
    # Alpha edits a headline and adds an item; its ETag changes.
    feed_server.add(
        "/alpha.xml",
        rss(
            "Alpha",
            [
                (
                    "a1",
                    "Russian drone attack on Kyiv kills four, cuts power",
                    "https://alpha.test/kyiv-drones",
                    3,
                ),
                (
                    "a2",
                    "Uganda votes in tense presidential election",
                    "https://alpha.test/uganda",
                    5,
                ),
                ("a3", "Fed holds interest rates steady", "https://alpha.test/fed", 8),
                (
                    "a4",
                    "Ugandan opposition alleges fraud in presidential election",
                    "https://alpha.test/uganda-fraud",
                    1,
                ),
            ],
        ),
        etag='"alpha-2"',
    )
    result = runner.invoke(cli, ["-c", str(config), "run", "--once", "--all"])
    assert result.exit_code == 0, result.output
    assert "1 new entries" in result.output
    conn = sqlite3.connect(tmp_path / "data" / "agg.db")
    rows = conn.execute("SELECT title FROM entries WHERE identity LIKE 'guid:%/a1'").fetchall()
    assert rows == [("Russian drone attack on Kyiv kills four, cuts power",)]
    assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 6
    conn.close()


def test_bad_config_is_refused_before_anything_runs(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "settings:\n  database: agg.db\nsources:\n  - url: https://ok.test/feed\n  - url: ftp://x\n"
    )
    result = CliRunner().invoke(cli, ["-c", str(config), "run", "--once"])
    assert result.exit_code != 0
    message = result.output.strip()
    assert len(message.splitlines()) == 1
    assert "feeds.yaml" in message
    assert "sources[1].url" in message
    assert not (tmp_path / "agg.db").exists()


def test_missing_config_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["-c", str(tmp_path / "nope.yaml"), "run", "--once"])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {tmp_path / 'nope.yaml'}: file not found"


def test_render_and_recluster_commands(tmp_path: Path, feed_server: FeedServer) -> None:
    urls = serve_world(feed_server)
    config = write_config(tmp_path, urls)
    runner = CliRunner()
    assert runner.invoke(cli, ["-c", str(config), "run", "--once"]).exit_code == 0
    db = tmp_path / "data" / "agg.db"
    stories = dump(db, "stories", skip=("updated_at",))

    result = runner.invoke(cli, ["-c", str(config), "recluster"])
    assert result.exit_code == 0, result.output
    assert "5 entries clustered into 4 stories" in result.output
    assert dump(db, "stories", skip=("updated_at",)) == stories  # same ids, same stories

    (tmp_path / "site" / "index.html").unlink()
    result = runner.invoke(cli, ["-c", str(config), "render"])
    assert result.exit_code == 0, result.output
    assert "written" in result.output
    assert (tmp_path / "site" / "index.html").exists()


def test_needs_render(tmp_path: Path) -> None:
    import os

    from aggregator.config import Config, Settings
    from aggregator.pipeline import needs_render

    config = Config(settings=Settings(database=tmp_path / "db", output_dir=tmp_path))
    now = datetime.now(UTC)
    assert needs_render(config, False, now)  # no digest yet
    index = tmp_path / "index.html"
    index.write_text("x")
    assert needs_render(config, False, now)  # never rendered by us: no stamp
    stamp = tmp_path / ".rendered"
    stamp.touch()
    assert not needs_render(config, False, now)
    assert needs_render(config, True, now)
    old = (now - timedelta(hours=2)).timestamp()
    os.utime(index, (old, old))
    assert not needs_render(config, False, now)  # an unchanged page keeps its old mtime
    os.utime(stamp, (old, old))
    assert needs_render(config, False, now)  # stale: stories may have aged out
    index.unlink()
    stamp.touch()
    assert needs_render(config, False, now)  # the digest was deleted


def test_recluster_is_idempotent(tmp_path: Path, feed_server: FeedServer) -> None:
    urls = serve_world(feed_server)
    config = write_config(tmp_path, urls)
    runner = CliRunner()
    assert runner.invoke(cli, ["-c", str(config), "run", "--once"]).exit_code == 0
    db = tmp_path / "data" / "agg.db"
    for _ in range(2):
        result = runner.invoke(cli, ["-c", str(config), "recluster", "--since", "2000-01-01"])
        assert result.exit_code == 0, result.output
        after = (dump(db, "stories", skip=("updated_at",)), dump(db, "entries"))
    again = runner.invoke(cli, ["-c", str(config), "recluster"])
    assert again.exit_code == 0
    assert (dump(db, "stories", skip=("updated_at",)), dump(db, "entries")) == after


def test_recluster_rejects_a_bad_date(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text("settings:\n  database: agg.db\n")
    result = CliRunner().invoke(cli, ["-c", str(config), "recluster", "--since", "last week"])
    assert result.exit_code == 2
    assert "expected an ISO date" in result.output


def test_giving_memory_back_is_harmless() -> None:
    from aggregator.pipeline import give_back_memory

    give_back_memory()  # glibc's malloc_trim here; a no-op where there is none


def test_seed_spans_read_only_around_the_new_entries() -> None:
    from aggregator.pipeline import seed_spans

    day = timedelta(days=1)
    w = timedelta(hours=72)
    assert seed_spans([], w) == []
    # recent entries: one open range from the earliest minus the window
    assert seed_spans([NOW, NOW - day], w) == [(NOW - day - w, None)]
    # one entry dated a year ago reads the days around it, not the year since
    old = NOW - 365 * day
    assert seed_spans([NOW, old, NOW - day], w) == [(old - w, old + w), (NOW - day - w, None)]
    # at most `limit` ranges: the closest are merged first
    times = [NOW - k * 30 * day for k in range(10)] + [NOW - 400 * day, NOW - 401 * day + w]
    spans = seed_spans(times, w, limit=3)
    assert len(spans) == 3
    assert spans[0] == (NOW - 403 * day, NOW - 401 * day + 2 * w)  # the two old ones, merged
    assert spans[-1][1] is None
    for t in times:  # every entry's window is still covered
        assert any(a <= t - w and (b is None or t + w <= b) for a, b in spans)


def test_iter_entries_reads_only_the_spans(store: Store) -> None:
    from aggregator.models import Entry, FetchResult, ParsedFeed, Source

    feed = "https://a.test/rss"
    store.sync_sources([Source(feed, "A")], NOW)
    day = timedelta(days=1)
    entries = [
        Entry(
            feed_url=feed,
            identity=f"guid:{k}",
            guid=str(k),
            title=f"Headline {k}",
            url=f"https://a.test/{k}",
            published=NOW - k * day,
            first_seen=NOW,
        )
        for k in range(10)
    ]
    store.record_success(
        FetchResult(url=feed, fetched_at=NOW, status=200), ParsedFeed(url=feed), entries, NOW
    )
    got = [
        e.title
        for e in store.iter_entries(spans=[(NOW - 8 * day, NOW - 6 * day), (NOW - day, None)])
    ]
    assert got == ["Headline 8", "Headline 7", "Headline 1", "Headline 0"]
