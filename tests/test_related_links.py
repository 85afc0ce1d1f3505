"""Related links inside feed items: Atom rel="related" and Google-News-style coverage lists,
from parse to the digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FeedServer

from aggregator.cli import cli
from aggregator.cluster import Clusterer
from aggregator.digest import LINKED_MAX, linked_links
from aggregator.models import ClusterItem, EntryRecord, FetchResult, RelatedLink, Source
from aggregator.normalise import clean_related, normalise_feed
from aggregator.parse import fast_parse, parse_feed, related_links, robust_parse
from aggregator.store import Store

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
FEED = "https://news.example/rss"

GOOGLE_NEWS_ITEM = (
    "<ol>"
    '<li><a href="https://daily.example/flood" target="_blank">Flooding forces thousands'
    ' from homes along the river</a>&nbsp;&nbsp;<font color="#6f6f6f">Daily Example</font></li>'
    '<li><a href="https://wire.example/2026/river-floods?utm_source=gn">River bursts its'
    ' banks, thousands evacuated</a>&nbsp;&nbsp;<font color="#6f6f6f">Wire Example</font></li>'
    '<li><a href="/local/floods">Local page on the floods</a></li>'
    "</ol>"
)


def rss_with_description(description: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        "<title>Top stories</title><link>https://news.example/</link>"
        "<item><title>Flooding forces thousands from homes along the river</title>"
        "<link>https://news.example/articles/abc</link><guid>abc</guid>"
        "<pubDate>Fri, 20 Nov 2026 08:00:00 GMT</pubDate>"
        f"<description>{escape(description)}</description></item>"
        "</channel></rss>"
    ).encode()


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Desk</title><id>tag:desk,2026:f</id>
<updated>2026-11-20T08:00:00Z</updated><link href="https://desk.example/"/>
<entry><title>Talks resume on the shipping corridor</title><id>tag:desk,2026:1</id>
<updated>2026-11-20T08:00:00Z</updated>
<link href="https://desk.example/talks"/>
<link rel="related" href="https://desk.example/background" title="Background: the corridor"/>
<link rel="related" href="/explainer"/>
<link rel="enclosure" href="https://desk.example/photo.jpg"/>
</entry></feed>"""

EXPECTED_COVERAGE = [
    RelatedLink(
        "https://daily.example/flood",
        "Flooding forces thousands from homes along the river",
        "Daily Example",
        "coverage",
    ),
    RelatedLink(
        "https://wire.example/2026/river-floods?utm_source=gn",
        "River bursts its banks, thousands evacuated",
        "Wire Example",
        "coverage",
    ),
    RelatedLink("https://news.example/local/floods", "Local page on the floods", None, "related"),
]


@pytest.mark.parametrize("path", ["fast", "robust"])
def test_google_news_lists_on_both_parser_paths(path: str) -> None:
    body = rss_with_description(GOOGLE_NEWS_ITEM)
    parse = fast_parse if path == "fast" else robust_parse
    feed = parse(FEED, body)
    assert feed is not None
    related = list(feed.entries[0].related)
    # relative hrefs resolve (against the feed URL here); normalise makes them canonical
    assert [r.url for r in related][:2] == [r.url for r in EXPECTED_COVERAGE][:2]
    assert related[:2] == EXPECTED_COVERAGE[:2]
    assert related[2].rel == "related"
    assert related[2].url.endswith("/local/floods")


@pytest.mark.parametrize("path", ["fast", "robust"])
def test_atom_rel_related_on_both_parser_paths(path: str) -> None:
    parse = fast_parse if path == "fast" else robust_parse
    feed = parse("https://desk.example/atom.xml", ATOM)
    assert feed is not None
    entry = feed.entries[0]
    assert entry.link == "https://desk.example/talks"
    assert [(r.url, r.title, r.rel) for r in entry.related] == [
        ("https://desk.example/background", "Background: the corridor", "related"),
        ("https://desk.example/explainer", "", "related"),
    ]


def test_plain_descriptions_carry_no_links() -> None:
    assert related_links(None, "A plain summary with <b>bold</b> text.") == ()
    assert related_links([{"rel": "alternate", "href": "https://a.example/"}], None) == ()
    assert related_links("not a list", "<ul><li>no link here</li></ul>") == ()
    assert related_links([{"rel": "related"}, "junk"], "<ul><li><a href=''>x</a></li>") == ()


def test_normalise_cleans_dedupes_and_drops_own_and_unsafe_links() -> None:
    links = [
        RelatedLink("https://news.example/articles/abc", "itself"),
        RelatedLink("javascript:alert(1)", "<script>x</script>"),
        RelatedLink("https://wire.example/a?utm_source=gn", "A <b>bold</b> &amp; title"),
        RelatedLink("https://wire.example/a", "same, as coverage", "Wire", "coverage"),
        RelatedLink("ftp://files.example/x", "ftp"),
    ]
    cleaned = clean_related(links, "https://news.example/articles/abc", FEED)
    assert cleaned == (
        RelatedLink("https://wire.example/a", "same, as coverage", "Wire", "coverage"),
    )
    feed = parse_feed(FEED, rss_with_description(GOOGLE_NEWS_ITEM))
    (entry,) = normalise_feed(feed, "Top", NOW)
    assert [r.url for r in entry.related] == [
        "https://daily.example/flood",
        "https://wire.example/2026/river-floods",  # tracking parameter gone
        "https://news.example/local/floods",
    ]


def _result(body: bytes) -> FetchResult:
    return FetchResult(url=FEED, fetched_at=NOW, status=200, body=body)


def test_store_keeps_related_links_and_replaces_them_when_they_change() -> None:
    store = Store.memory()
    store.sync_sources([Source(url=FEED, name="Top")], NOW)
    first = parse_feed(FEED, rss_with_description(GOOGLE_NEWS_ITEM))
    written = store.record_success(_result(b""), first, normalise_feed(first, "Top", NOW), NOW)
    (entry_id,) = written.new_ids
    (record,) = store.entries(ids=[entry_id])
    assert [r.outlet for r in record.related] == ["Daily Example", "Wire Example", None]
    rows = store.db.execute(
        "SELECT position, rel FROM related_links WHERE entry_id = ? ORDER BY position",
        [entry_id],
    ).fetchall()
    assert rows == [(0, "coverage"), (1, "coverage"), (2, "related")]
    # the same item again: nothing changes
    again = store.record_success(_result(b""), first, normalise_feed(first, "Top", NOW), NOW)
    assert again.updated_ids == ()
    # a new outlet joins the list: the entry counts as updated and its links are replaced
    grown = GOOGLE_NEWS_ITEM.replace(
        "</ol>",
        '<li><a href="https://third.example/f">Third take on the floods</a>'
        "&nbsp;<font>Third</font></li></ol>",
    )
    later = parse_feed(FEED, rss_with_description(grown))
    changed = store.record_success(_result(b""), later, normalise_feed(later, "Top", NOW), NOW)
    assert changed.updated_ids == (entry_id,)
    (record,) = store.entries(ids=[entry_id])
    assert [r.outlet for r in record.related] == ["Daily Example", "Wire Example", None, "Third"]
    members = store.story_members([])
    assert members == {}


def item(i: int, title: str, url: str, minutes: int = 0, **links: tuple[str, ...]) -> ClusterItem:
    return ClusterItem(
        id=i,
        title=title,
        published=NOW + timedelta(minutes=minutes),
        source=f"feed{i}",
        url=url,
        **links,
    )


def test_coverage_lists_join_reports_whatever_their_wording() -> None:
    clusterer = Clusterer()
    # an aggregator item lists another outlet's report of the same story...
    a = clusterer.add(
        item(
            1,
            "Flooding forces thousands from homes",
            "https://agg.example/1",
            coverage=("https://wire.example/flood",),
        )
    )
    # ...which then arrives from that outlet with a headline sharing no word with it
    b = clusterer.add(item(2, "Riverside evacuation under way", "https://wire.example/flood", 5))
    assert b.story_id == a.story_id
    assert not b.new_story
    # and the other way round: a report first, then a list naming it
    c = clusterer.add(item(3, "Minister resigns over contract row", "https://paper.example/m"))
    d = clusterer.add(
        item(
            4,
            "Cabinet shake-up after departure",
            "https://agg.example/2",
            9,
            coverage=("https://paper.example/m",),
        )
    )
    assert d.story_id == c.story_id


def test_related_links_lower_the_bar_but_do_not_force_a_join() -> None:
    base = item(1, "Storm Ada batters coast, cutting power to homes", "https://a.example/ada")
    follow = "Coast braces for more wind as repair crews work"  # similar, below the bar
    unrelated = "Election count resumes in capital after delay"

    def join(title: str, related: tuple[str, ...]) -> bool:
        clusterer = Clusterer()
        first = clusterer.add(base)
        second = clusterer.add(item(2, title, "https://b.example/x", 30, related=related))
        return second.story_id == first.story_id

    assert not join(follow, ())  # wording alone keeps them apart
    assert join(follow, ("https://a.example/ada",))  # the feed's link tips the balance
    assert not join(unrelated, ("https://a.example/ada",))  # but never joins the unrelated


def _record(i: int, url: str, related: tuple[RelatedLink, ...]) -> EntryRecord:
    return EntryRecord(
        id=i,
        feed_url=f"https://f{i}.example/rss",
        outlet=f"Outlet {i}",
        title=f"Headline {i}",
        url=url,
        published=NOW,
        first_seen=NOW,
        related=related,
    )


def test_digest_lists_linked_reports_coverage_first_without_members() -> None:
    members = [
        _record(
            1,
            "https://one.example/a",
            (
                RelatedLink("https://two.example/b", "Member two's report", "Two", "coverage"),
                RelatedLink("https://bg.example/x", "", None, "related"),
                RelatedLink("https://cov.example/c", "Elsewhere <b>too</b>", "Cov", "coverage"),
            ),
        ),
        _record(2, "https://two.example/b", ()),
    ]
    links = linked_links(members)
    assert [(link.url, link.title, link.outlet) for link in links] == [
        ("https://cov.example/c", "Elsewhere <b>too</b>", "Cov"),  # escaped by render
        ("https://bg.example/x", "bg.example", "bg.example"),  # no title: its host
    ]
    many = tuple(RelatedLink(f"https://m.example/{i}", f"t{i}") for i in range(40))
    assert len(linked_links([_record(3, "https://three.example/", many)])) == LINKED_MAX


def test_end_to_end_linked_reports_reach_the_digest_escaped(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    hostile = GOOGLE_NEWS_ITEM.replace(
        "</ol>",
        '<li><a href="javascript:alert(1)">Click me now please</a>&nbsp;<font>Evil</font></li>'
        '<li><a href="https://x.example/s">&lt;script&gt;alert(1)&lt;/script&gt; title</a>'
        "&nbsp;<font>X</font></li></ol>",
    )
    url = feed_server.add("/gn.xml", rss_with_description(hostile))
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "settings:\n  database: agg.db\n  output_dir: site\n  timeout: 5\n"
        f"sources:\n  - name: Top\n    url: {url}\n"
    )
    result = CliRunner().invoke(cli, ["-c", str(config), "run", "--once", "--all"])
    assert result.exit_code == 0, result.output
    pages = {p: p.read_text() for p in (tmp_path / "site").rglob("*.html")}
    full = [text for text in pages.values() if "Linked from these reports" in text]
    assert full, "no page lists the linked reports"
    for text in full:
        assert 'href="https://daily.example/flood"' in text
        assert "Wire Example" in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt; title" in text
    for text in pages.values():
        assert "javascript:" not in text
        assert "<script>alert" not in text
