"""A corpus of hostile feeds, generated here: each ends in a recorded error or a usable
partial parse, never an exception, a hang, a file read or a memory blow-up; and served
together to a real pass, none of them stops it or damages the database.

Fetch-level faults (gzip bombs, endless chunked bodies, slow drips, servers that never
answer) are in tests/test_fetch.py; `bench/robustness.py` times this corpus and reports
memory."""

from __future__ import annotations

import gzip
import sqlite3
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FeedServer

from aggregator.cli import cli
from aggregator.errors import ParseError
from aggregator.normalise import normalise_feed
from aggregator.parse import parse_feed

URL = "https://hostile.example/feed.xml"
NOW_RFC = "Fri, 20 Nov 2026 08:00:00 GMT"
SECRET = "d1b2c3-the-secret-in-a-local-file"


def rss(
    items: str, head: str = '<?xml version="1.0" encoding="utf-8"?>', channel: str = ""
) -> bytes:
    return (
        f'{head}<rss version="2.0"><channel><title>Hostile</title>'
        f"<link>https://hostile.example/</link>{channel}{items}</channel></rss>"
    ).encode("utf-8", "surrogateescape")


def item(title: str, n: int = 1) -> str:
    return (
        f"<item><title>{title}</title><link>https://hostile.example/{n}</link>"
        f"<guid>g{n}</guid><pubDate>{NOW_RFC}</pubDate></item>"
    )


@dataclass(frozen=True)
class Case:
    body: bytes
    headers: dict[str, str]
    # what a good outcome is: "error" (ParseError), "entries" (at least one usable entry),
    # or a callable checking the parsed titles
    expect: str | Callable[[list[str]], bool]


def _nested(depth: int) -> bytes:
    return rss(item("Outer headline survives nesting") + "<x>" * depth + "deep" + "</x>" * depth)


def corpus(secret_file: Path | None = None) -> dict[str, Case]:
    """name -> hostile case (``secret_file``: a local file an XXE case points at)."""
    good = item("A sound headline about elections", 1) + item("Another sound headline", 2)
    xxe_target = (secret_file or Path("/etc/hostname")).as_uri()
    cyrillic = "Выборы в парламенте: явка выше ожидаемой"
    return {
        "truncated": Case(rss(good)[: len(rss(good)) - 60], {}, "entries"),
        "truncated-mid-item": Case(rss(good + item("Cut"))[:-90], {}, "entries"),
        "windows-1251-declared-utf8": Case(
            rss(item(cyrillic)).decode().encode("windows-1251"),
            {"content-type": "application/rss+xml; charset=utf-8"},
            lambda titles: titles == [cyrillic],
        ),
        "koi8r-declared-utf8": Case(
            rss(item(cyrillic)).decode().encode("koi8-r"),
            {"content-type": "application/rss+xml; charset=utf-8"},
            lambda titles: titles == [cyrillic],
        ),
        "latin1-declared-utf8": Case(
            rss(item("Café crème: prix en hausse à Zürich")).decode().encode("latin-1"),
            {"content-type": "text/xml; charset=utf-8"},
            lambda titles: titles == ["Café crème: prix en hausse à Zürich"],
        ),
        "mixed-encodings": Case(
            rss(item("Ünïcode ok", 1)).replace(b"</channel>", b"")
            + item("Caf\xe9 latin-1 bytes", 2).encode("latin-1")
            + b"</channel></rss>",
            {},
            "entries",
        ),
        "utf8-bom": Case(b"\xef\xbb\xbf" + rss(good), {}, lambda t: len(t) == 2),
        "utf16-bom": Case(
            rss(good, head='<?xml version="1.0" encoding="utf-16"?>').decode().encode("utf-16"),
            {},
            lambda t: len(t) == 2,
        ),
        "invalid-utf8-bytes": Case(
            rss(item("Broken \udcff\udcfe bytes in a title")), {}, "entries"
        ),
        "control-characters": Case(
            rss(item("Control\x01\x02\x08 characters\x0b here")),
            {},
            lambda titles: titles == ["Control characters here"],
        ),
        "surrogate-references": Case(
            rss(item("Before &#xD800; after &#56320; end") + item("Fine", 2)),
            {},
            lambda titles: len(titles) == 2 and "\ufffd" in titles[0],
        ),
        "unclosed-cdata": Case(rss(item("<![CDATA[Never closed")), {}, "any"),
        "html-as-feed": Case(
            b"<!DOCTYPE html><html><head><title>Not a feed</title></head>"
            b"<body><p>Welcome</p></body></html>",
            {"content-type": "text/html"},
            "error",
        ),
        "empty": Case(b"", {}, "error"),
        "whitespace": Case(b"  \n\t ", {}, "error"),
        "binary": Case(gzip.compress(rss(good)), {}, "error"),
        "ten-mb-title": Case(rss(item("Long " * 2_000_000)), {}, "entries"),
        "deep-nesting": Case(_nested(50_000), {}, "any"),
        "billion-laughs": Case(
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            + b"".join(
                f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'.encode()
                for i in range(1, 10)
            )
            + b']><rss version="2.0"><channel><title>t</title>'
            + item("&lol9;").encode()
            + item("A survivor", 2).encode()
            + b"</channel></rss>",
            {},
            "any",
        ),
        "xxe-local-file": Case(
            f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "{xxe_target}">]>'.encode()
            + rss(item("Leak: &xxe; end") + item("Plain", 2), head=""),
            {},
            "any",
        ),
        "xxe-parameter-entity": Case(
            f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "{xxe_target}"> %p;]>'.encode()
            + rss(item("Param"), head=""),
            {},
            "any",
        ),
        "hundred-thousand-items": Case(
            rss("".join(item(f"Headline number {i} of many", i) for i in range(100_000))),
            {},
            lambda titles: len(titles) == 100_000,
        ),
    }


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("secret") / "secret.txt"
    path.write_text(SECRET)
    return path


CASES = sorted(corpus())


@pytest.mark.parametrize("name", CASES)
def test_each_hostile_feed_ends_in_an_error_or_a_usable_parse(name: str, secret_file: Path) -> None:
    case = corpus(secret_file)[name]
    traced = len(case.body) < 2_000_000  # tracing the big ones would take a minute
    if traced:
        tracemalloc.start()
    error: ParseError | None = None
    try:
        parsed = parse_feed(URL, case.body, case.headers)
    except ParseError as e:
        error = e
    finally:
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        tracemalloc.stop()
    if error is not None:
        assert error.url == URL
        assert "\n" not in error.message  # one line for the feed's row and the log
        assert case.expect in ("error", "any"), f"{name}: {error.message}"
        return
    # bounded memory: a few times the body at most, never an expansion
    assert peak < 40 * len(case.body) + 50_000_000, f"{name}: {peak:,} bytes"
    entries = normalise_feed(parsed, "Hostile", _now())
    titles = [e.title for e in entries]
    if not titles:  # nothing usable: then the document must be flagged, with a reason
        assert parsed.bozo, name
        assert parsed.bozo_message, name
    assert case.expect != "error", f"{name} parsed: {titles[:3]}"
    if case.expect == "entries":
        assert titles, name
    elif callable(case.expect):
        assert case.expect(titles), f"{name}: {titles[:3]}"
    text = " ".join(titles) + " ".join(e.summary or "" for e in entries)
    assert SECRET not in text  # XXE: the file is never read or shown
    assert "lollollol" not in text  # no entity expansion
    for title in titles:
        title.encode("utf-8")  # storable: no lone surrogate survives
        assert len(title) <= 1_001  # a 10 MB title does not reach the digest (cut, with "…")


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_the_whole_corpus_in_one_pass_stops_nothing(
    tmp_path: Path, feed_server: FeedServer, secret_file: Path
) -> None:
    """Every hostile body served as a feed next to a good one: the pass completes, each
    feed has entries or a recorded one-line error, the database is intact."""
    cases = corpus(secret_file)
    del cases["hundred-thousand-items"]  # the parse test covers it; keep this pass quick
    lines = ["settings:", "  database: agg.db", "  output_dir: site", "  timeout: 10", "sources:"]
    urls = {}
    for name, case in [*cases.items(), ("good", Case(rss(item("Good one")), {}, "entries"))]:
        headers = {"Content-Type": case.headers.get("content-type", "application/rss+xml")}
        urls[name] = feed_server.add(f"/{name}.xml", case.body, headers=headers)
        lines += [f"  - name: {name}", f"    url: {urls[name]}"]
    config = tmp_path / "feeds.yaml"
    config.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(cli, ["-c", str(config), "run", "--once"])
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(tmp_path / "agg.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = conn.execute(
            "SELECT f.name, f.last_error, f.bozo_message,"
            " (SELECT count(*) FROM entries e WHERE e.feed_url = f.url) FROM feeds f"
        ).fetchall()
        titles = [r[0] for r in conn.execute("SELECT title FROM entries")]
        unclustered = conn.execute("SELECT count(*) FROM entries WHERE story_id IS NULL")
        assert unclustered.fetchone() == (0,)
    finally:
        conn.close()
    for name, error, bozo, count in rows:
        assert count or error or bozo, f"{name}: neither entries nor an error"
        assert error is None or "\n" not in error
    assert {r[0]: r[3] for r in rows}["good"] == 1
    assert not [t for t in titles if SECRET in t]
    pages = "".join(p.read_text() for p in (tmp_path / "site").rglob("*.html"))
    assert SECRET not in pages
