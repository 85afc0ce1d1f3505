"""Rendering: escaping, safe links, grouping, atomic and idempotent writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.config import Config, Settings
from aggregator.errors import RenderError
from aggregator.models import EntryRecord, StoryRecord
from aggregator.render import environment, group, render_index, safe_url, write_atomic

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


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a", "https://example.com/a"),
        ("http://example.com/a?b=1", "http://example.com/a?b=1"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        (" javascript:alert(1)", None),
        ("data:text/html,<script>", None),
        ("//example.com/a", None),
        ("/relative", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_url(url: str | None, expected: str | None) -> None:
    assert safe_url(url) == expected


def test_hostile_titles_and_links_are_harmless() -> None:
    members = [
        entry(1, '<script>alert("x")</script> Kyiv hit', "javascript:alert(1)", "evil"),
        entry(2, 'Kyiv "quoted" <img src=x onerror=alert(1)>', "https://ok.test/a?x=1&y=2", "ok"),
        entry(3, "\u202eevil RTL override " + "A" * 10_000, "https://ok.test/b", "long"),
    ]
    html = render_index([story(members)], NOW, environment(), window_hours=48)
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "javascript:" not in html
    assert 'href="https://ok.test/a?x=1&amp;y=2"' in html
    assert html.count('rel="noopener noreferrer"') == 2  # the javascript: link is not a link


def test_each_story_appears_once_with_every_outlet() -> None:
    members = [
        entry(1, "Russia launches drones at Kyiv", "https://a.test/1", "Outlet A"),
        entry(2, "Drone attack on Kiev kills four", "https://b.test/2", "Outlet B", 2),
        entry(3, "Kyiv hit by overnight drone strike", "https://c.test/3", "Outlet C", 3),
    ]
    other = story(
        [entry(4, "Fed holds rates", "https://d.test/4", "Outlet D")],
        region="Americas",
        topic="economy",
        sid=4,
    )
    html = render_index([story(members), other], NOW, environment(), window_hours=48)
    assert html.count('id="story-1"') == 1
    for m in members:
        assert f'href="{m.url}"' in html
    assert "3 outlets" in html
    assert html.index('id="americas"') < html.index('id="europe"')  # fixed region order
    assert html.count("<h1>") == 1


def test_grouping_keeps_rank_order_within_topics() -> None:
    a = story([entry(1, "A", "https://a.test/1", "A")], sid=1)
    b = story([entry(2, "B", "https://a.test/2", "A")], sid=2)
    c = story([entry(3, "C", "https://a.test/3", "A")], topic="politics", sid=3)
    groups = group([a, c, b])
    assert [g.name for g in groups] == ["Europe"]
    assert [t.name for t in groups[0].topics] == ["conflict", "politics"]
    assert [s.id for s in groups[0].topics[0].stories] == [1, 2]


def test_empty_digest_explains_what_to_do() -> None:
    html = render_index([], NOW, environment(), window_hours=48)
    assert "aggregator run --once" in html


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


def test_user_templates_override_defaults(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("custom {{ story_count }} {{ title }}")
    html = render_index([], NOW, environment(tmp_path), window_hours=48)
    assert html == "custom 0 World news digest"
    # templates the user did not override still come from the defaults
    assert environment(tmp_path).get_template("base.html") is not None


def test_strict_undefined_makes_template_typos_errors(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("{{ no_such_thing }}")
    with pytest.raises(RenderError, match="no_such_thing"):
        render_index([], NOW, environment(tmp_path), window_hours=48)


def test_config_default_output(tmp_path: Path) -> None:
    config = Config(settings=Settings(database=tmp_path / "db", output_dir=tmp_path / "site"))
    assert config.settings.digest_window == timedelta(hours=48)
