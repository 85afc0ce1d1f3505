"""XSS end to end: hostile feeds served over real HTTP on 127.0.0.1 go through a real pass
(``aggregator run --once --all``: fetch, parse, normalise, store, cluster, render), and the
digest it writes runs no script and links nowhere but http(s).

The feeds put payloads everywhere a feed can: titles with markup and with entity-encoded
markup, summaries with ``<script>``, ``onerror``, ``<iframe>`` and ``javascript:`` anchors,
related-coverage lists, categories, authors, an outlet's name in feeds.yaml, and links
(``javascript:`` in any case, with a leading space, a tab or a character reference inside,
entity-encoded ``javascript&#58;``, ``data:``, ``vbscript:``, a quote that tries to leave
the attribute, protocol-relative), through each parser: RSS on the fast path, malformed RSS
on feedparser's, Atom, JSON Feed and an HTML page. Every payload sets ``document.title`` or
``window.__pwned`` if it ever runs.

The written pages are checked as HTML (every attribute, every href) and loaded in headless
Chromium with the Content-Security-Policy on and off (tests/browser.py; without Chromium
those tests skip as tests/test_render_browser.py's do).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from xml.sax.saxutils import escape

import feedparser
import pytest
from browser import Chromium
from click.testing import CliRunner
from conftest import FeedServer
from test_render_browser import chromium  # noqa: F401  (the fixture: skips without Chromium)
from test_render_hostile import Audit

from aggregator.cli import cli

PWN = "document.title='PWNED';window.__pwned=1"
LINKS = [
    f"javascript:{PWN}",
    f"JaVaScRiPt:{PWN}",
    f"  javascript:{PWN}",
    f"java\tscript:{PWN}",
    f"data:text/html,<script>{PWN}</script>",
    f"vbscript:{PWN}",
    f"javascript&#58;{PWN}",  # as text: a browser would decode it in an unescaped attribute
]
OK_LINKS = [
    f'https://ok.example/quote"onmouseover="{PWN}',
    "//evil.example/protocol-relative",
]
# (XML-ready title, what must show in the digest, escaped, to prove the item got through)
RSS_ITEMS = [
    (escape(f"&lt;script&gt;{PWN}&lt;/script&gt; Alpha summit opens in Kyiv"), "Alpha summit"),
    (escape(f'&quot;&gt;&lt;svg onload="{PWN}"&gt; Bravo floods hit Pakistan'), "Bravo floods"),
    (escape(f"&lt;img src=x onerror={PWN}&gt; Charlie election count ends"), "Charlie election"),
    (escape(f"Delta markets &lt;a href=&quot;javascript:{PWN}&quot;&gt;rally&lt;/a&gt;"), "Delta"),
    (escape(f"Echo javascript&#58;{PWN} port strike"), "Echo javascript:document.title=&#39;PWNED"),
    (escape(f"<script>{PWN}</script> Foxtrot rail deal signed"), "Foxtrot rail deal"),
    (escape(f'Golf vaccine plan <b onclick="{PWN}">approved</b>'), "Golf vaccine plan"),
]
SUMMARY = (
    f'<img src=x onerror="{PWN}"><script>{PWN}</script>'
    f'<iframe src="javascript:{PWN}"></iframe><a href="javascript:{PWN}">click</a>'
    f"<svg><script>{PWN}</script></svg> Officials said talks would continue."
    f'<ol><li><a href="javascript:{PWN}">Other outlet on the summit</a>&nbsp;'
    "<font>Evil Wire</font></li>"
    f'<li><a href="data:text/html,<script>{PWN}</script>">Data take on the summit</a>'
    "&nbsp;<font>Data Wire</font></li>"
    f'<li><a href="https://ok.example/related">&lt;script&gt;{PWN}&lt;/script&gt; Related'
    f' take</a>&nbsp;<font>&lt;b onclick="{PWN}"&gt;Wire&lt;/b&gt;</font></li></ol>'
)


def rss_feed(links: list[str]) -> bytes:
    items = []
    for i, (title, _) in enumerate(RSS_ITEMS):
        link = links[i % len(links)]
        link_xml = "&#106;avascript:" + escape(PWN) if i == 3 else escape(link)
        items.append(
            f"<item><title>{title}</title><link>{link_xml}</link><guid>rss-{i}</guid>"
            f"<description><![CDATA[{SUMMARY}]]></description>"
            f"<category>{escape(f'<script>{PWN}</script>')}</category>"
            f"<author>{escape(f'x@y.example (&quot;&gt;<script>{PWN}</script>)')}</author>"
            "</item>"
        )
    items.append(  # a permalink GUID is the link when there is none
        f'<item><title>Hotel workers end strike</title><guid isPermaLink="true">'
        f"javascript:{escape(PWN)}</guid></item>"
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(f'<script>{PWN}</script>')}</title><link>https://rss.example/</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def malformed_feed() -> bytes:
    """Not well-formed (an undeclared entity, an unclosed tag): feedparser's path."""
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Broken&nbsp;</title>'
        f"<item><title>India &lt;script&gt;{escape(PWN)}&lt;/script&gt; monsoon arrives &nbsp;"
        f"</title><link>javascript:{escape(PWN)}</link><description>"
        f"{escape(f'<img src=x onerror={PWN}>')} Rain<b></description></item>"
        f'<item><title>Juliet budget vote <img src=x onerror="{escape(PWN)}"></title>'
        f"<link>vbscript:{escape(PWN)}</link></item></channel></rss>"
    ).encode()


def atom_feed() -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Atom</title><id>urn:x</id><updated>2026-01-01T00:00:00Z</updated>"
        f'<entry><title type="html">{escape(f"<img src=x onerror={PWN}> Kilo bridge reopens")}'
        f'</title><link rel="alternate" href="{escape(LINKS[0])}"/>'
        f'<link rel="related" href="{escape(LINKS[4])}" title="Related data"/>'
        '<id>urn:a1</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        f'<script>{escape(PWN)}</script><a href="javascript:x">x</a> body</div></content>'
        "</entry>"
        f'<entry><title type="text">{escape(f"<script>{PWN}</script> Lima port expansion")}'
        f'</title><link href="{escape(OK_LINKS[0])}"/><id>urn:a2</id></entry>'
        "</feed>"
    ).encode()


def json_feed() -> bytes:
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": f"<script>{PWN}</script>",
            "items": [
                {
                    "id": "j1",
                    "title": f"&lt;svg/onload={PWN}&gt; Mike trade talks resume",
                    "url": f"javascript:{PWN}",
                    "external_url": f"data:text/html,{PWN}",
                    "content_html": f"<script>{PWN}</script><img src=x onerror='{PWN}'>",
                    "tags": [f"<script>{PWN}</script>"],
                    "authors": [{"name": f'"><script>{PWN}</script>'}],
                },
                {
                    "id": "j2",
                    "title": f"<script>{PWN}</script> November grain exports climb",
                    "url": f"vbscript:{PWN}",
                    "summary": f"javascript:{PWN}",
                },
            ],
        }
    ).encode()


def html_page() -> bytes:
    links = [
        (f"javascript:{PWN}", "Oscar headline that runs script"),
        (f"data:text/html,<script>{PWN}</script>", "Papa headline made of data"),
        ("https://page.example/quebec", f"&lt;img src=x onerror={escape(PWN)}&gt; Quebec votes"),
        ("https://page.example/romeo", f"Romeo &amp;lt;script&amp;gt;{escape(PWN)} flights"),
        ("https://page.example/sierra", "Sierra dam plan passes"),
    ]
    items = "".join(f'<li><a href="{escape(h)}">{t}</a></li>' for h, t in links)
    return (
        f"<!DOCTYPE html><html><head><title>&lt;script&gt;{escape(PWN)}&lt;/script&gt;</title>"
        f"</head><body><article><h1>Page</h1><p>Text.</p></article><h2>Explore</h2>"
        f"<ul>{items}</ul></body></html>"
    ).encode()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digest of one real pass over the hostile feeds (served on 127.0.0.1)."""
    tmp = tmp_path_factory.mktemp("xss")
    server = FeedServer()
    server.start()
    try:
        xml = {"Content-Type": "application/rss+xml; charset=utf-8"}
        sources = [
            ("Plain RSS", server.add("/rss.xml", rss_feed(LINKS), headers=xml), "feed"),
            ("Second RSS", server.add("/rss2.xml", rss_feed(OK_LINKS), headers=xml), "feed"),
            ("Broken RSS", server.add("/broken.xml", malformed_feed(), headers=xml), "feed"),
            (
                f'Evil "><script>{PWN}</script> Outlet',
                server.add(
                    "/atom.xml", atom_feed(), headers={"Content-Type": "application/atom+xml"}
                ),
                "feed",
            ),
            (
                "<img src=x onerror=window.__pwned=1>",
                server.add(
                    "/feed.json", json_feed(), headers={"Content-Type": "application/feed+json"}
                ),
                "feed",
            ),
            (
                "Page",
                server.add("/page.html", html_page(), headers={"Content-Type": "text/html"}),
                "html",
            ),
        ]
        lines = ["settings:", "  database: agg.db", "  output_dir: site", "sources:"]
        for name, url, kind in sources:
            lines += [f"  - name: {json.dumps(name)}", f"    url: {url}", f"    kind: {kind}"]
        (tmp / "feeds.yaml").write_text("\n".join(lines) + "\n")
        result = CliRunner().invoke(cli, ["-c", str(tmp / "feeds.yaml"), "run", "--once", "--all"])
        assert result.exit_code == 0, result.output
        assert len(server.requests) == len(sources)
    finally:
        server.stop()
    return tmp / "site"


def pages(site: Path) -> list[Path]:
    found = sorted(site.rglob("*.html"))
    assert len(found) > 10
    return found


def test_every_hostile_item_reached_the_digest(site: Path) -> None:
    text = "".join(p.read_text("utf-8") for p in pages(site))
    shown = [marker for _, marker in RSS_ITEMS]
    shown += ["Hotel workers end strike", "India", "Juliet budget vote", "Kilo bridge reopens"]
    shown += ["Lima port expansion", "Mike trade talks resume", "November grain exports climb"]
    shown += ["Quebec votes", "Romeo", "Sierra dam plan passes", "Officials said talks"]
    missing = [m for m in shown if m not in text]
    assert missing == []


def test_pages_hold_no_markup_from_the_feeds_and_only_http_links(site: Path) -> None:
    for page in pages(site):
        text = page.read_text("utf-8")
        audit = Audit()  # allowed tags only, no on* / style / src, hrefs http(s) or internal
        audit.feed(text)
        audit.close()
        assert not audit.problems, (page.name, audit.problems[:5])
        lowered = text.lower()
        assert "<script" not in lowered
        assert "<iframe" not in lowered
        assert "<img" not in lowered
        for href in re.findall(r'href="([^"]*)"', text):
            # (a relative "javascript&#58;..." is a path on the feed's site: http, harmless)
            assert not re.match(r"\s*(javascript|data|vbscript)", href, re.I) or href == "data:,"


def test_payload_text_is_shown_escaped(site: Path) -> None:
    text = "".join(p.read_text("utf-8") for p in pages(site))
    escaped_pwn = "document.title=&#39;PWNED&#39;;window.__pwned=1"
    assert f"&lt;script&gt;{escaped_pwn}&lt;/script&gt; Alpha summit" in text
    assert f"&lt;svg onload=&#34;{escaped_pwn}&#34;&gt; Bravo floods" in text
    assert f"&lt;img src=x onerror={escaped_pwn}&gt; Charlie" in text
    assert "&lt;script&gt;" in text  # outlet names from feeds.yaml too
    assert "Evil &#34;&gt;&lt;script&gt;" in text
    # markup that was markup in the feed is gone, its text kept
    assert "Foxtrot rail deal signed" in text
    assert "Golf vaccine plan approved" in text


def test_the_written_feeds_link_only_http(site: Path) -> None:
    atom = feedparser.parse(io.BytesIO((site / "atom.xml").read_bytes()))
    assert not atom.bozo, atom.get("bozo_exception")
    assert len(atom.entries) >= 5
    for entry in atom.entries:
        for link in entry.get("links", []):
            assert link.href.startswith(("https://", "http://")), link.href
    feed = json.loads((site / "feed.json").read_text("utf-8"))
    for item in feed["items"]:
        assert item.get("url", "https://").startswith(("https://", "http://"))
        assert "<script" not in item["content_html"]
        assert "javascript:" not in item["content_html"].lower()


# -- in a browser ----------------------------------------------------------------------------

PROBE = """(() => {
  const site = %s;
  const links = [...document.querySelectorAll('a[href], area[href]')];
  return {
    title: document.title,
    pwned: typeof window.__pwned,
    links: links.length,
    bad: links.map(a => a.href).filter(h => !/^https?:/i.test(h) && !h.startsWith(site)),
    handlers: [...document.querySelectorAll('*')]
      .filter(e => [...e.attributes].some(a => a.name.toLowerCase().startsWith('on'))).length,
    active: document.querySelectorAll('script, iframe, object, embed, img, form, base').length,
  };
})()"""


def probe(browser: Chromium, page: Path, site: Path, *, no_csp: bool) -> dict[str, object]:
    browser.open(page.as_uri(), 1280, no_csp=no_csp)
    result: dict[str, object] = browser.evaluate(PROBE % json.dumps(site.resolve().as_uri()))
    return result


def test_the_probe_sees_a_payload_that_runs(chromium: Chromium, tmp_path: Path) -> None:  # noqa: F811
    """The check below would catch a script that ran and a javascript: link."""
    canary = tmp_path / "canary.html"
    canary.write_text(
        f"<!DOCTYPE html><title>ok</title><script>{PWN}</script>"
        f'<a href="javascript:{PWN}">x</a><a href="https://ok.example/">y</a>'
    )
    seen = probe(chromium, canary, tmp_path, no_csp=True)
    assert seen["title"] == "PWNED"
    assert seen["pwned"] == "number"
    assert seen["bad"] == [f"javascript:{PWN}"]


@pytest.mark.parametrize("no_csp", [False, True], ids=["with-csp", "escaping-only"])
def test_no_script_runs_and_no_link_leaves_http(
    chromium: Chromium,  # noqa: F811
    site: Path,
    no_csp: bool,
) -> None:
    for page in pages(site):
        seen = probe(chromium, page, site, no_csp=no_csp)
        name = str(page.relative_to(site))
        assert "PWNED" not in str(seen["title"]), name
        assert seen["pwned"] == "undefined", name
        assert seen["bad"] == [], name
        assert seen["handlers"] == 0, name
        assert seen["active"] == 0, name
        assert isinstance(seen["links"], int)
        assert seen["links"] > 0
