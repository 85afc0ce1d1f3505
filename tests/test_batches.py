"""The pass reads and writes big batches in bounded pieces: the helpers that cut them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator import pipeline
from aggregator.cluster import Clusterer
from aggregator.models import ClusterItem, Entry, FetchResult, Labels, ParsedFeed, Source
from aggregator.store import Store

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
FEED = "https://news.example/rss"


def test_story_batches_hold_about_write_batch_members(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "WRITE_BATCH", 5)
    clusterer = Clusterer()
    for i in range(1, 8):  # story 1 gets 4 members, story 5 gets 3
        story = 1 if i <= 4 else 5
        clusterer.seed(
            ClusterItem(id=i, title=f"Headline number {i} about things", published=NOW), story
        )
    batches = list(pipeline._batches([1, 5, 99, 100], clusterer))
    # 4 (story 1) + 3 (story 5) reach 5; unknown stories count one member each
    assert batches == [[1, 5], [99, 100]]
    assert list(pipeline._batches([], clusterer)) == []


def test_drain_empties_the_list_as_it_goes() -> None:
    items = [ClusterItem(id=i, title="t", published=NOW) for i in range(3)]
    seen = []
    for item in pipeline._drain(items):
        seen.append((item.id, len(items)))
    assert seen == [(2, 2), (1, 1), (0, 0)]


def _store_with_entries(n: int) -> Store:
    store = Store.memory()
    store.sync_sources([Source(url=FEED, name="News")], NOW)
    entries = [
        Entry(
            feed_url=FEED,
            identity=f"guid:{i}",
            title=f"Headline {i}",
            url=f"https://news.example/{i}",
            published=NOW + timedelta(minutes=i),
            first_seen=NOW,
            summary=f"Summary {i}",
        )
        for i in range(n)
    ]
    result = FetchResult(url=FEED, fetched_at=NOW, status=200, body=b"")
    store.record_success(result, ParsedFeed(url=FEED), entries, NOW)
    return store


def test_iter_entries_reads_in_batches_in_order() -> None:
    store = _store_with_entries(7)
    ids = [e.id for e in store.entries()]
    store.assign(dict.fromkeys(ids[:5], ids[0]))
    got = list(store.iter_entries(since=NOW + timedelta(minutes=1), assigned=True, batch=2))
    assert [e.id for e in got] == ids[1:5]
    assert [e.id for e in store.iter_entries(batch=3)] == ids


def test_lead_summary_only_keeps_the_leads_summary() -> None:
    store = _store_with_entries(3)
    ids = [e.id for e in store.entries()]
    store.assign(dict.fromkeys(ids, ids[0]))
    members = store.story_members([ids[0]])[ids[0]]
    labels = Labels(region="World", countries=(), topic="general")
    store.save_story(ids[0], members[1], members, labels, NOW)
    (story,) = store.stories(lead_summary_only=True)
    assert story.members[0].id == ids[1]
    assert [m.summary for m in story.members] == ["Summary 1", None, None]
    (full,) = store.stories()
    assert [m.summary for m in full.members] == ["Summary 1", "Summary 0", "Summary 2"]
