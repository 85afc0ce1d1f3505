"""OPML 2.0 <-> :class:`~aggregator.models.Source`: pure functions over bytes, text and data.

Reading (``aggregator feeds import``): every ``<outline>`` with an ``xmlUrl`` is a feed, named
by its ``title`` (else ``text``). Enclosing folder outlines whose text names a region or a topic
of the configuration's taxonomy (in any case: "europe", "Middle East", "Economy") give the
region and topic hints; other folder names are ignored. Our own attributes, written by
``write_opml``, take precedence over the folders::

    aggregatorKind      "feed" or "html"; an html source has no xmlUrl, its page is in "url"
    aggregatorRegion    region hint
    aggregatorTopic     topic hint
    aggregatorInterval  fetch interval, as in feeds.yaml ("15m", "2h", "90s")
    aggregatorSelector  CSS selector of an html source

so ``write_opml`` followed by ``read_opml`` gives back every field of every source.

The XML is parsed by lxml without network access, DTD loading or entity resolution, and a
document with a DOCTYPE is refused outright (no entity expansion, no external entities).
Every problem is a one-line :class:`~aggregator.errors.ConfigError` naming the file and, where
there is one, the outline (its name and line).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from datetime import timedelta
from urllib.parse import urlsplit

import lxml.etree

from aggregator.config import SOURCE_KINDS, check_selector, check_url, parse_config
from aggregator.errors import ConfigError
from aggregator.models import Source, Taxonomy

KIND = "aggregatorKind"
REGION = "aggregatorRegion"
TOPIC = "aggregatorTopic"
INTERVAL = "aggregatorInterval"
SELECTOR = "aggregatorSelector"
DEFAULT_TITLE = "aggregator sources"
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.I)


def match_name(value: str | None, names: Sequence[str]) -> str | None:
    """The name in ``names`` that ``value`` spells, ignoring case and runs of spaces."""
    if value is None:
        return None
    wanted = " ".join(value.split()).casefold()
    for name in names:
        if " ".join(name.split()).casefold() == wanted:
            return name
    return None


def format_interval(interval: timedelta) -> str:
    """A duration as feeds.yaml writes it: the largest whole unit (``1d``, ``2h``, ``15m``),
    else seconds, exact to the microsecond (``90s``, ``1.5s``)."""
    micro = interval // timedelta(microseconds=1)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if micro % (size * 10**6) == 0:
            return f"{micro // (size * 10**6)}{unit}"
    whole, fraction = divmod(micro, 10**6)
    return f"{whole}.{fraction:06d}".rstrip("0") + "s"


def _interval(value: str, where: str) -> timedelta:
    """A feeds.yaml duration, read by the configuration's own rules."""
    try:
        return parse_config({"settings": {"interval": value.strip()}}).settings.interval
    except ConfigError as e:
        problem = str(e).removeprefix("settings.interval: ")
        raise ConfigError(f"{where}: {problem}") from None


# -- reading --------------------------------------------------------------------------------


def _parse_xml(data: bytes, file: str) -> lxml.etree._Element:
    """The root element, parsed with no network, no DTD and no entity expansion."""
    if _DOCTYPE.search(data):
        raise ConfigError(f"{file}: a DOCTYPE is not allowed in OPML (it could expand entities)")
    parser = lxml.etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = lxml.etree.fromstring(data, parser)
    except lxml.etree.XMLSyntaxError as e:
        message = " ".join(str(e.msg or e).split())
        raise ConfigError(f"{file}: not valid XML: {message}") from None
    if root.getroottree().docinfo.internalDTD is not None:  # a DOCTYPE not in ASCII bytes
        raise ConfigError(f"{file}: a DOCTYPE is not allowed in OPML (it could expand entities)")
    return root


def _label(outline: lxml.etree._Element) -> str:
    for key in ("title", "text", "xmlUrl", "url"):
        value = " ".join((outline.get(key) or "").split())
        if value:
            return value[:60]
    return "(untitled)"


def _hint(
    outline: lxml.etree._Element, key: str, names: Sequence[str], inherited: str | None, where: str
) -> str | None:
    """Our attribute ``key`` when the outline has it (empty meaning none), else ``inherited``."""
    value = outline.get(key)
    if value is None:
        return inherited
    if not value.strip():
        return None
    name = match_name(value, names)
    if name is None:
        raise ConfigError(f"{where}: {key}: expected one of {', '.join(names)}, got {value!r}")
    return name


def _source(
    outline: lxml.etree._Element,
    where: str,
    region: str | None,
    topic: str | None,
    taxonomy: Taxonomy,
) -> Source | None:
    """The source an outline describes, or None when it is not one (a folder, a link)."""
    kind = outline.get(KIND)
    xml_url = outline.get("xmlUrl")
    if kind is not None:
        kind = kind.strip()
        if kind not in SOURCE_KINDS:
            raise ConfigError(
                f"{where}: {KIND}: expected one of {', '.join(SOURCE_KINDS)}, got {kind!r}"
            )
    elif xml_url is not None:
        kind = "feed"
    else:
        return None
    if xml_url is not None:
        url = check_url(xml_url, f"{where}: xmlUrl")
    else:
        page = outline.get("url") if outline.get("url") is not None else outline.get("htmlUrl")
        if kind == "feed" or page is None:
            raise ConfigError(f"{where}: a source of kind {kind} needs an xmlUrl or url")
        url = check_url(page, f"{where}: url")
    name = (outline.get("title") or outline.get("text") or "").strip()
    interval = outline.get(INTERVAL)
    selector = outline.get(SELECTOR)
    if selector is not None and kind != "html":
        raise ConfigError(f"{where}: {SELECTOR}: only sources of kind html take a selector")
    return Source(
        url=url,
        name=name or urlsplit(url).hostname or url,
        kind=kind,
        region=_hint(outline, REGION, taxonomy.regions, region, where),
        topic=_hint(outline, TOPIC, taxonomy.topics, topic, where),
        interval=_interval(interval, f"{where}: {INTERVAL}") if interval is not None else None,
        selector=check_selector(selector.strip(), f"{where}: {SELECTOR}") if selector else None,
    )


def read_opml(data: bytes, *, file: str, taxonomy: Taxonomy | None = None) -> list[Source]:
    """The sources of an OPML document, in document order (duplicates included: the caller
    decides what to skip). ``file`` names the document in error messages; ``taxonomy`` gives
    the region and topic names folders and attributes may use."""
    taxonomy = taxonomy or Taxonomy()
    root = _parse_xml(data, file)
    if root.tag != "opml":
        raise ConfigError(f"{file}: not OPML: the root element is <{root.tag}>, not <opml>")
    body = root.find("body")
    if body is None:
        raise ConfigError(f"{file}: not OPML: no <body>")
    sources: list[Source] = []

    def walk(parent: lxml.etree._Element, region: str | None, topic: str | None) -> None:
        for outline in parent.iterchildren("outline"):
            where = f"{file}: outline {_label(outline)!r} (line {outline.sourceline})"
            source = _source(outline, where, region, topic, taxonomy)
            if source is not None:
                sources.append(source)
                walk(outline, region, topic)
                continue
            text = outline.get("text") or outline.get("title")
            walk(
                outline,
                match_name(text, taxonomy.regions) or region,
                match_name(text, taxonomy.topics) or topic,
            )

    walk(body, None, None)
    return sources


# -- writing --------------------------------------------------------------------------------


def _attributes(source: Source) -> dict[str, str]:
    attrs = {"text": source.name, "title": source.name}
    if source.kind == "feed":
        attrs |= {"type": "rss", "xmlUrl": source.url}
    else:
        attrs |= {"type": "link", "url": source.url, KIND: source.kind}
    if source.region:
        attrs[REGION] = source.region
    if source.topic:
        attrs[TOPIC] = source.topic
    if source.interval is not None:
        attrs[INTERVAL] = format_interval(source.interval)
    if source.selector:
        attrs[SELECTOR] = source.selector
    return attrs


def _folder(parent: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(parent, "outline", {"text": name, "title": name})


def write_opml(sources: Iterable[Source], *, title: str = DEFAULT_TITLE) -> str:
    """OPML 2.0 text of ``sources``: folders by region, then by topic, each in order of first
    appearance (sources without a hint sit outside the folder); every field is kept in the
    source's attributes, so ``read_opml`` gives the same sources back."""
    groups: dict[str | None, dict[str | None, list[Source]]] = {}
    for source in sources:
        groups.setdefault(source.region, {}).setdefault(source.topic, []).append(source)
    root = ET.Element("opml", {"version": "2.0"})
    ET.SubElement(ET.SubElement(root, "head"), "title").text = title
    body = ET.SubElement(root, "body")
    for region, topics in groups.items():
        region_parent = body if region is None else _folder(body, region)
        for topic, members in topics.items():
            parent = region_parent if topic is None else _folder(region_parent, topic)
            for source in members:
                ET.SubElement(parent, "outline", _attributes(source))
    ET.indent(root, "  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
