"""Clustering at archive scale: 100,000 stored headlines, then 1,000 more.

Builds a database of real headlines (UCI News Aggregator, in TIMESTAMP order, 100,000 rows
from 2014-05-01 on) through the store, clusters them with `recluster` (measuring time and peak
memory), then adds the next 1,000 headlines as one pass would (`update_stories`: label,
cluster against the stored window, rewrite touched stories) and times that step.
Skips cleanly without ../shared/data. Run: python bench/cluster_scale.py [--n 100000]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from eval_cluster import DATA, load_uci

from aggregator.config import Config, Settings
from aggregator.models import Entry, FetchResult, ParsedFeed, Source
from aggregator.pipeline import update_stories
from aggregator.store import Store


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--more", type=int, default=1_000)
    args = parser.parse_args()
    path = DATA / "uci-news-aggregator" / "newsCorpora.tsv.gz"
    if not path.exists():
        print(f"skipped: {path} not found")
        return 0
    rows = load_uci(path, datetime(2014, 5, 1, tzinfo=UTC), datetime(2014, 9, 1, tzinfo=UTC))
    rows = rows[: args.n + args.more]
    base, extra = rows[: args.n], rows[args.n :]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "scale.db"
        config = Config(
            settings=Settings(database=db, output_dir=Path(tmp)),
            sources=(Source("http://bench.invalid/feed", "Bench"),),
        )
        store = Store.open(db)
        store.sync_sources(config.sources, base[0].when)

        def write(batch: list) -> list[int]:  # type: ignore[type-arg]
            now = batch[-1].when
            entries = [
                Entry(
                    feed_url="http://bench.invalid/feed",
                    identity=f"guid:{r.id}",
                    title=r.title,
                    url=None,
                    published=r.when,
                    first_seen=now,
                )
                for r in batch
            ]
            result = FetchResult(url="http://bench.invalid/feed", fetched_at=now, status=200)
            written = store.record_success(result, ParsedFeed(url=result.url), entries, now)
            return list(written.new_ids)

        started = time.perf_counter()
        for i in range(0, len(base), 5000):
            write(base[i : i + 5000])
        print(f"stored {len(base):,} headlines in {time.perf_counter() - started:.1f} s")
        store.close()

        # recluster in a child process, so its peak RSS is its own (not the data loading's)
        cfg = Path(tmp) / "feeds.yaml"
        cfg.write_text(
            f"settings:\n  database: {db}\n  output_dir: {tmp}\n"
            "sources:\n  - url: http://bench.invalid/feed\n    name: Bench\n"
        )
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "-c", str(cfg), "recluster"],
            stdout=subprocess.PIPE,
            text=True,
        )
        _, status, usage = os.wait4(child.pid, 0)
        secs = time.perf_counter() - started
        output = child.stdout.read().strip() if child.stdout else ""
        if status != 0:
            print(f"recluster failed: {output}")
            return 1
        print(f"recluster ({output}): {secs:.1f} s, peak RSS {usage.ru_maxrss / 1024:.0f} MB")

        store = Store.open(db)
        new_ids = write(extra)
        started = time.perf_counter()
        touched = update_stories(store, config, new_ids, extra[-1].when)
        secs = time.perf_counter() - started
        store.close()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"add {len(new_ids):,} headlines to {len(base):,}: {secs:.2f} s "
            f"({len(touched):,} stories touched); process peak RSS {rss:.0f} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
