"""Daemon mode: `aggregator run` fetches on its own, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import pytest
from conftest import NOW, FeedServer
from test_pipeline import rss, write_config

from aggregator.cli import log_format, setup_logging, stderr_is_journal
from aggregator.config import Config, Settings, load_config
from aggregator.errors import ConfigError
from aggregator.models import Source
from aggregator.pipeline import run_pass
from aggregator.scheduler import (
    Daemon,
    config_changed,
    edition_page,
    edition_time,
    file_stamp,
    rebase_links,
    reload_problem,
    tick_interval,
)


def test_tick_follows_the_shortest_interval() -> None:
    config = Config(
        settings=Settings(interval=timedelta(minutes=30)),
        sources=(
            Source("https://a.test/feed", "A", interval=timedelta(seconds=20)),
            Source("https://b.test/feed", "B"),
        ),
    )
    assert tick_interval(config) == timedelta(seconds=20)
    assert tick_interval(Config()) == timedelta(minutes=1)
    fast = Config(sources=(Source("https://a.test/f", "A", interval=timedelta(seconds=1)),))
    assert tick_interval(fast) == timedelta(seconds=5)  # never busier than every 5 s


def test_daemon_runs_a_pass_and_stops_on_sigterm(tmp_path: Path, feed_server: FeedServer) -> None:
    url = feed_server.add(
        "/feed.xml",
        rss("Alpha", [("urn:a:1", "Volcano erupts in Iceland", "https://a.test/1", 1)]),
        etag='"v1"',
    )
    config = write_config(tmp_path, {"alpha": url}, interval="5s")
    proc = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "-c", str(config), "-v", "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        index = tmp_path / "site" / "index.html"
        deadline = time.monotonic() + 30
        while not index.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert index.exists(), "the daemon did not render a digest"
        assert "Volcano erupts in Iceland" in index.read_text()
        # it keeps polling: the feed is asked again (conditionally) after its interval
        deadline = time.monotonic() + 20
        while len(feed_server.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(feed_server.requests) >= 2
        assert feed_server.requests[1].header("If-None-Match") == '"v1"'
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = proc.wait(timeout=10)
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _out, err = proc.communicate()
    assert code == 0, err
    assert "Traceback" not in err
    assert "stopping" in err


# -- editions: the setting -----------------------------------------------------------------


def _settings(tmp_path: Path, body: str) -> Settings:
    path = tmp_path / "feeds.yaml"
    path.write_text("settings:\n" + body + "sources: []\n")
    return load_config(path).settings


def test_editions_are_utc_times_sorted(tmp_path: Path) -> None:
    assert Settings().editions == ()
    assert _settings(tmp_path, "").editions == ()
    s = _settings(tmp_path, '  editions: ["19:00", "07:00", "7:30", "00:00", "23:59"]\n')
    assert s.editions == (clock(0, 0), clock(7, 0), clock(7, 30), clock(19, 0), clock(23, 59))
    assert _settings(tmp_path, "  editions: []\n").editions == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"07:00"', "settings.editions: expected a list of UTC times such as"),
        ('["24:00"]', "settings.editions[0]: expected a UTC time HH:MM (00:00-23:59), got '24:00'"),
        ('["07:60"]', "settings.editions[0]: expected a UTC time HH:MM"),
        ('["0700"]', "settings.editions[0]: expected a UTC time HH:MM"),
        ('["7h"]', "settings.editions[0]: expected a UTC time HH:MM"),
        ('["07:00:00"]', "settings.editions[0]: expected a UTC time HH:MM"),
        ("[true]", "settings.editions[0]: expected a UTC time HH:MM (00:00-23:59), got True"),
        ('["07:00", "7:00"]', "settings.editions[1]: 07:00 is listed twice"),
        (
            '["07:00", 19:00]',
            "settings.editions[1]: got the number 1140, which is how YAML reads an unquoted "
            '19:00; write it in quotes: "19:00"',
        ),
    ],
)
def test_bad_editions_are_one_line_errors_naming_the_key(
    tmp_path: Path, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as e:
        _settings(tmp_path, f"  editions: {value}\n")
    assert message in str(e.value)
    assert str(e.value).startswith(str(tmp_path / "feeds.yaml") + ": settings.editions")
    assert "\n" not in str(e.value)


# -- pure decisions --------------------------------------------------------------------------


def test_edition_time_is_the_slot_at_or_before_now() -> None:
    now = datetime(2026, 1, 15, 7, 0, 0, 250, tzinfo=UTC)
    assert edition_time(clock(7, 0), now) == datetime(2026, 1, 15, 7, 0, tzinfo=UTC)
    late = datetime(2026, 1, 15, 7, 20, tzinfo=UTC)  # woken late (a long pass, a suspend)
    assert edition_time(clock(7, 0), late) == datetime(2026, 1, 15, 7, 0, tzinfo=UTC)
    past_midnight = datetime(2026, 1, 16, 0, 5, tzinfo=UTC)
    assert edition_time(clock(23, 50), past_midnight) == datetime(2026, 1, 15, 23, 50, tzinfo=UTC)
    assert edition_page(datetime(2026, 1, 5, 7, 0, tzinfo=UTC)) == "2026-01-05-0700.html"


def test_rebase_links_moves_relative_links_only() -> None:
    html = (
        '<link rel="stylesheet" href="style.css"><a href="region/europe.html">E</a>'
        '<a href="#main">skip</a><a href="https://example.org/x">out</a>'
        '<a href=\'archive/index.html\'>A</a><img src="logo.png"><a href="/abs">r</a>'
        '<a href="mailto:x@example.org">m</a><p>href="not-an-attribute"</p>'
    )
    assert rebase_links(html, "../../") == (
        '<link rel="stylesheet" href="../../style.css"><a href="../../region/europe.html">E</a>'
        '<a href="#main">skip</a><a href="https://example.org/x">out</a>'
        '<a href=\'../../archive/index.html\'>A</a><img src="../../logo.png"><a href="/abs">r</a>'
        '<a href="mailto:x@example.org">m</a><p>href="not-an-attribute"</p>'
    )


def test_config_changed_compares_content_not_touches(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("sources: []\n")
    loaded = file_stamp(path)
    assert loaded is not None
    assert file_stamp(path, loaded) is loaded  # same mtime and size: not even read
    os.utime(path, ns=(1, 1))
    touched = file_stamp(path, loaded)
    assert touched is not None
    assert touched is not loaded
    assert not config_changed(loaded, touched)  # same bytes
    path.write_text("sources: [] \n")
    assert config_changed(loaded, file_stamp(path, touched))
    path.unlink()
    assert file_stamp(path, loaded) is None
    assert not config_changed(loaded, None)  # gone (mid-save): keep what runs
    assert config_changed(None, touched)


def test_reload_problem_refuses_another_database() -> None:
    running = Config(settings=Settings(database=Path("/srv/a.db")))
    assert reload_problem(running, running.with_settings(interval=timedelta(minutes=5))) is None
    assert reload_problem(running, running.with_settings(database=Path("/srv/b.db"))) == (
        "settings.database: changing the database needs a restart"
    )


# -- the daemon's jobs, called directly --------------------------------------------------------


def test_the_tick_reloads_a_changed_file_and_uses_it_at_once(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    alpha = feed_server.add(
        "/a.xml", rss("Alpha", [("urn:a:1", "Volcano erupts", "https://a/1", 1)])
    )
    beta = feed_server.add(
        "/b.xml", rss("Beta", [("urn:b:1", "Floods in Pakistan", "https://b/1", 1)])
    )
    path = write_config(tmp_path, {"alpha": alpha})
    daemon = Daemon(load_config(path))
    report = daemon.tick()
    assert report is not None
    assert [f.name for f in report.feeds] == ["Alpha"]
    assert daemon.check_config() is False  # unchanged
    write_config(tmp_path, {"alpha": alpha, "beta": beta}, interval="10s")
    report = daemon.tick()
    assert report is not None
    assert [f.name for f in report.feeds] == ["Beta"]  # the new source, in the same tick
    assert len(daemon.config.sources) == 2
    assert daemon.scheduler.get_job("tick") is not None  # rescheduled for its new interval
    daemon.stop.set()
    assert daemon.tick() is None  # stopping: no new pass


def test_an_invalid_reload_keeps_the_running_config_and_logs_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_config(tmp_path, {"alpha": "https://a.test/feed"})
    daemon = Daemon(load_config(path))
    running = daemon.config
    path.write_text(path.read_text() + "  - url: ftp://x\n")
    with caplog.at_level(logging.ERROR):
        assert daemon.reload("SIGHUP") is False
        assert daemon.check_config() is False  # a refused file is not retried every tick
    assert daemon.config is running
    [record] = caplog.records
    message = record.getMessage()
    assert message.startswith("reload refused, the running configuration stays: ")
    assert "sources[1].url: " in message
    assert "\n" not in message
    other = path.read_text().replace("database: data/agg.db", "database: other.db")
    path.write_text(other.replace("  - url: ftp://x\n", ""))
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert daemon.reload("SIGHUP") is False
    assert (
        caplog.records[0]
        .getMessage()
        .endswith("settings.database: changing the database needs a restart")
    )
    assert daemon.config is running
    assert Daemon(Config()).reload("SIGHUP") is False  # not read from a file


def test_jobs_follow_the_settings(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"alpha": "https://a.test/feed"}, interval="20s")
    path.write_text(
        path.read_text().replace("settings:\n", 'settings:\n  editions: ["19:00", "07:00"]\n')
    )
    daemon = Daemon(load_config(path))
    daemon._schedule(daemon.config, first=True)
    jobs = {job.id: job for job in daemon.scheduler.get_jobs()}
    assert sorted(jobs) == ["edition-0700", "edition-1900", "tick"]
    assert jobs["tick"].trigger.interval == timedelta(seconds=20)
    assert (jobs["tick"].max_instances, jobs["tick"].coalesce) == (1, True)
    assert str(jobs["edition-0700"].trigger) == "cron[hour='7', minute='0']"
    assert jobs["edition-0700"].kwargs == {"slot": clock(7, 0)}
    path.write_text(path.read_text().replace('["19:00", "07:00"]', '["12:30"]'))
    assert daemon.reload("SIGHUP")
    assert sorted(j.id for j in daemon.scheduler.get_jobs()) == ["edition-1230", "tick"]


def test_an_edition_renders_and_freezes_the_front_page_even_when_nothing_changed(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.add(
        "/a.xml", rss("Alpha", [("urn:a:1", "Volcano erupts in Iceland", "https://a.test/1", 1)])
    )
    config = load_config(write_config(tmp_path, {"alpha": url}))
    run_pass(config, now=NOW)
    site = tmp_path / "site"
    daemon = Daemon(config)
    morning = datetime(2026, 1, 15, 12, 0, 3, tzinfo=UTC)
    page = daemon.edition(now=morning, slot=clock(12, 0))
    assert page == site / "archive" / "editions" / "2026-01-15-1200.html"
    frozen = page.read_text()
    assert "Volcano erupts in Iceland" in frozen
    assert 'href="../../style.css"' in frozen
    assert 'href="../../archive/index.html"' in frozen
    assert 'href="https://a.test/1"' in frozen
    assert 'href="#main"' in frozen
    # every relative link of the copy resolves to a file of the site
    for link in re.findall(r'href="(\.\./\.\./[^"#]+)"', frozen):
        assert (page.parent / link).resolve().exists(), link
    records = json.loads((site / "archive" / "editions" / "index.json").read_text())
    assert records == [
        {
            "at": "2026-01-15T12:00:00Z",
            "page": "2026-01-15-1200.html",
            "rendered_at": "2026-01-15T12:00:03Z",
            "content_since": "2026-01-15T12:00:00Z",
            "fingerprint": records[0]["fingerprint"],
            "stories": 1,
        }
    ]
    index_before = (site / "index.html").stat().st_mtime_ns
    # nothing changed since: the render writes no page, the edition is frozen all the same
    evening = datetime(2026, 1, 15, 19, 0, tzinfo=UTC)
    page2 = daemon.edition(now=evening, slot=clock(19, 0))
    assert page2 == site / "archive" / "editions" / "2026-01-15-1900.html"
    assert (site / "index.html").stat().st_mtime_ns == index_before
    assert page2.read_text() == frozen
    assert page.read_text() == frozen  # the morning's copy is left alone
    records = json.loads((site / "archive" / "editions" / "index.json").read_text())
    assert [r["page"] for r in records] == ["2026-01-15-1200.html", "2026-01-15-1900.html"]
    assert records[1]["content_since"] == "2026-01-15T12:00:00Z"  # the digest did not change
    # without a slot (by hand), the minute of now names it; an unreadable list starts anew
    (site / "archive" / "editions" / "index.json").write_text("{not json")
    page3 = daemon.edition(now=datetime(2026, 1, 15, 20, 15, 42, tzinfo=UTC))
    assert page3 is not None
    assert page3.name == "2026-01-15-2015.html"
    records = json.loads((site / "archive" / "editions" / "index.json").read_text())
    assert [r["page"] for r in records] == ["2026-01-15-2015.html"]
    daemon.stop.set()
    assert daemon.edition(now=evening) is None


def test_a_failed_edition_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = Config(settings=Settings(database=tmp_path, output_dir=tmp_path / "site"))
    with caplog.at_level(logging.ERROR):
        assert Daemon(config).edition(now=NOW) is None  # the database is a folder
    assert caplog.records[0].getMessage().startswith("edition failed: ")


# -- logging ---------------------------------------------------------------------------------


def test_log_lines_for_cron_the_daemon_and_journald(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert log_format(0, timestamps=False) == "%(levelname)s: %(message)s"
    assert log_format(2, timestamps=True) == "%(asctime)s %(levelname)s %(name)s: %(message)s"
    record = logging.LogRecord("aggregator", logging.WARNING, __file__, 1, "x: %s", ("y",), None)
    record.created = NOW.timestamp()
    with (tmp_path / "stderr").open("w") as stderr:
        monkeypatch.setattr(sys, "stderr", stderr)
        monkeypatch.delenv("JOURNAL_STREAM", raising=False)
        assert not stderr_is_journal()
        setup_logging(1, False, daemon=True)
        formatter = logging.getLogger().handlers[0].formatter
        assert formatter is not None
        assert formatter.format(record) == "2026-01-15T12:00:00Z WARNING: x: y"
        st = os.fstat(stderr.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        assert stderr_is_journal()
        setup_logging(1, False, daemon=True)  # journald: its own times, our priorities
        formatter = logging.getLogger().handlers[0].formatter
        assert formatter is not None
        assert formatter.format(record) == "<4>WARNING: x: y"
        monkeypatch.setenv("JOURNAL_STREAM", "1:2")
        assert not stderr_is_journal()  # another stream (a redirected stderr)
        setup_logging(0, False)
        formatter = logging.getLogger().handlers[0].formatter
        assert formatter is not None
        assert formatter.format(record) == "WARNING: x: y"  # cron: no time, mail has one
    setup_logging(0, False)


def test_per_feed_log_lines(
    tmp_path: Path, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    ok = feed_server.add(
        "/a.xml", rss("Alpha", [("urn:a:1", "Volcano erupts", "https://a/1", 1)]), etag='"1"'
    )
    bad = feed_server.add("/b.xml", b"nope", status=503)
    config = load_config(write_config(tmp_path, {"alpha": ok, "beta": bad}))
    with caplog.at_level(logging.INFO, logger="aggregator.pipeline"):
        run_pass(config, now=NOW)
        run_pass(config, now=NOW, all_feeds=True)
    lines = [r.getMessage() for r in caplog.records]
    assert any(re.fullmatch(r"Alpha: 200 in \d+\.\d\d s, 1 new, 0 updated", m) for m in lines)
    assert any(re.fullmatch(r"Alpha: 304 not modified in \d+\.\d\d s", m) for m in lines)
    failed = [m for m in lines if m.startswith("Beta: failed in ")]
    assert len(failed) == 2
    assert re.fullmatch(
        r"Beta: failed in \d+\.\d\d s: HTTP 503 .*\(http://127\.0\.0\.1:\d+/b\.xml\)", failed[0]
    )
