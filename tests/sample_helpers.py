"""Helpers to read the bundled demo sample and its gold partition (aggregator/sample/)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import yaml

from aggregator.demo import load_sample, sample_dir
from aggregator.models import ClusterItem
from aggregator.normalise import normalise_feed
from aggregator.parse import parse_feed

REFERENCE = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class SampleItem:
    key: str  # "<file>#<guid or link>", as in expected.yaml
    outlet: str
    item: ClusterItem
    summary: str | None
    url: str | None
    categories: tuple[str, ...]
    story: str  # gold story label
    region: str  # gold region of the story
    topic: str  # gold topic of the story


def sample_items() -> list[SampleItem]:
    gold = yaml.safe_load((sample_dir() / "expected.yaml").read_text("utf-8"))
    where = {}
    for story in gold["stories"]:
        for member in story["members"]:
            where[member] = story
    _, feeds = load_sample(REFERENCE)
    out: list[SampleItem] = []
    next_id = 1
    for feed in feeds:
        file = feed.path.rsplit("/", 1)[1]
        parsed = parse_feed(f"http://sample.invalid{feed.path}", feed.body)
        entries = normalise_feed(parsed, feed.name, REFERENCE)
        assert len(entries) == len(parsed.entries)
        for raw, entry in zip(parsed.entries, entries, strict=True):
            key = f"{file}#{raw.guid or raw.link}"
            story = where[key]
            out.append(
                SampleItem(
                    key=key,
                    outlet=feed.name,
                    item=ClusterItem(
                        id=next_id,
                        title=entry.title,
                        published=entry.published,
                        source=feed.name,
                        summary=entry.summary,
                        url=entry.url,
                    ),
                    summary=entry.summary,
                    url=entry.url,
                    categories=tuple(entry.categories),
                    story=story["label"],
                    region=story["region"],
                    topic=story["topic"],
                )
            )
            next_id += 1
    assert len(out) == len(where), "every gold member is in the sample and vice versa"
    return out
