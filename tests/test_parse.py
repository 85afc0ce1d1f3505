"""Bytes + headers -> ParsedFeed, checked against the fixture feeds in tests/data/feeds."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.errors import AggregatorError, ParseError
from aggregator.models import ParsedFeed
from aggregator.parse import parse_feed

RSS = {"content-type": "application/rss+xml; charset=utf-8"}
ATOM = {"content-type": "application/atom+xml"}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def parse(data_dir: Path, name: str, headers: dict[str, str] | None = None) -> ParsedFeed:
    url = f"https://fixtures.example/{name}"
    return parse_feed(
        url, (data_dir / "feeds" / name).read_bytes(), RSS if headers is None else headers
    )


def test_basic_rss(data_dir: Path) -> None:
    feed = parse(data_dir, "basic.rss")
    assert feed.url == "https://fixtures.example/basic.rss"
    assert feed.title == "Example World News"
    assert feed.link == "https://news.example.com/world"
    assert feed.ttl_minutes == 45
    assert (feed.bozo, feed.bozo_message) == (False, None)
    assert [e.title for e in feed.entries] == [
        "Floods displace thousands in Mozambique",
        "EU ministers meet on energy prices",
        "Chile elects new president",
    ]
    assert [e.link for e in feed.entries] == [
        "https://news.example.com/world/2026/01/15/mozambique-floods",
        "https://news.example.com/world/2026/01/15/eu-energy",
        "https://news.example.com/world/2026/01/15/chile-election",
    ]
    assert [e.guid for e in feed.entries] == [
        "example-news-1001",
        "https://news.example.com/world/2026/01/15/eu-energy",
        "example-news-1003",
    ]
    assert [e.published for e in feed.entries] == [
        utc(2026, 1, 15, 9, 30),
        utc(2026, 1, 15, 8, 0),
        utc(2026, 1, 15, 12, 15),  # 07:15 -0500
    ]
    assert [e.categories for e in feed.entries] == [("World", "Africa"), ("Europe",), ()]
    first = feed.entries[0]
    assert (
        first.summary == "Heavy rain has forced families from their homes in the central provinces."
    )
    assert first.author == "desk@news.example.com (World Desk)"


def test_basic_atom(data_dir: Path) -> None:
    feed = parse(data_dir, "basic.atom", ATOM)
    assert feed.title == "Example Atom World"
    assert feed.link == "https://example.org/world"
    assert feed.ttl_minutes is None
    assert feed.bozo is False
    first, second = feed.entries
    assert first.title == "Japan's parliament passes budget"
    assert first.guid == "tag:example.org,2026:entry-1"
    assert first.link == "https://example.org/world/japan-budget"  # not the enclosure
    assert first.published == utc(2026, 1, 15, 9, 45)
    assert first.updated == utc(2026, 1, 15, 10, 30)
    assert first.author == "Aiko Tanaka"
    assert first.summary == "The lower house approved the spending plan."
    assert first.categories == ("asia", "japan")
    assert second.guid == "tag:example.org,2026:entry-2"
    assert second.link == "https://example.org/world/markets-rally"
    assert second.title == "Markets <em>rally</em> after rate decision"
    # no <published>: the fast parser repeats <updated>, feedparser leaves it empty; either
    # way the entry's date (published, else updated) is the same
    assert second.published in (None, second.updated)
    assert second.updated == utc(2026, 1, 14, 23, 0)
    assert second.categories == ("economy",)


def test_titles_are_not_cleaned_by_parse(data_dir: Path) -> None:
    feed = parse(data_dir, "suffixes.rss")
    assert [e.title for e in feed.entries] == [
        "Oil prices climb - Reuters",
        "Ceasefire holds in Sudan - Reuters",
        "Kim Jong-un visits Moscow - Reuters",
        "Berlin budget row deepens | DW",
        "Storm hits Manila - Example Wire",
        "Israel - Hamas talks resume in Cairo",
        "Election results delayed - again",
    ]


def test_identity_fixture_guids_and_links(data_dir: Path) -> None:
    feed = parse(data_dir, "identities.rss")
    assert [e.guid for e in feed.entries] == [
        "unique-a",
        "repeated-b",
        "repeated-b",
        None,
        None,
        None,
        None,
        None,
    ]
    assert [e.link for e in feed.entries] == [
        "https://ids.example.com/a",
        "https://ids.example.com/b1",
        "https://ids.example.com/b2",
        "https://ids.example.com/c",
        "https://ids.example.com/live",
        "https://ids.example.com/live",
        None,
        None,
    ]
    assert feed.entries[6].summary == "Only a title and a description."
    assert feed.entries[6] == feed.entries[7]


def test_entities_fixture_keeps_every_item(data_dir: Path) -> None:
    feed = parse(data_dir, "entities.rss")
    assert [e.guid for e in feed.entries] == [f"ent-{i}" for i in range(1, 8)]
    assert feed.entries[0].title == "Q&A: What's next for Syria"
    assert "<em>Peru's</em>" in feed.entries[2].title  # CDATA markup, removed by normalise


def test_malformed_feed_is_bozo_and_keeps_its_entries(data_dir: Path) -> None:
    feed = parse(data_dir, "malformed.rss")
    assert feed.bozo is True
    assert feed.bozo_message is not None
    assert "not well-formed" in feed.bozo_message
    assert [e.title for e in feed.entries] == [
        "Trade & tariffs: EU answers US",
        "Kenya\u00a0votes in by-election",
        "Markets steady in Asia",
    ]
    assert [e.link for e in feed.entries] == [
        "https://loose.example.com/1",
        "https://loose.example.com/2",
        "https://loose.example.com/3",
    ]
    assert feed.entries[0].published == utc(2026, 1, 15, 10, 0)


def test_windows_1252_feed_declared_in_the_document(data_dir: Path) -> None:
    raw = (data_dir / "feeds" / "windows-1252.xml").read_bytes()
    assert b"\x92" in raw  # really windows-1252 bytes
    assert b"\x80" in raw
    feed = parse(data_dir, "windows-1252.xml", {"content-type": "application/xml"})
    assert feed.bozo is False
    assert [e.title for e in feed.entries] == ["Café owners’ €5m deal", "Zürich – talks end"]
    assert feed.entries[0].summary == "Prices rose 5 % – officials"


def test_charset_from_the_content_type_header_is_respected(data_dir: Path) -> None:
    feed = parse(
        data_dir, "header-charset.rss", {"content-type": "application/rss+xml; charset=koi8-r"}
    )
    assert feed.bozo is False
    assert feed.title == "Новости"
    assert [e.title for e in feed.entries] == ["Выборы в Сербии"]
    # without the header the bytes are not UTF-8: they are recognised as KOI8-R all the same
    without = parse(data_dir, "header-charset.rss", {"content-type": "application/rss+xml"})
    assert without.entries[0].title == "Выборы в Сербии"


def test_header_names_are_case_insensitive(data_dir: Path) -> None:
    headers = {"Content-Type": "application/rss+xml; charset=koi8-r"}
    feed = parse(data_dir, "header-charset.rss", headers)
    assert [e.title for e in feed.entries] == ["Выборы в Сербии"]
    assert feed.bozo is False


def test_dates_fixture(data_dir: Path) -> None:
    feed = parse(data_dir, "dates.rss")
    assert [e.published for e in feed.entries] == [
        utc(2027, 6, 1, 0, 0),  # future: parse keeps it, normalise clamps it
        None,
        utc(2026, 1, 15, 4, 30),  # 10:00 +0530
        None,  # "sometime last week"
    ]


@pytest.mark.parametrize(
    ("name", "headers", "count"),
    [
        ("basic.rss", RSS, 3),
        ("basic.atom", ATOM, 2),
        ("suffixes.rss", RSS, 7),
        ("identities.rss", RSS, 8),
        ("entities.rss", RSS, 7),
        ("malformed.rss", RSS, 3),
        ("dates.rss", RSS, 4),
        ("windows-1252.xml", {"content-type": "text/xml"}, 2),
        ("header-charset.rss", {"content-type": "application/rss+xml; charset=koi8-r"}, 1),
        ("empty.rss", RSS, 0),
    ],
)
def test_every_fixture_parses_with_aware_utc_dates(
    data_dir: Path, name: str, headers: dict[str, str], count: int
) -> None:
    text = (data_dir / "feeds" / name).read_bytes()
    assert text.startswith((b"<!--\nDescription:", b"<?xml"))  # fixtures describe themselves
    assert b"Description:" in text
    assert b"Expect" in text
    feed = parse(data_dir, name, headers)
    assert len(feed.entries) == count
    assert isinstance(feed.entries, tuple)
    for e in feed.entries:
        for when in (e.published, e.updated):
            assert when is None or (when.utcoffset() is not None and when.tzinfo == UTC)


def test_empty_channel_gives_no_entries_and_no_error(data_dir: Path) -> None:
    feed = parse(data_dir, "empty.rss")
    assert feed.entries == ()
    assert feed.title == "Quiet Desk"
    assert feed.bozo is False


def test_garbage_raises_parse_error(data_dir: Path) -> None:
    body = (data_dir / "garbage.bin").read_bytes()
    with pytest.raises(ParseError) as info:
        parse_feed("https://garbage.example/feed", body, RSS)
    assert info.value.url == "https://garbage.example/feed"
    assert str(info.value).startswith("https://garbage.example/feed: not a usable feed")
    assert info.value.kind == "parse"
    assert isinstance(info.value, AggregatorError)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "application/rss+xml"),
        (b"<html><body><p>Hello</p></body></html>", "text/html"),
        (b"Service Unavailable", "text/plain"),
    ],
)
def test_non_feed_bodies_raise_parse_error(body: bytes, content_type: str) -> None:
    with pytest.raises(ParseError, match=r"^https://x\.example/feed: not a usable feed"):
        parse_feed("https://x.example/feed", body, {"content-type": content_type})


def test_relative_links_resolve_against_the_feed_url() -> None:
    body = (
        b'<rss version="2.0"><channel><title>T</title>'
        b"<item><title>Rel</title><link>/story/1</link></item></channel></rss>"
    )
    feed = parse_feed("https://example.com/feeds/world.xml", body, RSS)
    assert feed.entries[0].link == "https://example.com/story/1"
    moved = parse_feed(
        "https://example.com/feeds/world.xml",
        body,
        {**RSS, "content-location": "https://mirror.example/x/"},
    )
    assert moved.entries[0].link == "https://mirror.example/story/1"


def test_item_without_title_link_or_summary_is_dropped() -> None:
    body = (
        b'<rss version="2.0"><channel><title>T</title>'
        b"<item><guid isPermaLink='false'>only-a-guid</guid></item>"
        b"<item><description>Summary only</description></item>"
        b"</channel></rss>"
    )
    feed = parse_feed("https://example.com/feed", body, RSS)
    assert len(feed.entries) == 1
    assert feed.entries[0].title == ""
    assert feed.entries[0].summary == "Summary only"


def test_dated_rss_parses_without_warnings(data_dir: Path) -> None:
    """feedparser aliases ``updated_parsed`` to ``published_parsed`` with a DeprecationWarning;
    parse must read what the feed gave (an RSS item with only a pubDate has no update time)."""
    body = (data_dir / "feeds" / "basic.rss").read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        feed = parse_feed("https://fixtures.example/basic.rss", body, RSS)
    assert feed.entries[0].published == utc(2026, 1, 15, 9, 30)
    assert feed.entries[0].updated is None


@pytest.mark.parametrize(
    "headers", [None, {"content-type": "text/html; charset=utf-8"}], ids=["no-headers", "text-html"]
)
def test_well_formed_feed_with_odd_content_type_is_not_bozo(
    data_dir: Path, headers: dict[str, str] | None
) -> None:
    body = (data_dir / "feeds" / "empty.rss").read_bytes()
    feed = parse_feed("https://fixtures.example/empty.rss", body, headers)
    assert feed.bozo is False
    assert feed.bozo_message is None
