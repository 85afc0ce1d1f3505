"""What the digest shows, decided without I/O: ranking, grouping, story cards as plain data,
the timeline of big stories, and what changed since the last edition.

``render`` turns these values into pages; nothing here knows about Jinja or files, so every
rule can be tested with plain data and a fixed ``now``.

Ranking: a story's score is ``log2(outlets) + last_seen / 24 h``: each doubling of the
distinct outlets that covered a story is worth one day of recency, measured at its latest
report. Ties go to more outlets, then to the older story id. The score of every story moves by
the same amount as time passes, so the order never depends on when the digest is rendered.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from aggregator.models import (
    GENERAL,
    REGIONS,
    TOPICS,
    WORLD,
    EntryRecord,
    RelatedLink,
    StoryRecord,
)

RANK_DOUBLING = timedelta(hours=24)  # one doubling of outlets is worth this much recency
TOP_STORIES = 5  # the index opens with at most this many stories...
TOP_MIN_OUTLETS = 2  # ...each covered by at least this many outlets
TIMELINE_MIN_OUTLETS = 5  # stories covered by this many outlets get a timeline
RELATED_OPEN = 4  # related coverage is collapsed in <details> beyond this many reports
RELATED_INDEX = 5  # the index lists this many other outlets per story, then links to the rest
RELATED_MAX = 100  # a card lists at most this many other reports (newest), then a count
LINKED_MAX = 10  # links the feeds attach to a story's reports, shown on full cards
INDEX_PER_REGION = 10  # the index shows each region's best stories; its page has the rest
SUMMARY_CHARS = 220  # the lead report's summary is cut to about this many characters
TOPIC_LABELS = {"science-tech": "Science & tech"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
# bidirectional embeddings and overrides: a headline must not reorder the text around it
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_HIDDEN = re.compile(f"{_CONTROL.pattern}|{_BIDI.pattern}")
_URL_REFUSED = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")  # whitespace and controls
_URL_PLAIN = re.compile(r"https?://[A-Za-z0-9.:@_~%!$&'()*+,;=-]+(?:[/?#]|$)", re.IGNORECASE)
_URL_UNSAFE = str.maketrans({c: f"%{ord(c):02X}" for c in '"<>`{}|\\^'})


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL, else None (no javascript:, data:, ...)."""
    if not url:
        return None
    url = url.strip()
    if _URL_REFUSED.search(url):
        return None
    if not _URL_PLAIN.match(url):  # the common case needs no parsing
        try:
            parts = urlsplit(url)
        except ValueError:
            return None
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            return None
    # characters a URL may not hold are percent-encoded, as a browser would send them
    return url.translate(_URL_UNSAFE)


def clean_text(text: str | None) -> str:
    """Text as shown: no control characters (XML refuses them), no bidi overrides."""
    if not text:
        return ""
    return _HIDDEN.sub("", text) if _HIDDEN.search(text) else text


def shorten(text: str, limit: int = SUMMARY_CHARS) -> str:
    """``text`` cut at a word boundary near ``limit`` characters, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:.-")
    return (cut or text[:limit]) + "…"


def slug(text: str) -> str:
    """A file-name-safe slug; names without any ASCII letter get a stable hash."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = decomposed.encode("ascii", "ignore").decode("ascii").lower()
    out = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    return out or "x-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


def topic_label(topic: str) -> str:
    return TOPIC_LABELS.get(topic) or topic.replace("-", " ").capitalize()


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def when(dt: datetime) -> str:
    """``15 Jan 10:27 UTC`` (the same in every locale)."""
    return f"{dt.day} {_MONTHS[dt.month - 1]} {dt.hour:02d}:{dt.minute:02d} UTC"


def day_title(day: str) -> str:
    """``2026-01-15`` -> ``Thursday 15 January 2026``."""
    d = datetime.strptime(day, "%Y-%m-%d")  # noqa: DTZ007 - a calendar date, no time
    return f"{d.strftime('%A')} {d.day} {d.strftime('%B %Y')}"


def iso(dt: datetime) -> str:
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}Z"
    )


# -- ranking ----------------------------------------------------------------------------------


def rank_score(story: StoryRecord) -> float:
    """``log2(outlets) + last_seen / RANK_DOUBLING``; higher ranks first."""
    return math.log2(max(story.outlets, 1)) + (
        story.last_seen.timestamp() / RANK_DOUBLING.total_seconds()
    )


def ranked(stories: Iterable[StoryRecord]) -> list[StoryRecord]:
    """Stories best first: by :func:`rank_score`, then more outlets, then older id."""
    return sorted(stories, key=lambda s: (-rank_score(s), -s.outlets, s.id))


# -- editions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edition:
    """One published state of the digest.

    ``reports`` maps a story key (:func:`story_key`) to its number of reports in this
    edition; ``previous`` is the same map for the edition before it (None for the first),
    which is what "new" and "grew" markers compare against. ``generated_at`` is when this
    edition's content first appeared, so rendering unchanged data again changes nothing.
    """

    fingerprint: str
    generated_at: datetime
    reports: Mapping[str, int]
    previous: Mapping[str, int] | None = None


def story_key(story: StoryRecord) -> str:
    # the id alone could be reused by a rebuilt database; the first report time tells apart
    return f"{story.id}@{iso(story.first_seen)}"


def fingerprint(stories: Sequence[StoryRecord], *extra: object) -> str:
    """A digest of everything the pages show, apart from the edition's time."""
    h = hashlib.sha256()
    for s in stories:
        h.update(
            repr(
                (
                    s.id,
                    s.headline,
                    s.url,
                    s.outlet,
                    s.members[0].summary if s.members else None,
                    s.first_seen,
                    s.last_seen,
                    s.published,
                    s.outlets,
                    s.region,
                    s.topic,
                    tuple(s.countries),
                    [(m.id, m.title, m.url, m.published) for m in s.members],
                )
            ).encode("utf-8", "surrogatepass")
        )
    h.update(repr(extra).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def next_edition(
    previous: Edition | None, stories: Sequence[StoryRecord], digest: str, now: datetime
) -> Edition:
    """The edition to publish: ``previous`` itself when nothing changed, else a new one."""
    if previous is not None and previous.fingerprint == digest:
        return previous
    return Edition(
        fingerprint=digest,
        generated_at=now,
        reports={story_key(s): len(s.members) for s in stories},
        previous=dict(previous.reports) if previous is not None else None,
    )


def change(edition: Edition | None, story: StoryRecord) -> tuple[str | None, int]:
    """``("new", reports)``, ``("grew", added reports)`` or ``(None, 0)`` against the
    edition before ``edition``."""
    if edition is None or edition.previous is None:
        return None, 0
    before = edition.previous.get(story_key(story))
    if before is None:
        return "new", len(story.members)
    if len(story.members) > before:
        return "grew", len(story.members) - before
    return None, 0


# -- story cards ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """One outlet's report of a story, as the templates see it."""

    title: str
    url: str | None
    outlet: str
    published_iso: str
    published_text: str


@dataclass(frozen=True)
class Dot:
    """One report on a timeline: its position and what its tooltip says."""

    x: int
    y: float
    lead: bool
    label: str


@dataclass(frozen=True)
class Timeline:
    """Geometry of a big story's timeline (an inline SVG; the template draws it)."""

    width: int
    height: int
    axis_y: float
    x0: int
    x1: int
    dots: tuple[Dot, ...]
    start_text: str
    end_text: str
    label: str


@dataclass(frozen=True)
class StoryView:
    """A story card's data. See the README ("Templates") for each field."""

    id: int
    anchor: str
    headline: str
    url: str | None
    outlet: str
    published_iso: str
    published_text: str
    summary: str
    outlets: int
    reports: int
    region: str
    region_slug: str
    topic: str
    topic_label: str
    topic_slug: str
    countries: tuple[str, ...]
    first_seen_iso: str
    first_seen_text: str
    last_seen_iso: str
    last_seen_text: str
    related: tuple[Link, ...]  # the newest RELATED_MAX other reports
    related_open: bool
    related_outlets: tuple[Link, ...]  # each other outlet's latest report
    related_more: int  # other reports beyond ``related``
    linked: tuple[Link, ...]  # links the feeds attach (coverage lists, rel=related), not members
    change: str | None
    added: int
    timeline: Timeline | None
    score: float


@lru_cache(maxsize=4096)
def _outlet(name: str) -> str:
    return clean_text(name)


def _link(entry: EntryRecord) -> Link:
    return Link(
        title=clean_text(entry.title) or "(untitled)",
        url=safe_url(entry.url),
        outlet=_outlet(entry.outlet),
        published_iso=iso(entry.published),
        published_text=when(entry.published),
    )


def linked_links(members: Sequence[EntryRecord]) -> tuple[Link, ...]:
    """The links the members' feeds attach to them (other outlets' coverage first, then
    related links), except the members' own, each once, at most ``LINKED_MAX``."""
    own = {m.url for m in members if m.url}
    found: dict[str, RelatedLink] = {}
    for m in members:
        for r in m.related:
            if r.url not in own and r.url not in found:
                found[r.url] = r
    ordered = sorted(found.values(), key=lambda r: r.rel != "coverage")[:LINKED_MAX]
    out = []
    for r in ordered:
        url = safe_url(r.url)
        if url is None:
            continue
        host = urlsplit(url).hostname or url
        out.append(
            Link(
                title=clean_text(r.title) or host,
                url=url,
                outlet=_outlet(r.outlet) if r.outlet else host,
                published_iso="",
                published_text="",
            )
        )
    return tuple(out)


def _clock(dt: datetime, other: datetime) -> str:
    return dt.strftime("%H:%M") if dt.date() == other.date() else when(dt).removesuffix(" UTC")


TIMELINE_WIDTH = 320
_PAD = 8
_LANE = 9.0
_LANES = 4


def timeline(story: StoryRecord) -> Timeline | None:
    """When each outlet first reported a story covered by :data:`TIMELINE_MIN_OUTLETS`
    outlets or more, between its first and its latest report. Close dots stack in up to four
    lanes."""
    if story.outlets < TIMELINE_MIN_OUTLETS or not story.members:
        return None
    everything = sorted(story.members, key=lambda m: (m.published, m.id))
    start, end = everything[0].published, everything[-1].published
    lead = story.members[0]
    firsts: dict[str, EntryRecord] = {lead.feed_url: lead}  # the lead stands for its outlet
    for m in everything:
        firsts.setdefault(m.feed_url, m)
    members = sorted(firsts.values(), key=lambda m: (m.published, m.id))
    span = (end - start).total_seconds()
    x0, x1 = _PAD, TIMELINE_WIDTH - _PAD
    lead_id = story.members[0].id
    placed: list[tuple[int, int, EntryRecord]] = []
    lane_end = [-1000] * _LANES
    for m in members:
        frac = (m.published - start).total_seconds() / span if span else 0.5
        x = round(x0 + frac * (x1 - x0))
        lane = next((i for i in range(_LANES) if lane_end[i] <= x - 7), None)
        if lane is None:
            lane = min(range(_LANES), key=lambda i: lane_end[i])
        lane_end[lane] = x
        placed.append((x, lane, m))
    lanes = max(lane for _, lane, _ in placed) + 1
    axis_y = 6 + lanes * _LANE
    dots = tuple(
        Dot(
            x=x,
            y=axis_y - 4.5 - lane * _LANE,
            lead=m.id == lead_id,
            label=f"{clean_text(m.outlet)}, {when(m.published)}",
        )
        for x, lane, m in placed
    )
    start_text = when(start)
    end_text = _clock(end, start) + (" UTC" if end.date() == start.date() else "")
    return Timeline(
        width=TIMELINE_WIDTH,
        height=int(axis_y + 16),
        axis_y=axis_y,
        x0=x0,
        x1=x1,
        dots=dots,
        start_text=start_text,
        end_text=end_text,
        label=(
            f"Timeline: {len(everything)} reports by {len(members)} outlets "
            f"from {start_text} to {when(end)}"
        ),
    )


def _latest_per_outlet(reports: Sequence[EntryRecord], lead_feed: str | None) -> list[EntryRecord]:
    """Each other outlet's latest report (``reports`` are newest first)."""
    seen = {lead_feed}
    out = []
    for m in reports:
        if m.feed_url not in seen:
            seen.add(m.feed_url)
            out.append(m)
    return out


def story_view(
    story: StoryRecord,
    country_name: Callable[[str], str] = str,
    edition: Edition | None = None,
) -> StoryView:
    """A story's card. Members arrive lead first (see ``Store.stories``); every other
    report is "related coverage", newest first."""
    lead = story.members[0] if story.members else None
    others = sorted(story.members[1:], key=lambda m: (m.published, m.id), reverse=True)
    kind, added = change(edition, story)
    # links for the listed reports and each outlet's latest one only: a story of thousands of
    # reports must not cost thousands of links on every page
    latest = _latest_per_outlet(others, lead.feed_url if lead else None)
    links = {m.id: _link(m) for m in (*others[:RELATED_MAX], *latest)}
    summary = clean_text(lead.summary if lead else None).strip()
    return StoryView(
        id=story.id,
        anchor=f"story-{story.id}",
        headline=clean_text(story.headline) or "(untitled)",
        url=safe_url(story.url),
        outlet=clean_text(story.outlet),
        published_iso=iso(story.published),
        published_text=when(story.published),
        summary=shorten(summary) if summary else "",
        outlets=story.outlets,
        reports=len(story.members),
        region=story.region,
        region_slug=slug(story.region),
        topic=story.topic,
        topic_label=topic_label(story.topic),
        topic_slug=slug(story.topic),
        countries=tuple(country_name(c) for c in story.countries[:4]),
        first_seen_iso=iso(story.first_seen),
        first_seen_text=when(story.first_seen),
        last_seen_iso=iso(story.last_seen),
        last_seen_text=when(story.last_seen),
        related=tuple(links[m.id] for m in others[:RELATED_MAX]),
        related_open=len(others) <= RELATED_OPEN,
        related_more=max(0, len(others) - RELATED_MAX),
        related_outlets=tuple(links[m.id] for m in latest),
        linked=linked_links(story.members),
        change=kind,
        added=added,
        timeline=timeline(story),
        score=rank_score(story),
    )


# -- grouping ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """A section of a page: a region or a topic, its stories and sub-sections."""

    name: str
    label: str
    slug: str
    stories: tuple[StoryView, ...] = ()
    groups: tuple[Group, ...] = ()

    @property
    def count(self) -> int:
        return len(self.stories) + sum(g.count for g in self.groups)


def region_order(regions: Sequence[str] = REGIONS) -> tuple[str, ...]:
    return (*regions, WORLD)


def topic_order(topics: Sequence[str] = TOPICS) -> tuple[str, ...]:
    return (*topics, GENERAL)


def _ordered(names: Iterable[str], order: Sequence[str]) -> list[str]:
    index = {n: i for i, n in enumerate(order)}
    return sorted(set(names), key=lambda n: (index.get(n, len(index)), n))


def by_topic(stories: Sequence[StoryView]) -> tuple[Group, ...]:
    """Topics ordered by their best story (``stories`` arrive ranked, and keep that order)."""
    groups: dict[str, list[StoryView]] = {}
    for s in stories:
        groups.setdefault(s.topic, []).append(s)
    return tuple(Group(t, topic_label(t), slug(t), tuple(ss)) for t, ss in groups.items())


def by_region(
    stories: Sequence[StoryView], order: Sequence[str], *, topics: bool = True
) -> tuple[Group, ...]:
    """Regions in desk order (``order``); within each, topics (when ``topics``) or stories."""
    groups: dict[str, list[StoryView]] = {}
    for s in stories:
        groups.setdefault(s.region, []).append(s)
    out = []
    for name in _ordered(groups, order):
        ss = tuple(groups[name])
        if topics:
            out.append(Group(name, name, slug(name), groups=by_topic(ss)))
        else:
            out.append(Group(name, name, slug(name), stories=ss))
    return tuple(out)


def top_stories(stories: Sequence[StoryView]) -> tuple[StoryView, ...]:
    """The index's opening: the best-ranked stories covered by several outlets."""
    return tuple([s for s in stories if s.outlets >= TOP_MIN_OUTLETS][:TOP_STORIES])


def front_page(
    stories: Sequence[StoryView], per_region: int = INDEX_PER_REGION
) -> tuple[tuple[StoryView, ...], list[StoryView]]:
    """The index: its top stories, then each region's best ``per_region`` others, in rank
    order (``stories`` arrive ranked)."""
    top = top_stories(stories)
    taken = {s.id for s in top}
    per: dict[str, int] = {}
    rest = []
    for s in stories:
        if s.id in taken or per.get(s.region, 0) >= per_region:
            continue
        per[s.region] = per.get(s.region, 0) + 1
        rest.append(s)
    return top, rest


def names_in_order(found: Iterable[str], order: Sequence[str]) -> list[str]:
    """Every name of ``order``, then names only the data has (a region since removed)."""
    extra = sorted(set(found) - set(order))
    return [*order, *extra]
