"""Golden files: the whole digest of a fixed database, byte for byte.

The database is built by ``render_helpers.corpus`` through the store's API (no clustering or
classifying, so only a change to the digest itself moves these files). After an intended
change, regenerate them and review the diff::

    .venv/bin/pytest tests/test_render_golden.py --update-golden
    git diff tests/golden/
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from render_helpers import OUTLETS, build, corpus, sources

from aggregator.config import Config, Settings
from aggregator.digest import Edition, story_key
from aggregator.render import EDITION_FILE, RENDERED_STAMP, dump_edition, render_site
from aggregator.store import Store

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
GOLDEN = Path(__file__).parent / "golden" / "site"


def render_golden(out: Path) -> list[str]:
    store = Store.memory()
    try:
        feeds = sources(OUTLETS)
        ids = build(store, feeds, corpus(NOW), NOW)
        # the edition before this one: the big story had 4 reports, the cyclone was not there
        stories = {s.id: s for s in store.stories()}
        before = {story_key(s): len(s.members) for s in stories.values()}
        before[story_key(stories[ids[0]])] = 4
        del before[story_key(stories[ids[3]])]
        previous = Edition("previous", NOW.replace(hour=6), before, None)
        out.mkdir(parents=True, exist_ok=True)
        (out / EDITION_FILE).write_text(dump_edition(previous), "utf-8")
        settings = Settings(
            database=out / "unused.db", output_dir=out, site_url="https://news.example.org/"
        )
        return render_site(store, Config(settings=settings), NOW)
    finally:
        store.close()


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != RENDERED_STAMP
    }


def test_digest_matches_golden_files(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    out = tmp_path / "site"
    render_golden(out)
    got = files(out)
    if request.config.getoption("--update-golden"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        shutil.copytree(out, GOLDEN)
        pytest.skip("golden files rewritten; review them with git diff tests/golden/")
    want = files(GOLDEN)
    assert sorted(got) == sorted(want), "pages added or missing"
    for name in want:
        assert got[name].decode() == want[name].decode(), f"{name} differs from tests/golden"


def test_golden_digest_shows_every_kind_of_card() -> None:
    index = (GOLDEN / "index.html").read_text("utf-8")
    assert index.count("<h1") == 1
    assert "Grew since the last edition: +3 reports" in index
    assert "New since the last edition" in index
    assert '<svg class="timeline"' in index
    # the index lists each other outlet once (at most 5) and links to the full coverage
    assert 'href="region/europe.html#story-1">All 7 reports' in index
    europe = (GOLDEN / "region" / "europe.html").read_text("utf-8")
    assert "<details><summary>Related coverage: 6 more reports</summary>" in europe
    assert "Gaza aid convoy reaches north" in index  # no link: shown as text
    assert "Floods in Pakistan" not in index  # older than the window
    assert "Floods in Pakistan" in (GOLDEN / "archive" / "2026-01-12.html").read_text("utf-8")
    archive = (GOLDEN / "archive" / "index.html").read_text("utf-8")
    days = ["2026-01-15", "2026-01-14", "2026-01-13", "2026-01-12"]
    positions = [archive.index(f'href="{d}.html"') for d in days]
    assert positions == sorted(positions), "archive days newest first"
