"""Build a database of stories through the store's own API, for the render tests, the golden
files and ``bench/render.py``: no fetching, clustering or classifying, so the digest's tests
do not move when those stages change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aggregator.models import Entry, FetchResult, Labels, ParsedFeed, Source
from aggregator.store import Store


@dataclass(frozen=True)
class Report:
    """One outlet's report: ``outlet`` indexes the sources given to :func:`build`."""

    outlet: int
    title: str
    url: str | None
    published: datetime
    summary: str | None = None


@dataclass(frozen=True)
class StorySpec:
    """A story: its reports (the first is the lead) and labels."""

    reports: Sequence[Report]
    region: str = "Europe"
    topic: str = "politics"
    countries: Sequence[str] = field(default_factory=tuple)


def sources(names: Sequence[str]) -> list[Source]:
    return [Source(url=f"https://{i}.feeds.test/rss", name=name) for i, name in enumerate(names)]


def build(
    store: Store, feeds: Sequence[Source], stories: Sequence[StorySpec], now: datetime
) -> list[int]:
    """Write ``stories`` into ``store``; returns their ids (the lead entry's id), in order."""
    store.sync_sources(feeds, now)
    # one write per feed, as a fetch would do it
    by_feed: dict[int, list[tuple[int, int, Report]]] = {}
    for si, spec in enumerate(stories):
        for ri, report in enumerate(spec.reports):
            by_feed.setdefault(report.outlet, []).append((si, ri, report))
    ids: dict[tuple[int, int], int] = {}
    for outlet, reports in sorted(by_feed.items()):
        feed = feeds[outlet]
        entries = [
            Entry(
                feed_url=feed.url,
                identity=f"guid:{si}-{ri}",
                title=r.title,
                url=r.url,
                published=r.published,
                first_seen=r.published,
                summary=r.summary,
            )
            for si, ri, r in reports
        ]
        result = FetchResult(url=feed.url, fetched_at=now, status=200)
        written = store.record_success(result, ParsedFeed(url=feed.url), entries, now)
        for (si, ri, _), entry_id in zip(reports, written.new_ids, strict=True):
            ids[(si, ri)] = entry_id
    story_ids: list[int] = []
    assignments: dict[int, int] = {}
    for si, spec in enumerate(stories):
        sid = ids[(si, 0)]
        story_ids.append(sid)
        for ri in range(len(spec.reports)):
            assignments[ids[(si, ri)]] = sid
    store.assign(assignments)
    records = {e.id: e for e in store.entries()}
    with store.db.atomic():
        for si, spec in enumerate(stories):
            members = [records[ids[(si, ri)]] for ri in range(len(spec.reports))]
            labels = Labels(region=spec.region, topic=spec.topic, countries=tuple(spec.countries))
            store.save_story(story_ids[si], members[0], members, labels, now)
    return story_ids


def at(now: datetime, hours_ago: float) -> datetime:
    return now - timedelta(hours=hours_ago)


OUTLETS = (
    "BBC World",
    "Al Jazeera",
    "DW",
    "France 24",
    "NPR",
    "The Guardian",
    "ABC Australia",
    "Africanews",
)


def corpus(now: datetime) -> list[StorySpec]:
    """The golden digest's stories: one of every kind of card."""

    def r(outlet: int, title: str, hours_ago: float, summary: str | None = None) -> Report:
        path = title.lower().replace(" ", "-").replace(",", "")[:40]
        url = f"https://{outlet}.news.test/{path}"
        return Report(outlet, title, url, at(now, hours_ago), summary)

    return [
        StorySpec(  # big: 6 outlets, a timeline, related coverage collapsed
            [
                r(
                    0,
                    "Russia agrees to week-long halt to strikes on Kyiv",
                    5,
                    "The pause was agreed through US mediators.",
                ),
                r(1, "Moscow announces pause in strikes on Ukrainian capital", 9),
                r(2, "Kremlin pledges to pause strikes on Kyiv", 8.5),
                r(3, "Russia to halt strikes on Kyiv for a week, Zelensky says", 6),
                r(4, "Ukraine welcomes pause in Russian strikes on Kyiv", 3),
                r(5, "Kyiv strikes halted for a week under US-brokered deal", 2),
                r(2, "Ukraine says Russian strikes on Kyiv have stopped", 1),
            ],
            region="Europe",
            topic="conflict",
            countries=("UA", "RU"),
        ),
        StorySpec(  # three outlets, related shown open
            [
                r(
                    7,
                    "Uganda heads to the polls in closely watched election",
                    20,
                    "More than 20 million Ugandans are registered to vote.",
                ),
                r(0, "Uganda election: long queues as polls open", 18),
                r(2, "Ugandans vote as veteran leader seeks seventh term", 15),
            ],
            region="Africa",
            topic="politics",
            countries=("UG",),
        ),
        StorySpec(
            [
                r(4, "Fed holds interest rates steady", 26),
                r(5, "Federal Reserve keeps rates on hold", 25),
            ],
            region="Americas",
            topic="economy",
            countries=("US",),
        ),
        StorySpec(
            [
                r(
                    6,
                    "Cyclone nears Queensland coast",
                    4,
                    "Residents told to prepare for destructive winds.",
                )
            ],
            region="Oceania",
            topic="environment",
            countries=("AU",),
        ),
        StorySpec(  # no usable link: shown as text
            [Report(1, "Gaza aid convoy reaches north", None, at(now, 30))],
            region="Middle East",
            topic="humanitarian",
        ),
        StorySpec(
            [r(3, "Tech giants face new EU rules on AI", 40)],
            region="Europe",
            topic="science-tech",
            countries=("BE",),
        ),
        StorySpec(  # older than the window: only in the archive
            [
                r(0, "Floods in Pakistan kill dozens", 70),
                r(1, "Pakistan floods death toll rises", 66),
            ],
            region="Asia",
            topic="humanitarian",
            countries=("PK",),
        ),
        StorySpec(
            [r(5, "Scientists map the deep ocean floor", 10)],
            region="World",
            topic="general",
        ),
    ]
