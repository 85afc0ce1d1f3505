"""Quality of clustering and labels on the bundled demo sample (aggregator/sample/).

Prints B-cubed and pairwise precision/recall/F1 of the story partition against the sample's
gold (expected.yaml), and how many stories get the editor's region and topic.
Run: python bench/eval_sample.py
"""

from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from itertools import combinations

from aggregator.classify import Classifier, story_labels
from aggregator.cluster import Clusterer
from aggregator.demo import gold_sample
from aggregator.models import Labels


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
    sample = gold_sample()
    gold = {s.item.id: s.story for s in sample}
    started = time.perf_counter()
    pred = {a.item_id: a.story_id for a in Clusterer().add_all(s.item for s in sample)}
    elapsed = time.perf_counter() - started
    p, r, f = bcubed(pred, gold)
    pp, pr, pf = pairwise(pred, gold)
    print(
        f"demo sample: {len(sample)} entries, {len(set(gold.values()))} gold stories, "
        f"{len(set(pred.values()))} predicted ({elapsed * 1000:.0f} ms)"
    )
    print(f"B-cubed   P={p:.3f} R={r:.3f} F1={f:.3f}")
    print(f"pairwise  P={pp:.3f} R={pr:.3f} F1={pf:.3f}")
    classifier = Classifier()
    votes: defaultdict[str, list[Labels]] = defaultdict(list)
    expected: dict[str, tuple[str, str]] = {}
    for s in sample:
        votes[s.story].append(
            classifier.classify(
                s.item.title,
                summary=s.summary,
                url=s.url,
                categories=s.categories,
                region_hint=s.region_hint,
                topic_hint=s.topic_hint,
            )
        )
        expected[s.story] = (s.region, s.topic)
    voted = {k: story_labels(v) for k, v in votes.items()}
    region_ok = sum(voted[k].region == expected[k][0] for k in voted)
    topic_ok = sum(voted[k].topic == expected[k][1] for k in voted)
    print(f"story region {region_ok}/{len(voted)}, topic {topic_ok}/{len(voted)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
