"""An HTML page -> :class:`~aggregator.models.ParsedFeed`: the headline links of one block.

Sources of ``kind: html`` are pages whose list of links is the feed: the "Explore" block
under an article, a section front, a "Most read" box. With a CSS ``selector`` the links are
those the selector picks (a matched ``<a>`` is a link; any other matched element gives the
links inside it). Without one, the automatic mode looks for a short heading whose text is
one of :data:`HEADINGS` ("Explore", "Related", "More on this", "Read more", "Most read",
"Recommended", ...) and takes the links that follow it inside its nearest container, up to
the next such heading; when several headings qualify, the one with the most links wins.

In automatic mode a link must look like a headline: an http(s) target outside ``<nav>``,
at least :data:`MIN_WORDS` words of text, not part of running text (a link inside a
paragraph much longer than itself is prose). Relative URLs are resolved against
``<base href>`` or the page's URL, repeats and links to the page itself are dropped, and
link text is cleaned (a heading inside a card's link is preferred to the card's whole
text). The page's own headline (``og:title``, else its first ``<h1>``, else ``<title>``)
becomes the feed's title, which is how the store records which page listed the entries.

lxml's HTML parser copes with unclosed tags and never touches the network; a page with no
usable block raises :class:`~aggregator.errors.ParseError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from aggregator.errors import ParseError
from aggregator.models import ParsedEntry, ParsedFeed

HEADINGS = (
    "explore",
    "explore more",
    "related",
    "related stories",
    "related articles",
    "related content",
    "related coverage",
    "related news",
    "related links",
    "more on this",
    "more on this story",
    "more on this topic",
    "more about this",
    "read more",
    "read next",
    "more to read",
    "more stories",
    "more news",
    "most read",
    "most popular",
    "most viewed",
    "popular now",
    "trending",
    "recommended",
    "recommended for you",
    "recommended stories",
    "you may also like",
    "you might also like",
    "also read",
    "see also",
    "top stories",
    "latest news",
    "editor's picks",
    "editors' picks",
)
MIN_WORDS = 3  # "World", "Sign in", "Read more" are not headlines
MIN_BLOCK = 3  # a heading followed by fewer links is a label, not a list
MAX_HEADING_CHARS = 60
MAX_LEVELS = 5  # how far up from a heading its list's container may be
MAX_LINKS = 500  # a pathological page gives at most this many entries
MAX_HEADINGS = 50  # headings tried in automatic mode (a hostile page may repeat them)
PROSE_RATIO = 2.0  # a link in a paragraph this many times its length is running text

_SPACE = re.compile(r"\s+")
_HEADING_TRIM = re.compile(r"^[\W_]+|[\W_]+$")
_HEADLINE_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._-]+)", re.I)


def _clean(text: str | None) -> str:
    return _SPACE.sub(" ", text or "").strip()


def _heading_key(text: str) -> str:
    return _HEADING_TRIM.sub("", _clean(text).casefold().replace("\u2019", "'"))


def _document(url: str, body: bytes, headers: Mapping[str, str]) -> lxml.html.HtmlElement:
    if not body.strip():
        raise ParseError(url, "empty page")
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    match = _CHARSET.search(content_type)
    encoding = match.group(1) if match else None
    try:
        parser = lxml.html.HTMLParser(
            encoding=encoding, remove_comments=True, remove_pis=True, no_network=True
        )
    except LookupError:  # an unknown charset label: let lxml read the page's own
        parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True)
    try:
        root = lxml.html.document_fromstring(body, parser=parser)
    except (etree.ParserError, ValueError) as e:
        raise ParseError(url, f"not an HTML page ({e})") from None
    if root is None:
        raise ParseError(url, "not an HTML page")
    return root


def _base(root: lxml.html.HtmlElement, url: str) -> str:
    for href in root.xpath("//base/@href"):
        absolute = urljoin(url, str(href).strip())
        if urlsplit(absolute).scheme in ("http", "https"):
            return absolute
    return url


def page_headline(root: lxml.html.HtmlElement) -> str | None:
    """The page's own headline: ``og:title``, else the first ``<h1>``, else ``<title>``."""
    for value in root.xpath("//meta[@property='og:title']/@content"):
        if _clean(str(value)):
            return _clean(str(value))
    for h1 in root.iter("h1"):
        text = _clean(h1.text_content())
        if text:
            return text
    for title in root.iter("title"):
        text = _clean(title.text_content())
        if text:
            return text
    return None


def _link_text(a: lxml.html.HtmlElement) -> str:
    """The headline of a link: a heading inside it (a card), else its text, else its title."""
    for tag in _HEADLINE_TAGS:
        for h in a.iter(tag):
            text = _clean(h.text_content())
            if text:
                return text
    return _clean(a.text_content()) or _clean(a.get("title")) or _clean(a.get("aria-label"))


def _target(a: lxml.html.HtmlElement, base: str) -> str | None:
    href = str(a.get("href") or "").strip()
    if not href or href.startswith("#"):
        return None
    try:
        absolute = urljoin(base, href)
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return str(absolute).split("#", 1)[0]


def _in_nav(a: lxml.html.HtmlElement) -> bool:
    return any(el.tag == "nav" or el.get("role") == "navigation" for el in a.iterancestors())


def _in_prose(a: lxml.html.HtmlElement, text: str) -> bool:
    for el in a.iterancestors():
        if el.tag == "p":
            return len(_clean(el.text_content())) > PROSE_RATIO * max(len(text), 1)
        if el.tag in ("li", "div", "section", "article", "aside", "ul", "ol", "body"):
            return False
    return False


def _headline_link(a: lxml.html.HtmlElement) -> bool:
    text = _link_text(a)
    return len(text.split()) >= MIN_WORDS and not _in_nav(a) and not _in_prose(a, text)


def _is_heading(el: lxml.html.HtmlElement) -> bool:
    """An element whose own text is one of :data:`HEADINGS` (linear: only ``el.text`` is
    read, never a subtree's text), outside any link."""
    if el.tag == "a" or not isinstance(el.tag, str):
        return False
    text = el.text
    if not text or len(text) > MAX_HEADING_CHARS or _heading_key(text) not in HEADINGS:
        return False
    return not any(anc.tag == "a" for anc in el.iterancestors())


def _following(
    heading: lxml.html.HtmlElement, container: lxml.html.HtmlElement
) -> Iterator[lxml.html.HtmlElement]:
    """The elements after ``heading``'s own text inside ``container``, in document order
    (its own children first: an unclosed heading swallows the list that follows it)."""
    yield from heading.iterdescendants()
    node: lxml.html.HtmlElement | None = heading
    while node is not None and node is not container:
        for sibling in node.itersiblings():
            yield from sibling.iter()
        node = node.getparent()


def _block_after(
    heading: lxml.html.HtmlElement,
    headings: set[lxml.html.HtmlElement],
    judged: dict[lxml.html.HtmlElement, bool],
) -> list[lxml.html.HtmlElement]:
    """The headline links after ``heading`` in its nearest container holding enough of them,
    stopping at the next heading (``judged`` remembers which links look like headlines)."""
    container = heading
    for _ in range(MAX_LEVELS):
        parent = container.getparent()
        if parent is None:
            break
        container = parent
        links: list[lxml.html.HtmlElement] = []
        for el in _following(heading, container):
            if el in headings:
                break
            if el.tag == "a":
                verdict = judged.get(el)
                if verdict is None:
                    verdict = judged[el] = _headline_link(el)
                if verdict:
                    links.append(el)
        if len(links) >= MIN_BLOCK:
            return links
    return []


def _automatic(root: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    found = [el for el in root.iter() if _is_heading(el)]  # document order
    headings = set(found)
    judged: dict[lxml.html.HtmlElement, bool] = {}
    best: list[lxml.html.HtmlElement] = []
    for heading in found[:MAX_HEADINGS]:
        links = _block_after(heading, headings, judged)
        if len(links) > len(best):
            best = links
    return best


def _selected(
    url: str, root: lxml.html.HtmlElement, selector: str
) -> Iterator[lxml.html.HtmlElement]:
    try:
        matches = root.cssselect(selector)
    except Exception as e:  # a selector config validation let through
        raise ParseError(url, f"selector {selector!r} failed ({e})") from None
    for el in matches:
        if el.tag == "a":
            yield el
        else:
            yield from el.iter("a")


def _entries(links: Iterable[lxml.html.HtmlElement], base: str, page: str) -> list[ParsedEntry]:
    out: list[ParsedEntry] = []
    seen = {page.split("#", 1)[0]}
    for a in links:
        url = _target(a, base)
        title = _link_text(a)
        if url is None or not title or url in seen:
            continue
        seen.add(url)
        out.append(ParsedEntry(title=title, link=url))
        if len(out) >= MAX_LINKS:
            break
    return out


def parse_html_page(
    url: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    selector: str | None = None,
    location: str | None = None,
) -> ParsedFeed:
    """The headline links of the page fetched from ``url`` (``location``: where redirects
    ended, for resolving relative links) as a feed whose title is the page's headline."""
    root = _document(url, body, headers or {})
    page = location or url
    base = _base(root, page)
    links = list(_selected(url, root, selector)) if selector else _automatic(root)
    entries = _entries(links, base, page)
    if not entries:
        how = f"selector {selector!r}" if selector else "automatic mode (no Explore/Related list)"
        raise ParseError(url, f"no headline links found on the page by {how}")
    return ParsedFeed(url=url, title=page_headline(root), link=page, entries=entries)
