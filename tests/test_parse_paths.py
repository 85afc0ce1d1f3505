"""The fast parser and the robust one must agree; odd input must reach the robust one."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.normalise import parser_differences
from aggregator.parse import (
    fast_parse,
    fast_path_fits,
    parse_feed,
    repair_charset,
    robust_parse,
)

FEEDS = Path(__file__).parent / "data" / "feeds"
URL = "https://fixtures.example/feed.xml"


def rss(items: str, decl: str = '<?xml version="1.0" encoding="UTF-8"?>') -> bytes:
    return (
        f'{decl}<rss version="2.0"><channel><title>T</title><link>https://t.example/</link>'
        f"{items}</channel></rss>"
    ).encode()


GOOD = {
    "plain": rss(
        "<item><title>Floods hit Mozambique</title><link>https://t.example/1</link>"
        "<guid>https://t.example/1</guid><pubDate>Thu, 15 Jan 2026 09:30:00 GMT</pubDate>"
        "<description>Heavy &lt;b&gt;rain&lt;/b&gt; fell.</description></item>"
    ),
    "relative guid and link": rss(
        "<item><title>A</title><link>/story/a</link><guid>a1</guid></item>"
        '<item><title>B</title><link>/story/b</link><guid isPermaLink="false">b1</guid></item>'
    ),
    "no guid": rss("<item><title>C</title><link>https://t.example/c</link></item>"),
    "guid equal to link": rss(
        "<item><title>D</title><link>https://t.example/d</link>"
        "<guid>https://t.example/d</guid></item>"
        "<item><title>E</title><link>https://t.example/e</link></item>"
    ),
    "escaped markup and entities": rss(
        "<item><title>Q&amp;A: &lt;em&gt;Peru&#39;s&lt;/em&gt; vote</title>"
        "<link>https://t.example/q?a=1&amp;b=2</link></item>"
    ),
    "cdata": rss(
        "<item><title><![CDATA[Markets <b>rally</b> & bonds slip]]></title>"
        "<description><![CDATA[<p>Stocks rose.</p>]]></description>"
        "<link>https://t.example/m</link></item>"
    ),
    "time zones": rss(
        "<item><title>Z</title><link>https://t.example/z</link>"
        "<pubDate>Thu, 15 Jan 2026 10:00:00 +0530</pubDate></item>"
        "<item><title>Y</title><link>https://t.example/y</link>"
        "<pubDate>Thu, 15 Jan 2026 10:00:00 EST</pubDate></item>"
    ),
    "atom": (
        b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        b"<title>A</title><id>tag:a,2026:f</id><updated>2026-01-15T10:00:00Z</updated>"
        b'<entry><id>tag:a,2026:1</id><title type="html">Kenya &amp;lt;b&amp;gt;votes</title>'
        b'<link rel="alternate" href="https://a.example/1"/><link rel="enclosure" '
        b'href="https://a.example/1.mp3"/><updated>2026-01-15T09:00:00+01:00</updated>'
        b"<summary>Sum</summary></entry></feed>"
    ),
    "unicode": rss(
        "<item><title>Türkiye and Côte d’Ivoire sign pact — officials</title>"
        "<link>https://t.example/%C3%BC</link></item>"
    ),
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_fast_and_robust_paths_agree(name: str) -> None:
    body = GOOD[name]
    assert fast_path_fits(body, {"content-type": "application/rss+xml; charset=utf-8"})
    fast = fast_parse(URL, body)
    assert fast is not None
    assert fast.entries
    assert parser_differences(fast, robust_parse(URL, body)) == []


# fixtures that are odd on purpose: not UTF-8, or malformed
ROBUST_FIXTURES = {"header-charset.rss", "malformed.rss", "windows-1252.xml"}


@pytest.mark.parametrize("path", sorted(FEEDS.glob("*.*")), ids=lambda p: p.name)
def test_our_fixtures_agree_wherever_the_fast_path_fits(path: Path) -> None:
    body = path.read_bytes()
    if path.name in ROBUST_FIXTURES:
        assert not fast_path_fits(body, {})
        return
    assert fast_path_fits(body, {})
    fast = fast_parse(URL, body)
    assert fast is not None
    assert parser_differences(fast, robust_parse(URL, body)) == []


ODD = {
    "malformed": rss("<item><title>Broken & bad</title><link>https://t.example/x</link></item>"),
    "child element in a title": rss(
        "<item><title>Plain <b>Fed</b> tail</title><link>https://t.example/f</link></item>"
    ),
    "child element in a description": rss(
        "<item><title>P</title><description>Intro <p>para</p> tail</description></item>"
    ),
    "windows-1251 declared": rss(
        "<item><title>Новости</title></item>", '<?xml version="1.0" encoding="windows-1251"?>'
    ),
    "xml:base": rss('<item xml:base="https://b.example/"><title>B</title><link>x</link></item>'),
    "utf-16": '<?xml version="1.0" encoding="utf-16"?><rss/>'.encode("utf-16"),
    "json": b'{"version": "https://jsonfeed.org/version/1.1", "items": []}',
    "html": b"<!DOCTYPE html><html><body><p>Not a feed</body></html>",
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_input_goes_to_the_robust_path(name: str) -> None:
    assert not fast_path_fits(ODD[name], {})


def test_a_header_charset_that_is_not_utf8_goes_to_the_robust_path() -> None:
    body = GOOD["plain"]
    assert fast_path_fits(body, {"content-type": "text/xml; charset=UTF-8"})
    assert not fast_path_fits(body, {"content-type": "text/xml; charset=koi8-r"})


def test_iso_8859_1_bytes_declared_as_utf8_read_as_text() -> None:
    body = rss("<item><title>Café owners protest</title></item>").replace(
        "Café".encode(), "Café".encode("latin-1")
    )
    assert not fast_path_fits(body, {})
    for headers in ({}, {"content-type": "text/xml; charset=utf-8"}):
        assert parse_feed(URL, body, headers).entries[0].title == "Café owners protest"


def test_malformed_feeds_are_still_flagged() -> None:
    feed = parse_feed(URL, ODD["malformed"], {})
    assert feed.bozo
    assert [e.title for e in feed.entries] == ["Broken & bad"]


def test_child_elements_keep_their_text() -> None:
    feed = parse_feed(URL, ODD["child element in a title"], {})
    assert feed.entries[0].title == "Plain <b>Fed</b> tail"


def test_items_the_fast_parser_misses_go_to_the_robust_path() -> None:
    body = (
        b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        b' xmlns="http://my.netscape.com/rdf/simple/0.9/"><channel><title>T</title></channel>'
        b"<item><title>Ninety</title><link>https://t.example/90</link></item></rdf:RDF>"
    )
    assert fast_path_fits(body, {})
    assert fast_parse(URL, body) is None
    assert [e.title for e in parse_feed(URL, body, {}).entries] == ["Ninety"]


def test_untitled_items_go_to_the_robust_path() -> None:
    body = rss("<item><link>https://t.example/u</link></item>")
    assert fast_parse(URL, body) is None
    assert [e.link for e in parse_feed(URL, body, {}).entries] == ["https://t.example/u"]


def test_fractional_seconds_are_dropped_as_feedparser_does() -> None:
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
        b"<entry><id>tag:a,1</id><title>T</title><link href='https://a.example/1'/>"
        b"<updated>2026-01-15T09:00:00.544Z</updated></entry></feed>"
    )
    fast = fast_parse(URL, body)
    assert fast is not None
    assert parser_differences(fast, robust_parse(URL, body)) == []


def test_rdf_about_is_the_id_in_both_paths() -> None:
    body = (
        b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        b' xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://t.example/"><title>T'
        b'</title></channel><item rdf:about="https://t.example/a?x=1"><title>A</title>'
        b"<link>https://t.example/a?x=1</link></item></rdf:RDF>"
    )
    fast = fast_parse(URL, body)
    assert fast is not None
    assert fast.entries[0].guid == "https://t.example/a?x=1"
    assert parser_differences(fast, robust_parse(URL, body)) == []


def test_script_and_style_are_not_text() -> None:
    from aggregator.normalise import text_of

    assert text_of("safe <script>location.href='x'</script> title") == "safe title"
    assert text_of("a <STYLE type='t'>p {}</STYLE> b <script>never closed") == "a b"


NEWS = {
    "windows-1251": "Новости: Москва и Киев договорились о перемирии",
    "koi8-r": "Новости: Москва и Киев договорились о перемирии",
    "iso-8859-1": "Café owners protest in Montréal and Zürich",
    "windows-1252": "São Paulo’s “mayor” resigns — officials",
    "windows-1250": "Kraków i Łódź: wybory samorządowe",
    "iso-8859-7": "Ειδήσεις: η Αθήνα ψηφίζει",
}


@pytest.mark.parametrize("charset", sorted(NEWS))
@pytest.mark.parametrize(
    ("declaration", "content_type"),
    [
        ('<?xml version="1.0" encoding="UTF-8"?>', None),
        ('<?xml version="1.0" encoding="utf-8"?>', "application/rss+xml; charset=UTF-8"),
        ('<?xml version="1.0"?>', None),
        ('<?xml version="1.0"?>', "text/xml"),
    ],
)
def test_mislabelled_legacy_charsets_give_readable_titles(
    charset: str, declaration: str, content_type: str | None
) -> None:
    title = NEWS[charset]
    body = (
        declaration.encode()
        + b'<rss version="2.0"><channel><title>T</title><item><title>'
        + title.encode(charset)
        + b"</title><link>https://t.example/1</link></item></channel></rss>"
    )
    headers = {"content-type": content_type} if content_type else {}
    assert parse_feed(URL, body, headers).entries[0].title == title


@pytest.mark.parametrize("label", ["windows-1251", "iso-8859-1", "koi8-r"])
def test_utf8_labelled_as_a_legacy_charset_is_read_as_utf8(label: str) -> None:
    title = "Новости и Café — Ειδήσεις"
    body = (
        f'<?xml version="1.0" encoding="{label}"?><rss version="2.0"><channel><title>T</title>'
        f"<item><title>{title}</title></item></channel></rss>"
    ).encode()
    assert parse_feed(URL, body, {}).entries[0].title == title
    assert parse_feed(URL, body, {"content-type": f"text/xml; charset={label}"}).entries[
        0
    ].title == (title)


def test_well_labelled_legacy_charsets_are_left_to_the_parsers() -> None:
    title = NEWS["koi8-r"]
    body = (
        b'<?xml version="1.0" encoding="koi8-r"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>" + title.encode("koi8-r") + b"</title></item></channel></rss>"
    )
    assert repair_charset(body, {}) == (body, {})
    assert parse_feed(URL, body, {}).entries[0].title == title
