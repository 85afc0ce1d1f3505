"""JSON Feed 1.0 and 1.1 bytes -> :class:`~aggregator.models.ParsedFeed`.

feedparser does not read JSON Feed (https://jsonfeed.org/version/1.1), so this module maps it
onto the entry model of RSS and Atom: ``id`` -> guid (a number becomes its digits), ``url``
(else ``external_url``) -> link, resolved against ``home_page_url`` (else the feed's own URL),
``title`` (untitled items get "" as in the RSS path; an item with neither title, summary nor
link is dropped), ``summary`` (else ``content_text``, else ``content_html``), ``date_published``
/ ``date_modified`` (RFC 3339 -> aware UTC, whole seconds; unreadable dates are None), the
first named author (1.1 ``authors``, preferred as the spec asks, else 1.0 ``author``; an item
without one takes the feed's) and ``tags`` -> categories.

The document is decoded once (UTF-8, or UTF-16/32 when its first bytes say so) and read with
one ``json.loads``. Anything that is not a JSON object with an ``items`` list, including
invalid JSON (the spec advises against using partial data), raises
:class:`~aggregator.errors.ParseError`; so does JSON nested too deeply for Python to read.
Everything else is kept and flagged ``bozo``: undecodable bytes and lone surrogates are
replaced, items that are not objects are skipped, fields of the wrong type are ignored (a
bare string is read as an author's name or as one tag), items without an ``id`` are kept
(normalise falls back to the link, as for RSS items without a GUID), and an unknown or
missing ``version`` is read as 1.1. Dates that are strings but not RFC 3339 are None without
a flag, as in the RSS path. Duplicate keys are allowed by Python's JSON reader: the last one
wins.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from aggregator.errors import ParseError
from aggregator.models import ParsedEntry, ParsedFeed

VERSIONS = frozenset({"https://jsonfeed.org/version/1", "https://jsonfeed.org/version/1.1"})
# Media types that announce JSON (application/json is what 1.0 asked publishers to use).
JSON_TYPES = frozenset({"application/feed+json", "application/json"})

# The first character that is not whitespace, after a UTF-8 byte order mark.
_FIRST = re.compile(rb"(?:\xef\xbb\xbf)?\s*(.?)", re.S)
# Python refuses to convert integers of more than 4,300 digits (640 at the strictest setting).
_MAX_DIGITS = 600
_SURROGATES = dict.fromkeys(range(0xD800, 0xE000), 0xFFFD)


def looks_like_json_feed(body: bytes, headers: Mapping[str, str]) -> bool:
    """Whether ``body`` should be read as JSON Feed rather than XML: it starts with ``{``
    (after whitespace and a byte order mark), or it does not start with ``<`` and its
    Content-Type is a JSON one. A body that starts with ``<`` is XML whatever its header
    says (a mislabelled RSS feed still reaches feedparser)."""
    if body[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or body[:4] == codecs.BOM_UTF32_BE:
        body = body[:1024].decode(json.detect_encoding(body), "ignore").encode("utf-8")
    first = _FIRST.match(body)
    head = first.group(1) if first else b""
    if head in (b"{", b"<"):
        return head == b"{"
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return content_type.split(";", 1)[0].strip().lower() in JSON_TYPES


def parse_json_feed(url: str, body: bytes) -> ParsedFeed:
    """Parse a JSON Feed ``body`` fetched from ``url``; raises only ParseError."""
    try:
        return _parse(url, body)
    except ParseError:
        raise
    except Exception as e:  # a bug here must cost one feed, not the pass
        raise ParseError(url, f"JSON Feed reader failed: {type(e).__name__}: {e}") from e


@dataclass(frozen=True)
class _Digits:
    """An integer literal too long for ``int``: kept as its text."""

    text: str


def _integer(text: str) -> int | _Digits:
    return int(text) if len(text) <= _MAX_DIGITS else _Digits(text)


def _decode(body: bytes, problems: list[str]) -> str:
    encoding = json.detect_encoding(body)
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as e:
        name = codecs.lookup(encoding).name.removesuffix("-sig").upper()
        problems.append(f"invalid {name} from byte {e.start} (undecodable bytes replaced)")
        return body.decode(encoding, "replace")


def _parse(url: str, body: bytes) -> ParsedFeed:
    problems: list[str] = []
    text = _decode(body, problems)
    try:
        doc = json.loads(text, parse_int=_integer)
    except RecursionError as e:
        raise ParseError(url, "not a usable feed (JSON nested too deeply)") from e
    except ValueError as e:
        raise ParseError(url, f"not a usable feed (invalid JSON: {e})") from e
    if not isinstance(doc, dict):
        raise ParseError(url, f"not a usable feed (a JSON {_kind(doc)}, not a JSON Feed object)")
    items = doc.get("items")
    if not isinstance(items, list):
        found = "no items" if items is None else f"items is a JSON {_kind(items)}"
        raise ParseError(url, f"not a usable feed (a JSON object with {found}, not a list)")
    version = doc.get("version")
    if not (isinstance(version, str) and version in VERSIONS):
        problems.append(_version_problem(version))
    reader = _Reader(url)
    title = reader.text(doc.get("title"), "title")
    link = reader.url(doc.get("home_page_url"), "home_page_url")
    if link and urlsplit(link).scheme in ("http", "https"):
        reader.base = link
    feed_author = reader.author(doc)
    entries: list[ParsedEntry] = []
    not_objects = without_id = 0
    for raw in items:
        if not isinstance(raw, dict):
            not_objects += 1
            continue
        entry = reader.entry(raw, feed_author)
        if entry is None:
            continue
        if entry.guid is None:
            without_id += 1
        entries.append(entry)
    if not_objects:
        problems.append(
            _count(not_objects, "item is not an object", "items are not objects") + " (skipped)"
        )
    if without_id:
        problems.append(_count(without_id, "item has no id", "items have no id"))
    if reader.wrong:
        problems.append(f"fields of the wrong type ignored: {', '.join(reader.wrong)}")
    if reader.surrogates:
        problems.append("lone surrogates in strings (replaced)")
    return ParsedFeed(
        url=url,
        title=title,
        link=link,
        entries=tuple(entries),
        bozo=bool(problems),
        bozo_message="; ".join(problems) or None,
    )


def _kind(value: Any) -> str:
    """The JSON name of a decoded value's type."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "boolean" if isinstance(value, bool) else "number"


def _count(n: int, one: str, many: str) -> str:
    return f"1 {one}" if n == 1 else f"{n} {many}"


def _version_problem(version: Any) -> str:
    if version is None:
        return "no JSON Feed version (read as 1.1)"
    if not isinstance(version, str):
        return f"version is a JSON {_kind(version)}, not a JSON Feed version (read as 1.1)"
    shown = repr(version[:100])
    if "jsonfeed.org/version/" in version:
        return f"unknown JSON Feed version {shown} (read as 1.1)"
    return f"version {shown} is not a JSON Feed version (read as 1.1)"


class _Reader:
    """Field readers for one document: they turn wrong types into None, resolve URLs against
    ``base``, and note the fields that had a wrong type and whether any string held a lone
    surrogate. JSON null counts as an absent field."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.surrogates = False
        self.wrong: dict[str, None] = {}  # names of fields of the wrong type, in order seen

    def text(self, value: Any, field: str) -> str | None:
        """A non-blank string as given, else None."""
        if not isinstance(value, str):
            if value is not None:
                self.wrong[field] = None
            return None
        if not value.strip():
            return None
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # "\ud800" escapes decode to unencodable text
                self.surrogates = True
                return value.translate(_SURROGATES)
        return value

    def url(self, value: Any, field: str) -> str | None:
        raw = self.text(value, field)
        if raw is None:
            return None
        try:
            return urljoin(self.base, raw.strip())
        except ValueError:  # "http://[oops": not a URL at all
            return None

    def guid(self, value: Any) -> str | None:
        """``id``: a string, or a number turned into its digits (1.0 allowed numbers). Any
        other value is no id, which is counted apart."""
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return str(value)
        if isinstance(value, _Digits):
            return value.text
        if isinstance(value, float):
            if not math.isfinite(value):
                return None
            return str(int(value)) if value.is_integer() else repr(value)
        return self.text(value, "id") if isinstance(value, str) else None

    def author(self, raw: Mapping[str, Any]) -> str | None:
        """The first named author: 1.1 ``authors``, else 1.0 ``author`` (a bare name too)."""
        authors = raw.get("authors")
        if isinstance(authors, list):
            for candidate in authors:
                name = self._name(candidate, "authors")
                if name:
                    return name
        elif authors is not None:
            self.wrong["authors"] = None
        return self._name(raw.get("author"), "author")

    def _name(self, value: Any, field: str) -> str | None:
        return self.text(value.get("name") if isinstance(value, dict) else value, field)

    def tags(self, value: Any) -> tuple[str, ...]:
        out: dict[str, None] = {}  # each once, in order (100,000 tags are linear)
        for tag in value if isinstance(value, list) else [value]:
            term = self.text(tag, "tags")
            if term:
                out[term.strip()] = None
        return tuple(out)

    def date(self, value: Any, field: str) -> datetime | None:
        if value is not None and not isinstance(value, str):
            self.wrong[field] = None
        return _date(value)

    def entry(self, raw: Mapping[str, Any], feed_author: str | None) -> ParsedEntry | None:
        title = self.text(raw.get("title"), "title")
        link = self.url(raw.get("url"), "url") or self.url(raw.get("external_url"), "external_url")
        summary = (
            self.text(raw.get("summary"), "summary")
            or self.text(raw.get("content_text"), "content_text")
            or self.text(raw.get("content_html"), "content_html")
        )
        if not title:
            if not summary and not link:
                return None
            title = ""
        return ParsedEntry(
            title=title,
            link=link,
            guid=self.guid(raw.get("id")),
            summary=summary,
            published=self.date(raw.get("date_published"), "date_published"),
            updated=self.date(raw.get("date_modified"), "date_modified"),
            author=self.author(raw) or feed_author,
            categories=self.tags(raw.get("tags")),
        )


def _date(value: Any) -> datetime | None:
    """An RFC 3339 date as an aware UTC datetime in whole seconds; None when unreadable. Like
    the RSS path, a date without an offset is taken as UTC."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        # upper(): RFC 3339 allows "t" and "z", which fromisoformat does not read
        parsed = datetime.fromisoformat(value.strip().upper())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC).replace(microsecond=0)
    except (ValueError, OverflowError):  # February 30th; year 9999 west of Greenwich
        return None
