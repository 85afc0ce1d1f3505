"""The only module that touches Jinja2: the static HTML digest and its feeds.

Pages (all relative to ``settings.output_dir``): ``index.html`` (the top stories, then the
rest grouped by region and topic), ``region/<slug>.html`` and ``topic/<slug>.html`` (one per
region and topic, empty ones included so the navigation never breaks), the daily archive
``archive/YYYY-MM-DD.html`` with ``archive/index.html``, ``atom.xml``, ``feed.json`` and
``style.css``. What each page shows is decided in :mod:`aggregator.digest`; this module
loads the data, renders templates and writes files.

Templates come from ``settings.templates_dir`` (a user's overrides) first, then the defaults
shipped with the package (``aggregator/templates`` in an installed wheel, ``templates/`` in a
source checkout). The environment autoescapes everything and uses ``StrictUndefined``, so a
typo in a template is an error, not an empty string. Links are emitted only for http(s) URLs.

Files are written atomically (temporary file + rename) and left alone when unchanged. The
edition (its time and what each story held, for the "new" and "grew" markers) is kept in
``.edition.json`` next to the pages, and only changes when the stories do, so rendering the
same database twice writes nothing the second time.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from aggregator import __version__
from aggregator.config import Config, Settings
from aggregator.digest import (
    RELATED_INDEX,
    Edition,
    Group,
    StoryView,
    Timeline,
    by_region,
    by_topic,
    day_title,
    fingerprint,
    front_page,
    iso,
    names_in_order,
    next_edition,
    ranked,
    region_order,
    safe_url,
    slug,
    story_view,
    topic_label,
    topic_order,
)
from aggregator.errors import RenderError
from aggregator.models import StoryRecord
from aggregator.store import Store
from aggregator.syndication import FeedMeta, atom, json_feed
from aggregator.text import default_gazetteer

__all__ = ["environment", "render_site", "safe_url", "slug", "write_atomic"]

PACKAGE_TEMPLATES = Path(__file__).parent / "templates"
SOURCE_TEMPLATES = Path(__file__).parent.parent / "templates"
EDITION_FILE = ".edition.json"
SITE_TITLE = "World news digest"


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
    tmp = _stage(path, content)
    if tmp is None:
        return False
    _commit(tmp, path)
    return True


def _stage(path: Path, content: str) -> str | None:
    """Write ``content`` to a temporary file beside ``path`` (synced, mode 644) and return
    its name, or None when ``path`` already holds exactly that."""
    data = content.encode("utf-8")
    try:
        if path.exists() and path.read_bytes() == data:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise RenderError(f"{path}: cannot write: {e.strerror or e}") from e
    return tmp


def _commit(tmp: str, path: Path) -> None:
    """Rename a staged file into place (a reader sees the old page or the new one)."""
    try:
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise RenderError(f"{path}: cannot write: {e.strerror or e}") from e


# -- editions ---------------------------------------------------------------------------------


def load_edition(path: Path) -> Edition | None:
    """The last edition written to ``path``, or None when there is none (or it is unreadable:
    the markers then start afresh, nothing else depends on it)."""
    try:
        data = json.loads(path.read_text("utf-8"))
        return Edition(
            fingerprint=str(data["fingerprint"]),
            generated_at=datetime.fromisoformat(data["generated_at"].replace("Z", "+00:00")),
            reports={str(k): int(v) for k, v in data["reports"].items()},
            previous=(
                {str(k): int(v) for k, v in data["previous"].items()}
                if data.get("previous") is not None
                else None
            ),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def dump_edition(edition: Edition) -> str:
    return (
        json.dumps(
            {
                "fingerprint": edition.fingerprint,
                "generated_at": iso(edition.generated_at),
                "reports": dict(edition.reports),
                "previous": dict(edition.previous) if edition.previous is not None else None,
            },
            separators=(",", ":"),
            sort_keys=True,
        )
        + "\n"
    )


# -- pages ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NavItem:
    """One link of the navigation: ``href`` is relative to the site's root."""

    name: str
    label: str
    href: str
    count: int | None
    current: bool = False


@dataclass(frozen=True)
class DayLink:
    day: str
    title: str
    href: str
    count: int


@dataclass(frozen=True)
class Site:
    """Everything one render needs, read from the store: the stories of the digest window
    (ranked), those of each archive day to render, and every archive day with its count."""

    window: Sequence[StoryRecord]
    days: Mapping[str, Sequence[StoryRecord]]
    all_days: Sequence[tuple[str, int]]
    regions: Sequence[str]
    topics: Sequence[str]


class _Cards:
    """Story cards rendered once per variant and shared by every page that lists them."""

    def __init__(self, env: jinja2.Environment) -> None:
        self.template = env.get_template("_story.html")
        self.related_template = env.get_template("_related.html")
        self.timeline_template = env.get_template("_timeline.html")
        self.cache: dict[tuple[int, int, str, bool, bool], Markup] = {}
        self.parts: dict[tuple[str, int, bool], Markup] = {}

    def _part(self, template: jinja2.Template, story: StoryView, compact: bool) -> Markup:
        """A piece of a card that is the same on every page (related links, timeline)."""
        key = (template.name or "", story.id, compact)
        html = self.parts.get(key)
        if html is None:
            links = story.related_outlets[:RELATED_INDEX] if compact else story.related
            html = Markup(template.render(story=story, compact=compact, links=links, dots=_dots))
            self.parts[key] = html
        return html

    def related(self, story: StoryView, compact: bool) -> Markup:
        return self._part(self.related_template, story, compact)

    def timeline(self, story: StoryView, compact: bool) -> Markup:
        return self._part(self.timeline_template, story, compact)

    def bind(
        self, root: str, show_change: bool, compact: bool
    ) -> Callable[[StoryView, int], Markup]:
        def card(story: StoryView, level: int) -> Markup:
            key = (story.id, level, root, show_change, compact)
            html = self.cache.get(key)
            if html is None:
                html = Markup(
                    self.template.render(
                        story=story,
                        level=level,
                        root=root,
                        show_change=show_change,
                        compact=compact,
                        related_max=RELATED_INDEX,
                        related=self.related,
                        timeline=self.timeline,
                    )
                )
                self.cache[key] = html
            return html

        return card


class _Renderer:
    def __init__(
        self, env: jinja2.Environment, settings: Settings, site: Site, edition: Edition
    ) -> None:
        self.env = env
        self.settings = settings
        self.site = site
        self.edition = edition
        self.cards = _Cards(env)
        self.limit = settings.digest_max_stories
        self.window_hours = round(settings.digest_window.total_seconds() / 3600)
        self._views: dict[int, StoryView] = {}
        self.region_counts = _count(s.region for s in site.window)
        self.topic_counts = _count(s.topic for s in site.window)

    def views(self, stories: Iterable[StoryRecord]) -> list[StoryView]:
        """Cards for ``stories`` (made once each, and only for stories some page shows)."""
        return [self.view(s) for s in stories]

    @staticmethod
    def _country(code: str) -> str:
        # the gazetteer is loaded on the first story that names a country (a pass has it
        # loaded already; a bare `aggregator render` of unlabelled stories never needs it)
        return default_gazetteer().country_name(code)

    def view(self, story: StoryRecord) -> StoryView:
        v = self._views.get(story.id)
        if v is None:
            v = self._views[story.id] = story_view(story, self._country, self.edition)
        return v

    def nav(self, current: str | None, counts: bool) -> dict[str, list[NavItem]]:
        return {
            "regions_nav": [
                NavItem(
                    name,
                    name,
                    f"region/{slug(name)}.html",
                    self.region_counts.get(name, 0) if counts else None,
                    current == f"region:{name}",
                )
                for name in self.site.regions
            ],
            "topics_nav": [
                NavItem(
                    name,
                    topic_label(name),
                    f"topic/{slug(name)}.html",
                    self.topic_counts.get(name, 0) if counts else None,
                    current == f"topic:{name}",
                )
                for name in self.site.topics
            ],
        }

    def page(
        self,
        template: str,
        *,
        root: str,
        title: str,
        current: str | None = None,
        current_edition: bool = True,
        compact: bool = False,
        **context: Any,
    ) -> str:
        generated = self.edition.generated_at
        ctx: dict[str, Any] = {
            "site_title": SITE_TITLE,
            "page_title": title,
            "root": root,
            "version": __version__,
            "window_hours": self.window_hours,
            "generated_iso": iso(generated) if current_edition else None,
            "generated_text": _long_time(generated) if current_edition else None,
            "card": self.cards.bind(root, show_change=current_edition, compact=compact),
            **self.nav(current, counts=current_edition),
            **context,
        }
        try:
            return self.env.get_template(template).render(ctx)
        except jinja2.TemplateError as e:
            raise RenderError(f"template error in {template}: {e}") from e

    def pages(self) -> dict[str, str]:
        return dict(self.iter_pages())

    def iter_pages(self) -> Iterator[tuple[str, str]]:
        """Each page's path and text, one at a time (a site of thousands of reports need not
        be held in memory whole)."""
        window = self.site.window
        top, rest = front_page(self.views(window[: self.limit]))
        index_ids = {s.id for s in (*top, *rest)}
        shown = self.views(s for s in window if s.id in index_ids)  # rank order, for feeds
        yield (
            "index.html",
            self.page(
                "index.html",
                root="",
                title=SITE_TITLE,
                top=top,
                regions=by_region(rest, self.site.regions),
                story_count=len(window),
                shown=len(shown),
                outlet_count=len({m.outlet for s in self.site.window for m in s.members}),
                compact=True,
            ),
        )
        for name in self.site.regions:
            stories = [s for s in window if s.region == name]
            yield (
                f"region/{slug(name)}.html",
                self.page(
                    "region.html",
                    root="../",
                    title=f"{name} · {SITE_TITLE}",
                    current=f"region:{name}",
                    region=Group(
                        name, name, slug(name), groups=by_topic(self.views(stories[: self.limit]))
                    ),
                    story_count=len(stories),
                    shown=min(len(stories), self.limit),
                ),
            )
        for name in self.site.topics:
            stories = [s for s in window if s.topic == name]
            label = topic_label(name)
            yield (
                f"topic/{slug(name)}.html",
                self.page(
                    "topic.html",
                    root="../",
                    title=f"{label} · {SITE_TITLE}",
                    current=f"topic:{name}",
                    topic=Group(
                        name,
                        label,
                        slug(name),
                        groups=by_region(
                            self.views(stories[: self.limit]), self.site.regions, topics=False
                        ),
                    ),
                    story_count=len(stories),
                    shown=min(len(stories), self.limit),
                ),
            )
        counts = dict(self.site.all_days)
        for day, day_stories in self.site.days.items():
            views = self.views(ranked(day_stories)[: self.limit])
            yield (
                f"archive/{day}.html",
                self.page(
                    "archive_day.html",
                    root="../",
                    title=f"{day_title(day)} · {SITE_TITLE}",
                    current_edition=False,
                    day=day,
                    day_title=day_title(day),
                    regions=by_region(views, self.site.regions),
                    story_count=counts.get(day, len(day_stories)),
                    shown=len(views),
                ),
            )
        yield (
            "archive/index.html",
            self.page(
                "archive_index.html",
                root="../",
                title=f"Archive · {SITE_TITLE}",
                days=[
                    DayLink(day, day_title(day), f"{day}.html", n)
                    for day, n in reversed(self.site.all_days)
                ],
            ),
        )
        meta = FeedMeta(
            title=SITE_TITLE,
            identity=self.settings.site_url or str(Path(self.settings.output_dir).resolve()),
            site_url=self.settings.site_url,
            updated_iso=iso(self.edition.generated_at),
            version=__version__,
        )
        yield "atom.xml", atom(shown, meta)
        yield "feed.json", json_feed(shown, meta)
        yield "style.css", self.stylesheet()

    def stylesheet(self) -> str:
        assert self.env.loader is not None
        try:
            source, _, _ = self.env.loader.get_source(self.env, "style.css")
        except jinja2.TemplateNotFound as e:
            raise RenderError(f"template error: {e} not found") from e
        return source


def _dots(timeline: Timeline, compact: bool) -> Markup:
    """A timeline's dots as SVG circles, each titled with its outlet and time unless
    ``compact`` (made here rather than in the template: big digests have thousands)."""
    parts = []
    for d in timeline.dots:
        cls = ' class="lead"' if d.lead else ""
        title = "" if compact else f"<title>{escape(d.label)}</title>"
        parts.append(f'<circle{cls} cx="{d.x}" cy="{d.y}" r="3.5">{title}</circle>')
    return Markup("".join(parts))


def _count(names: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for n in names:
        out[n] = out.get(n, 0) + 1
    return out


def _long_time(dt: datetime) -> str:
    return f"{dt.strftime('%A')} {dt.day} {dt.strftime('%B %Y, %H:%M')} UTC"


def _day(dt: datetime) -> str:
    return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}"


def load_site(store: Store, config: Config, now: datetime, out: Path) -> Site:
    """Read what this render shows: the window's stories, and the archive days to (re)write:
    every day that overlaps the digest window, and older days whose page is missing."""
    settings = config.settings
    window_start = now - settings.digest_window
    all_days = store.story_days()
    first_open = _day(window_start)
    to_render = [
        day
        for day, _ in all_days
        if day >= first_open or not (out / "archive" / f"{day}.html").exists()
    ]
    earliest = window_start
    if to_render:
        earliest = min(earliest, datetime.fromisoformat(to_render[0] + "T00:00:00+00:00"))
    stories = ranked(store.stories(since=earliest, lead_summary_only=True))
    window = [s for s in stories if s.last_seen >= window_start]
    wanted = set(to_render)
    days: dict[str, list[StoryRecord]] = {day: [] for day in to_render}
    for s in stories:
        for day in {_day(m.published) for m in s.members} & wanted:
            days[day].append(s)
    found_regions = {s.region for s in stories}
    found_topics = {s.topic for s in stories}
    return Site(
        window=window,
        days=days,
        all_days=all_days,
        regions=names_in_order(found_regions, region_order(config.taxonomy.regions)),
        topics=names_in_order(found_topics, topic_order(config.taxonomy.topics)),
    )


def build_pages(
    site: Site,
    config: Config,
    now: datetime,
    previous: Edition | None,
    env: jinja2.Environment | None = None,
) -> tuple[dict[str, str], Edition]:
    """Every page's text by its path, and the edition they belong to."""
    renderer, edition = _renderer(site, config, now, previous, env)
    try:
        return renderer.pages(), edition
    except jinja2.TemplateError as e:
        raise RenderError(f"template error: {e}") from e


def _renderer(
    site: Site,
    config: Config,
    now: datetime,
    previous: Edition | None,
    env: jinja2.Environment | None = None,
) -> tuple[_Renderer, Edition]:
    """The renderer of ``site`` and the edition its pages belong to."""
    settings = config.settings
    digest = fingerprint(
        site.window,
        list(site.all_days),
        list(site.regions),
        list(site.topics),
        settings.digest_window,
        settings.digest_max_stories,
        settings.site_url,
    )
    edition = next_edition(previous, site.window, digest, now)
    try:
        renderer = _Renderer(env or environment(settings.templates_dir), settings, site, edition)
    except jinja2.TemplateError as e:
        raise RenderError(f"template error: {e}") from e
    return renderer, edition


RENDERED_STAMP = ".rendered"  # its mtime: the last render (pages are rewritten only on change)


def render_site(store: Store, config: Config, now: datetime) -> list[str]:
    """Render the digest into ``settings.output_dir``; returns the files (re)written."""
    out = Path(config.settings.output_dir)
    site = load_site(store, config, now, out)
    previous = load_edition(out / EDITION_FILE)
    renderer, edition = _renderer(site, config, now, previous)
    # each page goes to a temporary file as soon as it is rendered (one page in memory at a
    # time); all are renamed into place once every page rendered, so a template error
    # leaves the site as it was
    staged: list[tuple[str, Path]] = []
    try:
        try:
            for name, text in renderer.iter_pages():
                tmp = _stage(out / name, text)
                if tmp is not None:
                    staged.append((tmp, out / name))
        except jinja2.TemplateError as e:
            raise RenderError(f"template error: {e}") from e
        written: list[str] = []
        while staged:
            tmp, path = staged.pop(0)
            _commit(tmp, path)
            written.append(str(path))
    finally:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
    if edition is not previous:
        write_atomic(out / EDITION_FILE, dump_edition(edition))
    (out / RENDERED_STAMP).touch()  # when the digest was last checked, even if unchanged
    return written
