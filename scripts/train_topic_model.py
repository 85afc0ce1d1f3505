"""Train the small topic model shipped in aggregator/data/topic_model.{bin,json}.

A multinomial naive Bayes over hashed word and word-bigram features of headlines (folded and
stemmed as the classifier does), trained only on openly licensed data, never on the
evaluation sets:
* HuffPost News Category v3 (CC BY 4.0), the records whose line number is not a multiple of 5
  (the multiples of 5 are held out for bench/eval_classify.py), sections mapped to topics;
* UCI News Aggregator (CC BY 4.0), rows outside the 2014-07-01..14 test window, at most
  20,000 per category (b/t/e/m -> economy, science-tech, culture, health).
Class priors are uniform (the sources are unbalanced). Log-probabilities are quantised to one
byte per class and bucket, so the model is a compact data file read with the standard library.

    python scripts/train_topic_model.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import sys
import zlib
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aggregator.classify.model import BUCKETS, features  # noqa: E402

HUFFPOST = {
    "POLITICS": "politics",
    "SPORTS": "sport",
    "BUSINESS": "economy",
    "MONEY": "economy",
    "TECH": "science-tech",
    "SCIENCE": "science-tech",
    "WELLNESS": "health",
    "HEALTHY LIVING": "health",
    "ENVIRONMENT": "environment",
    "GREEN": "environment",
    "CRIME": "crime",
    "ENTERTAINMENT": "culture",
    "ARTS": "culture",
    "ARTS & CULTURE": "culture",
    "CULTURE & ARTS": "culture",
}
UCI = {"b": "economy", "t": "science-tech", "e": "culture", "m": "health"}
PER_CLASS = 20_000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    docs: list[tuple[str, str]] = []
    huff_docs = 0
    huff = args.data / "huffpost-news-category-head10k" / "News_Category_Dataset_v3_head9999.jsonl"
    with huff.open(encoding="utf-8") as f:
        for n, line in enumerate(f):
            record = json.loads(line)
            if n % 5 != 0 and record["category"] in HUFFPOST:
                docs.append((record["headline"], HUFFPOST[record["category"]]))
                huff_docs += 1
    start, end = datetime(2014, 7, 1, tzinfo=UTC), datetime(2014, 7, 15, tzinfo=UTC)
    taken: Counter[str] = Counter()
    uci = args.data / "uci-news-aggregator" / "newsCorpora.tsv.gz"
    with gzip.open(uci, "rt", encoding="utf-8") as f:
        for rec in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(rec) < 8 or rec[0] == "ID" or rec[4] not in UCI:
                continue
            when = datetime.fromtimestamp(int(rec[7]) / 1000, tz=UTC)
            if start <= when < end or int(rec[0]) % 7 != 0:  # every 7th row, outside the window
                continue
            label = UCI[rec[4]]
            if taken[label] < PER_CLASS:
                taken[label] += 1
                docs.append((rec[1], label))
    classes = sorted({label for _, label in docs})
    counts: dict[str, Counter[int]] = defaultdict(Counter)
    for title, label in docs:
        counts[label].update(features(title))
    table: list[list[float]] = []
    for c in classes:
        total = sum(counts[c].values()) + BUCKETS  # Laplace smoothing
        table.append([math.log((counts[c][b] + 1) / total) for b in range(BUCKETS)])
    low = min(min(row) for row in table)
    high = max(max(row) for row in table)
    scale = (high - low) / 255
    blob = bytes(round((x - low) / scale) for row in table for x in row)
    (ROOT / "aggregator" / "data" / "topic_model.bin").write_bytes(zlib.compress(blob, 9))
    meta = {
        "version": 1,
        "kind": "multinomial naive Bayes, hashed word and bigram features, uniform priors",
        "classes": classes,
        "buckets": BUCKETS,
        "low": low,
        "scale": scale,
        "trained_on": {
            "HuffPost News Category v3 (CC BY 4.0), head 9,999, lines not divisible by 5": (
                huff_docs
            ),
            "UCI News Aggregator (CC BY 4.0), outside 2014-07-01..14, every 7th row": dict(taken),
        },
        "documents_per_class": dict(Counter(label for _, label in docs)),
    }
    (ROOT / "aggregator" / "data" / "topic_model.json").write_text(
        json.dumps(meta, indent=1) + "\n", encoding="utf-8"
    )
    print(f"trained on {len(docs):,} headlines: {meta['documents_per_class']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
