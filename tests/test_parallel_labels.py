"""A big batch is labelled in a forked worker while the pass clusters: same labels."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import FeedServer
from test_pipeline import rss

from aggregator import pipeline
from aggregator.config import parse_config
from aggregator.pipeline import run_pass

ITEMS = [
    ("a1", "Russia launches drone attack on Kyiv, killing four", "https://a.test/1", 1),
    ("a2", "Fed holds interest rates steady", "https://a.test/2", 2),
    ("a3", "Manchester United beat Arsenal in Premier League thriller", "https://a.test/3", 3),
    ("a4", "Floods displace thousands in Mozambique", "https://a.test/4", 4),
]


def labels_after_a_pass(tmp_path: Path, server: FeedServer, name: str) -> list[Any]:
    url = server.add(f"/{name}.xml", rss("Alpha", ITEMS))
    cfg = parse_config(
        {"settings": {"database": f"{name}.db", "output_dir": name}, "sources": [url]},
        base=tmp_path,
    )
    run_pass(cfg, render=False)
    conn = sqlite3.connect(tmp_path / f"{name}.db")
    try:
        return conn.execute(
            "SELECT title, region, region_weight, countries, topic FROM entries ORDER BY title"
        ).fetchall()
    finally:
        conn.close()


def test_worker_labels_equal_in_process_labels(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = labels_after_a_pass(tmp_path, feed_server, "here")
    started: list[int] = []
    real = pipeline._Labelling.__init__

    def spy(self: Any, config: Any, entries: Any) -> None:
        started.append(len(entries))
        real(self, config, entries)

    monkeypatch.setattr(pipeline, "PARALLEL_LABELS", 1)
    monkeypatch.setattr(pipeline, "_forkable", lambda: True)  # the test server is a thread
    monkeypatch.setattr(pipeline._Labelling, "__init__", spy)
    elsewhere = labels_after_a_pass(tmp_path, feed_server, "elsewhere")
    assert started == [4]
    assert elsewhere == here
    assert {row[1] for row in here} >= {"Europe", "Africa"}


def test_a_failed_worker_falls_back_to_this_process(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = labels_after_a_pass(tmp_path, feed_server, "here")

    class Broken:
        def result(self) -> Any:
            raise RuntimeError("worker died")

    def broken_init(self: Any, config: Any, entries: Any) -> None:
        self.future = Broken()
        self.pool = type("Pool", (), {"shutdown": lambda *a, **k: None})()

    monkeypatch.setattr(pipeline, "PARALLEL_LABELS", 1)
    monkeypatch.setattr(pipeline, "_forkable", lambda: True)
    monkeypatch.setattr(pipeline._Labelling, "__init__", broken_init)
    assert labels_after_a_pass(tmp_path, feed_server, "fallback") == here


def test_no_worker_while_other_threads_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "PARALLEL_LABELS", 1)
    entries: Any = [object()]
    # the test runner's own threads (the feed server) make forking unsafe
    monkeypatch.setattr(pipeline.threading, "active_count", lambda: 3)
    assert pipeline._label_elsewhere(parse_config({}), entries) is None
