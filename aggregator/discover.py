"""What a URL answered, and which feeds an HTML page advertises: pure functions over bytes.

``sniff`` tells a feed (RSS, RDF, Atom, JSON Feed) from an HTML page by the body's first bytes,
with the Content-Type as a fallback. ``discover`` reads a page's ``<link rel="alternate">``
elements with lxml's HTML parser (never regexes) and resolves their hrefs against the page's
``<base href>`` and URL. Neither does any I/O: ``aggregator feeds add`` fetches through
:mod:`aggregator.fetch` and hands the bytes here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

FEED = "feed"
HTML = "html"

# Link types of feeds.
FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/rdf+xml",
)
# Plain JSON: a JSON Feed served as application/json, but also WordPress's REST API, which
# every WordPress page advertises; so it counts only when a page offers no other feed.
JSON_TYPE = "application/json"

_FEED_ROOTS = frozenset({b"rss", b"feed", b"rdf:rdf", b"rdf"})
_HTML_ROOTS = frozenset({b"html", b"head", b"body"})
# what may come before the root element: the XML declaration, processing instructions,
# comments and a DOCTYPE
_PROLOG = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->|<!(?!--)[^>]*>)", re.S)
_TAG = re.compile(rb"<([A-Za-z][A-Za-z0-9:._-]*)")
_SNIFF_BYTES = 4096


@dataclass(frozen=True)
class Alternate:
    """A feed a page links to: absolute URL, its media type and the link's title."""

    url: str
    type: str
    title: str | None = None


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _root_tag(body: bytes) -> bytes | None:
    """The name of the first element of a markup document (lower case), if it starts like one."""
    head = body[:_SNIFF_BYTES].removeprefix(b"\xef\xbb\xbf")
    pos = 0
    while m := _PROLOG.match(head, pos):  # each match consumes at least "<...>"
        pos = m.end()
    tag = _TAG.match(head[pos:].lstrip())
    return tag.group(1).lower() if tag else None


def _json_feed(body: bytes) -> bool:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    version = data.get("version") if isinstance(data, dict) else None
    return isinstance(version, str) and version.startswith("https://jsonfeed.org/version/")


def sniff(body: bytes, content_type: str | None = None) -> str | None:
    """``"feed"``, ``"html"`` or None (neither) for a response body and its Content-Type.

    The bytes decide first, since servers label feeds text/html and pages text/plain alike:
    an ``<rss>``, ``<rdf:RDF>`` or Atom ``<feed>`` root, or a JSON object whose ``version``
    is a JSON Feed one, is a feed; an ``<html>`` root or an HTML DOCTYPE is a page. Only
    when the bytes say nothing does an HTML Content-Type make it a page."""
    start = body[:_SNIFF_BYTES].removeprefix(b"\xef\xbb\xbf").lstrip()
    if start.startswith(b"{"):
        return FEED if _json_feed(body) else None
    media = _media_type(content_type)
    if start.startswith(b"<"):
        root = _root_tag(body)
        if root in _FEED_ROOTS:
            return FEED
        if root in _HTML_ROOTS or re.match(rb"(?i)<!doctype\s+html", start):
            return HTML
    if media in ("text/html", "application/xhtml+xml"):
        return HTML
    return None


def discover(page_url: str, body: bytes) -> list[Alternate]:
    """The feeds an HTML page advertises with ``<link rel="alternate" type=...>``.

    hrefs are resolved against the page's ``<base href>`` (itself resolved against
    ``page_url``) and must come out http(s); duplicates are dropped, first one kept. Links
    typed ``application/json`` are returned only when there is no other candidate."""
    if not body.strip():
        return []
    parser = lxml.html.HTMLParser(no_network=True, remove_comments=True)
    try:
        root = lxml.etree.fromstring(body, parser)
    except lxml.etree.LxmlError:  # pragma: no cover - lxml's HTML parser recovers from anything
        return []
    if root is None:
        return []
    base = page_url
    for element in root.iter("base"):
        href = (element.get("href") or "").strip()
        if href:
            base = urljoin(page_url, href)
            break
    feeds: list[Alternate] = []
    plain_json: list[Alternate] = []
    seen: set[str] = set()
    for element in root.iter("link"):
        rel = (element.get("rel") or "").lower().split()
        media = _media_type(element.get("type"))
        href = (element.get("href") or "").strip()
        if "alternate" not in rel or not href or media not in (*FEED_TYPES, JSON_TYPE):
            continue
        url = urljoin(base, href)
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname or url in seen:
            continue
        seen.add(url)
        title = " ".join((element.get("title") or "").split()) or None
        (plain_json if media == JSON_TYPE else feeds).append(Alternate(url, media, title))
    return feeds or plain_json
