"""Pure cleaning: titles, canonical URLs, dates, identities, and whole parsed feeds."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aggregator.models import ParsedEntry, ParsedFeed
from aggregator.normalise import (
    canonical_url,
    clean_title,
    common_suffixes,
    entry_date,
    identities,
    normalise_feed,
    split_suffix,
    text_of,
)
from aggregator.parse import parse_feed

PROPERTY = settings(derandomize=True, database=None, deadline=None, max_examples=300)
RSS = {"content-type": "application/rss+xml"}
HASH = re.compile(r"^hash:[0-9a-f]{40}$")


def parsed_fixture(data_dir: Path, name: str) -> ParsedFeed:
    return parse_feed(
        f"https://fixtures.example/{name}", (data_dir / "feeds" / name).read_bytes(), RSS
    )


# -- text_of / clean_title ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Q&amp;A: What's next", "Q&A: What's next"),
        ("Mother&#8217;s Day", "Mother’s Day"),
        ("Mother&amp;#8217;s Day", "Mother’s Day"),  # double-escaped numeric entity
        ("Rock &amp;amp; roll", "Rock & roll"),  # double-escaped named entity
        ("Caf&eacute; society", "Café society"),
        ("&quot;Historic&quot; deal", '"Historic" deal'),
        ("<b>Bold</b> move", "Bold move"),
        ("Line<br/>break", "Line break"),
        ('<a href="https://x.example/">Linked</a> headline', "Linked headline"),
        ("  Talks   collapse\n\t in Geneva  ", "Talks collapse in Geneva"),
        ("No\u00a0break space", "No break space"),
        ("Zero\u200bwidth and\ufeffBOM", "Zerowidth andBOM"),
        ("Null\x00 and\x07bell\x7f", "Null andbell"),
        ("Cafe\u0301 composed", "Café composed"),  # NFC
        ("", ""),
        ("   ", ""),
    ],
)
def test_text_of(raw: str, expected: str) -> None:
    assert text_of(raw) == expected


def test_text_of_none_is_empty() -> None:
    assert text_of(None) == ""


def test_text_of_limit_cuts_at_a_word_and_marks_it() -> None:
    text = "one two three four five"
    assert text_of(text, limit=100) == text
    assert text_of(text, limit=14) == "one two three…"
    assert text_of(text, limit=11) == "one two…"
    assert text_of("abcdefghij", limit=4) == "abcd…"


@pytest.mark.parametrize(
    ("raw", "names", "expected"),
    [
        ("Oil prices climb - Reuters", (), "Oil prices climb"),
        ("Berlin budget row deepens | DW", (), "Berlin budget row deepens"),
        ("Floods in Kenya – BBC News", (), "Floods in Kenya"),
        ("Floods in Kenya — Al Jazeera", (), "Floods in Kenya"),
        ("Kim Jong-un visits Moscow - Reuters", (), "Kim Jong-un visits Moscow"),
        (
            "Israel - Hamas talks resume in Cairo - Reuters",
            (),
            "Israel - Hamas talks resume in Cairo",
        ),
        ("Storm hits Manila - Example Wire", ("Example Wire",), "Storm hits Manila"),
        ("Storm hits Manila - Example Wire", (), "Storm hits Manila - Example Wire"),
        ("Storm hits Manila | example wire", ("Example Wire",), "Storm hits Manila"),
        ("Q&amp;A: peace plan - Reuters", (), "Q&A: peace plan"),
        # " - " inside the headline is not an outlet suffix
        ("Israel - Hamas talks resume in Cairo", (), "Israel - Hamas talks resume in Cairo"),
        (
            "Israel - Hamas talks resume in Cairo",
            ("Reuters", "Reuters World News"),
            "Israel - Hamas talks resume in Cairo",
        ),
        ("Election results delayed - again", ("Example Wire",), "Election results delayed - again"),
        ("Brazil 2 - 1 Argentina", ("Sports Desk",), "Brazil 2 - 1 Argentina"),
        ("Reuters", (), "Reuters"),
    ],
)
def test_clean_title(raw: str, names: tuple[str, ...], expected: str) -> None:
    assert clean_title(raw, names) == expected


def test_split_suffix() -> None:
    assert split_suffix("Oil prices climb - Reuters") == ("Oil prices climb", "Reuters")
    assert split_suffix("Kim Jong-un visits") == ("Kim Jong-un visits", None)
    assert split_suffix("A | B | DW") == ("A | B", "DW")


def test_common_suffix_of_a_feed_is_stripped() -> None:
    titles = [
        "Drought grips Horn of Africa - Nairobi Desk",
        "Kenya shilling falls - Nairobi Desk",
        "Uganda votes - Nairobi Desk",
        "Israel - Hamas talks resume in Cairo",
    ]
    suffixes = common_suffixes(titles)
    assert suffixes == frozenset({"Nairobi Desk"})
    cleaned = [clean_title(t, (), suffixes) for t in titles]
    assert cleaned == [
        "Drought grips Horn of Africa",
        "Kenya shilling falls",
        "Uganda votes",
        "Israel - Hamas talks resume in Cairo",
    ]


def test_common_suffixes_need_three_and_half_the_feed() -> None:
    assert common_suffixes(["A - Desk", "B - Desk"]) == frozenset()
    assert common_suffixes(["A - Desk", "B - Desk", "C - Desk", "D", "E", "F", "G"]) == frozenset()
    assert common_suffixes(["A - Desk", "B - Desk", "C - Desk", "D", "E"]) == {"Desk"}


@pytest.mark.parametrize(
    ("raw", "outlet"),
    [
        ("US - Japan trade deal signed", "AP"),
        ("Gaza - aid convoy reaches the north", "RT"),
    ],
)
def test_short_outlet_name_does_not_strip_a_headline_part(raw: str, outlet: str) -> None:
    assert clean_title(raw, (outlet,)) == raw


# -- canonical_url --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.COM/World/Story", "https://example.com/World/Story"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com./a", "https://example.com/a"),
        ("  https://example.com/a \n", "https://example.com/a"),
        ("https://user:secret@example.com/a", "https://example.com/a"),
        (
            "https://example.com/a?utm_source=rss&id=7&UTM_Medium=x&fbclid=abc&page=2&gclid=1",
            "https://example.com/a?id=7&page=2",
        ),
        ("https://example.com/a?b=2&a=1&c=", "https://example.com/a?b=2&a=1&c="),
        ("https://example.com/a?utm_campaign=x&utm_source=y", "https://example.com/a"),
        ("https://example.com/a?ocid=rss&at_medium=RSS&x=1", "https://example.com/a?x=1"),
        ("http://[2001:DB8::1]:8080/feed", "http://[2001:db8::1]:8080/feed"),
        ("http://[::1]:80/", "http://[::1]/"),
        ("https://[2001:db8::a]/x?utm_term=1", "https://[2001:db8::a]/x"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("/news/1?utm_source=x", "https://example.com/world/", "https://example.com/news/1"),
        (
            "story.html",
            "https://example.com/world/index.xml",
            "https://example.com/world/story.html",
        ),
        ("//cdn.example.com/x", "https://example.com/", "https://cdn.example.com/x"),
        ("https://other.example/a", "https://example.com/", "https://other.example/a"),
        ("mailto:desk@example.com", "https://example.com/", None),
    ],
)
def test_canonical_url_resolves_relative_links(url: str, base: str, expected: str | None) -> None:
    assert canonical_url(url, base) == expected


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "   ",
        "javascript:alert(1)",
        "JavaScript:void(0)",
        "mailto:desk@example.com",
        "ftp://example.com/file.xml",
        "data:text/html,hi",
        "/relative/without/base",
        "not a url",
        "https://",
        "http://example.com:99999/",
        "http://[::1/",
    ],
)
def test_canonical_url_refuses_non_web_links(url: str | None) -> None:
    assert canonical_url(url) is None


@pytest.mark.parametrize(
    "url", ["https://example.com/a #top", "http://0/ #", "https://x.example/a ?"]
)
def test_canonical_url_is_idempotent_with_whitespace_before_fragment(url: str) -> None:
    once = canonical_url(url)
    assert once is not None
    assert canonical_url(once) == once
    assert once == once.strip()


@pytest.mark.parametrize("url", ["http://../", "https://./story"])
def test_canonical_url_refuses_dot_only_host(url: str) -> None:
    assert canonical_url(url) is None


# -- entry_date -----------------------------------------------------------------------------


def test_entry_date_missing_is_now(now: datetime) -> None:
    assert entry_date(None, None, now) == now


def test_entry_date_future_is_now(now: datetime) -> None:
    assert entry_date(now + timedelta(days=400), None, now) == now
    assert entry_date(None, now + timedelta(seconds=1), now) == now


def test_entry_date_prefers_published_then_updated(now: datetime) -> None:
    published = now - timedelta(hours=3)
    updated = now - timedelta(hours=1)
    assert entry_date(published, updated, now) == published
    assert entry_date(None, updated, now) == updated


def test_entry_date_is_aware_utc(now: datetime) -> None:
    result = entry_date(datetime(2026, 1, 15, 9, 0, tzinfo=UTC), None, now)
    assert result.tzinfo is not None
    assert result.utcoffset() == timedelta(0)


def test_entry_date_converts_other_offsets_to_utc(now: datetime) -> None:
    delhi = datetime(2026, 1, 15, 10, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    result = entry_date(delhi, None, now)
    assert result == datetime(2026, 1, 15, 4, 30, tzinfo=UTC)
    assert result.utcoffset() == timedelta(0)
    assert result.isoformat() == "2026-01-15T04:30:00+00:00"


# -- identities -----------------------------------------------------------------------------


def entry(
    title: str = "T", guid: str | None = None, link: str | None = None, summary: str | None = None
) -> ParsedEntry:
    return ParsedEntry(title=title, guid=guid, link=link, summary=summary)


def test_unique_guids_are_used() -> None:
    entries = [entry("A", guid="g1", link="https://x/a"), entry("B", guid=" g2 ", link=None)]
    assert identities(entries, ["https://x/a", None]) == ["guid:g1", "guid:g2"]


def test_duplicate_guids_fall_back_to_the_link() -> None:
    entries = [entry("A", guid="same"), entry("B", guid="same"), entry("C", guid="other")]
    links = ["https://x/a", "https://x/b", "https://x/c"]
    assert identities(entries, links) == ["link:https://x/a", "link:https://x/b", "guid:other"]


def test_missing_guid_and_link_fall_back_to_a_hash() -> None:
    ids = identities([entry("A", summary="s")], [None])
    assert HASH.match(ids[0])


def test_blank_guid_counts_as_missing() -> None:
    assert identities([entry("A", guid="   ")], ["https://x/a"]) == ["link:https://x/a"]


def test_shared_links_fall_back_to_distinct_hashes() -> None:
    entries = [entry("D"), entry("E")]
    ids = identities(entries, ["https://x/live", "https://x/live"])
    assert all(HASH.match(i) for i in ids)
    assert ids[0] != ids[1]


def test_identical_items_are_disambiguated() -> None:
    same = [entry("F", summary="s"), entry("F", summary="s"), entry("F", summary="s")]
    ids = identities(same, [None, None, None])
    assert HASH.match(ids[0])
    assert ids[1:] == [f"{ids[0]}#2", f"{ids[0]}#3"]


def test_identities_are_stable() -> None:
    def build() -> tuple[list[ParsedEntry], list[str | None]]:
        return (
            [entry("A", guid="g"), entry("B"), entry("B"), entry("C", link="https://x/c")],
            [None, None, None, "https://x/c"],
        )

    first = identities(*build())
    assert identities(*build()) == first
    assert first[0] == "guid:g"
    assert first[3] == "link:https://x/c"
    assert len(set(first)) == 4


def test_hash_identity_depends_on_title_summary_and_link() -> None:
    base = identities([entry("A", summary="s")], [None])[0]
    assert identities([entry("A", summary="s")], [None])[0] == base
    assert identities([entry("A2", summary="s")], [None])[0] != base
    assert identities([entry("A", summary="s2")], [None])[0] != base


def test_identities_of_the_identity_fixture(data_dir: Path, now: datetime) -> None:
    first = [
        e.identity for e in normalise_feed(parsed_fixture(data_dir, "identities.rss"), "I", now)
    ]
    again = [
        e.identity for e in normalise_feed(parsed_fixture(data_dir, "identities.rss"), "I", now)
    ]
    assert first == again
    assert first[:4] == [
        "guid:unique-a",
        "link:https://ids.example.com/b1",
        "link:https://ids.example.com/b2",
        "link:https://ids.example.com/c",
    ]
    assert all(HASH.match(i) for i in first[4:7])
    assert len(first) == 7  # G repeats F exactly: one item, not two
    assert len(set(first)) == 7


# -- normalise_feed -------------------------------------------------------------------------


def test_normalise_feed_builds_clean_entries(now: datetime) -> None:
    long_summary = "<p>" + "word " * 300 + "</p>"
    feed = ParsedFeed(
        url="https://feeds.example.com/world.xml",
        title="Example World",
        link="https://www.example.com/world/",
        entries=(
            ParsedEntry(
                title="<b>Talks</b> &amp; trade - Example World",
                link="/story/1?utm_source=rss&id=9#top",
                guid="tag:example.com,2026:1",
                summary=long_summary,
                published=now - timedelta(hours=2),
                updated=now + timedelta(hours=1),
                author=" <i>Desk</i> ",
                categories=("World", "World", "Asia &amp; Pacific", ""),
            ),
            ParsedEntry(title="", link="https://www.example.com/untitled", summary="no title"),
            ParsedEntry(title="Undated", link="https://www.example.com/story/2"),
        ),
    )
    entries = normalise_feed(feed, "Example", now)
    assert len(entries) == 2  # the untitled item is dropped
    first, second = entries
    assert first.feed_url == "https://feeds.example.com/world.xml"
    assert first.title == "Talks & trade"
    assert first.title_raw == "<b>Talks</b> &amp; trade - Example World"
    assert first.url == "https://www.example.com/story/1?id=9"
    assert first.identity == "guid:tag:example.com,2026:1"
    assert first.guid == "tag:example.com,2026:1"
    assert first.published == now - timedelta(hours=2)
    assert first.updated == now  # a future update time is clamped
    assert first.first_seen == now
    assert first.author == "Desk"
    assert first.categories == ("World", "Asia & Pacific")
    assert first.summary is not None
    assert first.summary.endswith("…")
    assert len(first.summary) <= 601
    assert second.title == "Undated"
    assert second.identity == "link:https://www.example.com/story/2"
    assert second.published == now
    assert second.updated is None
    assert second.summary is None


def test_normalise_feed_titles_of_the_entities_fixture(data_dir: Path, now: datetime) -> None:
    titles = [e.title for e in normalise_feed(parsed_fixture(data_dir, "entities.rss"), "X", now)]
    assert titles == [
        "Q&A: What's next for Syria",
        "Bold move by Kenya's central bank",
        "Peru's president resigns",
        "Mother’s Day protests in Kyiv",
        "Rock & roll museum opens",
        "Café owners strike in Paris",
        "Talks collapse in Geneva",
    ]


def test_normalise_feed_titles_of_the_suffixes_fixture(data_dir: Path, now: datetime) -> None:
    feed = parsed_fixture(data_dir, "suffixes.rss")
    titles = [e.title for e in normalise_feed(feed, "Example Wire", now)]
    assert titles == [
        "Oil prices climb",
        "Ceasefire holds in Sudan",
        "Kim Jong-un visits Moscow",
        "Berlin budget row deepens",
        "Storm hits Manila",
        "Israel - Hamas talks resume in Cairo",
        "Election results delayed - again",
    ]


def test_normalise_feed_dates_of_the_dates_fixture(data_dir: Path, now: datetime) -> None:
    entries = normalise_feed(parsed_fixture(data_dir, "dates.rss"), "D", now)
    assert [e.published for e in entries] == [
        now,  # future
        now,  # missing
        datetime(2026, 1, 15, 4, 30, tzinfo=UTC),
        now,  # unparseable
    ]
    assert all(e.published.utcoffset() == timedelta(0) for e in entries)


# -- properties -----------------------------------------------------------------------------

_label = st.from_regex(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?", fullmatch=True)
_hosts = st.one_of(
    st.lists(_label, min_size=1, max_size=4).map(".".join),
    st.lists(_label, min_size=1, max_size=3).map(lambda ls: ".".join(ls) + "."),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
    st.text(min_size=1, max_size=12),
)
_keys = st.one_of(
    st.sampled_from(["utm_source", "UTM_Medium", "fbclid", "gclid", "id", "page", "q", "a b"]),
    st.text(max_size=6),
)
_queries = st.lists(st.tuples(_keys, st.text(max_size=8)), max_size=5).map(
    lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)
)


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(
        st.sampled_from(["http", "https", "HTTP", "Https", "ftp", "mailto", "javascript"])
    )
    userinfo = draw(st.sampled_from(["", "user@", "user:pw@"]))
    host = draw(_hosts)
    port = draw(st.one_of(st.just(""), st.integers(0, 70000).map(lambda p: f":{p}")))
    path = draw(st.one_of(st.just(""), st.text(max_size=15).map(lambda p: "/" + p)))
    query = draw(st.one_of(st.just(""), _queries.map(lambda q: "?" + q)))
    fragment = draw(st.one_of(st.just(""), st.text(max_size=5).map(lambda f: "#" + f)))
    return f"{scheme}://{userinfo}{host}{port}{path}{query}{fragment}"


@PROPERTY
@given(st.one_of(urls(), st.text(max_size=40)))
@example("HTTPS://Example.COM:443/a?utm_source=x&b=a%20b#f")
@example("http://[::1]:80/?a=%zz&fbclid=1")
def test_canonical_url_is_idempotent_and_web_only(url: str) -> None:
    result = canonical_url(url)
    if result is None:
        return
    assert result == result.strip()  # no whitespace left by a dropped fragment or query
    parts = urlsplit(result)
    assert parts.scheme in ("http", "https")
    assert parts.hostname
    assert parts.fragment == ""
    for key, _ in parse_qsl(parts.query, keep_blank_values=True):
        assert not key.lower().startswith("utm_")
        assert key.lower() not in ("fbclid", "gclid")
    assert canonical_url(result) == result


_html_bits = st.sampled_from(
    [
        "<b>",
        "</b>",
        "<br/>",
        "<",
        ">",
        "&amp;",
        "&amp;#8217;",
        "&lt;",
        "&#0;",
        "&#x85;",
        "&#1;",
        "&nbsp;",
        "\u00a0",
        "\u200b",
        "\ufeff",
        "\x00",
        "\x1f",
        "\x85",
        "\u2028",
        " ",
        "\t\n",
        " - ",
        " | DW",
        " - Reuters",
        "&",
    ]
)
_messy = st.lists(st.one_of(st.text(max_size=8), _html_bits), max_size=12).map("".join)


def _assert_clean(text: str) -> None:
    assert text == text.strip()
    assert not any(unicodedata.category(c) == "Cc" for c in text)


@PROPERTY
@given(st.one_of(st.text(), _messy), st.lists(st.text(max_size=10), max_size=3))
def test_clean_title_and_text_of_never_raise_and_are_clean(raw: str, names: list[str]) -> None:
    _assert_clean(text_of(raw))
    _assert_clean(clean_title(raw, names, frozenset(names)))


@PROPERTY
@given(st.one_of(st.text(), _messy), st.integers(1, 40))
def test_text_of_limit_bounds_the_length(raw: str, limit: int) -> None:
    result = text_of(raw, limit=limit)
    assert len(result) <= limit + 1
    _assert_clean(result)


def test_exact_repeats_in_one_feed_are_one_entry(now: datetime) -> None:
    """Some feeds list the same item several times (same GUID, link and title)."""
    item = ParsedEntry(
        title="Talks resume in Geneva",
        link="https://news.example.com/talks",
        guid="https://news.example.com/talks",
    )
    other = ParsedEntry(
        title="Talks resume in Geneva, live",
        link="https://news.example.com/talks",
        guid="https://news.example.com/talks",
    )
    feed = ParsedFeed(url="https://news.example.com/feed", entries=(item, item, item, other))
    entries = normalise_feed(feed, "News", now)
    assert [e.title for e in entries] == ["Talks resume in Geneva", "Talks resume in Geneva, live"]
    assert len({e.identity for e in entries}) == 2
