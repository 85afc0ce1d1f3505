"""A feed farm for benchmarks: N generated news feeds served on 127.0.0.1.

The feeds are generated deterministically from a seed and an anchor time: a mix of RSS 2.0 and
Atom 1.0, 25 to 45 items each (about 33 KB a feed, 33 MB for 1,000 feeds), with news headlines
built from templates (places, people, companies, numbers). About 60 % of the items report a
shared event that several outlets cover in their own words; the rest are one-off stories. Every
item has a GUID (or Atom id), a link on a reserved ``.example`` domain, a date within the 72
hours before the anchor, an author, a category and a description.

The server is a small asyncio HTTP/1.1 server (keep-alive, stdlib only) answering from a dict of
pre-built bodies and their pre-compressed gzip versions, so it does little work per request:

    GET /feed/<i>.xml     the feed (ETag, Last-Modified, 304 for If-None-Match or
                          If-Modified-Since, gzip when Accept-Encoding allows it)
    GET /feeds.opml       every feed as OPML;  GET /feeds.txt  one URL a line
    GET /_stats           requests served so far by status (and faults), as JSON (?reset=1
                          zeroes them)

With ``--soak`` (``bench/soak.py``) the content moves on and requests fail for a while
(:class:`SoakFarm`): every ``--change-every`` seconds some feeds gain items and drop their
oldest, and until ``--faults-until`` seconds a ``--fault-rate`` share of the requests (every
request to ``--broken-share`` of the feeds) is slow, hangs, is cut off, gets a 500 or 503, or
a malformed body; ``GET /_soak`` reports per feed what was added, served and failed.

Run it on its own (it stops when its standard input closes, or on Ctrl-C):

    python bench/farm.py --n 1000 [--port 8800] [--seed 1] [--write DIR]
    python bench/farm.py --n 500 --soak --faults-until 360 --slow 5

It prints one JSON line when ready: {"port": ..., "feeds": ..., "items": ..., "bytes": ...}.
``bench/fetch.py`` starts it as a separate process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import gzip
import hashlib
import json
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

# -- the world the headlines are made of ------------------------------------------------------

# (country, demonym, cities)
COUNTRIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("France", "French", ("Paris", "Marseille", "Lyon")),
    ("Germany", "German", ("Berlin", "Munich", "Hamburg")),
    ("Spain", "Spanish", ("Madrid", "Barcelona", "Valencia")),
    ("Italy", "Italian", ("Rome", "Milan", "Naples")),
    ("Poland", "Polish", ("Warsaw", "Krakow", "Gdansk")),
    ("Ukraine", "Ukrainian", ("Kyiv", "Kharkiv", "Odesa")),
    ("Turkey", "Turkish", ("Ankara", "Istanbul", "Izmir")),
    ("Greece", "Greek", ("Athens", "Thessaloniki")),
    ("Sweden", "Swedish", ("Stockholm", "Gothenburg")),
    ("Romania", "Romanian", ("Bucharest", "Cluj-Napoca")),
    ("Nigeria", "Nigerian", ("Lagos", "Abuja", "Kano")),
    ("Kenya", "Kenyan", ("Nairobi", "Mombasa")),
    ("Ethiopia", "Ethiopian", ("Addis Ababa", "Dire Dawa")),
    ("South Africa", "South African", ("Johannesburg", "Cape Town", "Durban")),
    ("Egypt", "Egyptian", ("Cairo", "Alexandria")),
    ("Ghana", "Ghanaian", ("Accra", "Kumasi")),
    ("Sudan", "Sudanese", ("Khartoum", "Port Sudan")),
    ("Senegal", "Senegalese", ("Dakar",)),
    ("Morocco", "Moroccan", ("Rabat", "Casablanca")),
    ("India", "Indian", ("New Delhi", "Mumbai", "Bengaluru", "Chennai")),
    ("Pakistan", "Pakistani", ("Islamabad", "Karachi", "Lahore")),
    ("Bangladesh", "Bangladeshi", ("Dhaka", "Chittagong")),
    ("Indonesia", "Indonesian", ("Jakarta", "Surabaya")),
    ("Philippines", "Philippine", ("Manila", "Cebu")),
    ("Vietnam", "Vietnamese", ("Hanoi", "Ho Chi Minh City")),
    ("Thailand", "Thai", ("Bangkok", "Chiang Mai")),
    ("Japan", "Japanese", ("Tokyo", "Osaka", "Sapporo")),
    ("South Korea", "South Korean", ("Seoul", "Busan")),
    ("China", "Chinese", ("Beijing", "Shanghai", "Shenzhen")),
    ("Australia", "Australian", ("Sydney", "Melbourne", "Brisbane")),
    ("New Zealand", "New Zealand", ("Wellington", "Auckland")),
    ("Brazil", "Brazilian", ("Brasilia", "Sao Paulo", "Rio de Janeiro")),
    ("Argentina", "Argentine", ("Buenos Aires", "Cordoba")),
    ("Chile", "Chilean", ("Santiago", "Valparaiso")),
    ("Colombia", "Colombian", ("Bogota", "Medellin")),
    ("Peru", "Peruvian", ("Lima", "Cusco")),
    ("Mexico", "Mexican", ("Mexico City", "Guadalajara", "Monterrey")),
    ("Canada", "Canadian", ("Ottawa", "Toronto", "Vancouver")),
    ("United States", "US", ("Washington", "New York", "Chicago", "Houston")),
    ("Iran", "Iranian", ("Tehran", "Isfahan")),
    ("Iraq", "Iraqi", ("Baghdad", "Basra", "Mosul")),
    ("Israel", "Israeli", ("Jerusalem", "Tel Aviv")),
    ("Saudi Arabia", "Saudi", ("Riyadh", "Jeddah")),
    ("Jordan", "Jordanian", ("Amman",)),
    ("Lebanon", "Lebanese", ("Beirut", "Tripoli")),
    ("Qatar", "Qatari", ("Doha",)),
    ("Britain", "British", ("London", "Manchester", "Glasgow")),
)
FIRST = (
    "Amara", "Daniel", "Elena", "Farid", "Grace", "Hiroshi", "Ines", "Jonas", "Karim", "Leila",
    "Mateo", "Nadia", "Oscar", "Priya", "Rafael", "Sofia", "Tomas", "Wei", "Yusuf", "Zanele",
    "Andrei", "Beatriz", "Chidi", "Dmitri", "Emeka", "Fatima", "Gustavo", "Hana", "Ivan", "Julia",
)  # fmt: skip
LAST = (
    "Okafor", "Moreau", "Kowalski", "Haddad", "Tanaka", "Silva", "Novak", "Mensah", "Rahman",
    "Petrov", "Lindqvist", "Castillo", "Nakamura", "Adeyemi", "Schultz", "Romano", "Demir",
    "Kariuki", "Santos", "Ibrahim", "Hughes", "Park", "Nguyen", "Ortega", "Bauer", "Osei",
)  # fmt: skip
TITLES = (
    "President",
    "Prime Minister",
    "Foreign Minister",
    "Finance Minister",
    "opposition leader",
)
COMPANIES = (
    "Altaris Group", "Kestrel Motors", "Norvex Energy", "Bluewave Telecom", "Solenne Pharma",
    "Tarsis Mining", "Veloria Airlines", "Quantic Systems", "Meridian Bank", "Harbor Logistics",
    "Crestline Foods", "Orbis Semiconductors", "Pinnacle Steel", "Lumen Retail", "Arctis Shipping",
)  # fmt: skip
PRODUCTS = ("AI chip", "electric SUV", "satellite network", "cancer drug", "foldable phone")
SECTORS = ("chip", "battery", "AI", "cloud", "vaccine", "streaming")
ISSUES = ("fuel prices", "pension reform", "a new tax law", "corruption", "rising rents",
          "election results", "water shortages", "a mining project")  # fmt: skip
GOODS = ("steel", "electric vehicles", "solar panels", "soybeans", "wine", "rice", "copper")
DISEASES = ("cholera", "measles", "dengue fever", "mpox", "avian flu")
TEAMS = (
    "Lions", "Eagles", "Tigers", "Sharks", "Falcons", "Rovers", "United", "City", "Wanderers",
    "Athletic", "Stars", "Rangers",
)  # fmt: skip
TOURNAMENTS = ("Champions Cup", "Continental Cup", "World Series", "Nations League")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NOUNS = (
    "Herald", "Tribune", "Post", "Times", "Courier", "Gazette", "Observer", "Chronicle",
    "Independent", "Standard", "Dispatch", "Monitor", "Daily", "Express", "Journal",
)  # fmt: skip
SECTIONS = ("World", "International", "News", "Top Stories", "Global", "Latest")

# Each kind of event: a few headline phrasings (outlets pick different ones) and a few
# description sentences. Slots: {country} {country2} {demonym} {city} {city2} {leader} {title}
# {n} {m} {mag} {pct} {bp} {rate} {company} {product} {sector} {issue} {good} {disease}
# {team} {team2} {score} {tournament} {weekday}.
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "quake": (
        (
            "Magnitude {mag} earthquake strikes near {city}, {country}",
            "At least {n} dead after {mag}-magnitude quake hits {country}",
            "Strong earthquake shakes {city}; rescuers search rubble for survivors",
            "{country} earthquake death toll rises to {n}",
        ),
        (
            "The quake struck at a shallow depth about {m} km from {city}, seismologists said.",
            "Rescue teams worked through the night to reach people trapped under collapsed "
            "buildings.",
            "Officials warned that the toll could rise as aftershocks continued on {weekday}.",
        ),
    ),
    "election": (
        (
            "{country} votes in tight election as {leader} seeks second term",
            "{leader} claims victory in {country} election",
            "Polls close in {country}; early count shows {leader} ahead",
            "{demonym} voters head to the polls with the economy in focus",
        ),
        (
            "Turnout was about {pct} percent by mid-afternoon, the electoral commission said.",
            "{leader} campaigned on lowering prices and creating jobs in {city}.",
            "Final results are expected by {weekday}, according to officials.",
        ),
    ),
    "rates": (
        (
            "{country} central bank raises rates by {bp} basis points",
            "{demonym} central bank lifts key rate to {rate}% to fight inflation",
            "{country} hikes interest rates for the {ordinal} time this year",
            "Central bank in {city} cuts benchmark rate by {bp} basis points",
        ),
        (
            "The decision was in line with the forecasts of most economists polled.",
            "Inflation stood at {pct} percent last month, well above the bank's target.",
            "The currency rose against the dollar after the announcement on {weekday}.",
        ),
    ),
    "company": (
        (
            "{company} shares jump {pct}% after strong quarterly results",
            "{company} beats profit forecasts, lifts full-year outlook",
            "{company} to cut {n} jobs as sales slow",
            "{company} unveils {product} as {sector} race heats up",
        ),
        (
            "The company said revenue rose {pct} percent from a year earlier.",
            "Analysts in {city} said the results showed resilient demand.",
            "Its chief executive told investors on {weekday} that more investment was planned.",
        ),
    ),
    "protest": (
        (
            "Thousands protest in {city} over {issue}",
            "Police fire tear gas as protesters march in {city}",
            "{demonym} protesters rally against {issue} for a {ordinal} day",
            "Mass protests in {country} as anger grows over {issue}",
        ),
        (
            "Organisers said more than {n} people joined the march through central {city}.",
            "Police said {m} people had been detained by the evening.",
            "The government has promised to hold talks with union leaders on {weekday}.",
        ),
    ),
    "flood": (
        (
            "Floods in {country} leave {n} dead and thousands displaced",
            "Heavy rain triggers deadly floods in {city}",
            "{country} declares emergency as floodwaters rise",
            "Death toll from {demonym} floods climbs to {n}",
        ),
        (
            "Rivers burst their banks after days of heavy rain, officials said.",
            "More than {m} thousand people have been moved to temporary shelters.",
            "Forecasters expect more rain in the region until {weekday}.",
        ),
    ),
    "talks": (
        (
            "{leader} meets {country2} leader in {city} for trade talks",
            "{country} and {country2} agree to deepen economic ties",
            "{title} {leader} visits {country2} in bid to ease tensions",
            "{country}, {country2} sign {good} deal after talks in {city}",
        ),
        (
            "The two sides discussed trade, energy and security, a statement said.",
            "It was the first visit by a {demonym} leader in {m} years.",
            "Officials said a joint commission would meet again on {weekday}.",
        ),
    ),
    "tariff": (
        (
            "{country} imposes {pct}% tariffs on {good} from {country2}",
            "{country2} vows to retaliate after {country} tariffs on {good}",
            "Trade row deepens as {country} targets {demonym2} {good}",
            "{country} slaps new duties on {country2} {good} imports",
        ),
        (
            "The duties take effect on {weekday} and cover goods worth billions of dollars.",
            "Exporters in {city2} said the move would cost jobs.",
            "The trade ministry said the measures responded to unfair subsidies.",
        ),
    ),
    "outbreak": (
        (
            "{country} reports {n} new cases of {disease}",
            "{disease} outbreak spreads in {city}, health officials say",
            "WHO warns over {disease} outbreak in {country}",
            "{country} launches vaccination drive as {disease} cases rise",
        ),
        (
            "The health ministry said {m} people had died since the start of the outbreak.",
            "Hospitals in {city} were under strain, doctors said.",
            "Vaccination teams will reach rural areas from {weekday}.",
        ),
    ),
    "strike": (
        (
            "Drone strike on {city} kills {n}, officials say",
            "{n} killed in attack near {city}",
            "Overnight strikes hit {city} as fighting intensifies",
            "{country} says it downed {m} drones over {city}",
        ),
        (
            "Emergency services said several buildings were damaged.",
            "The attack came hours after ceasefire talks stalled on {weekday}.",
            "Residents described hearing explosions for more than an hour.",
        ),
    ),
    "sport": (
        (
            "{city} {team} beat {city2} {team2} {score} to reach {tournament} final",
            "{team} edge {team2} {score} in {tournament} semi-final",
            "{city} {team} into {tournament} final after {score} win",
            "{tournament}: {team} stun {team2} with late winner",
        ),
        (
            "The winning goal came in the {m}th minute.",
            "The final will be played in {city} on {weekday}.",
            "It is the club's first final in {n} years.",
        ),
    ),
}
FILLER = (
    "The story is developing and will be updated.",
    "Reporting by our correspondents; additional reporting by agencies.",
    "Officials did not immediately respond to requests for comment.",
    "The announcement drew a mixed response from opposition parties.",
    "Markets in the region were little changed after the news.",
)
ORDINALS = ("second", "third", "fourth", "fifth")
SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to"}


def _slots(rng: random.Random) -> dict[str, str]:
    country, demonym, cities = rng.choice(COUNTRIES)
    country2, demonym2, cities2 = rng.choice([c for c in COUNTRIES if c[0] != country])
    team, team2 = rng.sample(TEAMS, 2)
    return {
        "country": country,
        "demonym": demonym,
        "city": rng.choice(cities),
        "country2": country2,
        "demonym2": demonym2,
        "city2": rng.choice(cities2),
        "leader": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "title": rng.choice(TITLES),
        "n": str(rng.randint(3, 250)),
        "m": str(rng.randint(2, 60)),
        "mag": f"{rng.uniform(4.8, 7.9):.1f}",
        "pct": str(rng.randint(2, 45)),
        "bp": str(rng.choice((25, 50, 75, 100))),
        "rate": f"{rng.uniform(1, 15):.2f}",
        "ordinal": rng.choice(ORDINALS),
        "company": rng.choice(COMPANIES),
        "product": rng.choice(PRODUCTS),
        "sector": rng.choice(SECTORS),
        "issue": rng.choice(ISSUES),
        "good": rng.choice(GOODS),
        "disease": rng.choice(DISEASES),
        "team": team,
        "team2": team2,
        "score": f"{rng.randint(1, 4)}-{rng.randint(0, 3)}",
        "tournament": rng.choice(TOURNAMENTS),
        "weekday": rng.choice(WEEKDAYS),
    }


@dataclass(frozen=True)
class Event:
    kind: str
    slots: dict[str, str]
    when: datetime  # the first report
    phrasings: tuple[int, ...] = field(default=())  # headline templates in outlets' order


def _event(rng: random.Random, anchor: datetime) -> Event:
    kind = rng.choice(list(KINDS))
    age = timedelta(minutes=int(rng.triangular(0, 72 * 60, 0)))  # recent news is commoner
    order = list(range(len(KINDS[kind][0])))
    rng.shuffle(order)
    return Event(kind, _slots(rng), anchor - age, tuple(order))


# -- outlets and their feeds ------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    """How an outlet writes: title case, prefixes, suffix with its name, HTML descriptions."""

    title_case: bool
    prefix_rate: float
    suffix: bool
    html: bool
    cdata: bool
    gmt: bool  # "GMT" rather than "+0000" in RSS dates


@dataclass(frozen=True)
class FarmFeed:
    index: int
    path: str
    name: str
    kind: str  # "rss" or "atom"
    body: bytes
    gzipped: bytes
    etag: str
    last_modified: str
    items: int
    source: FeedSource | None = field(default=None, repr=False, compare=False)  # for rebuilds

    @property
    def content_type(self) -> str:
        kind = "application/atom+xml" if self.kind == "atom" else "application/rss+xml"
        return f"{kind}; charset=utf-8"


def _title_case(text: str) -> str:
    words = text.split(" ")
    return " ".join(
        w if (i and w.lower() in SMALL_WORDS) or not w[:1].islower() else w[:1].upper() + w[1:]
        for i, w in enumerate(words)
    )


def _slug(text: str, limit: int = 60) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].rstrip("-")


def _headline(event: Event, reporter: int, style: Style, outlet: str, rng: random.Random) -> str:
    templates = KINDS[event.kind][0]
    text = templates[event.phrasings[reporter % len(event.phrasings)]].format(**event.slots)
    if style.title_case:
        text = _title_case(text)
    if rng.random() < style.prefix_rate:
        text = rng.choice(("Live: ", "Breaking: ", "Analysis: ", "Update: ")) + text
    if style.suffix:
        text = f"{text} - {outlet}"
    return text[:1].upper() + text[1:]


def _description(event: Event, rng: random.Random, html: bool) -> str:
    sentences = [s.format(**event.slots) for s in KINDS[event.kind][1]]
    rng.shuffle(sentences)
    sentences += rng.sample(FILLER, 3)
    if html:
        return "".join(f"<p>{escape(s)}</p>" for s in sentences)
    return " ".join(sentences)


def _rss_date(when: datetime, gmt: bool) -> str:
    return email.utils.format_datetime(when, usegmt=gmt)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Item:
    title: str
    link: str
    guid: str
    permalink: bool
    published: datetime
    author: str
    category: str
    description: str


@dataclass(frozen=True)
class FeedSource:
    """What a feed's body is made from, so the soak farm can rebuild it with new items."""

    name: str
    site: str
    domain: str
    kind: str  # "rss" or "atom"
    style: Style
    permalink: bool  # RSS GUIDs are the links
    entries: tuple[Item, ...]  # newest first


def _rss(name: str, site: str, self_url: str, items: list[Item], style: Style) -> str:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        f"<title>{escape(name)}</title>\n<link>{escape(site)}</link>\n"
        f"<description>Latest news from {escape(name)}</description>\n"
        f"<language>en</language>\n"
        f'<atom:link href={quoteattr(self_url)} rel="self" type="application/rss+xml"/>\n'
        f"<lastBuildDate>{_rss_date(items[0].published, style.gmt)}</lastBuildDate>\n"
    ]
    for it in items:
        cdata = style.cdata
        description = f"<![CDATA[{it.description}]]>" if cdata else escape(it.description)
        permalink = "true" if it.permalink else "false"
        out.append(
            f"<item>\n<title>{escape(it.title)}</title>\n<link>{escape(it.link)}</link>\n"
            f'<guid isPermaLink="{permalink}">{escape(it.guid)}</guid>\n'
            f"<pubDate>{_rss_date(it.published, style.gmt)}</pubDate>\n"
            f"<dc:creator>{escape(it.author)}</dc:creator>\n"
            f"<category>{escape(it.category)}</category>\n"
            f"<description>{description}</description>\n</item>\n"
        )
    out.append("</channel>\n</rss>\n")
    return "".join(out)


def _atom(name: str, site: str, self_url: str, items: list[Item], style: Style) -> str:
    host = urlsplit(site).hostname
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f"<title>{escape(name)}</title>\n<id>tag:{host},2020:feed</id>\n"
        f'<link rel="alternate" type="text/html" href={quoteattr(site)}/>\n'
        f'<link rel="self" type="application/atom+xml" href={quoteattr(self_url)}/>\n'
        f"<updated>{_iso(items[0].published)}</updated>\n"
    ]
    for it in items:
        kind = "html" if style.html else "text"
        out.append(
            f"<entry>\n<title>{escape(it.title)}</title>\n"
            f'<link rel="alternate" type="text/html" href={quoteattr(it.link)}/>\n'
            f"<id>{escape(it.guid)}</id>\n<published>{_iso(it.published)}</published>\n"
            f"<updated>{_iso(it.published)}</updated>\n"
            f"<author><name>{escape(it.author)}</name></author>\n"
            f"<category term={quoteattr(it.category)}/>\n"
            f'<summary type="{kind}">{escape(it.description)}</summary>\n</entry>\n'
        )
    out.append("</feed>\n")
    return "".join(out)


def _outlet(index: int, rng: random.Random) -> tuple[str, str]:
    country, demonym, cities = rng.choice(COUNTRIES)
    pattern = rng.randrange(3)
    if pattern == 0:
        name = f"The {rng.choice(cities)} {rng.choice(NOUNS)}"
    elif pattern == 1:
        name = f"{demonym} {rng.choice(NOUNS)}"
    else:
        name = f"{country} {rng.choice(('News', 'Today', 'Online', 'Radio', 'TV'))}"
    name = f"{name} {rng.choice(SECTIONS)}"
    return name, f"{_slug(name, 30).replace('-', '')}{index}.example"


def generate(
    n: int,
    base_url: str,
    *,
    seed: int = 1,
    anchor: datetime,
    truth: dict[str, int] | None = None,
) -> list[FarmFeed]:
    """``n`` feeds served under ``base_url``; the same arguments give the same bytes. With
    ``truth``, fills it with each item's link -> the event it reports (for scoring
    clustering on the farm)."""
    rng = random.Random(f"farm:{seed}:{n}")
    items_per_feed = [rng.randint(25, 45) for _ in range(n)]
    shared_slots = int(sum(items_per_feed) * 0.6)
    events = [_event(rng, anchor) for _ in range(max(1, shared_slots // 5))]  # ~5 outlets each
    weights = [rng.paretovariate(1.5) for _ in events]  # a few big stories, many small ones
    reporters: Counter[int] = Counter()
    shared_events = {id(e): -1 - i for i, e in enumerate(events)}
    feeds = []
    for index in range(n):
        frng = random.Random(f"feed:{seed}:{n}:{index}")
        name, domain = _outlet(index, frng)
        site = f"https://www.{domain}/"
        style = Style(
            title_case=frng.random() < 0.4,
            prefix_rate=frng.choice((0.0, 0.0, 0.05, 0.15)),
            suffix=frng.random() < 0.2,
            html=frng.random() < 0.5,
            cdata=frng.random() < 0.5,
            gmt=frng.random() < 0.5,
        )
        kind = "atom" if frng.random() < 0.35 else "rss"
        count = items_per_feed[index]
        # each shared event once per feed, in the order drawn
        shared = dict.fromkeys(frng.choices(range(len(events)), weights, k=int(count * 0.6)))
        chosen: list[tuple[Event, int]] = []
        for e in shared:
            chosen.append((events[e], reporters[e]))
            reporters[e] += 1
        while len(chosen) < count:
            chosen.append((_event(frng, anchor), 0))
        permalink = frng.random() < 0.5
        items = []
        for k, (event, reporter) in enumerate(chosen):
            lag = timedelta(minutes=frng.randint(0, 360)) if reporter else timedelta()
            published = min(anchor, (event.when + lag).replace(second=frng.randrange(60)))
            title = _headline(event, reporter, style, name, frng)
            section = event.kind if event.kind != "sport" else "sport"
            link = f"{site}{section}/{published:%Y/%m/%d}/{_slug(title)}-{index * 1000 + k}"
            if truth is not None:
                # shared events are numbered -1, -2, ...; an unshared one gets its own number
                truth[link] = shared_events.get(id(event), len(truth))
            guid = link if permalink else f"{domain}:{index * 1000 + k}"
            if kind == "atom":
                guid = f"tag:{domain},{published:%Y}:{index * 1000 + k}"
            items.append(
                Item(
                    title=title,
                    link=link,
                    guid=guid,
                    permalink=permalink and kind == "rss",
                    published=published,
                    author=f"{frng.choice(FIRST)} {frng.choice(LAST)}",
                    category=event.kind.capitalize(),
                    description=_description(event, frng, style.html),
                )
            )
        items.sort(key=lambda it: it.published, reverse=True)
        source = FeedSource(name, site, domain, kind, style, permalink, tuple(items))
        feeds.append(build_feed(index, source, base_url))
    return feeds


def build_feed(index: int, source: FeedSource, base_url: str) -> FarmFeed:
    """The served form of feed ``index`` made of ``source``: body, gzip, validators."""
    path = f"/feed/{index}.xml"
    write = _atom if source.kind == "atom" else _rss
    items = list(source.entries)
    body = write(source.name, source.site, base_url + path, items, source.style).encode("utf-8")
    digest = hashlib.sha1(body, usedforsecurity=False).hexdigest()[:20]
    return FarmFeed(
        index=index,
        path=path,
        name=source.name,
        kind=source.kind,
        body=body,
        gzipped=gzip.compress(body, compresslevel=6, mtime=0),
        etag=f'"{digest}"',
        last_modified=email.utils.format_datetime(items[0].published, usegmt=True),
        items=len(items),
        source=source,
    )


def opml(feeds: list[FarmFeed], base_url: str) -> bytes:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">\n'
        "<head><title>Feed farm</title></head>\n<body>\n"
    ]
    for f in feeds:
        lines.append(
            f'<outline type="rss" text={quoteattr(f.name)} title={quoteattr(f.name)} '
            f"xmlUrl={quoteattr(base_url + f.path)}/>\n"
        )
    lines.append("</body>\n</opml>\n")
    return "".join(lines).encode("utf-8")


# -- the server -------------------------------------------------------------------------------


def _accepts_gzip(value: str) -> bool:
    for part in value.split(","):
        token, _, params = part.strip().partition(";")
        if token.strip().lower() in ("gzip", "x-gzip", "*"):
            q = params.strip().lower()
            return not (q.startswith("q=") and float(q[2:] or 0) == 0)
    return False


def _not_modified(feed: FarmFeed, headers: dict[str, str]) -> bool:
    """RFC 9110: If-None-Match wins over If-Modified-Since; weak comparison for ETags."""
    inm = headers.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/").replace("-gzip", "") for t in inm.split(",")}
        return "*" in tags or feed.etag in tags
    ims = headers.get("if-modified-since")
    if ims:
        try:
            since = email.utils.parsedate_to_datetime(ims)
            modified = email.utils.parsedate_to_datetime(feed.last_modified)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return modified <= since
    return False


class Farm:
    """Answers requests from pre-built bodies; counts what it served."""

    def __init__(self, feeds: list[FarmFeed], base_url: str) -> None:
        self.feeds = {f.path: f for f in feeds}
        self.base_url = base_url
        self.opml = opml(feeds, base_url)
        self.txt = "".join(f"{base_url}{f.path}\n" for f in feeds).encode()
        self.stats: Counter[str] = Counter()

    def lookup(self, path: str) -> FarmFeed | None:
        """The feed served at ``path`` now."""
        return self.feeds.get(path)

    def respond(self, method: str, target: str, headers: dict[str, str], keep: bool) -> bytes:
        parts = urlsplit(target)
        feed = self.lookup(parts.path)
        extra: list[str] = []
        if feed is not None:
            status, ctype, body, extra = _feed_answer(feed, headers)
            self.stats[status[:3]] += 1
            self.stats["bytes"] += len(body)
        elif parts.path == "/feeds.opml":
            status, ctype, body = "200 OK", "text/x-opml; charset=utf-8", self.opml
        elif parts.path == "/feeds.txt":
            status, ctype, body = "200 OK", "text/plain; charset=utf-8", self.txt
        elif parts.path == "/_stats":
            status, ctype = "200 OK", "application/json"
            body = json.dumps(dict(self.stats)).encode()
            if parse_qs(parts.query).get("reset"):
                self.stats.clear()
        else:
            status, ctype, body = "404 Not Found", "text/plain", b"no such feed\n"
        return _message(method, status, ctype, body, extra, keep)

    async def answer(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        keep: bool,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Answer one request; whether the connection may serve another."""
        writer.write(self.respond(method, target, headers, keep))
        await writer.drain()
        return keep

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    raw = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    break
                lines = raw.decode("latin-1").split("\r\n")
                try:
                    method, target, version = lines[0].split(" ", 2)
                except ValueError:
                    break
                headers = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                length = headers.get("content-length", "0")
                if length.isdigit() and int(length):
                    await reader.readexactly(int(length))
                connection = headers.get("connection", "").lower()
                if version == "HTTP/1.0":
                    keep = "keep-alive" in connection
                else:
                    keep = "close" not in connection
                if not await self.answer(method, target, headers, keep, reader, writer):
                    break
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def _feed_answer(
    feed: FarmFeed, headers: dict[str, str]
) -> tuple[str, str | None, bytes, list[str]]:
    """(status, content type, body, extra headers) of a request for ``feed``."""
    gz = _accepts_gzip(headers.get("accept-encoding", ""))
    etag = feed.etag[:-1] + '-gzip"' if gz else feed.etag
    extra = [f"ETag: {etag}", f"Last-Modified: {feed.last_modified}", "Vary: Accept-Encoding"]
    if _not_modified(feed, headers):
        return "304 Not Modified", None, b"", extra
    if gz:
        extra.append("Content-Encoding: gzip")
    return "200 OK", feed.content_type, feed.gzipped if gz else feed.body, extra


def _message(
    method: str, status: str, ctype: str | None, body: bytes, extra: list[str], keep: bool
) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Date: {email.utils.formatdate(usegmt=True)}"]
    head.append("Server: bench-farm")
    if ctype:
        head.append(f"Content-Type: {ctype}")
    if not status.startswith("304"):
        head.append(f"Content-Length: {len(body)}")
    head += extra
    if not keep:
        head.append("Connection: close")
    payload = body if method != "HEAD" and not status.startswith("304") else b""
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload


# -- soak mode: content that moves on, faults that stop ----------------------------------------

# slow: the answer comes after --slow seconds (beyond the client's deadline); hang: no answer
# until the client gives up (at most --hang seconds); close: the connection is closed without
# an answer; truncate: the body stops halfway through its Content-Length; 500; 503 with
# Retry-After; malformed: a 200 whose XML stops in the middle of an item (no validators);
# garbage: a 200 HTML maintenance page
FAULTS = ("slow", "hang", "close", "truncate", "500", "503", "malformed", "garbage")
RETRY_AFTER = 15  # seconds, on the 503 fault
GARBAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Down for maintenance</title></head>"
    b"<body><h1>We'll be back soon</h1><p>Sorry for the inconvenience.</p></body></html>\n"
)


def _unit(*key: object) -> float:
    """A stable number in [0, 1) for ``key``: the soak farm's dice (same seed, same faults)."""
    digest = hashlib.blake2b(":".join(map(str, key)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class SoakOptions:
    change_every: float = 5.0  # seconds between two content steps
    change_share: float = 0.1  # chance that a feed gains 1-3 items at a step
    static_share: float = 0.02  # feeds that never change (they answer 304 for ever)
    fault_rate: float = 0.1  # chance that a request fails, while faults last
    broken_share: float = 0.05  # feeds whose every request fails while faults last
    faults_until: float | None = None  # seconds after the start; None: faults never stop
    slow: float = 6.0  # seconds of a slow answer
    hang: float = 60.0  # longest wait of a hanging answer


@dataclass
class LiveFeed:
    """A soak feed: its content now, and what it served."""

    feed: FarmFeed
    step: int = 0  # the content step its body is at
    requests: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    last_fault: float | None = None  # seconds after the start
    added: int = 0  # items gained since the start
    served: set[str] = field(default_factory=set)  # GUIDs of the items sent in a 200


class SoakFarm(Farm):
    """The farm of a soak test. Every ``change_every`` seconds a share of the feeds gain one
    to three items (published at that step; the oldest fall off the end, so a feed keeps its
    length; ETag and Last-Modified follow), sharing a few fresh events so new stories form
    across outlets. Until ``faults_until`` seconds, a request fails with ``fault_rate``, in
    one of the ways of :data:`FAULTS`, and the ``broken_share`` feeds fail every request.
    Which feeds change at which step, and which request fails how, follow from the seed,
    the feed, the step and the number of the request to that feed. ``/_soak`` reports it
    all as JSON."""

    def __init__(
        self,
        feeds: list[FarmFeed],
        base_url: str,
        *,
        seed: int,
        options: SoakOptions,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(feeds, base_url)
        self.seed, self.options, self.clock = seed, options, clock
        self.started = clock()
        self.born = datetime.now(UTC).replace(microsecond=0)
        self.live = {f.path: LiveFeed(f) for f in feeds}
        self.static = {
            f.index for f in feeds if _unit("static", seed, f.index) < options.static_share
        }
        self.broken = {
            f.index
            for f in feeds
            if f.index not in self.static and _unit("broken", seed, f.index) < options.broken_share
        }

    # time

    def elapsed(self) -> float:
        return self.clock() - self.started

    def step(self) -> int:
        return int(self.elapsed() // self.options.change_every)

    def when(self, step: int) -> datetime:
        """When the items of ``step`` were published (to the second)."""
        seconds = int(step * self.options.change_every)
        return self.born + timedelta(seconds=seconds)

    def faults_active(self) -> bool:
        until = self.options.faults_until
        return until is None or self.elapsed() < until

    # content

    def lookup(self, path: str) -> FarmFeed | None:
        live = self.live.get(path)
        if live is None:
            return super().lookup(path)
        self._advance(live)
        return live.feed

    def _advance(self, live: LiveFeed) -> None:
        """Bring a feed's content to the current step (lazily: on its next request)."""
        now = self.step()
        source = live.feed.source
        if now <= live.step or source is None:
            return
        index = live.feed.index
        events: dict[int, list[Event]] = {}
        new: list[Item] = []
        for step in range(live.step + 1, now + 1):
            for j in range(self._gain(index, step)):
                if step not in events:
                    events[step] = self._events(step)
                new.append(self._item(index, source, step, j, events[step]))
        live.step = now
        if new:
            entries = (*reversed(new), *source.entries)[: len(source.entries)]
            live.feed = build_feed(index, replace(source, entries=entries), self.base_url)
            live.added += len(new)

    def _gain(self, index: int, step: int) -> int:
        """Items feed ``index`` gains at ``step``: 0, or 1 to 3 with ``change_share``."""
        share = self.options.change_share
        u = _unit("gain", self.seed, index, step)
        if index in self.static or u >= share:
            return 0
        return 1 + int(u / share * 3)

    def _events(self, step: int) -> list[Event]:
        """The fresh events of ``step``, several outlets' reports each."""
        rng = random.Random(f"step:{self.seed}:{step}")
        count = max(1, round(len(self.live) * self.options.change_share * 2 / 5))
        return [_fresh_event(rng, self.when(step)) for _ in range(count)]

    def _item(self, index: int, source: FeedSource, step: int, j: int, events: list[Event]) -> Item:
        rng = random.Random(f"item:{self.seed}:{index}:{step}:{j}")
        when = self.when(step)
        if rng.random() < 0.6:  # a shared event, in this outlet's words
            event, reporter = rng.choice(events), rng.randrange(4)
        else:
            event, reporter = _fresh_event(rng, when), 0
        title = _headline(event, reporter, source.style, source.name, rng)
        uid = f"{index}s{step}n{j}"
        link = f"{source.site}{event.kind}/{when:%Y/%m/%d}/{_slug(title)}-{uid}"
        if source.kind == "atom":
            guid = f"tag:{source.domain},{when:%Y}:{uid}"
        else:
            guid = link if source.permalink else f"{source.domain}:{uid}"
        return Item(
            title=title,
            link=link,
            guid=guid,
            permalink=source.permalink and source.kind == "rss",
            published=when,
            author=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            category=event.kind.capitalize(),
            description=_description(event, rng, source.style.html),
        )

    # faults

    def fault(self, path: str) -> str | None:
        """The fault of this request to ``path`` (None: answer it well)."""
        live = self.live.get(path)
        if live is None:
            return None
        live.requests += 1
        if not self.faults_active():
            return None
        index, n = live.feed.index, live.requests
        if (
            index not in self.broken
            and _unit("fault", self.seed, index, n) >= self.options.fault_rate
        ):
            return None
        kind = FAULTS[int(_unit("kind", self.seed, index, n) * len(FAULTS))]
        live.faults[kind] += 1
        live.last_fault = self.elapsed()
        self.stats[f"fault:{kind}"] += 1
        return kind

    async def answer(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        keep: bool,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        path = urlsplit(target).path
        kind = self.fault(path)
        feed = self.lookup(path)
        if kind is None or feed is None:
            return await super().answer(method, target, headers, keep, reader, writer)
        live = self.live[path]
        if kind == "slow":
            await asyncio.sleep(self.options.slow)
            writer.write(_message(method, *_feed_answer(feed, headers), False))
            await writer.drain()
            return False
        if kind == "hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reader.read(1), self.options.hang)  # b"" once closed
            return False
        if kind == "close":
            return False
        if kind == "truncate":
            data = _message(method, "200 OK", feed.content_type, feed.body, [], False)
            writer.write(data[: len(data) - len(feed.body) // 2])
            await writer.drain()
            return False
        extra: list[str] = []
        if kind in ("500", "503"):
            status = "500 Internal Server Error" if kind == "500" else "503 Service Unavailable"
            ctype, body = "text/plain", f"{status}\n".encode()
            if kind == "503":
                extra.append(f"Retry-After: {RETRY_AFTER}")
        elif kind == "malformed":
            status, ctype = "200 OK", feed.content_type
            body, whole = _cut(feed)
            live.served.update(it.guid for it in whole)
        else:  # garbage
            status, ctype, body = "200 OK", "text/html; charset=utf-8", GARBAGE
        writer.write(_message(method, status, ctype, body, extra, keep))
        await writer.drain()
        return keep

    def respond(self, method: str, target: str, headers: dict[str, str], keep: bool) -> bytes:
        parts = urlsplit(target)
        if parts.path == "/_soak":
            return _message(method, "200 OK", "application/json", self.report(), [], keep)
        data = super().respond(method, target, headers, keep)
        live = self.live.get(parts.path)
        if live is not None and data.startswith(b"HTTP/1.1 200") and live.feed.source:
            live.served.update(it.guid for it in live.feed.source.entries)
        return data

    def report(self) -> bytes:
        """What the soak farm did so far, as JSON."""
        until = self.options.faults_until
        for live in self.live.values():
            self._advance(live)
        feeds = {
            str(live.feed.index): {
                "requests": live.requests,
                "faults": dict(live.faults),
                "last_fault": live.last_fault,
                "added": live.added,
                "served": len(live.served),
            }
            for live in self.live.values()
        }
        return json.dumps(
            {
                "started": self.born.isoformat(),
                "elapsed": self.elapsed(),
                "step": self.step(),
                "faults_active": self.faults_active(),
                "faults_end_at": (
                    (self.born + timedelta(seconds=until)).isoformat()
                    if until is not None
                    else None
                ),
                "static": sorted(self.static),
                "broken": sorted(self.broken),
                "items_added": sum(live.added for live in self.live.values()),
                "items_served": sum(len(live.served) for live in self.live.values()),
                "feeds": feeds,
            }
        ).encode()


def shorten(feed: FarmFeed, keep: int, base_url: str) -> FarmFeed:
    """``feed`` with its ``keep`` newest items only (a soak feed then rolls over sooner)."""
    if feed.source is None or len(feed.source.entries) <= keep:
        return feed
    return build_feed(
        feed.index, replace(feed.source, entries=feed.source.entries[:keep]), base_url
    )


def _fresh_event(rng: random.Random, when: datetime) -> Event:
    """An event first reported at ``when``."""
    return replace(_event(rng, when), when=when)


def _cut(feed: FarmFeed) -> tuple[bytes, tuple[Item, ...]]:
    """``feed``'s body cut off inside the description of an item about 60 % down, and the
    items it still carries (the cut one's GUID comes before its description)."""
    source = feed.source
    assert source is not None
    tag = b"<summary" if feed.kind == "atom" else b"<description>"
    k = len(source.entries) * 6 // 10
    pos = -1
    for _ in range(k + 1):
        pos = feed.body.find(tag, pos + 1)
    if pos < 0:
        return feed.body[: len(feed.body) // 2], source.entries[:k]
    return feed.body[: pos + len(tag) + 20], source.entries[: k + 1]


async def serve(args: argparse.Namespace) -> None:
    anchor = (
        datetime.fromisoformat(args.anchor)
        if args.anchor
        else datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    )
    if anchor.tzinfo is None:
        anchor = anchor.replace(tzinfo=UTC)
    loop = asyncio.get_running_loop()
    # bind first: the feeds' self links need the port
    server = await asyncio.start_server(
        lambda r, w: farm.handle(r, w), "127.0.0.1", args.port, backlog=1024, start_serving=False
    )
    port = server.sockets[0].getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    feeds = generate(args.n, base_url, seed=args.seed, anchor=anchor)
    farm: Farm
    if args.soak and args.keep_items:
        feeds = [shorten(f, args.keep_items, base_url) for f in feeds]
    if args.soak:
        options = SoakOptions(
            change_every=args.change_every,
            change_share=args.change_share,
            static_share=args.static_share,
            fault_rate=args.fault_rate,
            broken_share=args.broken_share,
            faults_until=args.faults_until,
            slow=args.slow,
            hang=args.hang,
        )
        farm = SoakFarm(feeds, base_url, seed=args.seed, options=options)
    else:
        farm = Farm(feeds, base_url)
    if args.write:
        out = Path(args.write)
        out.mkdir(parents=True, exist_ok=True)
        for f in feeds:
            (out / f"{f.index}.xml").write_bytes(f.body)
        (out / "feeds.opml").write_bytes(farm.opml)
    ready = {
        "port": port,
        "url": base_url,
        "feeds": len(feeds),
        "items": sum(f.items for f in feeds),
        "bytes": sum(len(f.body) for f in feeds),
        "gzip_bytes": sum(len(f.gzipped) for f in feeds),
        "atom": sum(f.kind == "atom" for f in feeds),
        "anchor": anchor.isoformat(),
    }
    if isinstance(farm, SoakFarm):
        ready["soak"] = {
            **vars(farm.options),
            "started": farm.born.isoformat(),
            "static": len(farm.static),
            "broken": len(farm.broken),
            "keep_items": args.keep_items,
        }
    async with server:
        await server.start_serving()
        print(json.dumps(ready), flush=True)
        # stop when the parent closes our stdin (or goes away)
        await loop.run_in_executor(None, sys.stdin.buffer.read)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="number of feeds (default 1000)")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--anchor", help="ISO time of the newest item (default: this hour)")
    parser.add_argument("--write", metavar="DIR", help="also write the feeds to DIR")
    soak = parser.add_argument_group("soak mode (changing content, faults that stop)")
    soak.add_argument("--soak", action="store_true", help="serve a soak farm (see SoakFarm)")
    soak.add_argument(
        "--change-every", type=float, default=5.0, metavar="S", help="seconds a step (5)"
    )
    soak.add_argument(
        "--change-share", type=float, default=0.1, help="feeds gaining items a step (0.1)"
    )
    soak.add_argument(
        "--keep-items", type=int, metavar="N", help="serve only the N newest items of each feed"
    )
    soak.add_argument("--static-share", type=float, default=0.02, help="never-changing (0.02)")
    soak.add_argument("--fault-rate", type=float, default=0.1, help="requests failing (0.1)")
    soak.add_argument(
        "--broken-share", type=float, default=0.05, help="feeds always failing (0.05)"
    )
    soak.add_argument(
        "--faults-until", type=float, metavar="S", help="seconds of faults (default: for ever)"
    )
    soak.add_argument("--slow", type=float, default=6.0, metavar="S", help="slow answer (6 s)")
    soak.add_argument("--hang", type=float, default=60.0, metavar="S", help="longest hang (60 s)")
    args = parser.parse_args(argv)
    if args.change_every <= 0:
        parser.error("--change-every must be > 0")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
