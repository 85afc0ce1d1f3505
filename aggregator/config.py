"""feeds.yaml -> a frozen, validated :class:`Config`.

The whole file is checked before anything runs; the first problem found is raised as a
:class:`~aggregator.errors.ConfigError` whose one-line message names the file and the key, e.g.
``feeds.yaml: sources[3].url: not an http(s) URL: 'ftp://x'``.

Every setting, its type, default and help text is listed once, in :data:`SETTINGS`; the README
documents each (a test checks that).
"""

from __future__ import annotations

import codecs
import ipaddress
import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import time, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from cssselect import GenericTranslator, SelectorError

from aggregator.errors import ConfigError
from aggregator.models import REGIONS, TOPICS, Place, Source, Taxonomy

DEFAULT_USER_AGENT = "aggregator/0.1 (+https://github.com/aggregator-news/aggregator)"
SOURCE_KINDS = ("feed", "html")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$")
MAX_DURATION = timedelta(days=3650)
_UNITS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    check: Callable[[Any, str], Any]


def _duration(value: Any, where: str) -> timedelta:
    """Seconds as a number, or a string such as ``90s``, ``30m``, ``2h``, ``1d``."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a duration such as 30m, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ConfigError(f"{where}: expected a duration such as 30m, 2h or 600, got {value!r}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{where}: must be a finite duration greater than zero, got {value!r}")
    if seconds > MAX_DURATION.total_seconds():
        raise ConfigError(f"{where}: at most {MAX_DURATION.days} days, got {value!r}")
    return timedelta(seconds=seconds)


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: expected a whole number >= 1, got {value!r}")
    return value


def _seconds(value: Any, where: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= 86400
    ):
        raise ConfigError(f"{where}: expected a number of seconds (0 to 86400), got {value!r}")
    return float(value)


def _fraction(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        # (NaN fails "0 < value < 1" too)
        raise ConfigError(f"{where}: expected a number between 0 and 1, got {value!r}")
    return float(value)


MAX_RETENTION_DAYS = 36500


def _retention_days(value: Any, where: str) -> float | None:
    """Days the live tables keep (fractions allowed); 0 or null keeps everything."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= MAX_RETENTION_DAYS
    ):
        # (NaN fails the range test too)
        raise ConfigError(
            f"{where}: expected a number of days from 0 to {MAX_RETENTION_DAYS} "
            f"(0 or null keeps everything), got {value!r}"
        )
    return float(value) or None


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a non-empty string, got {value!r}")
    return value.strip()


def _header_text(value: Any, where: str) -> str:
    """Text sent as an HTTP header value: printable ASCII only (httpx encodes header values
    as ASCII, and a line break would end the header)."""
    text = _text(value, where)
    if not (text.isascii() and text.isprintable()):
        raise ConfigError(f"{where}: expected printable ASCII (an HTTP header), got {text!r}")
    return text


def _shown(key: Any) -> str:
    """A key as a message names it: as written when printable, else quoted, so a key holding
    a line break cannot break the one-line message."""
    text = str(key)
    return text if text.isprintable() else repr(text)


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value


def _semantic(value: Any, where: str) -> bool:
    enabled = _flag(value, where)
    if enabled:
        from aggregator.semantic import INSTALL_HINT, missing

        absent = missing()
        if absent:
            raise ConfigError(f"{where}: needs {', '.join(absent)}: {INSTALL_HINT}")
    return enabled


_TIME_OF_DAY = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _editions(value: Any, where: str) -> tuple[time, ...]:
    """Times of day (UTC) as ``HH:MM`` strings, in a list; sorted, no duplicates."""
    if not isinstance(value, list):
        raise ConfigError(f'{where}: expected a list of UTC times such as ["07:00"], got {value!r}')
    times: list[time] = []
    for i, item in enumerate(value):
        m = _TIME_OF_DAY.match(item.strip()) if isinstance(item, str) else None
        if isinstance(item, int) and not isinstance(item, bool) and 0 <= item < 24 * 60:
            # YAML 1.1 reads an unquoted 19:00 as the base-60 number 1140
            hours, minutes = divmod(item, 60)
            raise ConfigError(
                f"{where}[{i}]: got the number {item}, which is how YAML reads an unquoted "
                f'{hours}:{minutes:02d}; write it in quotes: "{hours:02d}:{minutes:02d}"'
            )
        if m is None:
            raise ConfigError(
                f"{where}[{i}]: expected a UTC time HH:MM (00:00-23:59), got {item!r}"
            )
        t = time(int(m.group(1)), int(m.group(2)))
        if t in times:
            raise ConfigError(f"{where}[{i}]: {t:%H:%M} is listed twice")
        times.append(t)
    return tuple(sorted(times))


def _optional_text(value: Any, where: str) -> str | None:
    return None if value is None else _text(value, where)


def _site_url(value: Any, where: str) -> str | None:
    """The public address of ``output_dir``, always ending in ``/``."""
    if value is None:
        return None
    url = check_url(value, where)
    return url if url.endswith("/") else url + "/"


SETTINGS: tuple[Setting, ...] = (
    Setting("database", "aggregator.db", "SQLite database file (relative to feeds.yaml).", _text),
    Setting(
        "output_dir", "site", "Where the HTML digest is written (relative to feeds.yaml).", _text
    ),
    Setting(
        "templates_dir", None, "Folder of Jinja2 templates overriding the defaults.", _optional_text
    ),
    Setting(
        "site_url",
        None,
        "Public URL of output_dir, for absolute links and ids in atom.xml and feed.json.",
        _site_url,
    ),
    Setting("interval", "30m", "Default time between two fetches of one feed.", _duration),
    Setting(
        "user_agent", DEFAULT_USER_AGENT, "User-Agent header sent with every request.", _header_text
    ),
    Setting("timeout", 30, "Total deadline in seconds for fetching one feed.", _seconds),
    Setting("connect_timeout", 10, "Seconds allowed to open a connection.", _seconds),
    Setting("concurrency", 16, "Feeds fetched at the same time, in all.", _positive_int),
    Setting("per_host", 2, "Feeds fetched at the same time from one host.", _positive_int),
    Setting(
        "allow_private_targets",
        False,
        "Follow redirects from public feed addresses to private, loopback or link-local ones.",
        _flag,
    ),
    Setting(
        "max_body_bytes", 15 * 1024 * 1024, "Largest feed body accepted, in bytes.", _positive_int
    ),
    Setting("max_backoff", "24h", "Longest wait between retries of a failing feed.", _duration),
    Setting(
        "max_wait",
        "7d",
        "Longest wait a server's hints (ttl, Cache-Control, Retry-After) can ask for.",
        _duration,
    ),
    Setting(
        "status_max_failing",
        0.25,
        "Share of failing feeds above which `aggregator status` exits non-zero.",
        _fraction,
    ),
    Setting(
        "retention_days",
        90,
        "Days stories and entries stay in the database (archive pages stay); 0 or null: always.",
        _retention_days,
    ),
    Setting("cluster_threshold", 0.26, "Similarity (0-1) needed to join a story.", _fraction),
    Setting(
        "cluster_window", "72h", "How far apart in time two reports of one story can be.", _duration
    ),
    Setting(
        "semantic", False, "Also compare headlines by sentence embeddings (an extra).", _semantic
    ),
    Setting(
        "digest_window",
        "48h",
        "Stories updated within this window appear in the digest.",
        _duration,
    ),
    Setting("digest_max_stories", 300, "Most stories shown in the digest.", _positive_int),
    Setting(
        "editions",
        [],
        "UTC times of day (HH:MM) at which the daemon freezes a copy of the digest.",
        _editions,
    ),
)
_SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}
_SOURCE_KEYS = ("url", "name", "kind", "region", "topic", "interval", "selector")


@dataclass(frozen=True)
class Settings:
    database: Path = Path("aggregator.db")
    output_dir: Path = Path("site")
    templates_dir: Path | None = None
    site_url: str | None = None
    interval: timedelta = timedelta(minutes=30)
    user_agent: str = DEFAULT_USER_AGENT
    timeout: float = 30.0
    connect_timeout: float = 10.0
    concurrency: int = 16
    per_host: int = 2
    max_body_bytes: int = 15 * 1024 * 1024
    allow_private_targets: bool = False
    max_backoff: timedelta = timedelta(hours=24)
    max_wait: timedelta = timedelta(days=7)
    status_max_failing: float = 0.25
    retention_days: float | None = 90.0
    cluster_threshold: float = 0.26
    cluster_window: timedelta = timedelta(hours=72)
    semantic: bool = False
    digest_window: timedelta = timedelta(hours=48)
    digest_max_stories: int = 300
    editions: tuple[time, ...] = ()


@dataclass(frozen=True)
class Config:
    settings: Settings = field(default_factory=Settings)
    sources: tuple[Source, ...] = ()
    path: Path | None = None
    taxonomy: Taxonomy = field(default_factory=Taxonomy)

    def with_settings(self, **changes: Any) -> Config:
        return replace(self, settings=replace(self.settings, **changes))


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and aliases (no YAML bombs, no silent overwrite)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            kind = type(key).__name__
            raise ConfigError(f"a key must be a plain value, not a {kind} (line {line})") from None
        if key in mapping:
            raise ConfigError(f"duplicate key {key!r} (line {line})")
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


_FastLoader: type[Any] | None = None
if hasattr(yaml, "CSafeLoader"):  # libyaml: about 8x faster on a feeds.yaml of 1,000 sources

    class _StrictCLoader(yaml.CSafeLoader):
        """libyaml's loader with the same duplicate-key check; used only on documents with
        no ``&`` at all, which therefore cannot hold an anchor, so no alias can resolve."""

    _StrictCLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
    )
    _FastLoader = _StrictCLoader


def _load_yaml(text: str) -> Any:
    """The YAML document in ``text``, refusing duplicate keys and aliases."""
    try:
        if _FastLoader is not None and "&" not in text:
            return yaml.load(text, Loader=_FastLoader)
        return yaml.load(text, Loader=_NoAliasComposer)
    except RecursionError:  # libyaml stops at 1,000 levels, PyYAML's constructor before
        raise ConfigError("nested too deeply") from None


class _NoAliasComposer(_StrictLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise ConfigError(f"YAML aliases are not allowed (line {event.start_mark.line + 1})")
        return super().compose_node(parent, index)


def check_url(value: Any, where: str) -> str:
    """An absolute http(s) URL with a host, or a ConfigError naming ``where``."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a URL, got {value!r}")
    url = value.strip()
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a bad port
    except ValueError as e:
        raise ConfigError(f"{where}: malformed URL {url!r}: {e}") from e
    if parts.scheme.lower() not in ("http", "https"):
        raise ConfigError(f"{where}: not an http(s) URL: {url!r}")
    if not parts.hostname or port == 0 or not url.isprintable() or any(c.isspace() for c in url):
        raise ConfigError(f"{where}: malformed URL {url!r}")
    try:
        _ascii_host(parts.hostname)
    except ValueError as e:
        raise ConfigError(f"{where}: {e}: {url!r}") from None
    return url


_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_IDNA_DOTS = ".\u3002\uff0e\uff61"


def _ascii_host(host: str) -> str:
    """``host`` (lower case, as urlsplit gives it) in ASCII: an IP address, or a name whose
    labels are letters, digits, '-' and '_' after IDNA encoding; else ValueError saying why
    (empty or overlong labels, symbols, broken punycode such as ``xn--zz``)."""
    if ":" in host:  # an IPv6 literal (the brackets are gone)
        try:
            ipaddress.ip_address(host.partition("%")[0])
        except ValueError:
            raise ValueError("not an IP address in brackets") from None
        return host
    name = host.removesuffix(".")
    if not name.isascii():
        if any(unicodedata.category(c)[0] not in "LMN" for c in name if c not in _IDNA_DOTS):
            raise ValueError("a host name may hold only letters, digits, '-' and '.'")
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError("not a valid international host name") from None
    labels = name.split(".")
    if len(name) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise ValueError("not a valid host name")
    for label in labels:
        if label.startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                raise ValueError(f"not a valid international host name ({label})") from None
    return name


def _url_key(url: str) -> str:
    parts = urlsplit(url)
    host = _ascii_host(parts.hostname or "")
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme.lower()}://{host}{port}{parts.path or '/'}?{parts.query}"


_CLASSIFY_KEYS = ("regions", "places", "topics")
_NAME = re.compile(r"^[^\x00-\x1f<>&\"]{1,40}$")


def _label(value: Any, where: str) -> str:
    """A region or topic name: short, printable, no markup characters."""
    if not isinstance(value, str) or not _NAME.match(value.strip()) or not value.isprintable():
        raise ConfigError(f"{where}: expected a short name (1-40 characters), got {value!r}")
    return value.strip()


def _country(value: Any, where: str, countries: frozenset[str]) -> str:
    code = value.strip().upper() if isinstance(value, str) else value
    if not isinstance(code, str) or code not in countries:
        raise ConfigError(f"{where}: expected an ISO 3166 alpha-2 country code, got {value!r}")
    return str(code)


@cache
def _country_codes() -> frozenset[str]:
    """The ISO 3166 codes the shipped gazetteer knows (read here, not from the gazetteer
    module: configuration comes before every stage)."""
    text = resources.files("aggregator").joinpath("data/gazetteer.json").read_text("utf-8")
    return frozenset(json.loads(text)["countries"])


def _parse_taxonomy(raw: Any) -> Taxonomy:
    """The ``classify:`` section: regions (region -> countries moved into it; a new name adds a
    region), places (extra names pointing at a country or a region) and topics (topic ->
    phrase -> weight; a new name adds a topic)."""
    if raw is None:
        return Taxonomy()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"classify: expected a mapping, got {raw!r}")
    for key in raw:
        if key not in _CLASSIFY_KEYS:
            known = ", ".join(_CLASSIFY_KEYS)
            raise ConfigError(f"classify.{_shown(key)}: unknown key (known: {known})")
    countries = _country_codes()
    regions = list(REGIONS)
    moved: dict[str, str] = {}
    raw_regions = raw.get("regions") or {}
    if not isinstance(raw_regions, Mapping):
        raise ConfigError(
            f"classify.regions: expected a mapping of region -> countries, got {raw_regions!r}"
        )
    for name, codes in raw_regions.items():
        region = _label(name, f"classify.regions: region name {name!r}")
        where = f"classify.regions.{region}"
        if region == "World":
            raise ConfigError(f"{where}: World is for stories with no country; it takes none")
        if not isinstance(codes, list):
            raise ConfigError(f"{where}: expected a list of country codes, got {codes!r}")
        if region not in regions:
            regions.append(region)
        for i, code in enumerate(codes):
            country = _country(code, f"{where}[{i}]", countries)
            if country in moved:
                raise ConfigError(f"{where}[{i}]: {country} is already moved to {moved[country]}")
            moved[country] = region
    places: list[Place] = []
    raw_places = raw.get("places") or []
    if not isinstance(raw_places, list):
        raise ConfigError(f"classify.places: expected a list, got {raw_places!r}")
    for i, item in enumerate(raw_places):
        where = f"classify.places[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where}: expected a mapping with names and country or region")
        for key in item:
            if key not in ("names", "country", "region"):
                raise ConfigError(
                    f"{where}.{_shown(key)}: unknown key (known: names, country, region)"
                )
        names = item.get("names")
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not names:
            raise ConfigError(f"{where}.names: expected a name or a list of names, got {names!r}")
        texts = tuple(_text(n, f"{where}.names[{j}]") for j, n in enumerate(names))
        if ("country" in item) == ("region" in item):
            raise ConfigError(f"{where}: give either country or region")
        if "country" in item:
            places.append(
                Place(texts, country=_country(item["country"], f"{where}.country", countries))
            )
        else:
            region = item["region"]
            if region not in regions:
                raise ConfigError(
                    f"{where}.region: expected one of {', '.join(regions)}, got {region!r}"
                )
            places.append(Place(texts, region=region))
    topics = list(TOPICS)
    phrases: list[tuple[str, str, float]] = []
    raw_topics = raw.get("topics") or {}
    if not isinstance(raw_topics, Mapping):
        raise ConfigError(
            f"classify.topics: expected a mapping of topic -> phrases, got {raw_topics!r}"
        )
    for name, entries in raw_topics.items():
        topic = _label(name, f"classify.topics: topic name {name!r}")
        where = f"classify.topics.{topic}"
        if not isinstance(entries, Mapping) or not entries:
            raise ConfigError(f"{where}: expected a mapping of phrase -> weight, got {entries!r}")
        if topic not in topics:
            topics.append(topic)
        for phrase, weight in entries.items():
            text = _text(phrase, f"{where}: phrase {phrase!r}")
            if (
                isinstance(weight, bool)
                or not isinstance(weight, int | float)
                or not math.isfinite(weight)
                or not 0 < weight <= 10
            ):
                raise ConfigError(
                    f"{where}.{_shown(text)}: expected a weight between 0 and 10, got {weight!r}"
                )
            phrases.append((topic, text, float(weight)))
    return Taxonomy(
        regions=tuple(regions),
        topics=tuple(topics),
        country_regions=tuple(moved.items()),
        places=tuple(places),
        phrases=tuple(phrases),
    )


def _parse_source(raw: Any, where: str, settings: Settings, taxonomy: Taxonomy) -> Source:
    if isinstance(raw, str):
        raw = {"url": raw}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping with at least 'url', got {raw!r}")
    for key in raw:
        if key not in _SOURCE_KEYS:
            known = ", ".join(_SOURCE_KEYS)
            raise ConfigError(f"{where}.{_shown(key)}: unknown key (known: {known})")
    url = check_url(raw.get("url"), f"{where}.url")
    name = raw.get("name")
    name = _text(name, f"{where}.name") if name is not None else (urlsplit(url).hostname or url)
    kind = raw.get("kind", "feed")
    if kind not in SOURCE_KINDS:
        raise ConfigError(f"{where}.kind: expected one of {', '.join(SOURCE_KINDS)}, got {kind!r}")
    region = raw.get("region")
    if region is not None and region not in taxonomy.regions:
        known = ", ".join(taxonomy.regions)
        raise ConfigError(f"{where}.region: expected one of {known}, got {region!r}")
    topic = raw.get("topic")
    if topic is not None and topic not in taxonomy.topics:
        known = ", ".join(taxonomy.topics)
        raise ConfigError(f"{where}.topic: expected one of {known}, got {topic!r}")
    interval = raw.get("interval")
    selector = raw.get("selector")
    if selector is not None:
        if kind != "html":
            raise ConfigError(f"{where}.selector: only sources of kind 'html' take a selector")
        selector = check_selector(_text(selector, f"{where}.selector"), f"{where}.selector")
    return Source(
        url=url,
        name=name,
        kind=kind,
        region=region,
        topic=topic,
        interval=_duration(interval, f"{where}.interval") if interval is not None else None,
        selector=selector,
    )


def check_selector(selector: str, where: str) -> str:
    """A CSS selector lxml can run, else a one-line error naming ``where``."""
    try:
        GenericTranslator().css_to_xpath(selector)
    except SelectorError as e:
        raise ConfigError(f"{where}: not a CSS selector {selector!r} ({e})") from None
    except RecursionError:  # cssselect recurses once per combinator
        raise ConfigError(f"{where}: CSS selector nested too deeply") from None
    return selector


def _check_retention(settings: Settings) -> None:
    """Retention must keep at least the digest window, or stories would leave the database
    while they are still on the front page."""
    days = settings.retention_days
    if days is not None and timedelta(days=days) < settings.digest_window:
        window = settings.digest_window.total_seconds() / 86400
        raise ConfigError(
            f"settings.retention_days: {_days(days)} is shorter than digest_window "
            f"({_days(window)}): stories would leave the database while still in the digest"
        )


def _days(days: float) -> str:
    return f"{days:g} day" + ("" if days == 1 else "s")


def parse_config(data: Any, *, base: Path = Path("."), path: Path | None = None) -> Config:
    """Validate the loaded YAML document ``data``; relative paths are resolved against ``base``."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"top level: expected a mapping with 'settings' and 'sources', got {data!r}"
        )
    for key in data:
        if key not in ("settings", "sources", "classify"):
            raise ConfigError(
                f"{_shown(key)}: unknown top-level key (known: settings, sources, classify)"
            )
    raw_settings = data.get("settings") or {}
    if not isinstance(raw_settings, Mapping):
        raise ConfigError(f"settings: expected a mapping, got {raw_settings!r}")
    values: dict[str, Any] = {}
    for key, value in raw_settings.items():
        setting = _SETTINGS_BY_NAME.get(key)
        if setting is None:
            raise ConfigError(
                f"settings.{_shown(key)}: unknown setting (known: {', '.join(_SETTINGS_BY_NAME)})"
            )
        if value is None and setting.default is None:
            continue
        values[key] = setting.check(value, f"settings.{key}")
    for key in ("database", "output_dir", "templates_dir"):
        if key in values:
            if "\0" in values[key]:
                raise ConfigError(f"settings.{key}: a path cannot hold a NUL character")
            p = Path(values[key]).expanduser()
            values[key] = p if p.is_absolute() else base / p
    for key in ("database", "output_dir"):
        values.setdefault(key, base / _SETTINGS_BY_NAME[key].default)
    settings = Settings(**values)
    _check_retention(settings)
    taxonomy = _parse_taxonomy(data.get("classify"))

    raw_sources = data.get("sources")
    if raw_sources is None:
        raw_sources = []
    if not isinstance(raw_sources, list):
        raise ConfigError(f"sources: expected a list, got {raw_sources!r}")
    sources: list[Source] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_sources):
        source = _parse_source(raw, f"sources[{i}]", settings, taxonomy)
        key = _url_key(source.url)
        if key in seen:
            raise ConfigError(f"sources[{i}].url: duplicate of sources[{seen[key]}]: {source.url}")
        seen[key] = i
        sources.append(source)
    return Config(settings=settings, sources=tuple(sources), path=path, taxonomy=taxonomy)


MAX_CONFIG_BYTES = 2 << 20  # 2 MiB: some 30,000 sources, read in about 2 s at worst


def load_config(path: str | Path) -> Config:
    """Read and validate feeds.yaml; every problem is a one-line ConfigError naming the file."""
    path = Path(path)
    try:
        with path.open("rb") as f:  # at most one byte past the limit (/dev/zero is a file too)
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: file not found") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from e
    if len(raw) > MAX_CONFIG_BYTES:
        limit = MAX_CONFIG_BYTES >> 20
        raise ConfigError(f"{path}: larger than {limit} MiB, too big for a feeds.yaml")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # UTF-32's start so too
            bom = "a UTF-16 or UTF-32 byte order mark"
            raise ConfigError(f"{path}: not UTF-8 (it starts with {bom}: save it as UTF-8)") from e
        raise ConfigError(f"{path}: not UTF-8 (byte {e.start})") from e
    try:
        data = _load_yaml(text)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from e
    try:
        return parse_config(data, base=path.resolve().parent, path=path)
    except ConfigError as e:
        raise ConfigError(f"{path}: {_clipped(str(e))}") from e


def _clipped(message: str, limit: int = 1000) -> str:
    """A message cut to ``limit`` characters (a value quoted whole could be megabytes)."""
    return message if len(message) <= limit else message[: limit - 3] + "..."
