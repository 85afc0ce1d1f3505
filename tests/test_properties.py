"""Properties that must hold for any input (hypothesis): nothing raises on any unicode,
clustering does not depend on the order of simultaneous input, classification is total, and
the parse entry points raise nothing but ParseError on any bytes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aggregator.classify import Classifier
from aggregator.cluster import Clusterer
from aggregator.errors import ParseError
from aggregator.htmlsource import parse_html_page
from aggregator.models import (
    GENERAL,
    REGIONS,
    TOPICS,
    WORLD,
    ClusterItem,
    ParsedEntry,
    ParsedFeed,
    Taxonomy,
)
from aggregator.normalise import canonical_url, clean_title, normalise_feed, text_of
from aggregator.parse import parse_feed

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# any unicode, plus the nasty corners hypothesis may take long to find by itself
nasty = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\ufeff",
        "\u202e",
        "\ud800",  # a lone surrogate
        "&amp;lt;script&amp;gt;",
        "<![CDATA[",
        "İstanbul ﬁnance",
        "\u0301" * 50,
        "Türkiye" * 200,
        "🏳️‍🌈 " * 20,
        "ﷺ",
        "a\r\nb\tc\u2028d",
    ]
)
texts = st.one_of(st.text(max_size=300), nasty, st.lists(nasty, max_size=5).map("".join))
HEADLINES = [
    "Fed raises interest rates by a quarter point",
    "Federal Reserve lifts rates again",
    "Drone attack on Kyiv kills four",
    "Russian drones strike Kiev overnight, killing 4",
    "Floods in Pakistan kill dozens",
    "Pakistan flood death toll rises to 40",
    "Apple unveils new iPhone",
    "Brazil election goes to a runoff",
]


@PROPERTY
@given(texts, texts, texts)
def test_normalise_never_raises(title: str, summary: str, link: str) -> None:
    text_of(title)
    text_of(summary, limit=10)
    clean_title(title, [summary])
    url = canonical_url(link)
    if url is not None:
        assert canonical_url(url) == url
    feed = ParsedFeed(
        url="https://news.example/rss",
        title=summary,
        entries=[
            ParsedEntry(title=title, link=link, guid=summary, summary=summary),
            ParsedEntry(title=title, link=None, guid=None, summary=None),
        ],
    )
    for entry in normalise_feed(feed, title, NOW):
        assert entry.title
        assert entry.published == NOW


@PROPERTY
@given(st.lists(texts, max_size=12))
def test_clustering_any_unicode_never_raises(titles: list[str]) -> None:
    items = [
        ClusterItem(id=i + 1, title=t, published=NOW, summary=t[::-1], url=None)
        for i, t in enumerate(titles)
    ]
    assignments = Clusterer().add_all(items)
    assert sorted(a.item_id for a in assignments) == [i.id for i in items]


@PROPERTY
@given(
    st.lists(st.one_of(st.sampled_from(HEADLINES), texts), min_size=2, max_size=14),
    st.randoms(use_true_random=False),
)
def test_clustering_is_independent_of_the_order_of_simultaneous_input(
    titles: list[str], rnd: random.Random
) -> None:
    """Items published at the same moment, given in any order, make the same stories."""
    items = [
        ClusterItem(id=i + 1, title=t, published=NOW, source=f"feed{i % 3}")
        for i, t in enumerate(titles)
    ]
    # a few earlier items too, so ties are not the only thing in play
    items += [
        ClusterItem(id=100 + i, title=t, published=NOW - timedelta(hours=1))
        for i, t in enumerate(HEADLINES[:3])
    ]

    def partition(order: list[ClusterItem]) -> set[frozenset[int]]:
        got = {a.item_id: a.story_id for a in Clusterer().add_all(order)}
        groups: dict[int, set[int]] = {}
        for item_id, story in got.items():
            groups.setdefault(story, set()).add(item_id)
        return {frozenset(g) for g in groups.values()}

    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert partition(shuffled) == partition(items)


CLASSIFIER = Classifier.for_taxonomy(Taxonomy())


@PROPERTY
@given(texts, st.one_of(st.none(), texts), st.one_of(st.none(), texts), st.lists(texts, max_size=3))
@example("", None, None, [])
@example("\x00", "\ud800", "javascript:alert(1)", ["\ufeff"])
def test_classification_is_total(
    title: str, summary: str | None, url: str | None, categories: list[str]
) -> None:
    labels = CLASSIFIER.classify(title, summary=summary, url=url, categories=categories)
    assert labels.region in (*REGIONS, WORLD)
    assert labels.topic in (*TOPICS, GENERAL)
    assert 0.0 <= labels.region_weight <= 1.0 or labels.region_weight >= 0.0


FEED_START = b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'


@PROPERTY
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.binary(max_size=500).map(lambda b: FEED_START + b),
        st.binary(max_size=500).map(lambda b: b"{" + b),
        st.binary(max_size=500).map(lambda b: b"<html><h2>Explore</h2><ul>" + b),
    ),
    st.sampled_from(
        [
            {},
            {"content-type": "application/rss+xml; charset=koi8-r"},
            {"content-type": "application/feed+json"},
            {"content-type": "text/html; charset=nope"},
        ]
    ),
)
def test_parse_entry_points_raise_only_parse_errors(body: bytes, headers: dict[str, str]) -> None:
    for parse in (
        lambda: parse_feed("https://news.example/feed", body, headers),
        lambda: parse_html_page("https://news.example/page", body, headers),
    ):
        try:
            parsed = parse()
        except ParseError:
            continue
        for entry in parsed.entries:
            assert isinstance(entry.title, str)
