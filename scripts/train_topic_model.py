"""Train the small topic model shipped in aggregator/data/topic_model.{bin,json}.

A multinomial naive Bayes over hashed words (folded, stemmed, stopwords left out, as the
classifier does) of headlines and their one-line descriptions, trained only on openly
licensed data and never on an evaluation set or fold:
* BBC News RSS 2022 (Kaggle, CC0; BBC text), the links with zlib.crc32(link) % 5 != 0 (the
  rest is the held-out fold of bench/eval_classify.py; one link's rewritten titles stay in
  one fold). The URL desk is the label: sport, business -> economy, politics,
  entertainment -> culture, health, science and tech -> science-tech, and the world desks
  (news/world, news/world-*) -> "world", a coarse class for hard news abroad that the
  classifier hands on to a world-type topic. Other desks (UK, education, ...) are left out.
* HuffPost News Category v3 (CC BY 4.0), the records whose line number is not a multiple of
  5 (the multiples of 5 are held out for bench/eval_classify.py), sections mapped to topics
  and WORLD NEWS / WORLDPOST / THE WORLDPOST to "world".
* UCI News Aggregator (CC BY 4.0), rows outside the 2014-07-01..14 test window, at most two
  distinct titles per story (a story has ~60 near-identical headlines; more of them only
  repeat its names), categories b/t/e/m -> economy, science-tech, culture, health.
Each class's word counts are scaled to the same total before Laplace smoothing, so the small
classes (sport, world) are not drowned by the large ones, and class priors are uniform.
Log-probabilities are quantised to one byte per class and bucket, so the model is a compact
data file read with the standard library. No third-party packages are needed.

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
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aggregator.classify.model import BUCKETS, features  # noqa: E402

BBC_TOPICS = {
    "sport": "sport",
    "business": "economy",
    "politics": "politics",
    "entertainment": "culture",
    "health": "health",
    "science": "science-tech",  # the science-environment desk: science first, as in the eval map
    "tech": "science-tech",
}
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
    "WORLD NEWS": "world",
    "WORLDPOST": "world",
    "THE WORLDPOST": "world",
}
UCI = {"b": "economy", "t": "science-tech", "e": "culture", "m": "health"}
PER_STORY = 2
UCI_TEST_WINDOW = (datetime(2014, 7, 1, tzinfo=UTC), datetime(2014, 7, 15, tzinfo=UTC))

Doc = tuple[str, str]  # text, class


def bbc_held_out(link: str) -> bool:
    """The BBC evaluation fold (bench/eval_classify.py uses the same rule)."""
    return zlib.crc32(link.encode("utf-8")) % 5 == 0


def bbc_docs(data: Path) -> Iterator[Doc]:
    path = data / "bbc-news-rss-2022" / "bbc_news_rss_2022.csv"
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if bbc_held_out(row["link"]):
                continue
            desk = row["topic_from_url"]
            if desk:
                label = BBC_TOPICS.get(desk)
            else:
                label = "world" if row["bbc_section"].startswith("news/world") else None
            if label:
                yield row["title"], label
                if row["description"]:
                    yield row["description"], label


def huffpost_docs(data: Path) -> Iterator[Doc]:
    path = data / "huffpost-news-category-head10k" / "News_Category_Dataset_v3_head9999.jsonl"
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f):
            record = json.loads(line)
            label = HUFFPOST.get(record["category"])
            if n % 5 != 0 and label:
                yield record["headline"], label
                if record.get("short_description"):
                    yield record["short_description"], label


def uci_docs(data: Path) -> Iterator[Doc]:
    start, end = UCI_TEST_WINDOW
    seen: defaultdict[str, set[str]] = defaultdict(set)
    path = data / "uci-news-aggregator" / "newsCorpora.tsv.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for rec in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(rec) < 8 or rec[0] == "ID" or rec[4] not in UCI:
                continue
            if start <= datetime.fromtimestamp(int(rec[7]) / 1000, tz=UTC) < end:
                continue
            titles, key = seen[rec[5]], rec[1].casefold().strip()
            if len(titles) < PER_STORY and key not in titles:
                titles.add(key)
                yield rec[1], UCI[rec[4]]


def train(docs: list[Doc]) -> tuple[list[str], list[list[float]]]:
    """Classes and their log-probability rows over the buckets."""
    counts: dict[str, Counter[int]] = defaultdict(Counter)
    for text, label in docs:
        counts[label].update(features(text))
    classes = sorted(counts)
    totals = {c: sum(counts[c].values()) for c in classes}
    target = sum(totals.values()) / len(classes)  # every class scaled to the mean total
    table = []
    for c in classes:
        scale = target / totals[c]
        denominator = target + BUCKETS  # Laplace smoothing
        table.append([math.log((counts[c][b] * scale + 1) / denominator) for b in range(BUCKETS)])
    return classes, table


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    sources = {
        "BBC News RSS 2022 (Kaggle CC0; BBC text), titles and descriptions of the links with "
        "crc32(link) % 5 != 0, URL desks": list(bbc_docs(args.data)),
        "HuffPost News Category v3 (CC BY 4.0), head 9,999, headlines and short descriptions "
        "of lines not divisible by 5": list(huffpost_docs(args.data)),
        "UCI News Aggregator (CC BY 4.0), outside 2014-07-01..14, at most 2 distinct titles "
        "per story": list(uci_docs(args.data)),
    }
    docs = [doc for found in sources.values() for doc in found]
    classes, table = train(docs)
    low = min(min(row) for row in table)
    high = max(max(row) for row in table)
    scale = (high - low) / 255
    blob = bytes(round((x - low) / scale) for row in table for x in row)
    (ROOT / "aggregator" / "data" / "topic_model.bin").write_bytes(zlib.compress(blob, 9))
    meta = {
        "version": 2,
        "kind": (
            "multinomial naive Bayes, hashed stemmed words, class totals equalised, Laplace "
            "smoothing, uniform priors"
        ),
        "classes": classes,
        "buckets": BUCKETS,
        "low": low,
        "scale": scale,
        "held_out": {
            "BBC News RSS 2022": "links with zlib.crc32(link) % 5 == 0",
            "HuffPost News Category v3": "lines whose number (from 0) is divisible by 5",
            "UCI News Aggregator": "the 2014-07-01..14 test window",
        },
        "trained_on": {
            name: dict(sorted(Counter(label for _, label in found).items()))
            for name, found in sources.items()
        },
        "documents_per_class": dict(sorted(Counter(label for _, label in docs).items())),
    }
    (ROOT / "aggregator" / "data" / "topic_model.json").write_text(
        json.dumps(meta, indent=1) + "\n", encoding="utf-8"
    )
    print(f"trained on {len(docs):,} texts: {meta['documents_per_class']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
