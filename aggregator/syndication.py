"""The digest as machine-readable feeds: ``atom.xml`` (Atom 1.0, RFC 4287) and ``feed.json``
(JSON Feed 1.1). Pure: story cards in, text out; ``render`` writes the files.

One entry per story: the lead report is the entry's ``alternate`` link (JSON Feed ``url``),
every other outlet's report a ``related`` link (JSON Feed ``_aggregator.related``), region and
topic are categories (tags). Ids are stable: ``site_url`` + ``#story-<id>`` when the site has
a public address, else a name-based UUID of the digest's identity and the story id.
"""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aggregator.digest import StoryView

ATOM_NS = "http://www.w3.org/2005/Atom"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
SCHEME = "https://github.com/aggregator-news/aggregator#"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FEED_RELATED = 50  # related links per story: each other outlet's latest report, at most 50


@dataclass(frozen=True)
class FeedMeta:
    """What both feeds say about the digest itself."""

    title: str
    identity: str  # site_url, or any stable string naming this digest (its output folder)
    site_url: str | None
    updated_iso: str
    version: str


def feed_id(meta: FeedMeta) -> str:
    if meta.site_url:
        return meta.site_url + "atom.xml"
    return uuid.uuid5(uuid.NAMESPACE_URL, "aggregator:" + meta.identity).urn


def entry_id(meta: FeedMeta, story: StoryView) -> str:
    if meta.site_url:
        return f"{meta.site_url}index.html#{story.anchor}"
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{feed_id(meta)}#{story.anchor}").urn


def coverage_text(story: StoryView) -> str:
    outlets = [story.outlet, *(link.outlet for link in story.related_outlets)]
    names = list(dict.fromkeys(o for o in outlets if o))
    head = f"Reported by {story.outlets} outlet{'s' if story.outlets != 1 else ''}"
    return f"{head}: {', '.join(names)}." if names else f"{head}."


def _coverage_html(story: StoryView) -> str:
    """The related coverage as a small HTML fragment (escaped by ElementTree as text)."""
    parts = []
    if story.summary:
        p = ET.Element("p")
        p.text = story.summary
        parts.append(ET.tostring(p, encoding="unicode"))
    ul = ET.Element("ul")
    for link in story.related_outlets[:FEED_RELATED]:
        li = ET.SubElement(ul, "li")
        if link.url:
            a = ET.SubElement(li, "a", href=link.url, rel="noopener noreferrer")
            a.text = link.title
            a.tail = f" ({link.outlet}, {link.published_text})"
        else:
            li.text = f"{link.title} ({link.outlet}, {link.published_text})"
    p = ET.Element("p")
    p.text = coverage_text(story)
    parts.append(ET.tostring(p, encoding="unicode"))
    if story.related_outlets:
        parts.append(ET.tostring(ul, encoding="unicode", method="html"))
    return "".join(parts)


def atom(stories: Sequence[StoryView], meta: FeedMeta) -> str:
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            el.text = text
        return el

    feed = ET.Element(f"{{{ATOM_NS}}}feed", {XML_LANG: "en"})
    sub(feed, "id", feed_id(meta))
    sub(feed, "title", meta.title, type="text")
    sub(feed, "updated", meta.updated_iso)
    sub(feed, "generator", "aggregator", version=meta.version)
    author = sub(feed, "author")
    sub(author, "name", "aggregator")
    if meta.site_url:
        sub(feed, "link", rel="self", type="application/atom+xml", href=meta.site_url + "atom.xml")
        sub(feed, "link", rel="alternate", type="text/html", href=meta.site_url + "index.html")
    for story in stories:
        entry = sub(feed, "entry")
        sub(entry, "id", entry_id(meta, story))
        sub(entry, "title", story.headline, type="text")
        sub(entry, "published", story.first_seen_iso)
        sub(entry, "updated", story.last_seen_iso)
        if story.outlet:
            sub(sub(entry, "author"), "name", story.outlet)
        if story.url:
            sub(entry, "link", rel="alternate", type="text/html", href=story.url)
        for link in story.related_outlets[:FEED_RELATED]:
            if link.url:
                sub(
                    entry,
                    "link",
                    rel="related",
                    href=link.url,
                    title=f"{link.outlet}: {link.title}",
                )
        sub(entry, "category", term=story.region, scheme=SCHEME + "region", label=story.region)
        sub(entry, "category", term=story.topic, scheme=SCHEME + "topic", label=story.topic_label)
        sub(entry, "summary", coverage_text(story), type="text")
        sub(entry, "content", _coverage_html(story), type="html")
    ET.indent(feed, "  ")
    body = ET.tostring(feed, encoding="unicode")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n"


def json_feed(stories: Sequence[StoryView], meta: FeedMeta) -> str:
    items: list[dict[str, Any]] = []
    for story in stories:
        item: dict[str, Any] = {"id": entry_id(meta, story)}
        if story.url:
            item["url"] = story.url
        item.update(
            {
                "title": story.headline,
                "content_text": (story.summary + "\n\n" if story.summary else "")
                + coverage_text(story),
                "content_html": _coverage_html(story),
                "date_published": story.first_seen_iso,
                "date_modified": story.last_seen_iso,
                "tags": [story.region, story.topic],
                "_aggregator": {
                    "story_id": story.id,
                    "outlets": story.outlets,
                    "reports": story.reports,
                    "region": story.region,
                    "topic": story.topic,
                    "countries": list(story.countries),
                    "related": [
                        {
                            "title": link.title,
                            "outlet": link.outlet,
                            "date_published": link.published_iso,
                            **({"url": link.url} if link.url else {}),
                        }
                        for link in story.related_outlets[:FEED_RELATED]
                    ],
                },
            }
        )
        if story.outlet:
            item["authors"] = [{"name": story.outlet}]
        items.append(item)
    feed: dict[str, Any] = {"version": JSON_FEED_VERSION, "title": meta.title}
    if meta.site_url:
        feed["home_page_url"] = meta.site_url + "index.html"
        feed["feed_url"] = meta.site_url + "feed.json"
    feed.update(
        {
            "description": "The stories most outlets are covering, with every outlet's link.",
            "language": "en",
            "_aggregator": {"generated": meta.updated_iso, "version": meta.version},
            "items": items,
        }
    )
    return json.dumps(feed, ensure_ascii=False, indent=1) + "\n"
