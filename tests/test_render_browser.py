"""The digest in a real browser: headless Chromium (Debian's ``chromium``; ``.ci/run`` installs
it) loads the demo's pages and the hostile corpus from disk.

Checked at 360, 390 and 1280 px: no horizontal overflow, nothing logged as an error (console,
exceptions, CSP violations, failed loads), no request but the site's own files; the hostile
corpus runs no script even with the Content-Security-Policy switched off; one ``h1``, ordered
headings, landmarks, named links, visible keyboard focus and WCAG AA text contrast in light and
dark mode. Screenshots go to ``test-artifacts/browser/`` (or ``$AGGREGATOR_ARTIFACTS``).

Without Chromium the tests skip, saying so, except on CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import Chromium, find_chromium
from click.testing import CliRunner
from test_render_hostile import hostile_site

from aggregator.cli import cli

ROOT = Path(__file__).parent.parent
ARTIFACTS = Path(os.environ.get("AGGREGATOR_ARTIFACTS") or ROOT / "test-artifacts") / "browser"
WIDTHS = (360, 390, 1280)

OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
NO_SCRIPT_RAN = """[document.title, typeof window.__pwned,
  document.querySelectorAll('script, iframe, object, embed, img, [style], [onerror], [onload],'
    + ' [onclick], [onmouseover]').length]"""
STRUCTURE = """(() => {
  const levels = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(h => +h.tagName[1]);
  let skipped = 0, previous = 0;
  for (const level of levels) { if (level > previous + 1) skipped++; previous = level; }
  const links = [...document.querySelectorAll('a')];
  return {
    lang: document.documentElement.lang,
    h1: levels.filter(l => l === 1).length,
    first: levels[0],
    skipped,
    landmarks: ['header', 'nav', 'main', 'footer'].filter(t => document.querySelector(t)),
    unnamed: links.filter(a => !a.textContent.trim()).length,
    vague: links.filter(a => /^(here|click here|more|read more|link|this)$/i
      .test(a.textContent.trim())).length,
  };
})()"""
CONTRAST = """(() => {
  const parse = c => {
    const m = /rgba?\\(([^)]+)\\)/.exec(c || '');
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const lum = ({r, g, b}) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const failures = [];
  const seen = new Set();
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const node = walk.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || seen.has(el) || el.closest('.visually-hidden')) continue;
    seen.add(el);
    if (!el.getClientRects().length) continue;  // not rendered (closed <details>)
    const style = getComputedStyle(el);
    const fg = parse(el.closest('svg') ? style.fill : style.color), bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < 4.5) failures.push(`${el.tagName}.${el.className}: ${ratio.toFixed(2)}`);
  }
  return {checked: seen.size, failures: failures.slice(0, 10)};
})()"""
FOCUS = """(() => {
  const el = document.activeElement, style = getComputedStyle(el), box = el.getBoundingClientRect();
  return {tag: el.tagName, text: el.textContent.trim().slice(0, 40), outline: style.outlineStyle,
          width: parseFloat(style.outlineWidth),
          visible: box.top >= 0 && box.bottom <= innerHeight};
})()"""
BACKGROUND = "getComputedStyle(document.body).backgroundColor"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    binary = find_chromium()
    if binary is None:
        message = (
            "chromium not found: install Debian's chromium (apt-get install chromium) "
            "or set AGGREGATOR_CHROMIUM to a Chrome binary"
        )
        if os.environ.get("CI"):
            pytest.fail(message + " (.ci/run installs it on CI)")
        pytest.skip(message)
    with Chromium(binary) as browser:
        yield browser


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser-demo")
    result = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_site(tmp_path_factory.mktemp("browser-hostile")).parent


def shot(browser: Chromium, name: str) -> None:
    path = browser.screenshot(ARTIFACTS / name)
    print(f"screenshot: {path}", file=sys.stderr)


def assert_clean(log: Any, site: Path) -> None:
    assert log.errors == [], log.errors
    own = site.resolve().as_uri()
    outside = [u for u in log.requests if not (u.startswith(own) or u.startswith("data:"))]
    assert outside == [], f"requests outside the site: {outside}"


def pages(site: Path) -> list[str]:
    days = sorted((site / "archive").glob("20*.html"))
    return [
        "index.html",
        "region/europe.html",
        "topic/conflict.html",
        "archive/index.html",
        str(days[-1].relative_to(site)),
    ]


@pytest.mark.parametrize("width", WIDTHS)
def test_demo_pages_fit_and_log_no_error(chromium: Chromium, demo_site: Path, width: int) -> None:
    for page in pages(demo_site):
        log = chromium.open((demo_site / page).as_uri(), width)
        assert_clean(log, demo_site)
        assert chromium.evaluate(OVERFLOW) <= 0, f"{page} scrolls sideways at {width} px"
        if page == "index.html" and width != 360:
            shot(chromium, f"index-{width}.png")
        if page == "region/europe.html" and width == 390:
            shot(chromium, "region-europe-390.png")


def test_dark_mode_follows_the_system(chromium: Chromium, demo_site: Path) -> None:
    index = (demo_site / "index.html").as_uri()
    chromium.open(index, 390)
    light = chromium.evaluate(BACKGROUND)
    log = chromium.open(index, 390, dark=True)
    assert_clean(log, demo_site)
    dark = chromium.evaluate(BACKGROUND)
    assert light != dark
    r, g, b = (int(v) for v in dark.removeprefix("rgb(").removesuffix(")").split(","))
    assert r + g + b < 150, dark
    shot(chromium, "index-390-dark.png")


@pytest.mark.parametrize("no_csp", [False, True], ids=["with-csp", "escaping-only"])
def test_hostile_corpus_runs_no_script(chromium: Chromium, hostile: Path, no_csp: bool) -> None:
    for page in ("index.html", "region/europe.html", "archive/index.html"):
        for width in (390, 1280):
            log = chromium.open((hostile / page).as_uri(), width, no_csp=no_csp)
            title, pwned, dangerous = chromium.evaluate(NO_SCRIPT_RAN)
            assert "PWNED" not in title
            assert pwned == "undefined"
            assert dangerous == 0
            # nothing even tried to run: a blocked script would log a CSP violation
            assert_clean(log, hostile)
            assert chromium.evaluate(OVERFLOW) <= 0, f"{page} scrolls sideways at {width} px"
    chromium.open((hostile / "index.html").as_uri(), 390)
    shot(chromium, "hostile-390.png")


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_accessibility_basics(chromium: Chromium, demo_site: Path, dark: bool) -> None:
    for page in pages(demo_site):
        chromium.open((demo_site / page).as_uri(), 1280, dark=dark)
        # open every <details>, so collapsed coverage is checked too
        chromium.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        s = chromium.evaluate(STRUCTURE)
        assert s["lang"] == "en"
        assert s["h1"] == 1, (page, s)
        assert s["first"] == 1, (page, s)
        assert s["skipped"] == 0, f"{page}: a heading level is skipped"
        assert s["landmarks"] == ["header", "nav", "main", "footer"]
        assert s["unnamed"] == 0
        assert s["vague"] == 0
        contrast = chromium.evaluate(CONTRAST)
        assert contrast["checked"] > 20
        assert contrast["failures"] == [], (page, contrast["failures"])


def test_keyboard_focus_is_visible(chromium: Chromium, demo_site: Path) -> None:
    chromium.open((demo_site / "index.html").as_uri(), 390)
    chromium.press_tab()
    first = chromium.evaluate(FOCUS)
    assert first["text"] == "Skip to the stories"
    assert first["visible"], "the skip link shows when focused"
    for _ in range(3):
        chromium.press_tab()
        focus = chromium.evaluate(FOCUS)
        assert focus["tag"] == "A"
        assert focus["outline"] == "solid", focus
        assert focus["width"] >= 2, focus
