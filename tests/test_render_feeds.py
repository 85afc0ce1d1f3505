"""atom.xml and feed.json parse back (feedparser, json) and say what the digest says."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from render_helpers import OUTLETS, build, corpus, sources

from aggregator.config import Config, Settings
from aggregator.digest import ranked
from aggregator.render import render_site
from aggregator.store import Store

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def render(out: Path, site_url: str | None) -> list[int]:
    store = Store.memory()
    try:
        build(store, sources(OUTLETS), corpus(NOW), NOW)
        settings = Settings(database=out / "db", output_dir=out, site_url=site_url)
        render_site(store, Config(settings=settings), NOW)
        window = store.stories(since=NOW.replace(day=13))
        return [s.id for s in ranked(window)]
    finally:
        store.close()


@pytest.mark.parametrize("site_url", ["https://news.example.org/", None])
def test_feeds_parse_back_and_match_the_digest(tmp_path: Path, site_url: str | None) -> None:
    order = render(tmp_path, site_url)
    index = (tmp_path / "index.html").read_text("utf-8")
    cards = dict(
        re.findall(
            r'<li class="story" id="story-(\d+)">\s*<h\d class="headline">(?:<a href="([^"]*)")?',
            index,
        )
    )

    regions = "".join(p.read_text("utf-8") for p in (tmp_path / "region").glob("*.html"))
    atom = feedparser.parse(io.BytesIO((tmp_path / "atom.xml").read_bytes()))
    assert not atom.bozo, atom.get("bozo_exception")
    assert atom.version == "atom10"
    assert atom.feed.title == "World news digest"
    assert atom.feed.updated == "2026-01-15T12:00:00Z"
    feed = json.loads((tmp_path / "feed.json").read_text("utf-8"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    items = feed["items"]

    # the same stories as the index, best ranked first
    assert [i["_aggregator"]["story_id"] for i in items] == order
    assert {str(i) for i in order} == set(cards)
    assert len(atom.entries) == len(items) == 7
    assert len({e.id for e in atom.entries}) == 7
    for entry, item in zip(atom.entries, items, strict=True):
        assert entry.id == item["id"]
        assert entry.title == item["title"]
        lead = item.get("url")
        assert cards[str(item["_aggregator"]["story_id"])] == (lead or "")
        alternate = [link.href for link in entry.get("links", []) if link.rel == "alternate"]
        assert alternate == ([lead] if lead else [])
        related = [link.href for link in entry.get("links", []) if link.rel == "related"]
        assert related == [r["url"] for r in item["_aggregator"]["related"] if "url" in r]
        assert entry.published == item["date_published"]
        assert entry.updated == item["date_modified"]
        assert [t.term for t in entry.tags] == item["tags"]
        assert entry.author == item["authors"][0]["name"]
        # every related report is on the story's region page (the index lists one per outlet)
        for url in related:
            assert f'href="{url}"' in regions
    big = items[0]
    assert big["_aggregator"]["outlets"] == 6
    assert big["_aggregator"]["reports"] == 7
    assert big["content_text"].startswith("The pause was agreed through US mediators.")
    if site_url:
        assert feed["feed_url"] == site_url + "feed.json"
        assert atom.feed.id == site_url + "atom.xml"
        assert {link.rel for link in atom.feed.links} == {"self", "alternate"}
    else:
        assert "feed_url" not in feed
        assert atom.feed.id.startswith("urn:uuid:")
        assert all(e.id.startswith("urn:uuid:") for e in atom.entries)


def test_feed_ids_are_stable_across_renders(tmp_path: Path) -> None:
    render(tmp_path / "a", None)
    first = json.loads((tmp_path / "a" / "feed.json").read_text("utf-8"))
    (tmp_path / "a" / "feed.json").unlink()
    render(tmp_path / "a", None)
    again = json.loads((tmp_path / "a" / "feed.json").read_text("utf-8"))
    assert [i["id"] for i in first["items"]] == [i["id"] for i in again["items"]]
