"""The generated corpus of hostile feed bodies, shared by tests/test_hostile_feeds.py (each
case ends in a one-line error or a usable parse) and bench/robustness.py (which times them and
reports their memory). Plain Python: no pytest, nothing read from disk or the network.

``corpus(secret_file)`` maps a case's name to its :class:`Case`; the XXE cases point at
``secret_file`` (a local file whose text, :data:`SECRET`, must never appear in any output).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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
        # found by bench/robustness.py: categories were de-duplicated in quadratic time (50 s
        # for these 2.7 MB), and authors, categories, GUIDs and links were kept whole
        "hundred-thousand-categories": Case(
            rss(item_with("".join(f"<category>c{i}</category>" for i in range(100_000)))),
            {},
            lambda titles: titles == ["Tagged"],
        ),
        "megabyte-fields": Case(
            rss(
                item_with(f"<author>{MEGABYTE}</author><category>{MEGABYTE}</category>", 1)
                + item_with(f"<guid>{MEGABYTE}</guid>", 2)
                + f"<item><title>Long link</title><link>https://h.example/{'a' * 2**20}</link>"
                "</item>"
            ),
            {},
            lambda titles: len(titles) == 3,
        ),
        "json-hundred-thousand-tags": Case(
            json.dumps(
                {
                    "version": "https://jsonfeed.org/version/1.1",
                    "items": [
                        {
                            "id": "1",
                            "url": "https://hostile.example/1",
                            "title": "Tagged",
                            "tags": [f"t{i}" for i in range(100_000)],
                            "authors": [{"name": MEGABYTE}],
                        }
                    ],
                }
            ).encode(),
            {"content-type": "application/feed+json"},
            lambda titles: titles == ["Tagged"],
        ),
    }


MEGABYTE = "Long " * 200_000


def item_with(fields: str, n: int = 1) -> str:
    """An item titled "Tagged" with extra ``fields`` (and a GUID unless they hold one)."""
    guid = "" if "<guid>" in fields else f"<guid>t{n}</guid>"
    return (
        f"<item><title>Tagged</title><link>https://hostile.example/t{n}</link>{guid}{fields}</item>"
    )
