"""Bytes -> :class:`~aggregator.models.ParsedFeed`.

feedparser reads the response body from memory together with the HTTP headers (so it sees the
declared charset and Content-Location) and is never handed a URL, so it cannot do I/O of its
own. A malformed feed that still yields entries is kept and flagged ``bozo``; a body that yields
no feed at all raises :class:`~aggregator.errors.ParseError`, which the pipeline records as the
feed's error.
"""

from __future__ import annotations

import calendar
import io
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser

from aggregator.errors import ParseError
from aggregator.models import ParsedEntry, ParsedFeed

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
    out: list[str] = []
    for tag in _get(entry, "tags") or ():
        term = _text(tag.get("term")) or _text(tag.get("label"))
        if term and term.strip() not in out:
            out.append(term.strip())
    return tuple(out)


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
    )


def parse_feed(url: str, body: bytes, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse a feed body fetched from ``url`` with its response ``headers``."""
    # feedparser reads lower-case header names only.
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    response_headers.setdefault("content-location", url)
    try:
        result = feedparser.parse(io.BytesIO(body), response_headers=response_headers)
    except Exception as e:  # feedparser is robust, but a parser bug must not stop the pass
        raise ParseError(url, f"parser failed: {type(e).__name__}: {e}") from e
    entries = [e for e in (_entry(raw) for raw in result.entries) if e is not None]
    bozo_exc = result.get("bozo_exception")
    bozo = bool(result.get("bozo")) and type(bozo_exc).__name__ not in _BENIGN_BOZO
    bozo_message = f"{type(bozo_exc).__name__}: {bozo_exc}" if bozo and bozo_exc else None
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
