"""Pure cleaning of parsed entries: titles, URLs, dates and identity.

Nothing here does I/O; time comes in as ``now``. The rules:

* titles: HTML tags removed, entities decoded, whitespace collapsed, and a trailing outlet
  suffix (" - BBC News", " | DW") removed when it names the outlet or ends most of the feed's
  titles;
* URLs: http(s) only, at most ``MAX_URL`` characters, scheme and host lower-cased, default
  port, fragment and tracking parameters (utm_*, fbclid, gclid, ...) removed;
* dates: aware UTC; a missing date becomes the first-seen time, a future one the fetch time;
* identity: the GUID when the feed gives one that is unique within the fetch (and no longer
  than ``MAX_GUID``), else the canonical link, else a hash of title and summary;
* sizes: whatever a feed sends, an entry's fields are bounded (headline, summary, author,
  categories, related links), and only a bounded prefix of each is read, so a hostile feed
  costs time and memory in proportion to the body at most.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

from aggregator.models import Entry, ParsedEntry, ParsedFeed, RelatedLink

_TAG = re.compile(r"<[^>]*>")
# script and style elements are code, not text: dropped whole (also when left unclosed)
_CODE = re.compile(r"<(script|style)\b[^>]*>.*?(?:</\1\s*>|$)", re.I | re.S)
_SPACE = re.compile(r"\s+")
_CONTROL = (
    dict.fromkeys(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))
    | dict.fromkeys(range(0x7F, 0xA0))
    | dict.fromkeys(
        (
            0x200B,
            0x200E,
            0x200F,
            0x202A,
            0x202B,
            0x202C,
            0x202D,
            0x202E,
            0x2066,
            0x2067,
            0x2068,
            0x2069,
            0xFEFF,
        )
    )
)
_SUFFIX = re.compile(r"^(?P<head>.+?)\s+(?:[-–—|·•:]|::)\s+(?P<tail>[^-–—|·•]{2,60})$")
KNOWN_OUTLETS = frozenset(
    s.casefold()
    for s in (
        "Reuters",
        "AP",
        "AP News",
        "Associated Press",
        "AFP",
        "BBC",
        "BBC News",
        "BBC World",
        "DW",
        "Deutsche Welle",
        "Al Jazeera",
        "CNN",
        "NPR",
        "The Guardian",
        "Guardian",
        "France 24",
        "FRANCE 24",
        "TRT World",
        "Bloomberg",
        "Financial Times",
        "FT",
        "The New York Times",
        "New York Times",
        "NYT",
        "The Washington Post",
        "Washington Post",
        "Politico",
        "Axios",
        "Sky News",
        "ABC News",
        "CBS News",
        "NBC News",
        "Fox News",
        "Euronews",
        "The Independent",
        "The Telegraph",
        "Africanews",
        "NHK WORLD-JAPAN",
        "NHK World",
        "South China Morning Post",
        "SCMP",
        "The Times of India",
        "Times of India",
        "The Hindu",
        "Dawn",
        "Haaretz",
        "The Times of Israel",
        "Times of Israel",
        "Arab News",
        "Anadolu Agency",
        "Xinhua",
        "Kyodo News",
        "Yonhap",
        "ABC",
        "CBC",
        "CBC News",
        "Le Monde",
        "Der Spiegel",
        "El País",
        "RFI",
        "VOA",
        "Voice of America",
        "RT",
        "TASS",
        "Business Wire",
        "PR Newswire",
        "Yahoo News",
        "MSN",
        "USA Today",
        "The Hill",
        "CNBC",
        "Forbes",
        "WSJ",
        "The Wall Street Journal",
        "Wall Street Journal",
        "Economist",
        "The Economist",
    )
)
TRACKING_PARAMS = frozenset(
    (
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "ocid",
        "cmpid",
        "cmp",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
        "at_link_id",
        "at_link_origin",
        "at_link_type",
        "at_ptr_name",
        "at_bbc_team",
        "at_format",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "_ga",
        "_gl",
        "mkt_tok",
        "spm",
        "ref_src",
        "xtor",
        "s_cid",
        "smid",
        "sr_share",
        "taid",
        "itm_source",
        "itm_medium",
        "itm_campaign",
        "__twitter_impression",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "rss",
        "feature",
    )
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters left as they are in a path; anything else (spaces, controls) is percent-encoded.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


_SURROGATE = re.compile("[\ud800-\udfff]")


def text_of(value: str | None, *, limit: int | None = None) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, whitespace folded."""
    if not value:
        return ""
    text = _TAG.sub(" ", _CODE.sub(" ", value) if "<" in value else value)
    text = html.unescape(html.unescape(text)) if "&amp;" in text else html.unescape(text)
    if _SURROGATE.search(text):  # unencodable: SQLite and every page would refuse it
        text = _SURROGATE.sub("\ufffd", text)
    text = unicodedata.normalize("NFC", text).translate(_CONTROL)
    text = _SPACE.sub(" ", text).strip()
    if limit is not None and len(text) > limit:
        cut = (
            text[:limit] if text[limit] == " " else (text[:limit].rsplit(" ", 1)[0] or text[:limit])
        )
        text = cut.rstrip(" ,;:.") + "…"
    return text


def _folded(s: str) -> str:
    decomposed = unicodedata.normalize("NFKD", s.casefold())
    return "".join(c for c in decomposed if c.isalnum())


def split_suffix(title: str) -> tuple[str, str | None]:
    """``(head, tail)`` when ``title`` ends with `` - Tail`` or `` | Tail``; else no tail."""
    m = _SUFFIX.match(title)
    if not m:
        return title, None
    return m.group("head").strip(), m.group("tail").strip()


def _name_words(text: str) -> frozenset[str]:
    words = (_folded(w) for w in re.split(r"[\s\-–—:|/.,]+", text))
    return frozenset(w for w in words if w and w not in _GENERIC_NAME_WORDS)


_GENERIC_NAME_WORDS = frozenset(("the", "news", "world", "online", "com", "www", "english"))


def _names_outlet(tail: str, outlet_names: Sequence[str]) -> bool:
    """Whether ``tail`` names the outlet: a known outlet, or the same words as the outlet's
    name or feed title (one set of words containing the other, "The Guardian" and "The
    Guardian World"), never a part of a word ("AP" is not in "Japan")."""
    if tail.casefold() in KNOWN_OUTLETS:
        return True
    tail_words = _name_words(tail)
    if not tail_words:
        return False
    for name in outlet_names:
        name_words = _name_words(name)
        if name_words and (tail_words <= name_words or name_words <= tail_words):
            return True
    return False


def common_suffixes(titles: Sequence[str]) -> frozenset[str]:
    """Suffixes that end at least half of a feed's titles (at least 3 of them)."""
    counts = Counter(tail for tail in (split_suffix(t)[1] for t in titles) if tail)
    need = max(3, (len(titles) + 1) // 2)
    return frozenset(tail for tail, n in counts.items() if n >= need)


def strip_outlet_suffix(title: str, outlet_names: Sequence[str] = ()) -> str:
    """``title`` without a trailing `` - Outlet`` / `` | Outlet`` that names the outlet."""
    head, tail = split_suffix(title)
    return head if tail is not None and _names_outlet(tail, outlet_names) else title


MAX_TITLE = 1000
MAX_SUMMARY_INPUT = 100_000  # of a summary's HTML, this much is read to make its 600 characters
MAX_AUTHOR = 200
MAX_CATEGORIES = 100  # per entry (a real item has a handful, a few dozen at most)
MAX_CATEGORY = 100
MAX_GUID = 2000  # a longer GUID is ignored, as if missing (real ones are URLs or tags)
MAX_URL = 8192  # longer is not a usable link (servers refuse request lines past 8 KB)
_READ = 20  # of a field capped at N characters, the first N * _READ characters are read


def bounded_text(value: str | None, limit: int) -> str:
    """:func:`text_of` of ``value`` cut at ``limit`` characters, reading only the first
    ``limit * 20`` characters of it (markup and entities shrink; megabytes do not matter)."""
    return text_of(value[: limit * _READ] if value else value, limit=limit)


def clean_title(
    raw: str,
    outlet_names: Sequence[str] = (),
    feed_suffixes: frozenset[str] = frozenset(),
) -> str:
    """The readable headline: text only, outlet suffix removed, at most ``MAX_TITLE``
    characters (a real headline is under 200; a hostile one may be megabytes)."""
    title = bounded_text(raw, MAX_TITLE)
    head, tail = split_suffix(title)
    if tail is not None and (tail in feed_suffixes or _names_outlet(tail, outlet_names)):
        title = head
    return title


def canonical_url(url: str | None, base: str | None = None) -> str | None:
    """A canonical http(s) URL, or None when ``url`` is not a usable web link."""
    if not url or len(url) > MAX_URL:
        return None
    url = url.strip()
    if _SURROGATE.search(url):
        return None
    if base and not urlsplit(url).scheme:
        url = urljoin(base, url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    try:
        query = urlencode(
            [
                (k, v)
                for k, v in parse_qsl(parts.query, keep_blank_values=True)
                if not k.lower().startswith("utm_") and k.lower() not in TRACKING_PARAMS
            ],
            doseq=True,
        )
        path = quote(parts.path or "/", safe=_PATH_SAFE)
    except UnicodeError:  # a lone surrogate ("\ud800") cannot be percent-encoded
        return None
    return urlunsplit((scheme, netloc, path, query, ""))


def entry_date(published: datetime | None, updated: datetime | None, now: datetime) -> datetime:
    """When an entry was published: its own date, else ``now``; never later than ``now``."""
    when = published or updated or now
    return min(when, now).astimezone(UTC)


def _hash(*parts: str | None) -> str:
    h = hashlib.sha1(usedforsecurity=False)
    for part in parts:
        h.update((part or "").encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def identities(entries: Sequence[ParsedEntry], links: Sequence[str | None]) -> list[str]:
    """A stable identity per entry, unique within the fetch.

    GUIDs are trusted only when they are unique within this fetch; repeated or missing ones
    fall back to the canonical link, then to a hash of title and summary.
    """
    guid_counts = Counter(e.guid.strip() for e in entries if e.guid and e.guid.strip())
    link_counts = Counter(link for link in links if link)
    out: list[str] = []
    seen: set[str] = set()
    for entry, link in zip(entries, links, strict=True):
        guid = entry.guid.strip() if entry.guid else ""
        if guid and guid_counts[guid] == 1:
            ident = f"guid:{guid}"
        elif link and link_counts[link] == 1:
            ident = f"link:{link}"
        else:
            ident = f"hash:{_hash(link, entry.title, entry.summary)}"
        base, n = ident, 1
        while ident in seen:  # identical items repeated in one feed
            n += 1
            ident = f"{base}#{n}"
        seen.add(ident)
        out.append(ident)
    return out


def normalise_feed(feed: ParsedFeed, outlet_name: str, now: datetime) -> list[Entry]:
    """Turn every usable item of ``feed`` into an :class:`Entry`; items without a title go,
    and so do exact repeats of an item within the feed (same GUID, link and headline)."""
    base = feed.link or feed.url
    seen: set[tuple[str | None, str | None, str]] = set()
    items: list[ParsedEntry] = []
    links: list[str | None] = []
    for raw in feed.entries:
        e = replace(raw, guid=None) if raw.guid and len(raw.guid) > MAX_GUID else raw
        link = canonical_url(e.link, base)
        key = (e.guid, link, e.title)
        if key in seen:
            continue
        seen.add(key)
        items.append(e)
        links.append(link)
    idents = identities(items, links)
    titles = [bounded_text(e.title, MAX_TITLE) for e in items]
    suffixes = common_suffixes(titles)
    names = [n for n in (outlet_name, feed.title) if n]
    out: list[Entry] = []
    for parsed, link, ident in zip(items, links, idents, strict=True):
        title = clean_title(parsed.title, names, suffixes)
        if not title:
            continue
        raw_summary = parsed.summary[:MAX_SUMMARY_INPUT] if parsed.summary else None
        summary = text_of(raw_summary, limit=600) or None
        out.append(
            Entry(
                feed_url=feed.url,
                identity=ident,
                title=title,
                title_raw=parsed.title[: MAX_TITLE * 4],
                url=link,
                guid=parsed.guid,
                summary=summary,
                published=entry_date(parsed.published, parsed.updated, now),
                updated=min(parsed.updated, now).astimezone(UTC) if parsed.updated else None,
                first_seen=now,
                author=bounded_text(parsed.author, MAX_AUTHOR) or None,
                categories=_categories(parsed.categories),
                related=clean_related(parsed.related, link, base),
            )
        )
    return out


def _categories(raw: Sequence[str]) -> tuple[str, ...]:
    """Plain-text categories, each once, at most ``MAX_CATEGORIES`` of ``MAX_CATEGORY``
    characters."""
    out: dict[str, None] = {}
    for category in raw:
        text = bounded_text(category, MAX_CATEGORY)
        if text:
            out[text] = None
            if len(out) >= MAX_CATEGORIES:
                break
    return tuple(out)


def clean_related(
    links: Sequence[RelatedLink], own: str | None, base: str
) -> tuple[RelatedLink, ...]:
    """Related links with canonical http(s) URLs and plain-text titles, each URL once, the
    item's own link left out; a link given both as coverage and as related is coverage."""
    out: dict[str, RelatedLink] = {}
    for link in links:
        url = canonical_url(link.url, base)
        if url is None or url == own:
            continue
        clean = RelatedLink(
            url, bounded_text(link.title, 300), bounded_text(link.outlet, 100) or None, link.rel
        )
        if url not in out or (clean.rel == "coverage" and out[url].rel != "coverage"):
            out[url] = clean
    return tuple(out.values())


def parser_differences(fast: ParsedFeed, robust: ParsedFeed) -> list[str]:
    """Where the two parsers disagree on what matters downstream: the entries, their titles,
    links, GUIDs, dates (published, else updated) and summaries (as text). Empty when they
    agree; used by the differential tests and bench/parse_agreement.py."""
    out: list[str] = []
    if len(fast.entries) != len(robust.entries):
        return [f"{len(fast.entries)} entries vs {len(robust.entries)}"]
    for i, (a, b) in enumerate(zip(fast.entries, robust.entries, strict=True)):
        pairs = {
            "title": (clean_title(a.title), clean_title(b.title)),
            "link": (a.link, b.link),
            "guid": (a.guid, b.guid),
            "date": (a.published or a.updated, b.published or b.updated),
            "summary": (text_of(a.summary), text_of(b.summary)),
        }
        out.extend(f"entry {i} {k}: {x!r} vs {y!r}" for k, (x, y) in pairs.items() if x != y)
    return out
