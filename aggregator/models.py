"""Plain, immutable data passed between the pipeline stages.

Each type is named for the stage that produces it: ``FetchResult`` (fetch), ``ParsedFeed`` and
``ParsedEntry`` (parse), ``Entry`` (normalise), ``Assignment`` (cluster), ``Labels`` (classify),
``StoryRecord`` and ``FeedRecord`` (store, read back for render). Datetimes are aware UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

REGIONS: tuple[str, ...] = ("Africa", "Americas", "Asia", "Europe", "Middle East", "Oceania")
WORLD = "World"
TOPICS: tuple[str, ...] = (
    "politics",
    "conflict",
    "diplomacy",
    "economy",
    "energy",
    "humanitarian",
    "health",
    "science-tech",
    "environment",
    "sport",
    "culture",
    "crime",
)
GENERAL = "general"


@dataclass(frozen=True)
class Place:
    """An extra gazetteer name from feeds.yaml: it points at a country or at a region."""

    names: tuple[str, ...]
    country: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class Taxonomy:
    """The ``classify:`` section of feeds.yaml: the region and topic sets in display order,
    countries moved to another region, extra place names and extra topic phrases. Hashable,
    so the classifier built from it can be cached."""

    regions: tuple[str, ...] = REGIONS
    topics: tuple[str, ...] = TOPICS
    country_regions: tuple[tuple[str, str], ...] = ()  # (country code, region)
    places: tuple[Place, ...] = ()
    phrases: tuple[tuple[str, str, float], ...] = ()  # (topic, phrase, weight)

    @property
    def is_default(self) -> bool:
        return self == Taxonomy()


@dataclass(frozen=True)
class Source:
    """One entry of ``sources:`` in feeds.yaml."""

    url: str
    name: str
    kind: str = "feed"  # "feed" (RSS, Atom, JSON Feed) or "html" (a page's list of links)
    region: str | None = None
    topic: str | None = None
    interval: timedelta | None = None
    selector: str | None = None  # kind "html": CSS selector of the list (or of its links)


@dataclass(frozen=True)
class FeedState:
    """What fetch needs to know about a feed: where it is and its HTTP cache validators."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    fetch_url: str | None = None  # where the feed moved (301/308 seen three times running)

    @property
    def target(self) -> str:
        """The URL to request."""
        return self.fetch_url or self.url


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one HTTP request for one feed; ``error`` is set when it failed."""

    url: str
    fetched_at: datetime
    status: int | None = None
    final_url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    etag: str | None = None
    last_modified: str | None = None
    elapsed: float = 0.0
    error_kind: str | None = None
    error: str | None = None
    requested_url: str | None = None  # the URL asked for (the feed's, or where it moved)
    permanent_redirect: str | None = None  # final URL when every redirect was 301/308
    retry_after: datetime | None = None  # from Retry-After (429, 503)
    fresh_until: datetime | None = None  # from Cache-Control max-age or Expires

    @property
    def not_modified(self) -> bool:
        return self.status == 304 and self.error is None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class RelatedLink:
    """A link a feed item carries besides its own: an Atom ``<link rel="related">``
    (``rel="related"``) or one of the other outlets' reports that a Google-News-style item
    lists in its description (``rel="coverage"``: the same story elsewhere)."""

    url: str
    title: str = ""
    outlet: str | None = None
    rel: str = "related"


@dataclass(frozen=True)
class ParsedEntry:
    """One item as the feed gave it, before cleaning."""

    title: str
    link: str | None = None
    guid: str | None = None
    summary: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    author: str | None = None
    categories: Sequence[str] = ()
    related: Sequence[RelatedLink] = ()


@dataclass(frozen=True)
class ParsedFeed:
    """A feed document turned into data. ``bozo`` marks malformed-but-usable input."""

    url: str
    title: str | None = None
    link: str | None = None
    entries: Sequence[ParsedEntry] = ()
    bozo: bool = False
    bozo_message: str | None = None
    ttl_minutes: int | None = None


@dataclass(frozen=True)
class Entry:
    """A cleaned entry, ready to store: canonical URL, clean title, aware UTC dates.

    ``identity`` is unique within its feed and stable across fetches (GUID, else canonical
    link, else a hash of title and summary).
    """

    feed_url: str
    identity: str
    title: str
    url: str | None
    published: datetime
    first_seen: datetime
    guid: str | None = None
    title_raw: str = ""
    summary: str | None = None
    updated: datetime | None = None
    author: str | None = None
    categories: Sequence[str] = ()
    related: Sequence[RelatedLink] = ()  # canonical http(s) links, deduplicated


@dataclass(frozen=True)
class ClusterItem:
    """What clustering needs of an entry: an id, its outlet, title and time."""

    id: int
    title: str
    published: datetime
    source: str = ""
    summary: str | None = None
    url: str | None = None
    coverage: Sequence[str] = ()  # URLs of the same story at other outlets (feed-given)
    related: Sequence[str] = ()  # URLs the feed relates the item to


@dataclass(frozen=True)
class Assignment:
    """Clustering's answer for one item: the story it joins, and whether it opened it."""

    item_id: int
    story_id: int
    score: float
    new_story: bool


@dataclass(frozen=True)
class Labels:
    """Region and topic labels of a headline or of a story."""

    region: str
    topic: str
    countries: Sequence[str] = ()
    topics: Sequence[str] = ()
    # How much the region is worth in a story's vote: 1.0 when the headline names a place,
    # less when it comes from the summary or URL, the source's hint, or nothing (World).
    region_weight: float = 1.0


@dataclass(frozen=True)
class EntryRecord:
    """An entry as read back from the store (for clustering, classify and render)."""

    id: int
    feed_url: str
    outlet: str
    title: str
    url: str | None
    published: datetime
    first_seen: datetime
    summary: str | None = None
    categories: Sequence[str] = ()
    story_id: int | None = None
    region_hint: str | None = None
    topic_hint: str | None = None
    related: Sequence[RelatedLink] = ()


@dataclass(frozen=True)
class StoryRecord:
    """A story as read back from the store, with its member entries (lead first)."""

    id: int
    headline: str
    url: str | None
    outlet: str
    first_seen: datetime
    last_seen: datetime
    published: datetime
    outlets: int
    region: str
    topic: str
    countries: Sequence[str] = ()
    topics: Sequence[str] = ()
    members: Sequence[EntryRecord] = ()


@dataclass(frozen=True)
class FeedReport:
    """What one feed did in one pass: for logs, the summary and tests."""

    url: str
    name: str
    outcome: str  # "ok", "not_modified", "error"
    status: int | None = None
    new_entries: int = 0
    updated_entries: int = 0
    error_kind: str | None = None
    error: str | None = None
    bozo: bool = False


@dataclass(frozen=True)
class PassReport:
    """The result of one pipeline pass."""

    started_at: datetime
    finished_at: datetime
    feeds: Sequence[FeedReport] = ()
    stories_touched: int = 0
    rendered: Sequence[str] = ()
    # wall seconds per stage: "fetch+store", "stories" (label, cluster, write), "render"
    seconds: Mapping[str, float] = field(default_factory=dict)

    @property
    def new_entries(self) -> int:
        return sum(f.new_entries for f in self.feeds)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.feeds if f.outcome == "error")
