"""`aggregator feeds add` and `aggregator feeds list`, and the pure functions under `add`:
sniffing a response and autodiscovering a page's feeds.

`feeds add` runs end to end against the loopback ``feed_server`` (conftest.py): nothing here
reaches the internet.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FeedServer
from test_pipeline import atom, rss

import aggregator.cli
from aggregator.cli import cli
from aggregator.config import load_config
from aggregator.discover import FEED, HTML, Alternate, discover, sniff
from aggregator.models import FetchResult
from aggregator.normalise import normalise_feed
from aggregator.parse import parse_feed
from aggregator.store import Store

FEEDS_YAML = """\
# Sources for the test desk.
settings:
  database: agg.db
  output_dir: site
  timeout: 5

sources:
  # the wire
  - name: Wire
    url: https://wire.example/rss   # keep first
# the end
"""
RSS = rss("Alpha", [("a1", "Floods hit Mozambique", "https://alpha.test/a1", 1)])
ATOM = atom("Beta", [("b1", "Quake in Chile", "https://beta.test/b1", 2)])
XML = {"Content-Type": "application/rss+xml"}
PAGE = {"Content-Type": "text/html; charset=utf-8"}


def page(*links: str, base: str = "") -> bytes:
    head = (f'<base href="{base}">' if base else "") + "".join(links)
    return f"<!DOCTYPE html><html><head><title>Home</title>{head}</head><body><p>Hi</body>".encode()


def link(
    href: str, kind: str = "application/rss+xml", title: str = "", rel: str = "alternate"
) -> str:
    return f'<link rel="{rel}" type="{kind}" href="{href}" title="{title}">'


def write_feeds(tmp_path: Path, text: str = FEEDS_YAML) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def invoke(feeds: Path, *args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-c", str(feeds), "feeds", *args], input=input)
    return result.exit_code, result.output


def added(feeds: Path) -> list[tuple[str, str, str, str | None, str | None]]:
    """The sources after the configured one, as (name, url, kind, region, topic)."""
    return [(s.name, s.url, s.kind, s.region, s.topic) for s in load_config(feeds).sources[1:]]


# -- sniff ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (RSS, "text/html", FEED),  # the bytes win over a wrong label
        (ATOM, None, FEED),
        (b"\xef\xbb\xbf  <!-- hi --><?xml-stylesheet href='x'?><rdf:RDF/>", None, FEED),
        (b'<?xml version="1.0"?>\n<!DOCTYPE rss><rss version="0.91"/>', "text/xml", FEED),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', None, FEED),
        (b'{"version": "1.0"}', "application/json", None),
        (b"{not json", "application/json", None),
        (b"[1, 2]", "application/json", None),
        (b"<!doctype html><title>x</title>", None, HTML),
        (b"<HTML><body>x</body></HTML>", "text/plain", HTML),
        (b"<div>fragment</div>", "text/html; charset=utf-8", HTML),
        (b"<div>fragment</div>", None, None),
        (b"plain text", "text/plain", None),
        (b"", None, None),
    ],
)
def test_sniff(body: bytes, content_type: str | None, expected: str | None) -> None:
    assert sniff(body, content_type) == expected


# -- discover ---------------------------------------------------------------------------------


def test_discover_resolves_relative_hrefs_in_document_order() -> None:
    body = page(
        link("/feed.xml", title="  All   stories "),
        link("atom.xml", "application/atom+xml; charset=utf-8"),
        link("//cdn.example.net/feed.json", "application/feed+json", "JSON"),
        link("feed.xml"),  # the same URL again
        link("/style.css", "text/css", rel="stylesheet"),
        link("/print", "text/html"),
        link("/comments.xml", rel="ALTERNATE Feed"),
        link("javascript:alert(1)"),
        link("ftp://files.example/feed.xml"),
        link(""),
        '<link rel="alternate" type="application/rss+xml">',
        link("/not-alternate.xml", rel="feed"),
    )
    assert discover("https://news.example/section/index.html", body) == [
        Alternate("https://news.example/feed.xml", "application/rss+xml", "All stories"),
        Alternate("https://news.example/section/atom.xml", "application/atom+xml"),
        Alternate("https://cdn.example.net/feed.json", "application/feed+json", "JSON"),
        Alternate("https://news.example/section/feed.xml", "application/rss+xml"),
        Alternate("https://news.example/comments.xml", "application/rss+xml"),
    ]


def test_discover_uses_the_base_element() -> None:
    body = page(link("rss.xml"), base="/feeds/")
    assert discover("https://news.example/a/b", body) == [
        Alternate("https://news.example/feeds/rss.xml", "application/rss+xml")
    ]


def test_plain_json_counts_only_without_other_feeds() -> None:
    rest_api = link("/wp-json/wp/v2/pages/2", "application/json", "JSON")
    assert discover("https://blog.example/", page(rest_api, link("/feed/"))) == [
        Alternate("https://blog.example/feed/", "application/rss+xml")
    ]
    assert discover("https://blog.example/", page(rest_api)) == [
        Alternate("https://blog.example/wp-json/wp/v2/pages/2", "application/json", "JSON")
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        page(),
        b"<html><head><link rel=alternate type=application/rss+xml href=/x",  # cut short
        b"\x00\x01\x02 binary",
        b"<!-- only a comment -->",
    ],
)
def test_discover_finds_nothing_without_links(body: bytes) -> None:
    assert discover("https://news.example/", body) == []


def test_discover_survives_unclosed_tags() -> None:
    body = b"<p>unclosed<link rel=alternate type=application/atom+xml href=a.xml><div><p><b>"
    assert discover("http://n.example/", body) == [
        Alternate("http://n.example/a.xml", "application/atom+xml")
    ]


# -- feeds add ---------------------------------------------------------------------------------


def test_add_a_feed_url_names_it_after_its_title(tmp_path: Path, feed_server: FeedServer) -> None:
    feeds = write_feeds(tmp_path)
    url = feed_server.add("/alpha.xml", RSS, headers=XML)
    code, output = invoke(feeds, "add", url, "--region", "middle east", "--topic", "ECONOMY")
    assert code == 0, output
    assert output == f"added Alpha ({url}) to {feeds}\n"
    assert added(feeds) == [("Alpha", url, "feed", "Middle East", "economy")]
    text = feeds.read_text()
    assert text.startswith(FEEDS_YAML.removesuffix("# the end\n"))
    assert text.endswith("    topic: economy\n# the end\n")
    # the request went through the fetcher (its User-Agent)
    assert (
        feed_server.requests[0]
        .header(
            "User-Agent",
        )
        .startswith("aggregator/")
    )


def test_add_discovers_the_only_feed_of_a_page(tmp_path: Path, feed_server: FeedServer) -> None:
    feeds = write_feeds(tmp_path)
    feed = feed_server.add(
        "/feeds/world.atom", ATOM, headers={"Content-Type": "application/atom+xml"}
    )
    url = feed_server.add(
        "/world/", page(link("../feeds/world.atom", "application/atom+xml")), headers=PAGE
    )
    code, output = invoke(feeds, "add", url, "--name", "  Beta World ")
    assert code == 0, output
    assert output == f"added Beta World ({feed}) to {feeds}\n"
    assert added(feeds) == [("Beta World", feed, "feed", None, None)]
    assert [r.path for r in feed_server.requests] == ["/world/", "/feeds/world.atom"]


def test_add_resolves_links_against_a_redirected_page(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feeds = write_feeds(tmp_path)
    feed_server.add("/old", status=301, headers={"Location": "/new/home"})
    feed_server.add("/new/home", page(link("rss")), headers=PAGE)
    feed = feed_server.add("/new/rss", RSS, headers=XML)
    assert invoke(feeds, "add", feed_server.url("/old"))[0] == 0
    assert added(feeds) == [("Alpha", feed, "feed", None, None)]


def test_a_permanently_moved_feed_is_added_at_its_new_address(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feeds = write_feeds(tmp_path)
    feed_server.add("/old.xml", status=308, headers={"Location": "/new.xml"})
    new = feed_server.add("/new.xml", RSS, headers=XML)
    assert invoke(feeds, "add", feed_server.url("/old.xml"))[0] == 0
    assert added(feeds) == [("Alpha", new, "feed", None, None)]


def test_several_feeds_need_a_pick(tmp_path: Path, feed_server: FeedServer) -> None:
    feeds = write_feeds(tmp_path)
    before = feeds.read_bytes()
    feed_server.add("/news.rss", RSS, headers=XML)
    atom_url = feed_server.add("/news.atom", ATOM, headers={"Content-Type": "application/atom+xml"})
    url = feed_server.add(
        "/",
        page(link("/news.rss", title="News (RSS)"), link("/news.atom", "application/atom+xml")),
        headers=PAGE,
    )
    listing = [
        f"1. News (RSS) [application/rss+xml] {feed_server.url('/news.rss')}",
        f"2. (untitled) [application/atom+xml] {atom_url}",
    ]
    code, output = invoke(feeds, "add", url)
    assert code == 1
    assert output.splitlines() == [
        *listing,
        f"Error: {url}: the page lists 2 feeds; choose one with --pick N",
    ]
    assert feeds.read_bytes() == before
    code, output = invoke(feeds, "add", url, "--pick", "3")
    assert code == 2
    assert "Invalid value for --pick: the page lists 2 feed(s); pick 1 to 2" in output
    assert feeds.read_bytes() == before
    code, output = invoke(feeds, "add", url, "--pick", "2")
    assert code == 0, output
    assert output.splitlines() == [*listing, f"added Beta ({atom_url}) to {feeds}"]
    assert added(feeds) == [("Beta", atom_url, "feed", None, None)]


def test_on_a_terminal_the_feed_is_chosen_at_a_prompt(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aggregator.cli, "_interactive", lambda: True)
    feeds = write_feeds(tmp_path)
    first = feed_server.add("/a.rss", RSS, headers=XML)
    feed_server.add("/b.atom", ATOM, headers=XML)
    url = feed_server.add("/", page(link("/a.rss"), link("/b.atom")), headers=PAGE)
    code, output = invoke(feeds, "add", url, input="5\n1\n")
    assert code == 0, output
    assert "Add which feed: " in output
    assert added(feeds) == [("Alpha", first, "feed", None, None)]


def test_a_page_without_feeds_suggests_kind_html(tmp_path: Path, feed_server: FeedServer) -> None:
    feeds = write_feeds(tmp_path)
    before = feeds.read_bytes()
    url = feed_server.add("/plain", page(), headers=PAGE)
    code, output = invoke(feeds, "add", url)
    assert (code, output) == (
        1,
        f"Error: {url}: the page advertises no feed; to follow its headline links, "
        "add it with --kind html\n",
    )
    assert feeds.read_bytes() == before


def test_kind_html_adds_the_page_without_fetching(tmp_path: Path, feed_server: FeedServer) -> None:
    feeds = write_feeds(tmp_path)
    url = feed_server.url("/world/story")
    code, output = invoke(
        feeds, "add", url, "--kind", "html", "--selector", " section.explore a ", "--region", "Asia"
    )
    assert code == 0, output
    assert not feed_server.requests
    [source] = load_config(feeds).sources[1:]
    assert (source.name, source.kind, source.selector, source.region) == (
        "127.0.0.1",
        "html",
        "section.explore a",
        "Asia",
    )
    assert feeds.read_text().endswith(
        f"  - url: {url}\n    kind: html\n    selector: section.explore a\n"
        "    region: Asia\n# the end\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ftp://x.example/feed"], "Error: URL: not an http(s) URL: 'ftp://x.example/feed'"),
        (["https://wire.example/rss"], "already has https://wire.example/rss (as 'Wire')"),
        (["HTTPS://WIRE.example:443/rss#x"], "already has"),
        (["https://x.example/", "--selector", "a"], "Error: --selector needs --kind html"),
        (["https://x.example/", "--kind", "html", "--selector", "a[[["], "not a CSS selector"),
        (["https://x.example/", "--region", "Mars"], "Invalid value for --region: expected one of"),
        (["https://x.example/", "--topic", "gossip"], "Invalid value for --topic: expected one of"),
        (["https://x.example/", "--name", " "], "Invalid value for --name: must not be empty"),
    ],
)
def test_add_refuses_bad_input_before_fetching(
    tmp_path: Path, feed_server: FeedServer, args: list[str], message: str
) -> None:
    feeds = write_feeds(tmp_path)
    before = feeds.read_bytes()
    code, output = invoke(feeds, "add", *args)
    assert code != 0
    assert message in output
    assert feeds.read_bytes() == before
    assert not feed_server.requests


def test_add_refuses_a_discovered_feed_already_configured(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed = feed_server.add("/feed.xml", RSS, headers=XML)
    feeds = write_feeds(tmp_path, FEEDS_YAML + f"  - {feed}\n")
    url = feed_server.add("/", page(link("/feed.xml")), headers=PAGE)
    code, output = invoke(feeds, "add", url)
    assert (code, output) == (1, f"Error: {feeds}: already has {feed} (as '127.0.0.1')\n")


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ({"status": 404, "body": b"gone"}, "HTTP 404 Not Found"),
        (
            {"body": b"just text", "headers": {"Content-Type": "text/plain"}},
            "neither a feed nor an HTML page (text/plain)",
        ),
        ({"body": b"just text"}, "neither a feed nor an HTML page (no Content-Type)"),
    ],
)
def test_add_reports_what_the_url_answered(
    tmp_path: Path, feed_server: FeedServer, route: dict[str, object], message: str
) -> None:
    feeds = write_feeds(tmp_path)
    before = feeds.read_bytes()
    url = feed_server.add("/x", **route)
    code, output = invoke(feeds, "add", url)
    assert (code, output) == (1, f"Error: {url}: {message}\n")
    assert feeds.read_bytes() == before


def test_a_linked_feed_that_is_not_one_is_refused(tmp_path: Path, feed_server: FeedServer) -> None:
    feeds = write_feeds(tmp_path)
    broken = feed_server.add("/feed", page(), headers=PAGE)
    url = feed_server.add("/", page(link("/feed")), headers=PAGE)
    code, output = invoke(feeds, "add", url)
    assert (code, output) == (
        1,
        f"Error: {broken}: the page links to it as a feed, but it is not one\n",
    )


@pytest.mark.parametrize(
    "body",
    [
        b'<rss version="2.0"><channel><item><title>x</title></item></channel></rss>',
        b"<rss",  # not even a parseable feed: no title either
    ],
)
def test_a_feed_without_a_title_is_named_after_its_host(
    tmp_path: Path, feed_server: FeedServer, body: bytes
) -> None:
    feeds = write_feeds(tmp_path)
    url = feed_server.add("/t.xml", body, headers=XML)
    assert invoke(feeds, "add", url)[0] == 0
    assert added(feeds) == [("127.0.0.1", url, "feed", None, None)]
    assert feeds.read_text().endswith(f"  - url: {url}\n# the end\n")


def test_add_a_json_feed_found_on_a_page(tmp_path: Path, feed_server: FeedServer) -> None:
    feeds = write_feeds(tmp_path)
    body = b'{"version": "https://jsonfeed.org/version/1.1", "title": "Gamma  News", "items": []}'
    feed = feed_server.add("/feed.json", body, headers={"Content-Type": "application/feed+json"})
    url = feed_server.add("/", page(link("/feed.json", "application/feed+json")), headers=PAGE)
    assert invoke(feeds, "add", url)[0] == 0
    assert added(feeds) == [("Gamma News", feed, "feed", None, None)]


# -- feeds list ---------------------------------------------------------------------------------


def test_list_without_a_database(tmp_path: Path) -> None:
    feeds = write_feeds(
        tmp_path,
        FEEDS_YAML + "  - {url: 'https://p.example/', kind: html, region: Europe, topic: sport}\n",
    )
    code, output = invoke(feeds, "list")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].split() == [
        "source", "kind", "region", "topic", "state", "entries", "fails", "last", "success",
        "next", "fetch", "last", "problem",
    ]  # fmt: skip
    assert lines[1].split() == ["Wire", "feed", "-", "-", "new", "0", "never", "never"]
    assert lines[2].split() == [
        "p.example",
        "html",
        "Europe",
        "sport",
        "new",
        "0",
        "never",
        "never",
    ]
    assert lines[3] == "2 sources (1 feed, 1 html)"
    assert lines[4] == f"no database yet ({tmp_path / 'agg.db'}): health shows after the first run"
    assert not (tmp_path / "agg.db").exists()
    code, output = invoke(feeds, "list", "--json")
    records = [json.loads(line) for line in output.splitlines()]
    assert [(r["name"], r["kind"], r["state"], r["entries"]) for r in records] == [
        ("Wire", "feed", "new", 0),
        ("p.example", "html", "new", 0),
    ]
    assert not (tmp_path / "agg.db").exists()


def test_list_shows_health_from_the_database(tmp_path: Path) -> None:
    good, bad = "https://good.example/rss", "https://bad.example/rss"
    feeds = write_feeds(
        tmp_path,
        "settings: {database: agg.db, output_dir: site, timeout: 5}\nsources:\n"
        f"  - {{name: Good, url: '{good}', interval: 2h}}\n  - {{name: Bad, url: '{bad}'}}\n",
    )
    # the health a pass leaves behind: Good fetched with one entry, Bad failing
    now = datetime.now(UTC)
    store = Store.open(tmp_path / "agg.db")
    try:
        store.sync_sources(load_config(feeds).sources, now)
        store.record_success(
            FetchResult(good, now - timedelta(minutes=5), status=200),
            parse_feed(good, RSS),
            normalise_feed(parse_feed(good, RSS), "Good", now),
            now + timedelta(hours=2),
        )
        store.record_failure(
            FetchResult(bad, now, status=500),
            "http",
            "HTTP 500 Internal Server Error",
            now + timedelta(minutes=30),
        )
    finally:
        store.close()
    # a source added after the last run has no health yet
    with feeds.open("a") as f:
        f.write("  - {name: Later, url: 'https://later.example/rss'}\n")
    code, output = invoke(feeds, "list", "--json")
    assert code == 0, output
    rows = {r["name"]: r for r in map(json.loads, output.splitlines())}
    assert list(rows) == ["Good", "Bad", "Later"]
    assert (rows["Good"]["state"], rows["Good"]["entries"], rows["Good"]["interval"]) == (
        "ok",
        1,
        7200.0,
    )
    assert rows["Good"]["last_success"] is not None
    assert rows["Good"]["next_fetch"] is not None
    assert (rows["Bad"]["state"], rows["Bad"]["failures"]) == ("failing", 1)
    assert rows["Bad"]["last_error"] == "HTTP 500 Internal Server Error"
    assert rows["Bad"]["last_error_at"] is not None
    assert (rows["Later"]["state"], rows["Later"]["last_success"]) == ("new", None)
    code, output = invoke(feeds, "list")
    assert code == 0
    lines = output.splitlines()
    assert lines[1].split()[:6] == ["Good", "feed", "-", "-", "ok", "1"]
    assert "5 min ago" in lines[1]
    assert "in 2 h" in lines[1]
    assert lines[2].split()[:7] == ["Bad", "feed", "-", "-", "failing", "0", "1"]
    assert lines[2].endswith("HTTP 500 Internal Server Error")
    assert lines[-1] == "3 sources (3 feed)"
