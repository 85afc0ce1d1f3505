"""Sources of kind html: a page's list of headline links becomes entries."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FeedServer

from aggregator.cli import cli
from aggregator.errors import ParseError
from aggregator.htmlsource import MAX_LINKS, page_headline, parse_html_page

PAGE_URL = "https://world.example/2026/11/20/black-sea-talks"
EXPLORE = [
    "Ceasefire holds for a third day in the northern valley, monitors say",
    "Aid convoy reaches besieged port after weeks of delays",
    "Central bank holds rates steady as inflation cools",
    "Border crossing reopens after two-year closure",
    "Parliament confirms new finance minister after long standoff",
    "Foreign minister urges talks to defuse naval standoff",
    "Dozens of militants killed in army raids in the southwest",
    "Air strikes killed civilians during election week, UN says",
    "President offers to pause energy strikes if rival reciprocates",
    "Court voids port contract, leaving operator's future unclear",
    "Regional power offers to mediate between rival capitals",
    "Government and armed group agree ceasefire and integration plan",
    "Island nation wins backing after new oil tariff order",
    "Leaders weigh a strike despite intelligence of no imminent threat",
    "Oil producer enacts sweeping reforms and invites investors back",
]


@pytest.fixture
def seed_page(data_dir: Path) -> bytes:
    return (data_dir / "html" / "explore-article.html").read_bytes()


@pytest.mark.parametrize(
    "selector", [None, "section.explore ul", "section.explore li > a", ".explore"]
)
def test_seed_shaped_page_gives_exactly_the_explore_list(
    seed_page: bytes, selector: str | None
) -> None:
    feed = parse_html_page(PAGE_URL, seed_page, selector=selector)
    assert [e.title for e in feed.entries] == EXPLORE
    links = [e.link for e in feed.entries]
    # relative links resolved against <base href>; the absolute one kept as is
    assert links[0] == "https://world.example/2026/11/20/ceasefire-holds-in-northern-valley"
    assert links[3] == "https://world.example/2026/11/20/border-crossing-reopens"
    assert all(link and link.startswith("https://world.example/20") for link in links)
    # the page's own headline is the feed's title: the record of which page listed them
    assert feed.title == "Envoys report slow progress in Black Sea shipping talks"
    assert feed.link == PAGE_URL


def test_automatic_mode_skips_navigation_prose_and_labels(seed_page: bytes) -> None:
    urls = {e.link for e in parse_html_page(PAGE_URL, seed_page).entries}
    assert "https://world.example/business" not in urls  # inside <nav>
    assert "https://agency.example/report" not in urls  # a link in running text
    assert "https://world.example/2026/11/19/grain-prices-ease" not in urls  # one-link label
    assert "https://world.example/contact" not in urls  # footer, no heading


def page(body: str, head: str = "") -> bytes:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>".encode()


def items(*titles: str, prefix: str = "/story/") -> str:
    return "".join(f'<li><a href="{prefix}{i}">{title}</a></li>' for i, title in enumerate(titles))


HEADLINES = (
    "Storm closes ports along the northern coast",
    "Lawmakers pass budget after all-night session",
    "Researchers map glacier retreat with new satellites",
    "Rail strike halts commuter trains for a second day",
)


@pytest.mark.parametrize(
    "heading",
    [
        "<h2>Most read</h2>",
        "<h3>MORE ON THIS STORY</h3>",
        "<div class='title'><span>Related:</span></div>",
        "<p><strong>Read more</strong></p>",
        "<h2>You may also like</h2>",
    ],
)
def test_automatic_mode_recognises_headings(heading: str) -> None:
    html = page(
        f"<article><p>Body.</p></article><aside>{heading}<ul>{items(*HEADLINES)}</ul></aside>"
    )
    feed = parse_html_page("https://news.example/a", html)
    assert [e.title for e in feed.entries] == list(HEADLINES)


def test_the_biggest_list_wins_and_lists_do_not_merge() -> None:
    html = page(
        f"<section><h2>Related</h2><ul>{items(*HEADLINES[:3], prefix='/r/')}</ul>"
        f"<h2>Most read</h2><ul>{items(*HEADLINES, prefix='/m/')}</ul></section>"
    )
    feed = parse_html_page("https://news.example/a", html)
    assert [e.link for e in feed.entries] == [f"https://news.example/m/{i}" for i in range(4)]


def test_cards_give_their_heading_and_repeats_and_self_links_go() -> None:
    cards = "".join(
        f'<li><a href="/s/{i}"><span class="kicker">World</span><h3>{t}</h3>'
        f"<time>2 hours ago</time></a></li>"
        for i, t in enumerate(HEADLINES)
    )
    repeat = f'<li><a href="/s/0#comments">{HEADLINES[0]}</a></li>'
    self_link = '<li><a href="https://news.example/a">This very page, once more</a></li>'
    odd = (
        '<li><a href="javascript:alert(1)">Click here for a surprise now</a></li>'
        '<li><a href="mailto:desk@news.example">Write to the news desk</a></li>'
        '<li><a href="#top">Back to the top of page</a></li>'
    )
    html = page(f"<h2>Explore</h2><ul>{cards}{repeat}{self_link}{odd}</ul>")
    feed = parse_html_page("https://news.example/a", html)
    assert [e.title for e in feed.entries] == list(HEADLINES)
    assert all(e.link and e.link.startswith("https://news.example/s/") for e in feed.entries)


def test_a_selector_on_links_keeps_short_titles() -> None:
    html = page('<div id="box"><a href="/x">Quake</a><a href="/y">Vote count resumes</a></div>')
    feed = parse_html_page("https://news.example/a", html, selector="#box a")
    assert [e.title for e in feed.entries] == ["Quake", "Vote count resumes"]


def test_headline_falls_back_to_h1_then_title() -> None:
    import lxml.html

    with_h1 = lxml.html.document_fromstring("<title>T</title><h1> The  headline </h1>")
    assert page_headline(with_h1) == "The headline"
    only_title = lxml.html.document_fromstring(
        "<html><head><title>Site | Page</title></head></html>"
    )
    assert page_headline(only_title) == "Site | Page"
    assert page_headline(lxml.html.document_fromstring("<p>nothing</p>")) is None


def test_charset_from_headers() -> None:
    html = page(f"<h2>Explore</h2><ul>{items('Прогноз погоды на неделю вперёд', *HEADLINES)}</ul>")
    body = html.decode().encode("windows-1251")
    feed = parse_html_page(
        "https://news.example/a", body, {"Content-Type": "text/html; charset=windows-1251"}
    )
    assert feed.entries[0].title == "Прогноз погоды на неделю вперёд"
    # an unknown label does not stop the parse
    feed = parse_html_page(
        "https://news.example/a", html, {"content-type": "text/html; charset=x-nope"}
    )
    assert len(feed.entries) == 5


@pytest.mark.parametrize(
    ("body", "selector", "message"),
    [
        (b"", None, "empty page"),
        (b"   \n", None, "empty page"),
        (page("<p>No links at all here.</p>"), None, "no headline links"),
        (page("<h2>Explore</h2><p>Nothing to explore.</p>"), None, "no headline links"),
        (page(f"<ul>{items(*HEADLINES)}</ul>"), "#missing", "selector '#missing'"),
    ],
)
def test_pages_without_a_list_are_a_parse_error(
    body: bytes, selector: str | None, message: str
) -> None:
    with pytest.raises(ParseError, match=message) as info:
        parse_html_page("https://news.example/a", body, selector=selector)
    assert info.value.url == "https://news.example/a"


def test_unclosed_tags_still_parse() -> None:
    """Unclosed headings, list items and paragraphs, and no </body>, as sloppy pages have."""
    lis = "".join(f"<li><a href=/s/{i}>{t}</a>" for i, t in enumerate(HEADLINES[:3]))
    html = f"<html><body><div><h2>Explore<ul>{lis}<div><p><span>".encode()
    feed = parse_html_page("https://news.example/a", html)
    assert [e.title for e in feed.entries] == list(HEADLINES[:3])


def test_a_huge_page_is_bounded() -> None:
    """5 MB of page with thousands of headings and links: parsed, capped, no crash."""
    filler = "<p>" + "Lorem ipsum dolor sit amet. " * 200 + "</p>"
    block = f"<h2>Related</h2><ul>{items(*HEADLINES, prefix='/s/')}</ul>{filler}"
    many = "".join(block.replace("/s/", f"/s{i}/") for i in range(900))
    html = page(many)
    assert len(html) > 5_000_000
    feed = parse_html_page("https://news.example/a", html)
    assert len(feed.entries) == len(HEADLINES)
    links = "".join(f'<a href="/l/{i}">Headline number {i} of the wall</a>' for i in range(2000))
    walled = parse_html_page("https://news.example/a", page(links), selector="a")
    assert len(walled.entries) == MAX_LINKS


def test_run_once_stores_an_html_source(
    tmp_path: Path, feed_server: FeedServer, seed_page: bytes
) -> None:
    url = feed_server.add(
        "/2026/11/20/black-sea-talks", seed_page, headers={"Content-Type": "text/html"}
    )
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "settings:\n  database: agg.db\n  output_dir: site\n  timeout: 5\n"
        f"sources:\n  - name: Example World\n    url: {url}\n    kind: html\n"
    )
    result = CliRunner().invoke(cli, ["-c", str(config), "run", "--once"])
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(tmp_path / "agg.db")
    try:
        titles = [r[0] for r in conn.execute("SELECT title FROM entries ORDER BY id")]
        feed = conn.execute("SELECT kind, title, last_error FROM feeds").fetchone()
    finally:
        conn.close()
    assert titles == EXPLORE
    assert feed == ("html", "Envoys report slow progress in Black Sea shipping talks", None)
    index = (tmp_path / "site" / "index.html").read_text()
    assert "Aid convoy reaches besieged port after weeks of delays" in index
