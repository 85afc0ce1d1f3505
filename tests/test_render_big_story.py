"""A story of hundreds of reports stays a readable card and a bounded feed entry."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from render_helpers import Report, StorySpec, at, build, sources

from aggregator.config import Config, Settings
from aggregator.digest import RELATED_MAX
from aggregator.render import render_site
from aggregator.store import Store
from aggregator.syndication import FEED_RELATED

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
OUTLETS = [f"Outlet {i}" for i in range(80)]


def test_a_huge_story_is_capped_on_pages_and_in_feeds(tmp_path: Path) -> None:
    # 80 outlets, 3 reports each: 240 reports, 239 of them related coverage
    reports = [
        Report(o, f"Report {o}-{k} on the summit", f"https://{o}.news.test/{k}", at(NOW, o + k))
        for k in range(3)
        for o in range(80)
    ]
    out = tmp_path / "site"
    config = Config(settings=Settings(database=tmp_path / "a.db", output_dir=out))
    store = Store.memory()
    try:
        build(store, sources(OUTLETS), [StorySpec(reports=reports)], NOW)
        render_site(store, config, NOW)
    finally:
        store.close()
    page = (out / "region" / "europe.html").read_text("utf-8")
    assert page.count('<li><a href="https://') == RELATED_MAX
    assert f"and {239 - RELATED_MAX} earlier reports" in page
    assert "Related coverage: 239 more reports" in page
    item = json.loads((out / "feed.json").read_text("utf-8"))["items"][0]
    related = item["_aggregator"]["related"]
    assert len(related) == FEED_RELATED
    assert len({r["outlet"] for r in related}) == FEED_RELATED  # one report per outlet
    assert item["_aggregator"]["reports"] == 240
    atom = (out / "atom.xml").read_text("utf-8")
    assert atom.count('rel="related"') == FEED_RELATED
