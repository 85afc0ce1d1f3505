"""Quality of clustering and labels on the bundled demo sample (aggregator/sample/).

Prints B-cubed and pairwise precision/recall/F1 of the story partition against the sample's
gold (expected.yaml), and the share of stories whose region and topic match the gold.
Run: python bench/eval_sample.py
"""

from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from itertools import combinations

import yaml

from aggregator.classify import Classifier, story_labels
from aggregator.cluster import Clusterer
from aggregator.demo import load_sample, sample_dir
from aggregator.models import ClusterItem, Labels
from aggregator.normalise import normalise_feed
from aggregator.parse import parse_feed

REFERENCE = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def bcubed(pred: dict[int, int], gold: dict[int, str]) -> tuple[float, float, float]:
    cont: Counter[tuple[int, str]] = Counter((pred[i], gold[i]) for i in pred)
    psize = Counter(pred.values())
    gsize = Counter(gold.values())
    p = sum(n * n / psize[a] for (a, _), n in cont.items()) / len(pred)
    r = sum(n * n / gsize[b] for (_, b), n in cont.items()) / len(pred)
    return p, r, 2 * p * r / (p + r)


def pairwise(pred: dict[int, int], gold: dict[int, str]) -> tuple[float, float, float]:
    tp = fp = fn = 0
    for a, b in combinations(sorted(pred), 2):
        same_pred, same_gold = pred[a] == pred[b], gold[a] == gold[b]
        tp += same_pred and same_gold
        fp += same_pred and not same_gold
        fn += same_gold and not same_pred
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def main() -> int:
    meta = yaml.safe_load((sample_dir() / "sample.yaml").read_text("utf-8"))
    hints = {s["name"]: (s.get("region"), s.get("topic")) for s in meta["sources"]}
    gold_doc = yaml.safe_load((sample_dir() / "expected.yaml").read_text("utf-8"))
    story_of = {m: s for s in gold_doc["stories"] for m in s["members"]}
    _, feeds = load_sample(REFERENCE)
    items: list[ClusterItem] = []
    gold: dict[int, str] = {}
    labels: defaultdict[str, list[Labels]] = defaultdict(list)
    classifier = Classifier()
    for feed in feeds:
        parsed = parse_feed(f"http://sample.invalid{feed.path}", feed.body)
        file = feed.path.rsplit("/", 1)[1]
        for raw, entry in zip(
            parsed.entries, normalise_feed(parsed, feed.name, REFERENCE), strict=True
        ):
            story = story_of[f"{file}#{raw.guid or raw.link}"]
            item = ClusterItem(
                len(items) + 1, entry.title, entry.published, feed.name, entry.summary, entry.url
            )
            items.append(item)
            gold[item.id] = story["label"]
            region_hint, topic_hint = hints[feed.name]
            labels[story["label"]].append(
                classifier.classify(
                    entry.title,
                    summary=entry.summary,
                    url=entry.url,
                    categories=entry.categories,
                    region_hint=region_hint,
                    topic_hint=topic_hint,
                )
            )
    started = time.perf_counter()
    pred = {a.item_id: a.story_id for a in Clusterer().add_all(items)}
    elapsed = time.perf_counter() - started
    p, r, f = bcubed(pred, gold)
    pp, pr, pf = pairwise(pred, gold)
    print(
        f"demo sample: {len(items)} entries, {len(set(gold.values()))} gold stories, "
        f"{len(set(pred.values()))} predicted ({elapsed * 1000:.0f} ms)"
    )
    print(f"B-cubed   P={p:.3f} R={r:.3f} F1={f:.3f}")
    print(f"pairwise  P={pp:.3f} R={pr:.3f} F1={pf:.3f}")
    expected = {s["label"]: (s["region"], s["topic"]) for s in gold_doc["stories"]}
    voted = {k: story_labels(v) for k, v in labels.items()}
    region_ok = sum(voted[k].region == expected[k][0] for k in voted)
    topic_ok = sum(voted[k].topic == expected[k][1] for k in voted)
    print(f"story region {region_ok}/{len(voted)}, topic {topic_ok}/{len(voted)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
