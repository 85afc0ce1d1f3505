"""Rendering: ranking, grouping, cards, editions, templates, atomic and idempotent writes."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from render_helpers import OUTLETS, Report, StorySpec, at, build, corpus, sources

from aggregator.config import Config, Settings
from aggregator.digest import (
    RELATED_OPEN,
    by_region,
    change,
    clean_text,
    next_edition,
    rank_score,
    ranked,
    shorten,
    slug,
    story_view,
    timeline,
    top_stories,
)
from aggregator.errors import RenderError
from aggregator.models import EntryRecord, StoryRecord
from aggregator.render import (
    EDITION_FILE,
    PACKAGE_TEMPLATES,
    RENDERED_STAMP,
    SOURCE_TEMPLATES,
    build_pages,
    environment,
    load_edition,
    load_site,
    render_site,
    safe_url,
    write_atomic,
)
from aggregator.store import Store

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def entry(i: int, title: str, url: str | None, outlet: str, hours_ago: float = 1) -> EntryRecord:
    when = NOW - timedelta(hours=hours_ago)
    return EntryRecord(
        id=i,
        feed_url=f"https://{outlet}.test/feed",
        outlet=outlet,
        title=title,
        url=url,
        published=when,
        first_seen=when,
        story_id=1,
    )


def story(
    members: list[EntryRecord], region: str = "Europe", topic: str = "conflict", sid: int = 1
) -> StoryRecord:
    lead = members[0]
    return StoryRecord(
        id=sid,
        headline=lead.title,
        url=lead.url,
        outlet=lead.outlet,
        first_seen=min(m.published for m in members),
        last_seen=max(m.published for m in members),
        published=lead.published,
        outlets=len({m.feed_url for m in members}),
        region=region,
        topic=topic,
        countries=("UA",),
        members=tuple(members),
    )


def many(n: int, sid: int = 1, hours_ago: float = 1, **kw: str) -> StoryRecord:
    return story(
        [entry(sid * 100 + i, f"T{i}", f"https://{i}.test/", f"o{i}", hours_ago) for i in range(n)],
        sid=sid,
        **kw,
    )


def config_for(tmp_path: Path, **settings: object) -> Config:
    return Config(
        settings=Settings(database=tmp_path / "db", output_dir=tmp_path / "site", **settings)  # type: ignore[arg-type]
    )


@pytest.fixture
def site_db(store: Store) -> Store:
    build(store, sources(OUTLETS), corpus(NOW), NOW)
    return store


# -- pure parts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a", "https://example.com/a"),
        ("http://example.com/a?b=1", "http://example.com/a?b=1"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        (" javascript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("data:text/html,<script>", None),
        ("vbscript:msgbox", None),
        ("//example.com/a", None),
        ("/relative", None),
        ("https://exa mple.com/", None),
        ('https://e.test/a"b<c>', "https://e.test/a%22b%3Cc%3E"),
        ("https://example.com/\x00", None),
        ("https://[::1", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_url(url: str | None, expected: str | None) -> None:
    assert safe_url(url) == expected


def test_clean_text_drops_controls_and_bidi_overrides() -> None:
    assert clean_text("a\x00b\x1bc\u202ed\u2066e\x85") == "abcde"
    assert clean_text(None) == ""
    assert clean_text("Kyiv – «ok» عربى") == "Kyiv – «ok» عربى"


def test_shorten_cuts_at_a_word() -> None:
    assert shorten("short") == "short"
    assert shorten("one two three four", 9) == "one two…"
    assert shorten("x" * 30, 10) == "x" * 10 + "…"


def test_slug() -> None:
    assert slug("Middle East") == "middle-east"
    assert slug("Science-tech") == "science-tech"
    assert slug("Côte d'Ivoire") == "cote-d-ivoire"
    assert slug("亚洲").startswith("x-")
    assert slug("亚洲") != slug("欧洲")


def test_rank_each_doubling_of_outlets_is_worth_a_day() -> None:
    fresh_small = many(2, sid=1, hours_ago=0)
    old_big = many(4, sid=2, hours_ago=24)
    older_big = many(4, sid=3, hours_ago=30)
    assert rank_score(fresh_small) == pytest.approx(rank_score(old_big))
    assert [s.id for s in ranked([older_big, fresh_small, old_big])] == [
        2,
        1,
        3,
    ]  # ties: more outlets
    # the order does not depend on when it is computed: scores only move together
    assert rank_score(old_big) - rank_score(older_big) == pytest.approx(0.25)


def test_top_stories_need_several_outlets() -> None:
    views = [story_view(many(n, sid=n)) for n in (1, 3, 2, 1, 5, 4, 6, 7)]
    top = top_stories(views)
    assert [v.id for v in top] == [3, 2, 5, 4, 6]


def test_grouping_keeps_rank_order_and_desk_order() -> None:
    a = story_view(many(1, sid=1))
    b = story_view(many(1, sid=2, topic="politics"))
    c = story_view(many(1, sid=3))
    d = story_view(many(1, sid=4, region="Africa"))
    groups = by_region([a, b, c, d], ("Africa", "Europe", "World"))
    assert [g.name for g in groups] == ["Africa", "Europe"]
    assert [t.name for t in groups[1].groups] == ["conflict", "politics"]
    assert [s.id for s in groups[1].groups[0].stories] == [1, 3]
    assert groups[1].count == 3


def test_card_related_coverage_newest_first_and_collapsed_when_long() -> None:
    s = many(RELATED_OPEN + 1)
    v = story_view(s)
    assert v.related_open
    assert len(v.related) == RELATED_OPEN
    assert not story_view(many(RELATED_OPEN + 2)).related_open
    members = [
        entry(1, "lead", "https://a.test/1", "A", 5),
        entry(2, "old", "https://b.test/2", "B", 4),
        entry(3, "new", "https://c.test/3", "C", 1),
    ]
    assert [link.title for link in story_view(story(members)).related] == ["new", "old"]


def test_timeline_only_for_big_stories() -> None:
    assert timeline(many(4)) is None
    members = [entry(i, f"t{i}", None, f"o{i}", hours_ago=10 - i) for i in range(6)]
    members.append(entry(9, "same time as o5", None, "o9", hours_ago=5))
    t = timeline(story(members))
    assert t is not None
    assert len(t.dots) == 7
    xs = [d.x for d in t.dots]
    assert min(xs) == t.x0
    assert max(xs) == t.x1
    assert len({d.y for d in t.dots}) == 2  # the two simultaneous reports stack
    assert sum(d.lead for d in t.dots) == 1
    assert "7 reports by 7 outlets" in t.label
    same = timeline(story([entry(i, "t", None, f"o{i}", hours_ago=1) for i in range(5)]))
    assert same is not None
    assert {d.x for d in same.dots} == {(same.x0 + same.x1) / 2}


def test_editions_new_and_grew() -> None:
    s1 = many(2, sid=1)
    e1 = next_edition(None, [s1], "fp1", NOW)
    assert change(e1, s1) == (None, 0)  # no edition before the first
    assert next_edition(e1, [s1], "fp1", NOW + timedelta(hours=1)) is e1
    s1b = many(4, sid=1)
    s2 = many(1, sid=2)
    e2 = next_edition(e1, [s1b, s2], "fp2", NOW + timedelta(hours=1))
    assert e2.generated_at == NOW + timedelta(hours=1)
    assert change(e2, s1b) == ("grew", 2)
    assert change(e2, s2) == ("new", 1)
    e3 = next_edition(e2, [s1b, s2], "fp3", NOW + timedelta(hours=2))
    assert change(e3, s1b) == (None, 0)


# -- templates --------------------------------------------------------------------------------


def test_write_atomic_skips_unchanged(tmp_path: Path) -> None:
    target = tmp_path / "out" / "index.html"
    assert write_atomic(target, "one") is True
    mtime = target.stat().st_mtime_ns
    assert write_atomic(target, "one") is False
    assert target.stat().st_mtime_ns == mtime
    assert write_atomic(target, "two") is True
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["index.html"]  # no temp files left


def test_write_atomic_failure_is_a_render_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RenderError, match="cannot write"):
        write_atomic(blocker / "index.html", "x")


def test_default_templates_are_found() -> None:
    # an installed wheel has aggregator/templates (force-included); a checkout has templates/
    assert PACKAGE_TEMPLATES.is_dir() or SOURCE_TEMPLATES.is_dir()
    env = environment()
    for name in ("base.html", "index.html", "region.html", "topic.html", "archive_day.html"):
        assert env.get_template(name) is not None


def test_user_templates_override_defaults(tmp_path: Path, site_db: Store) -> None:
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "index.html").write_text("custom {{ story_count }} {{ site_title }}\n")
    (custom / "style.css").write_text("body { color: red }\n")
    config = config_for(tmp_path, templates_dir=custom)
    render_site(site_db, config, NOW)
    out = tmp_path / "site"
    assert (out / "index.html").read_text() == "custom 7 World news digest\n"
    assert (out / "style.css").read_text() == "body { color: red }\n"
    # templates the user did not override still come from the defaults
    assert "<h1>Europe</h1>" in (out / "region" / "europe.html").read_text()


def test_strict_undefined_makes_template_typos_errors(tmp_path: Path, site_db: Store) -> None:
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "topic.html").write_text("{{ no_such_thing }}")
    with pytest.raises(RenderError, match=r"topic\.html.*no_such_thing"):
        render_site(site_db, config_for(tmp_path, templates_dir=custom), NOW)


def test_a_template_error_leaves_the_site_as_it_was(tmp_path: Path, site_db: Store) -> None:
    """Pages are written as they are rendered, to temporary files renamed only once every
    page rendered: a broken template late in the site changes no page and leaves no file."""
    render_site(site_db, config_for(tmp_path), NOW)
    out = tmp_path / "site"
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    custom = tmp_path / "custom"
    custom.mkdir()
    # the index and region pages render differently now; the archive pages come later
    (custom / "index.html").write_text("changed {{ story_count }}\n")
    (custom / "archive_index.html").write_text("{{ no_such_thing }}")
    with pytest.raises(RenderError, match=r"archive_index\.html.*no_such_thing"):
        render_site(site_db, config_for(tmp_path, templates_dir=custom), NOW)
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before


def test_missing_templates_are_render_errors(tmp_path: Path, site_db: Store) -> None:
    import jinja2

    config = config_for(tmp_path)
    site = load_site(site_db, config, NOW, tmp_path / "site")
    empty = jinja2.Environment(loader=jinja2.DictLoader({}), autoescape=True)
    with pytest.raises(RenderError, match=r"_story\.html"):
        build_pages(site, config, NOW, None, empty)
    templates = {
        p.name: p.read_text("utf-8") for p in SOURCE_TEMPLATES.iterdir() if p.name != "style.css"
    }
    no_css = jinja2.Environment(loader=jinja2.DictLoader(templates), autoescape=True)
    with pytest.raises(RenderError, match=r"style\.css"):
        build_pages(site, config, NOW, None, no_css)


# -- the whole site ---------------------------------------------------------------------------


def test_site_has_every_page(tmp_path: Path, site_db: Store) -> None:
    written = render_site(site_db, config_for(tmp_path), NOW)
    out = tmp_path / "site"
    names = {str(Path(p).relative_to(out)) for p in written}
    assert {"index.html", "atom.xml", "feed.json", "style.css", "archive/index.html"} <= names
    assert {f"region/{r}.html" for r in ("africa", "europe", "middle-east", "world")} <= names
    assert {f"topic/{t}.html" for t in ("politics", "science-tech", "sport", "general")} <= names
    assert {f"archive/2026-01-{d}.html" for d in (12, 13, 14, 15)} <= names
    sport = (out / "topic" / "sport.html").read_text()
    assert "No sport stories in the last 48 hours." in sport
    europe = (out / "region" / "europe.html").read_text()
    assert europe.count("<h1") == 1
    assert 'aria-current="page"' in europe
    assert 'href="../style.css"' in europe


def test_render_is_idempotent_and_rewrites_only_changed_pages(
    tmp_path: Path, site_db: Store
) -> None:
    config = config_for(tmp_path)
    out = tmp_path / "site"
    assert render_site(site_db, config, NOW)
    pages = [p for p in out.rglob("*") if p.name != RENDERED_STAMP]  # the stamp is touched
    before = {p: p.stat().st_mtime_ns for p in pages}
    edition = (out / EDITION_FILE).read_text()
    # later, nothing changed: nothing is written, the "updated" time stays
    assert render_site(site_db, config, NOW + timedelta(minutes=10)) == []
    assert {p: p.stat().st_mtime_ns for p in pages} == before
    assert (out / EDITION_FILE).read_text() == edition
    # one more report on an African story: the pages that show it change, old days do not
    feeds = sources(OUTLETS)
    later = NOW + timedelta(minutes=20)
    build(site_db, feeds, [StorySpec([Report(6, "Sport: a new story", None, later)])], later)
    written = {str(Path(p).relative_to(out)) for p in render_site(site_db, config, later)}
    assert "index.html" in written
    assert "archive/2026-01-15.html" in written
    assert "archive/2026-01-12.html" not in written  # outside the window: left alone
    assert "style.css" not in written
    index = (out / "index.html").read_text()
    assert "New since the last edition" in index
    assert "Thursday 15 January 2026, 12:20 UTC" in index
    assert json.loads((out / EDITION_FILE).read_text())["generated_at"] == "2026-01-15T12:20:00Z"


def test_old_archive_days_are_written_once(tmp_path: Path, site_db: Store) -> None:
    config = config_for(tmp_path)
    out = tmp_path / "site"
    render_site(site_db, config, NOW)
    old = out / "archive" / "2026-01-12.html"
    old.unlink()
    written = render_site(site_db, config, NOW + timedelta(minutes=1))
    assert written == [str(old)]  # the missing page comes back, nothing else changes


def test_a_broken_edition_file_starts_afresh(tmp_path: Path, site_db: Store) -> None:
    out = tmp_path / "site"
    out.mkdir()
    (out / EDITION_FILE).write_text("{not json")
    assert load_edition(out / EDITION_FILE) is None
    render_site(site_db, config_for(tmp_path), NOW)
    assert load_edition(out / EDITION_FILE) is not None
    assert "since the last edition" not in (out / "index.html").read_text()


def test_empty_database_renders_an_explaining_digest(tmp_path: Path, store: Store) -> None:
    render_site(store, config_for(tmp_path), NOW)
    out = tmp_path / "site"
    assert "aggregator run --once" in (out / "index.html").read_text()
    assert "Nothing yet" in (out / "archive" / "index.html").read_text()
    assert json.loads((out / "feed.json").read_text())["items"] == []


def test_custom_regions_and_topics_get_pages(tmp_path: Path, store: Store) -> None:
    from aggregator.models import Taxonomy

    spec = StorySpec([Report(0, "Quad summit", "https://q.test/", at(NOW, 1))], "South Asia")
    build(store, sources(OUTLETS), [spec], NOW)
    taxonomy = Taxonomy(regions=("Europe", "South Asia"), topics=("politics", "space"))
    config = Config(
        settings=Settings(database=tmp_path / "db", output_dir=tmp_path / "site"),
        taxonomy=taxonomy,
    )
    render_site(store, config, NOW)
    out = tmp_path / "site"
    assert (out / "region" / "south-asia.html").exists()
    assert (out / "topic" / "space.html").exists()
    index = (out / "index.html").read_text()
    positions = [index.index(f'"region/{r}.html"') for r in ("europe", "south-asia", "world")]
    assert positions == sorted(positions)


def test_digest_max_stories_caps_each_page(tmp_path: Path, store: Store) -> None:
    specs = [
        StorySpec([Report(i % 8, f"Story number {i}", f"https://s.test/{i}", at(NOW, i / 10))])
        for i in range(12)
    ]
    build(store, sources(OUTLETS), specs, NOW)
    render_site(store, config_for(tmp_path, digest_max_stories=5), NOW)
    out = tmp_path / "site"
    index = (out / "index.html").read_text()
    assert index.count('<li class="story"') == 5
    assert "12 stories from 8 outlets" in index
    assert "the best 5 here" in index
    assert (out / "region" / "europe.html").read_text().count('<li class="story"') == 5
    assert len(json.loads((out / "feed.json").read_text())["items"]) == 5
    assert "Story number 0<" in index  # the most recent first


def test_unreadable_output_is_a_render_error(tmp_path: Path, site_db: Store) -> None:
    (tmp_path / "site").write_text("a file where the folder should be")
    with pytest.raises(RenderError, match="cannot write"):
        render_site(site_db, config_for(tmp_path), NOW)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_pages_are_world_readable(tmp_path: Path, site_db: Store) -> None:
    render_site(site_db, config_for(tmp_path), NOW)
    assert (tmp_path / "site" / "index.html").stat().st_mode & 0o777 == 0o644


def test_site_url_setting() -> None:
    from aggregator.config import parse_config
    from aggregator.errors import ConfigError

    settings = parse_config({"settings": {"site_url": "https://news.example.org"}}).settings
    assert settings.site_url == "https://news.example.org/"
    assert parse_config({"settings": {"site_url": None}}).settings.site_url is None
    with pytest.raises(ConfigError, match=r"settings\.site_url: not an http\(s\) URL"):
        parse_config({"settings": {"site_url": "ftp://news.example.org/"}})
