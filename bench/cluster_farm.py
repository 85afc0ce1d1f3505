"""Clustering the feed farm's items alone: time, peak memory, stories, and B-cubed quality
against the farm's own truth (which event each item reports).

The farm (bench/farm.py) draws ~18,000 events in 72 hours from 11 kinds of event, 30
countries and 4 headline templates per kind, so many different events read alike ("Ghana
launches vaccination drive as measles cases rise", "Chile launches vaccination drive as
mpox cases rise"). It is a stress test of chaining, not a realistic quality figure: the
real-data figures come from bench/eval_cluster.py. Run: python bench/cluster_farm.py [--n 1000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import farm

from aggregator.cluster import Clusterer
from aggregator.models import ClusterItem
from aggregator.normalise import text_of
from aggregator.parse import parse_feed

ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)


def bcubed(pred: dict[int, int], gold: dict[int, int]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 of ``pred`` against ``gold`` (item -> cluster)."""
    pred_sets: defaultdict[int, set[int]] = defaultdict(set)
    gold_sets: defaultdict[int, set[int]] = defaultdict(set)
    for k, v in pred.items():
        pred_sets[v].add(k)
    for k, v in gold.items():
        gold_sets[v].add(k)
    p = r = 0.0
    for k in pred:
        both = len(pred_sets[pred[k]] & gold_sets[gold[k]])
        p += both / len(pred_sets[pred[k]])
        r += both / len(gold_sets[gold[k]])
    p, r = p / len(pred), r / len(pred)
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000, help="feeds in the farm")
    args = parser.parse_args()
    truth: dict[str, int] = {}
    feeds = farm.generate(args.n, "http://127.0.0.1:1", anchor=ANCHOR, truth=truth)
    items: list[ClusterItem] = []
    gold: dict[int, int] = {}
    for f in feeds:
        for e in parse_feed(f.path, f.body).entries:
            item = ClusterItem(
                id=len(items) + 1,
                title=text_of(e.title),
                published=e.published or ANCHOR,
                source=f.path,
                summary=text_of(e.summary, limit=300),
                url=e.link,
            )
            items.append(item)
            gold[item.id] = truth[e.link or ""]
    clusterer = Clusterer()
    start = time.perf_counter()
    pred = {a.item_id: a.story_id for a in clusterer.add_all(items)}
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    p, r, f1 = bcubed(pred, gold)
    sizes = sorted((len(s.members) for s in clusterer.stories.values()), reverse=True)
    print(f"{len(items):,} items from {args.n} feeds, {len(set(gold.values())):,} true events")
    print(f"clustered in {seconds:.1f} s, peak RSS {rss:.0f} MB (whole process)")
    print(f"{len(sizes):,} stories, largest {sizes[:5]}")
    print(f"B-cubed P {p:.3f} R {r:.3f} F1 {f1:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
