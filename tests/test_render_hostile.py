"""A hostile corpus renders escaped and harmless, on every page and in both feeds.

``hostile_site`` is also what the browser test loads (tests/test_render_browser.py): each
payload would change ``document.title`` or set ``window.__pwned`` if it ever ran.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest
from render_helpers import Report, StorySpec, at, build

from aggregator.config import Config, Settings
from aggregator.models import Source
from aggregator.render import render_site
from aggregator.store import Store

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
PWN = "document.title='PWNED';window.__pwned=1"
LONG = "Breaking " + "W" * 10_000

HOSTILE_TITLES = [
    f"<script>{PWN}</script> Kyiv talks",
    f'"><img src=x onerror="{PWN}"> Kyiv',
    f"<svg onload=\"{PWN}\"><a href='javascript:{PWN}'>x</a>",
    f'</title></head><body onload="{PWN}">',
    "Broken entities &amp;lt;script&gt; &#x3C;b&#x3E; &#0; &bogus; & < >",
    "\u202eevil right-to-left override gnp.exe\u202c and \u2066isolate\u2069",
    "Control\x00 characters\x0b and\x1b escapes\x7f",
    "CDATA ]]> end and <![CDATA[ start",
    LONG,
]
HOSTILE_URLS = [
    f"javascript:{PWN}",
    f"JaVaScRiPt:{PWN}",
    f" javascript:{PWN}",
    f"data:text/html,<script>{PWN}</script>",
    f"vbscript:{PWN}",
    'https://ok.test/a"onmouseover="document.title=1',
    "https://ok.test/b?x=1&y=<2>",
    "//evil.test/protocol-relative",
]


def hostile_sources() -> list[Source]:
    names = [
        f'Evil" onmouseover="{PWN}',
        f"<script>{PWN}</script>",
        "\u202eOutlet",
        "Plain Outlet",
        "Fifth Outlet",
        "Sixth Outlet",
    ]
    return [Source(url=f"https://{i}.evil.test/rss", name=n) for i, n in enumerate(names)]


def hostile_stories(now: datetime) -> list[StorySpec]:
    stories = []
    for i, title in enumerate(HOSTILE_TITLES):
        url = HOSTILE_URLS[i % len(HOSTILE_URLS)]
        reports = [
            Report(
                i % 6,
                title,
                url,
                at(now, i + 1),
                summary=f"<iframe src='javascript:{PWN}'></iframe> summary {i} <b>bold</b>",
            ),
            Report(
                (i + 1) % 6, f"Other take {i} <style>*{{display:none}}</style>", None, at(now, i)
            ),
        ]
        if i == 0:  # a big story: timeline and collapsed coverage with hostile outlets
            reports += [
                Report(j, f"Report {j} <script>{PWN}</script>", HOSTILE_URLS[j], at(now, j / 2))
                for j in range(2, 6)
            ]
        stories.append(
            StorySpec(
                reports,
                region="Europe" if i % 2 else f'<b onclick="{PWN}">Region</b>',
                topic="conflict" if i % 3 else "politics",
                countries=("UA",),
            )
        )
    return stories


def hostile_site(out: Path, now: datetime = NOW) -> Path:
    """Render the hostile corpus into ``out``; returns ``out / "index.html"``."""
    store = Store.memory()
    try:
        build(store, hostile_sources(), hostile_stories(now), now)
        settings = Settings(database=out / "unused.db", output_dir=out)
        render_site(store, Config(settings=settings), now)
    finally:
        store.close()
    return out / "index.html"


ALLOWED_TAGS = {
    "html", "head", "meta", "title", "link", "body", "a", "header", "nav", "ul", "li", "span",
    "main", "section", "h1", "h2", "h3", "h4", "p", "time", "details", "summary", "svg", "line",
    "circle", "text", "footer", "code",
}  # fmt: skip
INTERNAL = re.compile(r"^(\.\./)?[a-z0-9/_.-]*(\.html|\.css|\.xml|\.json)(#[a-z0-9-]*)?$|^#main$")


class Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.outbound = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        values = dict(attrs)
        for name, _ in attrs:
            if name.startswith("on") or name in ("style", "srcdoc", "formaction", "src"):
                self.problems.append(f"attribute {name} on <{tag}>")
        href = values.get("href")
        if href is None:
            return
        if tag == "link" and href == "data:,":
            return
        if href.startswith(("https://", "http://")):
            self.outbound += 1
            if tag == "a" and values.get("rel") != "noopener noreferrer":
                self.problems.append(f"outbound link without rel: {href}")
            if any(c in href for c in ' "<>'):
                self.problems.append(f"unescaped characters in {href!r}")
        elif not INTERNAL.match(href):
            self.problems.append(f"href {href!r}")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hostile")
    hostile_site(out)
    return out


def test_every_page_is_harmless(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 20
    for page in pages:
        text = page.read_text("utf-8")
        audit = Audit()
        audit.feed(text)
        audit.close()
        assert not audit.problems, (page.name, audit.problems[:5])
        assert "<script" not in text.lower()
        assert "javascript:" not in text.lower().replace("javascript:document", "")
        assert "\u202e" not in text
        assert "\u2066" not in text
        assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", text)


def test_hostile_text_is_shown_escaped(site: Path) -> None:
    index = (site / "index.html").read_text("utf-8")
    assert "&lt;script&gt;document.title=&#39;PWNED&#39;" in index
    assert "&#34;&gt;&lt;img src=x onerror=" in index
    assert "&amp;amp;lt;script&amp;gt;" in index  # broken entities stay text
    assert LONG in index  # 10 KB titles are kept whole (the stylesheet wraps them)
    assert "evil right-to-left override gnp.exe and isolate" in index
    assert "&lt;iframe" in index  # summaries are text
    # http(s) URLs with characters a URL may not hold are percent-encoded
    assert 'href="https://ok.test/a%22onmouseover=%22document.title=1"' in index
    assert 'href="https://ok.test/b?x=1&amp;y=%3C2%3E"' in index


def test_feeds_stay_well_formed(site: Path) -> None:
    parsed = feedparser.parse(io.BytesIO((site / "atom.xml").read_bytes()))
    assert not parsed.bozo, parsed.get("bozo_exception")
    titles = {e.title for e in parsed.entries}
    assert f"<script>{PWN}</script> Kyiv talks" in titles
    assert "Control characters and escapes" in titles
    for e in parsed.entries:
        for link in e.get("links", []):
            assert link.href.startswith(("https://", "http://")), link.href
    feed = json.loads((site / "feed.json").read_text("utf-8"))
    assert {i["title"] for i in feed["items"]} == titles
    for item in feed["items"]:
        assert item.get("url", "https://").startswith(("https://", "http://"))
        assert "<script" not in item["content_html"]
        assert "<iframe" not in item["content_html"]
