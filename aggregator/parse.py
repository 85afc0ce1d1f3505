"""Bytes -> :class:`~aggregator.models.ParsedFeed`.

Two parsers, one result. The fast path (fastfeedparser, lxml) takes well-formed UTF-8 (or
ASCII) XML whose HTTP charset agrees, which is nearly every feed: it is about 30 times faster
than feedparser. Everything else, the fast path's refusals and any exception included, goes
to feedparser, the robust path: it reads the body together with the HTTP headers (so it sees
the declared charset and Content-Location), repairs wrong encodings and keeps the usable
entries of malformed documents, flagged ``bozo``. Well-formedness is checked with expat
before the fast path (lxml's recover mode would silently hide a broken document). Neither
parser is ever handed a URL, so neither can do I/O of its own, and neither resolves entities.
A body that yields no feed at all raises :class:`~aggregator.errors.ParseError`, which the
pipeline records as the feed's error.
"""

from __future__ import annotations

import calendar
import codecs
import html
import io
import re
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin
from xml.parsers import expat

import fastfeedparser
import feedparser
import feedparser.mixin
import lxml.html
from lxml import etree

from aggregator.errors import ParseError
from aggregator.jsonfeed import looks_like_json_feed, parse_json_feed
from aggregator.models import ParsedEntry, ParsedFeed, RelatedLink

# feedparser keeps an item's (or the feed's) categories once each by comparing every new one
# with all those kept: quadratic, 131 s for 100,000 categories in a 2.7 MB item. Past MAX_TAGS
# a context's further categories are ignored (normalise keeps 100), which makes the robust
# path linear in the body again. This replaces one method of feedparser's parser mixin, the
# only change made to feedparser; tests/test_robustness.py checks it is in place.
MAX_TAGS = 200
_FEEDPARSER_ADD_TAG = feedparser.mixin._FeedParserMixin._add_tag


def _bounded_add_tag(self: Any, term: Any, scheme: Any, label: Any) -> None:
    if len(self._get_context().setdefault("tags", [])) < MAX_TAGS:
        _FEEDPARSER_ADD_TAG(self, term, scheme, label)


if getattr(_FEEDPARSER_ADD_TAG, "__name__", "") != _bounded_add_tag.__name__:
    feedparser.mixin._FeedParserMixin._add_tag = _bounded_add_tag

# Parse errors that do not make a feed suspicious: a charset fixed up from the HTTP header.
# NonXMLContentType: a well-formed feed served as text/html or without a Content-Type.
_BENIGN_BOZO = ("CharacterEncodingOverride", "NonXMLContentType")


def _datetime(value: Any) -> datetime | None:
    """feedparser's ``*_parsed`` values are UTC struct_time; return an aware datetime."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    return None


def _link(entry: Mapping[str, Any]) -> str | None:
    link = _text(_get(entry, "link"))
    if link:
        return link
    for candidate in _get(entry, "links") or ():
        href = _text(candidate.get("href"))
        if href and candidate.get("rel", "alternate") == "alternate":
            return href
    return None


def _categories(entry: Mapping[str, Any]) -> tuple[str, ...]:
    out: dict[str, None] = {}  # each once, in order (a set of what is seen: 100,000 are linear)
    for tag in _get(entry, "tags") or ():
        term = _text(tag.get("term")) or _text(tag.get("label"))
        if term:
            out[term.strip()] = None
    return tuple(out)


MAX_RELATED = 30  # links kept per item (a Google News item lists a handful)
MAX_OUTLET_CHARS = 60
_LIST_IN_HTML = re.compile(r"<(?:ol|ul)\b", re.I)


def related_links(links: Any, summary: str | None, base: str = "") -> tuple[RelatedLink, ...]:
    """The links an item carries besides its own: Atom ``<link rel="related">`` and the
    ``<ol>``/``<ul>`` of other outlets' headlines a Google-News-style description holds.

    A list item with text beside its link (the outlet's name, as in ``<a>Headline</a>
    <font>Outlet</font>``) is another outlet's report of the same story (``coverage``); a
    bare link is only ``related``. Hrefs are resolved against ``base``; normalise checks
    them.
    """
    out: list[RelatedLink] = []
    for link in links if isinstance(links, list | tuple) else ():
        if not isinstance(link, Mapping) or link.get("rel") != "related":
            continue
        href = _text(link.get("href"))
        if href:
            title = _text(link.get("title")) or ""
            out.append(RelatedLink(urljoin(base, href.strip()), title.strip(), None, "related"))
    if summary and _LIST_IN_HTML.search(summary):
        out.extend(_listed_links(summary, base))
    return tuple(out[:MAX_RELATED])


def _listed_links(summary: str, base: str) -> list[RelatedLink]:
    try:
        root = lxml.html.fragment_fromstring(summary, create_parent="div")
    except (etree.ParserError, ValueError):
        return []
    out = []
    for li in root.xpath(".//li[ancestor::ol or ancestor::ul]"):
        anchors = li.xpath(".//a[@href]")
        if not anchors:
            continue
        a = anchors[0]
        title = " ".join(a.text_content().split())
        href = str(a.get("href") or "").strip()
        if not title or not href:
            continue
        rest = " ".join(li.text_content().split())
        outlet = rest.replace(title, "", 1).strip(" \u00a0-–—|:")
        if outlet and len(outlet) <= MAX_OUTLET_CHARS:
            out.append(RelatedLink(urljoin(base, href), title, outlet, "coverage"))
        else:
            out.append(RelatedLink(urljoin(base, href), title, None, "related"))
        if len(out) >= MAX_RELATED:
            break
    return out


def _get(raw: Mapping[str, Any], key: str) -> Any:
    """A key as the parser stored it: plain ``dict.get`` skips FeedParserDict's aliasing
    (``updated_parsed`` silently falling back to ``published_parsed``, with a warning)."""
    return dict.get(raw, key) if isinstance(raw, dict) else raw.get(key)


def _entry(raw: Mapping[str, Any]) -> ParsedEntry | None:
    title = _text(_get(raw, "title"))
    link = _link(raw)
    summary = _text(_get(raw, "summary"))
    if not title:
        if not summary and not link:
            return None
        title = ""
    return ParsedEntry(
        title=title,
        link=link,
        guid=_text(_get(raw, "id")),
        summary=summary,
        published=_datetime(_get(raw, "published_parsed")),
        updated=_datetime(_get(raw, "updated_parsed")),
        author=_text(_get(raw, "author")),
        categories=_categories(raw),
        related=related_links(_get(raw, "links"), summary),
    )


def parse_feed(url: str, body: bytes, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse a feed body fetched from ``url`` with its response ``headers``."""
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    if looks_like_json_feed(body, response_headers):
        return parse_json_feed(url, body)
    body, response_headers = repair_charset(body, response_headers)
    if fast_path_fits(body, response_headers):
        fast = fast_parse(url, body, response_headers.get("content-location"))
        if fast is not None:
            return fast
    return robust_parse(url, body, response_headers)


_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._-]+)", re.I)
_BASE64_MODE = re.compile(rb"mode\s*=\s*[\"']base64", re.I)
_TTL = re.compile(rb"<ttl>\s*(\d{1,7})\s*</ttl>", re.I)
_PROLOG = 65536  # where a DOCTYPE may be looked for
_DOCTYPE_SUBSET = re.compile(rb"<!DOCTYPE[^\[>]*\[.*?\]\s*>", re.S | re.I)
# character references to UTF-16 surrogates (&#xD800; to &#xDFFF;, &#55296; to &#57343;)
_SURROGATE_REF = re.compile(
    rb"&#(?:[xX]0*[dD][89a-fA-F][0-9a-fA-F]{2}|0*(?:5529[6-9]|55[3-9]\d\d|56\d{3}|57[0-2]\d\d|573[0-3]\d|5734[0-3]));"
)


def _codec(name: str | None) -> str | None:
    try:
        return codecs.lookup(name).name if name else None
    except LookupError:
        return "unknown"


# Legacy charsets tried when a body claims UTF-8 (or nothing) but is not UTF-8: the Western
# and Central European, Cyrillic and Greek ones news feeds were seen to mislabel.
LEGACY = ("windows-1252", "windows-1251", "koi8-r", "windows-1250", "iso-8859-7")
_WORD = re.compile(r"[^\W\d_]+")


def _plausibility(text: str) -> float:
    """How much ``text`` (a decoding of non-UTF-8 bytes) looks like real words: letters in
    words of one script and of ordinary case ("word", "Word", "WORD") count for, mixed case
    inside a word ("îÏ×ÏÓÔÉ") and words made only of accented Latin letters ("Íîâîñòè", a
    Cyrillic text read as Latin) count against, as do control and unassigned characters."""
    score = 0.0
    for m in _WORD.finditer(text):
        word = m.group(0)
        if word.isascii():
            continue
        ordinary = word.islower() or word.isupper() or (word[0].isupper() and word[1:].islower())
        scripts = {unicodedata.name(c, "?").split()[0] for c in word}
        latin_only_accented = scripts == {"LATIN"} and not any(c.isascii() for c in word)
        if ordinary and len(scripts) == 1 and not (latin_only_accented and len(word) > 2):
            score += len(word)
        else:
            score -= len(word)
    score -= 5 * sum(1 for c in text if unicodedata.category(c) in ("Cc", "Cn", "Co"))
    return score


def _charset_labels(
    body: bytes, headers: Mapping[str, str]
) -> tuple[re.Match[bytes] | None, str | None, re.Match[str] | None, str | None]:
    """(the XML declaration's encoding match, its codec, the Content-Type charset match, its
    codec); a codec is None when not given and "unknown" when Python does not know it."""
    declared = _XML_DECL.match(body[:512])
    header = _HEADER_CHARSET.search(headers.get("content-type", ""))
    doc = _codec(declared.group(1).decode("ascii")) if declared else None
    return declared, doc, header, _codec(header.group(1)) if header else None


def repair_charset(body: bytes, headers: Mapping[str, str]) -> tuple[bytes, dict[str, str]]:
    """The body in the charset it really uses, when its label is wrong.

    A body labelled (by its XML declaration or the HTTP header) UTF-8, or not labelled, that is
    not valid UTF-8 is decoded with the legacy charset whose reading looks most like words,
    and re-encoded as UTF-8. A body labelled with a legacy charset that is valid UTF-8 with
    non-ASCII text is UTF-8 (legacy text is practically never valid UTF-8 by chance). Either
    way the labels are corrected so both parsers read the same thing. Anything else (UTF-16,
    well-labelled legacy feeds) is left to the parsers."""
    out = dict(headers)
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF8)):
        return body, out
    declared, doc, header, http = _charset_labels(body, out)
    labels = {x for x in (doc, http) if x}
    try:
        body.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    if utf8:
        if body.isascii() or labels <= {"utf-8", "ascii"}:
            return body, out
        text = body.decode("utf-8")
    else:
        if not labels <= {"utf-8", "ascii"}:
            return body, out  # labelled with a legacy charset: the parsers honour it
        sample = body[:65536]  # enough to judge; a huge body is decoded once, at the end
        best = max(LEGACY, key=lambda c: _plausibility(sample.decode(c, errors="replace")))
        text = body.decode(best, errors="replace")
    fixed = text.encode("utf-8")
    if declared:
        start, end = declared.span(1)
        fixed = fixed[:start] + b"utf-8" + fixed[end:]
    if header:
        out["content-type"] = _HEADER_CHARSET.sub("charset=utf-8", out["content-type"])
    return fixed, out


def fast_path_fits(body: bytes, headers: Mapping[str, str]) -> bool:
    """Whether ``body`` is well-formed XML in UTF-8 (or ASCII) that no HTTP header contradicts:
    the only input the fast parser gets. Anything odd goes to feedparser."""
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    head = body.lstrip()[:1]
    if head != b"<":
        return False  # JSON, HTML junk, empty bodies: the robust path decides
    _, doc, _, http = _charset_labels(body, headers)
    if (doc or "utf-8") not in ("utf-8", "ascii") or (http and http not in ("utf-8", "ascii")):
        return False
    if b"xml:base" in body or _BASE64_MODE.search(body):
        return False  # xml:base links and base64 content (Atom 0.3): feedparser reads those
    if b"<!ENTITY" in body[:_PROLOG]:
        # the robust path drops the declarations; expat's check would first expand them, up
        # to its amplification limit (a billion laughs: 60 ms and nothing to show for it)
        return False
    return _well_formed_plain_text(body)


_TEXT_FIELDS = frozenset({"title", "description", "summary", "subtitle"})


def _well_formed_plain_text(body: bytes) -> bool:
    """Whether ``body`` is well-formed XML whose titles and descriptions hold no child
    elements. fastfeedparser keeps only the text before a child element ("<title>Plain
    <b>Fed</b> tail</title>" comes back "Plain"), and lxml's recover mode would hide a broken
    document, so both go to feedparser."""
    parser = expat.ParserCreate(namespace_separator=" ")
    inside = 0  # depth within a text field
    mixed = False

    def start(name: str, _attrs: object) -> None:
        nonlocal inside, mixed
        if inside:
            mixed = True
            inside += 1
        elif name.rpartition(" ")[2] in _TEXT_FIELDS:
            inside = 1

    def end(_name: str) -> None:
        nonlocal inside
        if inside:
            inside -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(body, True)
    except expat.ExpatError:
        return False  # malformed, or not UTF-8 after all: feedparser repairs and flags it
    return not mixed


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(microsecond=0)  # as feedparser: whole seconds


_ID_TAG = re.compile(
    r"<(?:[\w.-]+:)?(?:guid|id)(?:\s[^>]*)?>\s*(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?\s*</", re.S
)


_NOT_PERMALINK = re.compile(
    r"<(?:[\w.-]+:)?guid\s[^>]*isPermaLink\s*=\s*[\"']false[\"'][^>]*>\s*(?:<!\[CDATA\[)?(.*?)"
    r"(?:\]\]>)?\s*</",
    re.S | re.I,
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _not_permalinks(body: bytes) -> frozenset[str]:
    """The texts of RSS GUIDs marked isPermaLink="false"."""
    text = body.decode("utf-8", "replace")
    return frozenset(html.unescape(m.group(1)).strip() for m in _NOT_PERMALINK.finditer(text))


_RDF_ABOUT = re.compile(r"rdf:about\s*=\s*[\"']([^\"']*)[\"']")


def _declared_ids(body: bytes) -> frozenset[str]:
    """Every GUID or id element's text, and every RSS 1.0 ``rdf:about``, in the document."""
    text = body.decode("utf-8", "replace")
    ids = {html.unescape(m.group(1)).strip() for m in _ID_TAG.finditer(text)}
    ids.update(html.unescape(m.group(1)).strip() for m in _RDF_ABOUT.finditer(text))
    return frozenset(ids)


def _fast_entry(raw: Mapping[str, Any], base: str, ids: frozenset[str] | None) -> ParsedEntry:
    """One fastfeedparser item (with a title: untitled feeds take the robust path)."""
    raw_link = _text(raw.get("link"))
    summary = _text(raw.get("description")) or _text(raw.get("summary"))
    return ParsedEntry(
        title=raw["title"],
        link=urljoin(base, raw_link.strip()) if raw_link else None,
        guid=_fast_guid(raw, raw_link, ids),
        summary=summary,
        published=_iso(raw.get("published")),
        updated=_iso(raw.get("updated")),
        author=_text(raw.get("author")),
        categories=_categories(raw),
        related=related_links(raw.get("links"), summary, base),
    )


def _fast_guid(raw: Mapping[str, Any], link: str | None, ids: frozenset[str] | None) -> str | None:
    """The item's GUID as the document gives it: fastfeedparser invents one from the link
    when an item has none, and such an invented id is left out (as feedparser does)."""
    guid = _text(raw.get("id"))
    if guid is None or link is None or guid.strip() != link.strip():
        return guid
    return guid if ids is not None and guid.strip() in ids else None


def fast_parse(url: str, body: bytes, location: str | None = None) -> ParsedFeed | None:
    """The fast path (fastfeedparser); None when it cannot read ``body`` as a feed. Relative
    links resolve against the response's Content-Location, else the feed URL."""
    try:
        result = fastfeedparser.parse(body, include_media=False, include_enclosures=False)
    except Exception:  # any refusal or bug: the robust path takes over
        return None
    feed = result.get("feed") or {}
    base = urljoin(url, location) if location else url
    raw_entries = result.get("entries") or ()
    if not all(_text(r.get("title")) for r in raw_entries):
        return None  # items without titles are odd enough for the robust path
    if not raw_entries and re.search(rb"<(?:[\w.-]+:)?(?:item|entry)[\s>]", body):
        return None  # items the fast parser did not see (RSS 0.90 and other dialects)
    same = any(_text(r.get("id")) and r.get("id") == r.get("link") for r in raw_entries)
    ids = _declared_ids(body) if same else None
    entries = [_fast_entry(raw, base, ids) for raw in raw_entries]
    if any(e.guid and not _SCHEME.match(e.guid) for e in entries):
        # feedparser resolves a relative id ("a1") against the feed's URL unless the GUID is
        # marked isPermaLink="false"; do the same, so an entry's identity does not depend on
        # which parser read it
        keep = _not_permalinks(body)
        entries = [
            e
            if not e.guid or _SCHEME.match(e.guid) or e.guid.strip() in keep
            else replace(e, guid=urljoin(base, e.guid.strip()))
            for e in entries
        ]
    ttl_match = _TTL.search(body[:65536])
    return ParsedFeed(
        url=url,
        title=_text(feed.get("title")),
        link=_text(feed.get("link")),
        entries=tuple(entries),
        ttl_minutes=int(ttl_match.group(1)) if ttl_match else None,
    )


def robust_parse(url: str, body: bytes, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """The robust path (feedparser), for any body."""
    # feedparser reads lower-case header names only.
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    response_headers.setdefault("content-location", url)
    if b"&#" in body:  # feedparser fails on the whole document at one surrogate reference
        body = _SURROGATE_REF.sub(b"&#xFFFD;", body)
    declared = b"<!ENTITY" in body[:_PROLOG] and _DOCTYPE_SUBSET.search(body[:_PROLOG])
    if declared:
        # feedparser's strict pass would expand entities (up to expat's amplification limit,
        # megabytes of "lol") before giving up; without the declarations nothing expands,
        # external entities included, and the loose pass keeps the references as text
        body = body[: declared.start()] + body[declared.end() :]
    try:
        result = feedparser.parse(io.BytesIO(body), response_headers=response_headers)
    except Exception as e:  # feedparser is robust, but a parser bug must not stop the pass
        raise ParseError(url, f"parser failed: {type(e).__name__}: {e}") from e
    entries = [e for e in (_entry(raw) for raw in result.entries) if e is not None]
    bozo_exc = result.get("bozo_exception")
    bozo = bool(result.get("bozo")) and type(bozo_exc).__name__ not in _BENIGN_BOZO
    bozo_message = f"{type(bozo_exc).__name__}: {bozo_exc}" if bozo and bozo_exc else None
    if declared:
        bozo = True
        bozo_message = "entity declarations in the DOCTYPE were ignored" + (
            f"; {bozo_message}" if bozo_message else ""
        )
    if not entries and not result.get("version"):
        reason = bozo_message or "no feed found in the response"
        raise ParseError(url, f"not a usable feed ({reason})")
    feed = result.get("feed") or {}
    ttl: int | None = None
    raw_ttl = feed.get("ttl")
    if isinstance(raw_ttl, str) and raw_ttl.strip().isdigit():
        ttl = int(raw_ttl.strip())
    return ParsedFeed(
        url=url,
        title=_text(feed.get("title")),
        link=_text(feed.get("link")),
        entries=tuple(entries),
        bozo=bozo,
        bozo_message=bozo_message,
        ttl_minutes=ttl,
    )
