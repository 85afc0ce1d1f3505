"""Daemon mode: `aggregator run` fetches on its own, and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from conftest import FeedServer
from test_pipeline import rss, write_config

from aggregator.config import Config, Settings
from aggregator.models import Source
from aggregator.scheduler import tick_interval


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
