"""Regressions found by bench/robustness.py (issue 10), one test each: what a hostile feed or
server costs is bounded by the size of what it sends.

* categories (RSS, Atom, JSON Feed tags) were de-duplicated in quadratic time: 100,000 of
  them in one 2.7 MB item held the pass for 50 s on the fast path, 131 s in feedparser;
* normalise read every byte of an author, a category, a related link's title and (for the
  feed's common suffixes) a headline, and kept authors, categories, GUIDs and links whole: a
  10 MB author cost 170 MB and went to the database and the digest;
* a document declaring entities went through expat's well-formedness check first, which
  expands them up to its amplification limit (60 ms for a billion laughs) before the robust
  path drops the declarations anyway;
* a gzip bomb was inflated a whole network read at a time (64 KiB in, 64 MiB out) before
  the body cap was checked: 130 MB for a 15 MiB cap, per feed fetched at the same time.
"""

from __future__ import annotations

import gzip
import json
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import brotli
import feedparser.mixin
import httpx
import pytest
from conftest import FeedServer
from hostile_corpus import corpus

from aggregator.fetch import ACCEPT_ENCODING, Fetcher
from aggregator.models import FeedState, FetchResult, ParsedEntry, ParsedFeed
from aggregator.normalise import (
    MAX_AUTHOR,
    MAX_CATEGORIES,
    MAX_CATEGORY,
    MAX_GUID,
    MAX_URL,
    normalise_feed,
)
from aggregator.parse import MAX_TAGS, fast_path_fits, parse_feed, robust_parse

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
URL = "https://hostile.example/feed.xml"
CATEGORIES = 100_000


def _rss(item_fields: str, title: str = "Tagged") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>H</title>'
        f"<item><title>{title}</title><link>https://hostile.example/1</link>{item_fields}"
        "</item></channel></rss>"
    ).encode()


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


@pytest.mark.parametrize("path", ["fast", "robust", "atom", "json"])
def test_a_hundred_thousand_categories_take_linear_time_and_are_capped(path: str) -> None:
    if path == "atom":
        terms = "".join(f'<category term="c{i}"/>' for i in range(CATEGORIES))
        body = (
            '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>H</title>'
            f'<entry><title>Tagged</title><link href="https://hostile.example/1"/><id>x</id>'
            f"{terms}</entry></feed>"
        ).encode()
    elif path == "json":
        doc = {
            "version": "https://jsonfeed.org/version/1.1",
            "items": [{"id": "1", "title": "Tagged", "tags": [f"c{i}" for i in range(CATEGORIES)]}],
        }
        body = json.dumps(doc).encode()
    else:
        body = _rss("".join(f"<category>c{i}</category>" for i in range(CATEGORIES)))
    parse = robust_parse if path == "robust" else parse_feed
    parsed = None

    def run() -> None:
        nonlocal parsed
        parsed = parse(URL, body)

    seconds = _timed(run)
    # linear: 0.2 s (2.4 s through feedparser); quadratic: 50 s (131 s through feedparser)
    assert seconds < 20, f"{seconds:.1f} s: quadratic again"
    assert isinstance(parsed, ParsedFeed)
    # each once, in order; feedparser stops keeping them at MAX_TAGS
    expected = MAX_TAGS if path == "robust" else CATEGORIES
    assert len(parsed.entries[0].categories) == expected
    assert parsed.entries[0].categories[:2] == ("c0", "c1")
    (entry,) = normalise_feed(parsed, "H", NOW)
    assert entry.categories == tuple(f"c{i}" for i in range(MAX_CATEGORIES))


def test_feedparser_still_keeps_each_category_once_below_the_cap() -> None:
    assert feedparser.mixin._FeedParserMixin._add_tag.__name__ == "_bounded_add_tag"
    body = _rss(
        "<category>Politics</category><category>Politics</category>"
        '<category domain="https://x.example/">Politics</category><category>World</category>'
    )
    (entry,) = robust_parse(URL, body).entries
    assert entry.categories == ("Politics", "World")


def test_megabyte_fields_are_cut_or_dropped() -> None:
    megabyte = "Long " * 200_000
    parsed = parse_feed(
        URL,
        _rss(
            f"<author>{megabyte}</author><category>{megabyte}</category>"
            f"<category>Short</category><guid>{megabyte}</guid>"
        ),
    )
    (entry,) = normalise_feed(parsed, "H", NOW)
    assert entry.author is not None
    assert len(entry.author) <= MAX_AUTHOR + 1
    assert entry.author.endswith("…")
    assert [len(c) <= MAX_CATEGORY + 1 for c in entry.categories] == [True, True]
    assert entry.categories[1] == "Short"
    # a GUID no feed would really use is ignored: the entry is known by its link
    assert entry.guid is None
    assert entry.identity == "link:https://hostile.example/1"
    assert entry.url == "https://hostile.example/1"


def test_a_guid_at_the_limit_is_kept_and_one_over_is_ignored() -> None:
    ok, over = "g" * MAX_GUID, "g" * (MAX_GUID + 1)
    feed = ParsedFeed(
        URL,
        entries=(
            ParsedEntry("One", "https://hostile.example/1", guid=ok),
            ParsedEntry("Two", "https://hostile.example/2", guid=over),
        ),
    )
    one, two = normalise_feed(feed, "H", NOW)
    assert (one.guid, one.identity) == (ok, f"guid:{ok}")
    assert (two.guid, two.identity) == (None, "link:https://hostile.example/2")


def test_links_longer_than_max_url_are_not_usable() -> None:
    base = "https://hostile.example/"
    feed = ParsedFeed(
        URL,
        entries=(
            ParsedEntry("At the limit", base + "a" * (MAX_URL - len(base))),
            ParsedEntry("Over the limit", base + "a" * (MAX_URL - len(base) + 1)),
        ),
    )
    kept, dropped = normalise_feed(feed, "H", NOW)
    assert kept.url is not None
    assert len(kept.url) == MAX_URL
    assert dropped.url is None
    assert dropped.title == "Over the limit"  # the headline stays; only the link goes


def test_normalising_a_ten_megabyte_headline_reads_only_its_start() -> None:
    parsed = parse_feed(URL, corpus()["ten-mb-title"].body)
    tracemalloc.start()
    try:
        (entry,) = normalise_feed(parsed, "H", NOW)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(entry.title) <= 1_001
    assert peak < 5_000_000, f"{peak:,} bytes (the whole title was read: 153 MB)"


def test_entity_declarations_skip_the_fast_paths_expat_check() -> None:
    body = corpus()["billion-laughs"].body
    assert fast_path_fits(body, {}) is False
    parsed = parse_feed(URL, body)
    assert parsed.bozo
    assert parsed.bozo_message is not None
    assert parsed.bozo_message.startswith("entity declarations in the DOCTYPE were ignored")
    assert [e.title for e in normalise_feed(parsed, "H", NOW)] == ["&lol9;", "A survivor"]


# -- fetch: compression ----------------------------------------------------------------------


def _fetch(content: bytes, encoding: str, *, cap: int = 15 * 2**20) -> FetchResult:
    async def one_read() -> AsyncIterator[bytes]:
        yield content  # as one network read

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Accept-Encoding"] == ACCEPT_ENCODING
        return httpx.Response(200, headers={"Content-Encoding": encoding}, content=one_read())

    fetcher = Fetcher(
        user_agent="t", transport=httpx.MockTransport(handler), now=lambda: NOW, max_body_bytes=cap
    )
    (result,) = fetcher.fetch_all([FeedState("https://bomb.example/feed")])
    return result


def test_a_gzip_bomb_is_inflated_a_bounded_piece_at_a_time() -> None:
    bomb = gzip.compress(b"\0" * 64 * 2**20, compresslevel=9)  # 64 MiB in about 64 KiB
    assert len(bomb) < 100_000
    tracemalloc.start()
    try:
        result = _fetch(bomb, "gzip", cap=2**20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.error_kind == "too_large"
    assert peak < 8 * 2**20, f"{peak:,} bytes (the read was inflated whole: 64 MiB)"


def test_a_brotli_bomb_is_inflated_a_bounded_piece_at_a_time() -> None:
    bomb = brotli.compress(b"\0" * 256 * 2**20, quality=11)  # 256 MiB in a few hundred bytes
    assert len(bomb) < 10_000
    tracemalloc.start()
    try:
        result = _fetch(bomb, "br", cap=2**20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.error_kind == "too_large"
    assert peak < 8 * 2**20, f"{peak:,} bytes (the read was inflated whole: 256 MiB)"


def test_broken_brotli_is_a_transport_error() -> None:
    result = _fetch(b"this is not brotli at all", "br")
    assert result.error_kind == "transport"
    assert result.error is not None
    assert result.error.startswith("bad content encoding")


def test_brotli_is_asked_for_and_read_from_a_real_server(feed_server: FeedServer) -> None:
    url = feed_server.add(
        "/br.xml", brotli.compress(RSS), headers={"Content-Encoding": "br"}, etag='"1"'
    )
    fetcher = Fetcher(user_agent="t", now=lambda: NOW)
    (result,) = fetcher.fetch_all([FeedState(url)])
    assert result.error is None
    assert result.body == RSS
    assert "br" in feed_server.requests[-1].header("Accept-Encoding").split(", ")


RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>' * 50


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, as RFC 9110 says
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw, as some servers send it
        ("gzip, gzip", lambda b: gzip.compress(gzip.compress(b))),
        ("deflate, gzip", lambda b: gzip.compress(zlib.compress(b))),
        ("br", brotli.compress),
        ("gzip, br", lambda b: brotli.compress(gzip.compress(b))),
        ("identity", lambda b: b),
        ("utf-8", lambda b: b),  # nonsense some servers send: the body is taken as it is
    ],
)
def test_content_encodings_decode_as_before(
    encoding: str, encode: Callable[[bytes], bytes]
) -> None:
    result = _fetch(encode(RSS), encoding)
    assert result.error is None
    assert result.body == RSS


def test_a_body_that_is_not_what_its_encoding_says_is_a_transport_error() -> None:
    result = _fetch(b"not deflate at all", "deflate")
    assert result.error_kind == "transport"
    assert result.error is not None
    assert result.error.startswith("bad content encoding")
