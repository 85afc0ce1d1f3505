"""`aggregator status` and `aggregator feeds enable`: health of every feed, for people and
for monitoring (exit status)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FeedServer
from test_pipeline import rss

from aggregator.cli import cli
from aggregator.health import DISABLED, FAILING, NEW, OK, ago, failing_share, health

FEED = rss("Alpha", [("a1", "Floods hit Mozambique", "https://alpha.test/a1", 1)])


def write(tmp_path: Path, urls: dict[str, str], share: float = 0.25) -> Path:
    lines = [
        "settings:",
        "  database: agg.db",
        "  output_dir: site",
        "  timeout: 5",
        f"  status_max_failing: {share}",
        "sources:",
    ]
    lines += [f"  - {{name: {name}, url: '{url}'}}" for name, url in urls.items()]
    path = tmp_path / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_status_shows_every_feed_and_fails_over_the_share(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    urls = {
        "Alpha": feed_server.add("/alpha.xml", FEED),
        "Broken": feed_server.add("/broken.xml", status=500, body=b"no"),
        "Gone": feed_server.add("/gone.xml", status=410),
        "Beta": feed_server.add("/beta.xml", FEED),
    }
    config = write(tmp_path, urls)
    runner = CliRunner()
    assert runner.invoke(cli, ["-c", str(config), "run", "--once"]).exit_code == 0
    result = runner.invoke(cli, ["-c", str(config), "status", "--json"])
    # one failing of three enabled, fetched feeds: 33 % > 25 %
    assert result.exit_code == 1, result.output
    rows = {r["name"]: r for r in map(json.loads, result.output.splitlines())}
    assert {n: r["state"] for n, r in rows.items()} == {
        "Alpha": "ok",
        "Broken": "failing",
        "Gone": "disabled",
        "Beta": "ok",
    }
    assert rows["Alpha"]["entries"] == 1
    assert rows["Broken"]["problem"] == "HTTP 500 Internal Server Error"
    assert rows["Broken"]["failures"] == 1
    assert rows["Gone"]["problem"].startswith("410 Gone on ")
    assert rows["Gone"]["next_fetch"] is None
    table = runner.invoke(cli, ["-c", str(config), "status"])
    assert table.exit_code == 1
    lines = table.output.splitlines()
    assert lines[0].split()[:3] == ["feed", "state", "entries"]
    assert any(line.startswith("Broken") and "failing" in line for line in lines)
    assert lines[-1] == "4 feeds: 1 failing (33%), 1 disabled, 2 entries"
    # a more tolerant threshold passes
    relaxed = write(tmp_path, urls, share=0.5)
    assert runner.invoke(cli, ["-c", str(relaxed), "status"]).exit_code == 0


def test_feeds_enable(tmp_path: Path, feed_server: FeedServer) -> None:
    gone = feed_server.add("/gone.xml", status=410)
    config = write(tmp_path, {"Gone": gone}, share=0.9)
    runner = CliRunner()
    runner.invoke(cli, ["-c", str(config), "run", "--once"])
    result = runner.invoke(cli, ["-c", str(config), "feeds", "enable", gone])
    assert result.exit_code == 0
    assert result.output == f"{gone}: enabled; it is fetched on the next pass\n"
    feed_server.add("/gone.xml", FEED)
    assert "1 new entries" in runner.invoke(cli, ["-c", str(config), "run", "--once"]).output
    unknown = runner.invoke(cli, ["-c", str(config), "feeds", "enable", "https://x.example/"])
    assert unknown.exit_code == 1
    assert "https://x.example/: no such feed in the database" in unknown.output


NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def row(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "url": "https://f.example/",
        "name": "F",
        "fetch_url": None,
        "moved_to": None,
        "moved_streak": 0,
        "disabled_at": None,
        "disabled_reason": None,
        "last_fetched_at": "2026-01-15T11:00:00Z",
        "last_success_at": "2026-01-15T11:00:00Z",
        "last_status": 200,
        "last_error": None,
        "last_error_kind": None,
        "last_error_at": None,
        "consecutive_failures": 0,
        "next_fetch_at": "2026-01-15T12:30:00Z",
        "bozo": 0,
        "entries": 3,
    }
    return base | changes


def test_health_states_and_problems() -> None:
    assert health(row()).state == OK
    assert health(row(last_fetched_at=None, last_success_at=None)).state == NEW
    failing = health(row(consecutive_failures=2, last_error="timed out"))
    assert (failing.state, failing.problem, failing.failures) == (FAILING, "timed out", 2)
    gone = health(row(disabled_at="2026-01-15T11:00:00Z", disabled_reason="410 Gone"))
    assert (gone.state, gone.problem) == (DISABLED, "410 Gone")
    moved = health(row(fetch_url="https://new.example/feed"))
    assert moved.problem == "moved permanently to https://new.example/feed (update feeds.yaml)"
    assert health(row(bozo=1)).problem == "malformed, entries kept"
    assert health(row()).last_success == datetime(2026, 1, 15, 11, 0, tzinfo=UTC)


def test_failing_share_counts_only_fetched_enabled_feeds() -> None:
    feeds = [
        health(row()),
        health(row(consecutive_failures=1)),
        health(row(disabled_at="2026-01-15T11:00:00Z")),
        health(row(last_fetched_at=None)),
    ]
    assert failing_share(feeds) == 0.5
    assert failing_share([]) == 0.0


def test_ago() -> None:
    assert ago(None, NOW) == "never"
    assert ago(NOW, NOW) == "now"
    assert ago(NOW - timedelta(minutes=3), NOW) == "3 min ago"
    assert ago(NOW + timedelta(hours=2), NOW) == "in 2 h"
    assert ago(NOW - timedelta(days=3), NOW) == "3 d ago"


def test_summary_table_and_progress(
    tmp_path: Path, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from aggregator.cli import _run_with_progress, _summary_table
    from aggregator.config import load_config

    urls = {
        "Alpha": feed_server.add("/alpha.xml", FEED),
        "Broken": feed_server.add("/broken.xml", status=500, body=b"no"),
    }
    config = load_config(write(tmp_path, urls))
    report = _run_with_progress(config, all_feeds=True)
    _summary_table(report)
    out, err = capsys.readouterr()
    assert "Fetching (1 new, 1 errors)" in err
    lines = out.splitlines()
    assert lines[0].split() == ["feeds", "fetched", "2"]
    assert lines[4].split() == ["new", "entries", "1"]
    assert "most new entries: Alpha 1" in out
    assert "  failed: Broken: HTTP 500 Internal Server Error" in out
