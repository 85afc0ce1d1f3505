"""The only module that touches Jinja2: the static HTML digest.

Templates come from ``settings.templates_dir`` (a user's overrides) first, then the defaults
shipped with the package (``aggregator/templates`` in an installed wheel, ``templates/`` in a
source checkout). The environment autoescapes everything and uses ``StrictUndefined``, so a
typo in a template is an error, not an empty string. Links are emitted only for http(s) URLs.
Files are written atomically (temporary file + rename) and left alone when unchanged.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import jinja2

from aggregator import __version__
from aggregator.config import Config
from aggregator.errors import RenderError
from aggregator.models import REGIONS, TOPICS, WORLD, EntryRecord, StoryRecord
from aggregator.store import Store, iso
from aggregator.text import default_gazetteer

REGION_ORDER: tuple[str, ...] = (*REGIONS, WORLD)
PACKAGE_TEMPLATES = Path(__file__).parent / "templates"
SOURCE_TEMPLATES = Path(__file__).parent.parent / "templates"


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL, else None (no javascript:, data:, ...)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def slug(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = decomposed.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-") or "x"


def _when(dt: datetime) -> str:
    return dt.strftime("%d %b %H:%M UTC").lstrip("0")


@dataclass(frozen=True)
class Link:
    """One outlet's report of a story, as the templates see it."""

    title: str
    url: str | None
    outlet: str
    published: datetime
    published_iso: str
    published_text: str


@dataclass(frozen=True)
class StoryView:
    id: int
    headline: str
    url: str | None
    outlet: str
    published: datetime
    published_iso: str
    published_text: str
    first_seen_iso: str
    first_seen_text: str
    last_seen_iso: str
    last_seen_text: str
    outlets: int
    region: str
    topic: str
    countries: tuple[str, ...]
    related: tuple[Link, ...]


@dataclass
class TopicGroup:
    name: str
    slug: str
    stories: list[StoryView] = field(default_factory=list)


@dataclass
class RegionGroup:
    name: str
    slug: str
    topics: list[TopicGroup] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(t.stories) for t in self.topics)


def _link(entry: EntryRecord) -> Link:
    return Link(
        title=entry.title,
        url=safe_url(entry.url),
        outlet=entry.outlet,
        published=entry.published,
        published_iso=iso(entry.published) or "",
        published_text=_when(entry.published),
    )


def story_view(story: StoryRecord) -> StoryView:
    gazetteer = default_gazetteer()
    # The lead is shown large; every other member is "related coverage". Members arrive
    # lead first (see Store.stories).
    others = [_link(m) for m in story.members[1:]]
    return StoryView(
        id=story.id,
        headline=story.headline,
        url=safe_url(story.url),
        outlet=story.outlet,
        published=story.published,
        published_iso=iso(story.published) or "",
        published_text=_when(story.published),
        first_seen_iso=iso(story.first_seen) or "",
        first_seen_text=_when(story.first_seen),
        last_seen_iso=iso(story.last_seen) or "",
        last_seen_text=_when(story.last_seen),
        outlets=story.outlets,
        region=story.region,
        topic=story.topic,
        countries=tuple(gazetteer.country_name(c) for c in story.countries[:4]),
        related=tuple(others),
    )


def group(stories: Sequence[StoryRecord]) -> list[RegionGroup]:
    """Region (fixed desk order) -> topic (by its best story's rank) -> stories (rank order).

    ``stories`` arrive ranked (most outlets first, then most recent); that order is kept.
    """
    regions: dict[str, dict[str, TopicGroup]] = {}
    for story in stories:
        topics = regions.setdefault(story.region, {})
        topic = topics.setdefault(story.topic, TopicGroup(story.topic, slug(story.topic)))
        topic.stories.append(story_view(story))
    order = {r: i for i, r in enumerate(REGION_ORDER)}
    out: list[RegionGroup] = []
    for name in sorted(regions, key=lambda r: (order.get(r, len(order)), r)):
        out.append(RegionGroup(name, slug(name), list(regions[name].values())))
    return out


def environment(templates_dir: Path | None = None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(templates_dir)))
    for folder in (PACKAGE_TEMPLATES, SOURCE_TEMPLATES):
        if folder.is_dir():
            loaders.append(jinja2.FileSystemLoader(str(folder)))
    if not loaders:
        raise RenderError("no templates found (the package is missing its templates folder)")
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def write_atomic(path: Path, content: str) -> bool:
    """Write ``content`` to ``path`` via a temporary file and rename; False if unchanged."""
    data = content.encode("utf-8")
    try:
        if path.exists() and path.read_bytes() == data:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise RenderError(f"{path}: cannot write: {e.strerror or e}") from e
    return True


def render_index(
    stories: Sequence[StoryRecord], now: datetime, env: jinja2.Environment, *, window_hours: int
) -> str:
    regions = group(stories)
    context = {
        "title": "World news digest",
        "generated_at": now,
        "generated_iso": iso(now),
        "generated_text": now.strftime("%A %d %B %Y, %H:%M UTC"),
        "regions": regions,
        "story_count": len(stories),
        "outlet_count": len({m.outlet for s in stories for m in s.members}),
        "window_hours": window_hours,
        "topics": list(TOPICS),
        "version": __version__,
    }
    try:
        return env.get_template("index.html").render(context)
    except jinja2.TemplateError as e:
        raise RenderError(f"template error: {e}") from e


def render_site(store: Store, config: Config, now: datetime) -> list[str]:
    """Render the digest into ``settings.output_dir``; returns the files (re)written."""
    settings = config.settings
    stories = store.stories(since=now - settings.digest_window, limit=settings.digest_max_stories)
    env = environment(settings.templates_dir)
    html = render_index(
        stories, now, env, window_hours=round(settings.digest_window.total_seconds() / 3600)
    )
    out = Path(settings.output_dir)
    written = []
    if write_atomic(out / "index.html", html):
        written.append(str(out / "index.html"))
    return written
