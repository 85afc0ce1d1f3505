"""`aggregator demo`: the README's first command, end to end on the bundled sample."""

from __future__ import annotations

import email.utils
import html
import re
import sqlite3
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from sample_helpers import sample_items

from aggregator.cli import cli
from aggregator.demo import load_sample, shift_dates


def test_demo_writes_a_digest_of_the_sample(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "11 feeds fetched (11 updated, 0 not modified, 0 failed): 51 new entries" in (
        result.output
    )
    assert f"digest:   {out.resolve() / 'index.html'}" in result.output
    assert f"database: {out.resolve() / 'aggregator.db'}" in result.output

    page = (out / "index.html").read_text("utf-8")
    cards = re.findall(r'<li class="story" id="story-\d+">(.*?)\n</li>', page, re.S)
    assert page.count('<li class="story"') == len(cards)
    gold: defaultdict[str, set[str]] = defaultdict(set)
    region_of: dict[str, str] = {}
    for item in sample_items():
        assert item.url
        gold[item.story].add(html.escape(item.url))
        region_of[item.story] = item.region
    for story, urls in gold.items():
        if len(urls) < 2:
            continue
        holding = [c for c in cards if any(f'href="{u}"' in c for u in urls)]
        # a multi-outlet story appears once, with every outlet's link
        assert len(holding) == 1, (story, len(holding))
        for url in urls:
            assert f'href="{url}"' in holding[0], (story, url)
    # grouped by region: every region of the sample has its section
    for region in set(region_of.values()):
        assert f">{region}</h2>" in page

    conn = sqlite3.connect(out / "aggregator.db")
    assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 51
    assert conn.execute("SELECT count(*) FROM entries WHERE story_id IS NULL").fetchone()[0] == 0
    # the article page's Explore list is a source: its headline recorded, its 6 links entries
    page_feed = conn.execute(
        "SELECT f.title, count(e.id) FROM feeds f JOIN entries e ON e.feed_url = f.url "
        "WHERE f.kind = 'html' GROUP BY f.url"
    ).fetchall()
    assert page_feed == [("Ankara steps up shuttle diplomacy as Gulf tensions rise", 6)]
    conn.close()


def test_demo_runs_again_into_the_same_folder(tmp_path: Path) -> None:
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(cli, ["demo", "--out", str(tmp_path)])
        assert result.exit_code == 0, result.output
    conn = sqlite3.connect(tmp_path / "aggregator.db")
    assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 51
    conn.close()


def test_sample_dates_are_shifted_to_now() -> None:
    now = datetime(2030, 6, 1, 8, 30, tzinfo=UTC)
    when, feeds = load_sample(now)
    assert when == now
    body = b"".join(f.body for f in feeds).decode()
    dates = re.findall(r"<(?:pubDate|lastBuildDate|published|updated)>([^<]+)<", body)
    assert len(dates) > 45
    assert not [d for d in dates if "2026" in d]  # every date moved
    parsed = [
        email.utils.parsedate_to_datetime(d) if "," in d else datetime.fromisoformat(d)
        for d in dates
    ]
    assert all(now - timedelta(hours=48) <= p <= now for p in parsed)


def test_shift_dates_keeps_unparseable_dates() -> None:
    text = "<pubDate>not a date</pubDate><updated>nope</updated>"
    assert shift_dates(text, timedelta(days=1)) == text
