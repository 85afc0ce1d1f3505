"""JSON Feed 1.0 and 1.1 -> ParsedFeed, checked against tests/data/jsonfeed (the spec's own
examples, and hostile documents written for these tests; see the folder's README)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aggregator import jsonfeed
from aggregator.errors import AggregatorError, ParseError
from aggregator.jsonfeed import looks_like_json_feed, parse_json_feed
from aggregator.models import ParsedEntry, ParsedFeed
from aggregator.parse import parse_feed

DATA = Path(__file__).parent / "data" / "jsonfeed"
URL = "https://news.example/feeds/world.json"
V1 = "https://jsonfeed.org/version/1"
V11 = "https://jsonfeed.org/version/1.1"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc,arg-type]


def parse(name: str, url: str = URL) -> ParsedFeed:
    return parse_json_feed(url, (DATA / name).read_bytes())


def feed(items: list[Any], **fields: Any) -> bytes:
    """A JSON Feed 1.1 document with ``items`` and any other top-level ``fields``."""
    return json.dumps({"version": V11, "title": "T", **fields, "items": items}).encode()


def one(item: dict[str, Any], **fields: Any) -> ParsedEntry:
    (entry,) = parse_json_feed(URL, feed([item], **fields)).entries
    return entry


# -- the spec's examples -------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_spec_simple_example(version: str) -> None:
    parsed = parse(f"spec-{version}-simple.json")
    assert parsed == ParsedFeed(
        url=URL,
        title="My Example Feed",
        link="https://example.org/",
        entries=(
            ParsedEntry(
                title="",  # untitled items keep an empty title, as in the RSS path
                link="https://example.org/second-item",
                guid="2",
                summary="This is a second item.",
            ),
            ParsedEntry(
                title="",
                link="https://example.org/initial-post",
                guid="1",
                summary="<p>Hello, world!</p>",
            ),
        ),
    )


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_spec_podcast_example(version: str) -> None:
    parsed = parse(f"spec-{version}-podcast.json")
    assert (parsed.title, parsed.link, parsed.bozo) == ("The Record", "http://therecord.co/", False)
    assert parsed.entries == (
        ParsedEntry(
            title="Special #1 - Chris Parrish",
            link="http://therecord.co/chris-parrish",
            guid="http://therecord.co/chris-parrish",
            # summary wins over content_text and content_html
            summary=(
                "Brent interviews Chris Parrish, co-host of The Record and one-half of "
                "Aged & Distilled."
            ),
            published=utc(2014, 5, 9, 21, 4),  # 14:04 -07:00
        ),
    )


@pytest.mark.parametrize(("version", "key"), [("1.0", "author"), ("1.1", "authors")])
def test_spec_microblog_example_author_shapes(version: str, key: str) -> None:
    """1.0 has a feed-level ``author`` object, 1.1 an ``authors`` array: the untitled item
    inherits the feed's author either way."""
    raw = json.loads((DATA / f"spec-{version}-microblog.json").read_bytes())
    assert [k for k in raw if k.startswith("author")] == [key]
    parsed = parse(f"spec-{version}-microblog.json")
    assert parsed.title == "Brent Simmons’s Microblog"
    assert parsed.link == "https://example.org/"
    assert parsed.bozo is False
    assert parsed.entries == (
        ParsedEntry(
            title="",
            link="https://example.org/2347259",
            guid="2347259",
            summary="Cats are neat. \n\nhttps://example.org/cats",
            published=utc(2016, 2, 9, 21, 22),
            author="Brent Simmons",
        ),
    )


# -- fields --------------------------------------------------------------------------------


def test_author_shapes() -> None:
    parsed = parse("authors.json")
    assert parsed.bozo is False
    assert [e.author for e in parsed.entries] == [
        "Amina Yusuf",  # the first of the item's authors
        "World Desk",  # inherited: the feed's first author with a name
        "Kofi Mensah",  # a 1.0 author object
        "New Field",  # authors preferred over author, as 1.1 asks
        "Lena Fischer",  # a bare name
        "World Desk",  # no usable name among the item's authors
    ]


def test_item_authors_do_not_leak_between_items() -> None:
    items = [{"id": "1", "title": "A", "authors": [{"name": "Ana"}]}, {"id": "2", "title": "B"}]
    assert [e.author for e in parse_json_feed(URL, feed(items)).entries] == ["Ana", None]


def test_relative_urls_resolve_against_the_home_page() -> None:
    parsed = parse("relative-urls.json")
    assert parsed.link == "https://news.example/world/"
    assert parsed.bozo is False
    assert [e.link for e in parsed.entries] == [
        "https://news.example/2026/01/15/floods",
        "https://news.example/world/kenya-votes.html",
        "https://other.example/report",  # external_url when there is no url
        "https://news.example/world/story-4",  # url beats external_url
        "https://cdn.example/x",
        None,  # "http://[oops" is not a URL
    ]


def test_relative_urls_without_a_home_page_resolve_against_the_feed_url() -> None:
    body = feed([{"id": "1", "title": "A", "url": "../story/1"}])
    (entry,) = parse_json_feed("https://news.example/feeds/world/all.json", body).entries
    assert entry.link == "https://news.example/feeds/story/1"


@pytest.mark.parametrize(
    ("home", "link", "bozo_message"),
    [
        ("mailto:desk@news.example", "mailto:desk@news.example", None),
        ("http://[oops", None, None),
        ("  ", None, None),
        (["https://a.example/"], None, "fields of the wrong type ignored: home_page_url"),
    ],
)
def test_a_home_page_that_is_not_a_web_url_is_not_a_base(
    home: Any, link: str | None, bozo_message: str | None
) -> None:
    body = feed([{"id": "1", "title": "A", "url": "story/1"}], home_page_url=home)
    parsed = parse_json_feed(URL, body)
    assert parsed.link == link
    assert parsed.bozo_message == bozo_message
    assert parsed.entries[0].link == "https://news.example/feeds/story/1"


def test_summary_falls_back_to_content_text_then_content_html() -> None:
    items = [
        {"id": "1", "title": "A", "summary": "S", "content_text": "T", "content_html": "<p>H</p>"},
        {"id": "2", "title": "B", "content_text": "T", "content_html": "<p>H</p>"},
        {"id": "3", "title": "C", "summary": " ", "content_text": "", "content_html": "<p>H</p>"},
        {"id": "4", "title": "D"},
    ]
    parsed = parse_json_feed(URL, feed(items))
    assert [e.summary for e in parsed.entries] == ["S", "T", "<p>H</p>", None]


def test_untitled_items_are_kept_only_with_a_summary_or_a_link() -> None:
    items = [
        {"id": "1"},  # nothing to show: dropped, as the RSS path drops such items
        {"id": "2", "content_text": "Only text"},
        {"id": "3", "external_url": "https://elsewhere.example/3"},
        {"id": "4", "title": "  ", "summary": "  ", "url": " "},  # blank is absent
    ]
    parsed = parse_json_feed(URL, feed(items))
    assert [(e.guid, e.title) for e in parsed.entries] == [("2", ""), ("3", "")]
    assert parsed.bozo is False


@pytest.mark.parametrize(
    ("value", "guid"),
    [
        ("text-id", "text-id"),
        (" padded ", " padded "),  # kept as given, like RSS GUIDs
        (12345, "12345"),  # JSON Feed 1.0: a number is coerced to a string
        (-7, "-7"),
        (12.0, "12"),  # as JavaScript prints it
        (1.5, "1.5"),
        (True, None),
        ("", None),
        ("   ", None),
        (None, None),
        (["1"], None),
        ({"id": "1"}, None),
    ],
)
def test_ids(value: Any, guid: str | None) -> None:
    item = {"id": value, "title": "A"}
    parsed = parse_json_feed(URL, feed([item]))
    assert parsed.entries[0].guid == guid
    # an item without a usable id is kept (normalise falls back to its link), but flagged
    assert parsed.bozo is (guid is None)
    assert parsed.bozo_message == (None if guid else "1 item has no id")


def test_items_without_ids_are_counted() -> None:
    items = [{"title": "A"}, {"title": "B"}, {"id": "3", "title": "C"}]
    assert parse_json_feed(URL, feed(items)).bozo_message == "2 items have no id"


def test_dates() -> None:
    parsed = parse("dates.json")
    assert parsed.bozo is False
    assert [e.published for e in parsed.entries] == [
        utc(2026, 1, 15, 9, 30),
        utc(2026, 1, 15, 4, 30),  # 10:00 +05:30
        utc(2026, 1, 15, 9, 30),  # lower-case t and z (RFC 3339 allows them)
        utc(2026, 1, 15, 14, 30),  # nanoseconds, -05:00
        utc(2026, 1, 15, 9, 30),  # no offset: UTC, as in the RSS path
        None,  # February 30th
        None,  # year 9999 at -01:00 is past the end of datetime in UTC
        None,  # RFC 822 is not RFC 3339
        None,  # empty
        None,  # a leap second
    ]
    assert parsed.entries[0].updated == utc(2026, 1, 15, 10, 0)  # fraction dropped
    assert parsed.entries[6].updated is None  # year 1 at +01:00 is before it
    for e in parsed.entries:
        for when in (e.published, e.updated):
            assert when is None or (when.tzinfo is UTC and when.microsecond == 0)


def test_a_very_long_date_is_not_read() -> None:
    padded = "2026-01-15T09:30:00Z" + " " * 100
    assert one({"id": "1", "title": "A", "date_published": padded}).published is None


def test_tags_become_categories() -> None:
    parsed = parse_json_feed(
        URL, feed([{"id": "1", "title": "A", "tags": ["World", " Africa ", "World", "", "Africa"]}])
    )
    assert parsed.entries[0].categories == ("World", "Africa")
    assert parsed.bozo is False


def test_a_tag_that_is_not_a_string_is_ignored_and_flagged() -> None:
    parsed = parse_json_feed(URL, feed([{"id": "1", "title": "A", "tags": ["World", 3, ["x"]]}]))
    assert parsed.entries[0].categories == ("World",)
    assert parsed.bozo_message == "fields of the wrong type ignored: tags"


def test_a_bare_string_is_one_tag_or_an_author_name() -> None:
    parsed = parse_json_feed(
        URL, feed([{"id": "1", "title": "A", "tags": "World", "author": "Ana"}])
    )
    assert (parsed.entries[0].categories, parsed.entries[0].author) == (("World",), "Ana")
    assert parsed.bozo is False


def test_null_fields_are_absent_fields() -> None:
    fields = ["url", "external_url", "summary", "content_text", "date_published", "date_modified"]
    item = {"id": "1", "title": "A", "authors": None, "author": None, "tags": None}
    parsed = parse_json_feed(URL, feed([item | dict.fromkeys(fields)], home_page_url=None))
    assert parsed.entries == (ParsedEntry(title="A", guid="1"),)
    assert parsed.bozo is False


def test_wrong_types_everywhere_give_a_partial_parse() -> None:
    parsed = parse("wrong-types.json")
    assert (parsed.title, parsed.link) == (None, None)
    assert parsed.bozo is True
    assert parsed.bozo_message == (
        "5 items are not objects (skipped); 1 item has no id; fields of the wrong type ignored: "
        "title, home_page_url, authors, url, external_url, summary, content_text, "
        "date_published, date_modified, author, tags"
    )
    assert parsed.entries == (
        ParsedEntry(title="Only the title is usable", categories=("World", "Africa")),
        ParsedEntry(
            title="", guid="w2", summary="A summary keeps the untitled item", categories=("single",)
        ),
        ParsedEntry(title="Still read after the junk", link="https://x.example/4", guid="w4"),
    )


def test_one_item_that_is_not_an_object() -> None:
    parsed = parse_json_feed(URL, feed([{"id": "1", "title": "A"}, "junk"]))
    assert len(parsed.entries) == 1
    assert parsed.bozo_message == "1 item is not an object (skipped)"


def test_an_empty_feed_is_not_an_error() -> None:
    parsed = parse_json_feed(URL, feed([], home_page_url="https://e.example/"))
    assert parsed == ParsedFeed(url=URL, title="T", link="https://e.example/")


# -- versions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (V1, None),
        (V11, None),
        (
            "https://jsonfeed.org/version/2",
            "unknown JSON Feed version 'https://jsonfeed.org/version/2'",
        ),
        (
            "http://jsonfeed.org/version/1",
            "unknown JSON Feed version 'http://jsonfeed.org/version/1'",
        ),
        (
            "https://example.com/my-format",
            "version 'https://example.com/my-format' is not a JSON Feed version",
        ),
        (1.1, "version is a JSON number, not a JSON Feed version"),
        (["1.1"], "version is a JSON array, not a JSON Feed version"),  # not hashable
        ({"v": 1}, "version is a JSON object, not a JSON Feed version"),
        (None, "no JSON Feed version"),
    ],
)
def test_versions(version: Any, message: str | None) -> None:
    doc: dict[str, Any] = {
        "title": "T",
        "items": [{"id": "1", "title": "A", "url": "https://v.example/1"}],
    }
    if version is not None:
        doc["version"] = version
    parsed = parse_json_feed(URL, json.dumps(doc).encode())
    assert len(parsed.entries) == 1  # read anyway
    assert parsed.bozo is (message is not None)
    assert parsed.bozo_message == (None if message is None else f"{message} (read as 1.1)")


def test_unknown_version_fixture() -> None:
    parsed = parse("unknown-version.json")
    assert parsed.bozo is True
    assert parsed.bozo_message == (
        "unknown JSON Feed version 'https://jsonfeed.org/version/2' (read as 1.1)"
    )
    assert [e.title for e in parsed.entries] == ["Read anyway"]


def test_a_huge_version_string_gives_a_short_message() -> None:
    parsed = parse_json_feed(URL, feed([], version="x" * 100_000))
    assert parsed.bozo_message is not None
    assert len(parsed.bozo_message) < 200


# -- bytes and JSON quirks -----------------------------------------------------------------


def test_byte_order_mark_is_skipped() -> None:
    parsed = parse("bom.json")
    assert parsed.bozo is False
    assert [e.title for e in parsed.entries] == ["Café in Zürich"]


def test_utf16_document() -> None:
    raw = (DATA / "utf-16.json").read_bytes()
    assert raw.startswith(b"\xff\xfe{\x00")
    parsed = parse("utf-16.json")
    assert parsed.bozo is False
    assert [e.title for e in parsed.entries] == ["Café in Zürich"]


def test_invalid_utf8_is_replaced_and_flagged() -> None:
    parsed = parse("invalid-utf8.json")
    assert parsed.bozo is True
    assert parsed.bozo_message is not None
    assert parsed.bozo_message.startswith("invalid UTF-8 from byte ")
    assert [e.title for e in parsed.entries] == ["Stray \ufffd byte", "Caf\ufffd owners"]


def test_invalid_utf16_is_replaced_and_flagged() -> None:
    raw = feed([{"id": "1", "title": "AB"}]).decode().encode("utf-16")  # with a BOM
    raw = raw.replace("AB".encode("utf-16-le"), b"\x00\xd8B\x00")  # a lone high surrogate
    parsed = parse_json_feed(URL, raw)
    assert parsed.bozo_message is not None
    assert parsed.bozo_message.startswith("invalid UTF-16 from byte ")
    assert parsed.entries[0].title == "\ufffdB"


def test_lone_surrogates_are_replaced_and_flagged() -> None:
    parsed = parse("lone-surrogates.json")
    assert parsed.bozo_message == "lone surrogates in strings (replaced)"
    (entry,) = parsed.entries
    assert entry.title == "Broken \ufffd half"
    assert entry.summary == "A whole pair \U0001f600"  # an escaped pair is one character
    assert entry.categories == ("\ufffd", "ok")
    for text in (entry.title, entry.summary, *entry.categories):
        text.encode("utf-8")  # storable


def test_duplicate_keys_last_one_wins() -> None:
    parsed = parse("duplicate-keys.json")
    assert parsed.bozo is False
    assert parsed.title == "Second title"
    assert parsed.entries == (ParsedEntry(title="Second", link="https://dup.example/b", guid="k1"),)


def test_huge_numbers() -> None:
    parsed = parse("huge-numbers.json")
    first, second = parsed.entries
    assert first.guid == "9" * 5000  # too long for int(): kept as its digits
    assert second.guid is None  # 1e999 is infinite: no id
    assert parsed.bozo_message == "1 item has no id"


def test_nested_garbage_is_ignored() -> None:
    parsed = parse("nested-garbage.json")
    assert parsed.bozo_message == "fields of the wrong type ignored: summary, authors, tags"
    assert parsed.entries == (
        ParsedEntry(title="Survives", link="https://nest.example/1", guid="n1"),
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "invalid JSON: Expecting value"),
        (b"   \n", "invalid JSON: Expecting value"),
        (b"<rss/>", "invalid JSON: Expecting value"),
        (b"\xff\xfe\xfd", "invalid JSON"),
        (b'{"items": []} trailing', "invalid JSON: Extra data"),
        (b"null", "a JSON null, not a JSON Feed object"),
        (b'"items"', "a JSON string, not a JSON Feed object"),
        (b"42", "a JSON number, not a JSON Feed object"),
        (b"true", "a JSON boolean, not a JSON Feed object"),
        (b"NaN", "a JSON number, not a JSON Feed object"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply"),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"_x": '
            + b"[" * 100_000
            + b"]" * 100_000
            + b"}]}",
            "JSON nested too deeply",
        ),
        (b'{"items": null}', "a JSON object with no items, not a list"),
        (b'{"items": "[]"}', "a JSON object with items is a JSON string, not a list"),
    ],
    ids=lambda v: v[:30].decode("latin-1") if isinstance(v, bytes) else None,
)
def test_unusable_bodies_raise_one_line_parse_errors(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_json_feed(URL, body)
    assert info.value.url == URL
    assert info.value.kind == "parse"
    assert isinstance(info.value, AggregatorError)
    message = str(info.value)
    assert message.startswith(f"{URL}: not a usable feed ({reason}")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("truncated.json", "invalid JSON: "),
        ("not-an-object.json", "a JSON array, not a JSON Feed object"),
        ("no-items.json", "a JSON object with no items, not a list"),
        ("items-not-a-list.json", "a JSON object with items is a JSON object, not a list"),
    ],
)
def test_unusable_fixtures_raise_parse_error(name: str, reason: str) -> None:
    with pytest.raises(
        ParseError, match=r"^https://news\.example/feeds/world\.json: not a usable feed \("
    ):
        parse(name)
    with pytest.raises(ParseError) as info:
        parse(name)
    assert reason in info.value.message


def test_a_bug_in_the_reader_is_a_parse_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object) -> None:
        raise KeyError("oops")

    monkeypatch.setattr(jsonfeed._Reader, "entry", broken)
    with pytest.raises(ParseError, match=r"JSON Feed reader failed: KeyError: 'oops'") as info:
        parse("spec-1.1-simple.json")
    assert isinstance(info.value.__cause__, KeyError)


# Every fixture, and what it must give: "ok" (not bozo), "bozo" (usable, flagged), "error".
OUTCOMES = {
    "spec-1.0-simple.json": "ok",
    "spec-1.1-simple.json": "ok",
    "spec-1.0-podcast.json": "ok",
    "spec-1.1-podcast.json": "ok",
    "spec-1.0-microblog.json": "ok",
    "spec-1.1-microblog.json": "ok",
    "authors.json": "ok",
    "relative-urls.json": "ok",
    "dates.json": "ok",
    "bom.json": "ok",
    "utf-16.json": "ok",
    "duplicate-keys.json": "ok",
    "wrong-types.json": "bozo",
    "unknown-version.json": "bozo",
    "invalid-utf8.json": "bozo",
    "lone-surrogates.json": "bozo",
    "huge-numbers.json": "bozo",
    "nested-garbage.json": "bozo",
    "truncated.json": "error",
    "not-an-object.json": "error",
    "no-items.json": "error",
    "items-not-a-list.json": "error",
}


def test_every_fixture_has_an_expected_outcome() -> None:
    assert {p.name for p in DATA.glob("*.json")} == set(OUTCOMES)


@pytest.mark.parametrize("name", sorted(OUTCOMES))
def test_every_fixture_parses_or_fails_cleanly(name: str) -> None:
    raw = (DATA / name).read_bytes()
    if not name.startswith("spec-"):  # our fixtures say what they test
        text = raw.decode(json.detect_encoding(raw), "replace")
        assert '"_fixture' in text
        assert "expect" in text.lower()
    assert looks_like_json_feed(raw, {}) is (name != "not-an-object.json")
    if OUTCOMES[name] == "error":
        with pytest.raises(ParseError):
            parse_json_feed(URL, raw)
        return
    parsed = parse_json_feed(URL, raw)
    _check_shape(parsed)
    assert parsed.entries
    assert parsed.bozo is (OUTCOMES[name] == "bozo")


def _check_shape(parsed: ParsedFeed) -> None:
    """What every ParsedFeed from this module looks like, whatever the input."""
    assert isinstance(parsed.entries, tuple)
    assert parsed.bozo is (parsed.bozo_message is not None)
    if parsed.bozo_message is not None:
        assert "\n" not in parsed.bozo_message
    for text in (parsed.title, parsed.link, parsed.bozo_message):
        assert text is None or (isinstance(text, str) and text.encode("utf-8"))
    for e in parsed.entries:
        assert isinstance(e.title, str)
        assert e.title or e.summary or e.link  # nothing to show: dropped
        for text in (e.title, e.link, e.guid, e.summary, e.author, *e.categories):
            assert text is None or isinstance(text, str)
            if text:
                text.encode("utf-8")  # no lone surrogates
        assert isinstance(e.categories, tuple)
        for when in (e.published, e.updated):
            assert when is None or when.tzinfo is UTC


# -- property tests ------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(codec=None), max_size=30),  # surrogates included
    st.sampled_from(
        ["2026-01-15T09:30:00Z", "2026-01-15t09:30:00+05:30", "/relative", "http://[x"]
    ),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_FIELDS = [
    "id",
    "url",
    "external_url",
    "title",
    "summary",
    "content_text",
    "content_html",
    "date_published",
    "date_modified",
    "author",
    "authors",
    "tags",
]
_items = st.one_of(st.fixed_dictionaries({}, optional=dict.fromkeys(_FIELDS, _json)), _json)
_docs = st.fixed_dictionaries(
    {"items": st.lists(_items, max_size=5)},
    optional={
        "version": st.one_of(st.sampled_from([V1, V11, "https://jsonfeed.org/version/9"]), _json),
        "title": _json,
        "home_page_url": st.one_of(
            st.sampled_from(["https://h.example/a/", "/rel/", "http://[x"]), _json
        ),
        "author": _json,
        "authors": _json,
    },
)


@settings(derandomize=True, database=None, deadline=None, max_examples=300)
@given(_docs)
def test_any_feed_shaped_document_gives_a_usable_parse(doc: dict[str, Any]) -> None:
    body = json.dumps(doc).encode()  # ensure_ascii: lone surrogates become escapes
    _check_shape(parse_json_feed(URL, body))


@settings(derandomize=True, database=None, deadline=None, max_examples=300)
@given(st.one_of(st.binary(max_size=200), _json.map(lambda v: json.dumps(v).encode())))
@example(b'{"items": [' + b"[" * 5000 + b"]" * 5000 + b"]}")
@example(b"\xef\xbb\xbf{")
@example(b"\xff\xfe")
def test_any_bytes_give_a_parse_or_a_parse_error(body: bytes) -> None:
    try:
        parsed = parse_json_feed(URL, body)
    except ParseError as e:
        message = str(e)
    else:
        _check_shape(parsed)
        return
    assert "\n" not in message


@settings(derandomize=True, database=None, deadline=None, max_examples=200)
@given(st.binary(max_size=64), st.dictionaries(st.text(max_size=20), st.text(max_size=40)))
def test_looks_like_json_feed_never_raises(body: bytes, headers: dict[str, str]) -> None:
    assert isinstance(looks_like_json_feed(body, headers), bool)


def test_dates_never_raise() -> None:
    # every character position of a good date replaced by a few odd ones
    good = "2026-01-15T09:30:00.5+05:30"
    for i in range(len(good)):
        for c in "9Zz+-:. \x00\ud800٣":
            value = good[:i] + c + good[i + 1 :]
            when = jsonfeed._date(value)
            assert when is None or when.tzinfo is UTC


# -- dispatch ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        (b'{"items": []}', {}, True),
        (b'  \n\t{"items": []}', {}, True),
        (b'\xef\xbb\xbf {"items": []}', {}, True),
        ('{"items": []}'.encode("utf-16"), {}, True),
        ('{"items": []}'.encode("utf-32"), {}, True),
        ('\ufeff{"items": []}'.encode("utf-16-be"), {}, True),
        (b'{"items": []}', {"content-type": "application/rss+xml"}, True),  # the body says JSON
        (b"[]", {"Content-Type": "application/feed+json; charset=utf-8"}, True),
        (b"", {"content-type": "Application/JSON"}, True),
        (b"oops", {"CONTENT-TYPE": "application/json"}, True),
        (b"<rss/>", {"content-type": "application/json"}, False),  # the body says XML
        (
            b'\xef\xbb\xbf<?xml version="1.0"?><rss/>',
            {"content-type": "application/feed+json"},
            False,
        ),
        (b"<rss/>", {}, False),
        (b"", {}, False),
        (b"[]", {}, False),
        (b"[]", {"content-type": "text/html"}, False),
        (b"oops", {"content-type": "application/jsonp"}, False),
    ],
)
def test_looks_like_json_feed(body: bytes, headers: dict[str, str], expected: bool) -> None:
    assert looks_like_json_feed(body, headers) is expected


def test_parse_feed_reads_json_feed() -> None:
    """Through the parse stage's entry point: passes once parse_feed dispatches JSON Feed."""
    body = (DATA / "spec-1.1-podcast.json").read_bytes()
    parsed = parse_feed(URL, body, {"Content-Type": "application/feed+json"})
    assert parsed == parse_json_feed(URL, body)
    assert [e.title for e in parsed.entries] == ["Special #1 - Chris Parrish"]
