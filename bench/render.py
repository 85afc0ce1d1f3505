"""Render a big digest: 10,000 stories of 50,000 reports from 40 outlets, all within the digest
window, in a generated database (built through the store's API, not timed).

Prints the wall time of a first render into an empty folder (every page, feed and archive
day written), of a second render with nothing changed (nothing written) and of one after a
story grew, with the size of index.html raw and gzipped. Issue 6's targets: under 2 s and
index.html under 400 KB.

    python bench/render.py [--stories 10000] [--entries 50000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.config import Config, Settings
from aggregator.models import Entry, FetchResult, Labels, ParsedFeed, Source
from aggregator.render import render_site
from aggregator.store import Store

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
WORDS = (
    "government minister talks election vote strike pause attack deal trade rates bank "
    "storm flood fire court trial police protest border summit leader president army "
    "rebels aid hospital vaccine climate energy oil gas market shares record season final "
    "coach team league match scientists study space mission launch company profit jobs"
).split()
PLACES = "Kyiv Gaza Paris Lagos Tokyo Lima Sydney Cairo Delhi Brussels Ankara Nairobi".split()
REGIONS = ("Africa", "Americas", "Asia", "Europe", "Middle East", "Oceania", "World")
TOPICS = ("politics", "conflict", "diplomacy", "economy", "energy", "health", "sport", "general")


def sizes(stories: int, entries: int, rng: random.Random, most: int = 60) -> list[int]:
    """Reports per story: a long tail (many stories have one or two reports, a few hundred
    have dozens, at most ``most``)."""
    raw = [1 / (i + 1) ** 0.9 for i in range(stories)]
    scale = (entries - stories) / sum(raw)
    out = [min(most, 1 + int(r * scale)) for r in raw]
    i = 0
    while sum(out) < entries:  # spread what the cap and rounding left over the others
        if out[i % stories] < most:
            out[i % stories] += 1
        i += 1
    rng.shuffle(out)
    return out


def title(rng: random.Random) -> str:
    words = rng.sample(WORDS, rng.randint(6, 10))
    words.insert(rng.randrange(len(words)), rng.choice(PLACES))
    return " ".join(words).capitalize()


def generate(store: Store, n_stories: int, n_entries: int, outlets: int = 40) -> None:
    rng = random.Random(6)
    feeds = [
        Source(url=f"https://feeds.outlet{i}.test/rss", name=f"Outlet {i}") for i in range(outlets)
    ]
    store.sync_sources(feeds, NOW)
    plan: dict[int, list[tuple[int, int, str, datetime]]] = {}  # feed -> (story, n, title, t)
    counts = sizes(n_stories, n_entries, rng)
    for s, k in enumerate(counts):
        start = NOW - timedelta(hours=rng.uniform(1, 44))
        for n in range(k):
            feed = rng.randrange(outlets) if n else s % outlets
            when = start + timedelta(minutes=n and rng.uniform(0, 300))
            plan.setdefault(feed, []).append((s, n, title(rng), min(when, NOW)))
    ids: dict[tuple[int, int], int] = {}
    for feed, items in plan.items():
        url = feeds[feed].url
        entries = [
            Entry(
                feed_url=url,
                identity=f"guid:{s}-{n}",
                title=t,
                url=f"https://www.outlet{feed}.test/news/2026/01/{s}-{n}-"
                + "-".join(t.split()[:6]).lower(),
                published=when,
                first_seen=when,
                summary=(title(rng) + ". " + title(rng) + ".") if rng.random() < 0.5 else None,
            )
            for s, n, t, when in items
        ]
        result = FetchResult(url=url, fetched_at=NOW, status=200)
        written = store.record_success(result, ParsedFeed(url=url), entries, NOW)
        for (s, n, _, _), entry_id in zip(items, written.new_ids, strict=True):
            ids[(s, n)] = entry_id
    store.assign({ids[(s, n)]: ids[(s, 0)] for s, k in enumerate(counts) for n in range(k)})
    records = {e.id: e for e in store.entries()}
    with store.db.atomic():
        for s, k in enumerate(counts):
            members = [records[ids[(s, n)]] for n in range(k)]
            labels = Labels(region=REGIONS[s % len(REGIONS)], topic=TOPICS[s % len(TOPICS)])
            store.save_story(ids[(s, 0)], members[0], members, labels, NOW)


def timed(store: Store, config: Config, now: datetime) -> tuple[float, int]:
    started = time.perf_counter()
    written = render_site(store, config, now)
    return time.perf_counter() - started, len(written)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--keep", type=Path, help="build the database and site in DIR")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="aggregator-bench-render-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "bench.db").unlink(missing_ok=True)
    store = Store.open(work / "bench.db")
    try:
        started = time.perf_counter()
        generate(store, args.stories, args.entries)
        counts = store.counts()
        print(
            f"generated {counts['stories']:,} stories, {counts['entries']:,} entries "
            f"in {time.perf_counter() - started:.1f} s (not timed below)"
        )
        out = work / "site"
        shutil.rmtree(out, ignore_errors=True)  # a first render: every page is new
        config = Config(settings=Settings(database=work / "bench.db", output_dir=out))
        cold, pages = timed(store, config, NOW)
        warm, rewritten = timed(store, config, NOW + timedelta(minutes=5))
        # one story grows: the pages that show it change
        grown = store.stories(limit=1)[0]
        lead = grown.members[0]
        store.db.execute("UPDATE entries SET title = title || ' (updated)' WHERE id = ?", [lead.id])
        store.save_story(
            grown.id, lead, list(grown.members), Labels(grown.region, grown.topic), NOW
        )
        changed, changed_pages = timed(store, config, NOW + timedelta(minutes=10))
    finally:
        store.close()
    index = (out / "index.html").read_bytes()
    files = [p for p in out.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    print(f"first render:   {cold:.2f} s wall, {pages} files ({total / 1e6:.1f} MB)")
    print(f"same data:      {warm:.2f} s wall, {rewritten} files rewritten")
    print(f"a story grew:   {changed:.2f} s wall, {changed_pages} files rewritten")
    for name in ("index.html", "atom.xml", "feed.json", "region/europe.html", "style.css"):
        data = (out / name).read_bytes()
        raw, packed = len(data) / 1024, len(gzip.compress(data)) / 1024
        print(f"{name + ':':20}{raw:.0f} KB raw, {packed:.0f} KB gzip")
    ok = cold < 2 and len(index) < 400 * 1024
    print(f"targets (< 2 s, index < 400 KB): {'met' if ok else 'NOT met'}")
    print(f"site: {out}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
