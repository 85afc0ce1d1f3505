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
    GET /_stats           requests served so far by status, as JSON (?reset=1 zeroes them)

Run it on its own (it stops when its standard input closes, or on Ctrl-C):

    python bench/farm.py --n 1000 [--port 8800] [--seed 1] [--write DIR]

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
from collections import Counter
from dataclasses import dataclass, field
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
        path = f"/feed/{index}.xml"
        write = _atom if kind == "atom" else _rss
        body = write(name, site, base_url + path, items, style).encode("utf-8")
        digest = hashlib.sha1(body, usedforsecurity=False).hexdigest()[:20]
        feeds.append(
            FarmFeed(
                index=index,
                path=path,
                name=name,
                kind=kind,
                body=body,
                gzipped=gzip.compress(body, compresslevel=6, mtime=0),
                etag=f'"{digest}"',
                last_modified=email.utils.format_datetime(items[0].published, usegmt=True),
                items=len(items),
            )
        )
    return feeds


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

    def respond(self, method: str, target: str, headers: dict[str, str], keep: bool) -> bytes:
        parts = urlsplit(target)
        feed = self.feeds.get(parts.path)
        extra: list[str] = []
        if feed is not None:
            gz = _accepts_gzip(headers.get("accept-encoding", ""))
            etag = feed.etag[:-1] + '-gzip"' if gz else feed.etag
            extra = [f"ETag: {etag}", f"Last-Modified: {feed.last_modified}"]
            extra.append("Vary: Accept-Encoding")
            if _not_modified(feed, headers):
                status, ctype, body = "304 Not Modified", None, b""
            else:
                status, ctype = "200 OK", feed.content_type
                body = feed.gzipped if gz else feed.body
                if gz:
                    extra.append("Content-Encoding: gzip")
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
                writer.write(self.respond(method, target, headers, keep))
                await writer.drain()
                if not keep:
                    break
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


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
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
