"""Region and topic labels, measured on real labelled news, side by side with baselines.

Region: UCDP conflict-event headlines, Reuters-21578 single-region titles (at most 300 per
region), BBC 2022 URL desks (headline and description, not the URL; the whole set, as the
topic model does not learn regions). Topic: AG News test, BBC URL desks of the held-out fold
only (links with zlib.crc32(link) % 5 == 0; scripts/train_topic_model.py trains on the other
links), HuffPost sections of the held-out fifth, UCI categories on the 2014-07-01..14 test
window. Label mappings are fixed in bench/classify_maps.yaml. Baselines: region by plain
regular expressions of pycountry country names (installed by this script); topic by a small
bag of keywords. Prints accuracy, macro-F1, per-class recall and a confusion matrix for each,
then the speed of classifying 100,000 headlines and of importing the classifier.

    python bench/eval_classify.py [--data ../shared/data] [--no-matrix]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib
import json
import re
import subprocess
import sys
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from aggregator.classify import Classifier
from aggregator.models import GENERAL, WORLD
from aggregator.text import default_gazetteer

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
MAPS = yaml.safe_load((Path(__file__).parent / "classify_maps.yaml").read_text("utf-8"))
csv.field_size_limit(10**9)


DATE_ONLY = re.compile(
    r"(?i)^\W*(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|january|february|march|april|may"
    r"|june|july|august|september|october|november|december|\d{1,4}|[,./-]|\s)+\W*$"
)


@dataclass(frozen=True)
class Case:
    text: str
    summary: str | None
    gold: str  # the data set's label
    accept: frozenset[str]  # app labels that count as right
    country: str | None = None


# -- data ------------------------------------------------------------------------------------


def region_cases(data: Path) -> dict[str, list[Case]]:
    sets: dict[str, list[Case]] = {}
    gaz = default_gazetteer()
    name_to_code = {v["name"].casefold(): k for k, v in gaz.countries.items()}
    border = {k: frozenset(v) for k, v in MAPS["region_border"].items()}

    def accept(region: str, country: str | None) -> frozenset[str]:
        return border.get(country or "", frozenset()) | {region}

    path = data / "ucdp-ged-sample" / "ucdpged_sample_1000.csv"
    if path.exists():
        cases = []
        with path.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                headline = (row.get("source_headline") or "").split(";")[0].strip().strip('"')
                # the README warns that some "headlines" are a date or a source name
                if len(headline) < 20 or " " not in headline or DATE_ONLY.match(headline):
                    continue
                code = name_to_code.get((row.get("country") or "").casefold())
                cases.append(Case(headline, None, row["region"], accept(row["region"], code), code))
        sets["UCDP headlines"] = cases
    path = data / "reuters-21578" / "reuters21578_headlines.tsv.gz"
    if path.exists():
        per_region: defaultdict[str, list[Case]] = defaultdict(list)
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                region = row.get("region") or ""
                if not row.get("title") or region in ("", "MULTI"):
                    continue
                if len(per_region[region]) < 300:
                    place = (row.get("places") or "").split("|")[0]
                    code = {"turkey": "TR", "egypt": "EG", "cyprus": "CY", "ussr": "RU"}.get(place)
                    per_region[region].append(
                        Case(row["title"], None, region, accept(region, code), code)
                    )
        sets["Reuters single-region"] = [c for cases in per_region.values() for c in cases]
    path = data / "bbc-news-rss-2022" / "bbc_news_rss_2022.csv"
    if path.exists():
        cases = []
        with path.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                region = row.get("region_from_url") or ""
                if not region:
                    continue
                region = "Europe" if region == "UK" else region
                cases.append(Case(row["title"], row["description"], region, frozenset({region})))
        sets["BBC URL desks"] = cases
    return sets


def topic_cases(data: Path) -> dict[str, list[Case]]:
    sets: dict[str, list[Case]] = {}

    def make(text: str, summary: str | None, gold: str, mapping: dict[str, list[str]]) -> Case:
        return Case(text, summary, gold, frozenset(mapping[gold]))

    path = data / "ag-news-test" / "test.csv"
    if path.exists():
        names = {"1": "World", "2": "Sports", "3": "Business", "4": "Sci/Tech"}
        with path.open(encoding="utf-8") as f:
            sets["AG News test"] = [
                make(t, d.replace("\\\\", " "), names[c], MAPS["ag_news"])
                for c, t, d in csv.reader(f)
            ]
    path = data / "bbc-news-rss-2022" / "bbc_news_rss_2022.csv"
    if path.exists():
        with path.open(encoding="utf-8") as f:
            # the held-out fold: scripts/train_topic_model.py trains on the other links
            sets["BBC URL desks (held out)"] = [
                make(r["title"], r["description"], r["topic_from_url"], MAPS["bbc_topic"])
                for r in csv.DictReader(f)
                if r["topic_from_url"] in MAPS["bbc_topic"]
                and zlib.crc32(r["link"].encode("utf-8")) % 5 == 0
            ]
    path = data / "huffpost-news-category-head10k" / "News_Category_Dataset_v3_head9999.jsonl"
    if path.exists():
        with path.open(encoding="utf-8") as f:
            # the held-out fifth: scripts/train_topic_model.py trains on the other lines
            rows = [json.loads(line) for n, line in enumerate(f) if n % 5 == 0]
        sets["HuffPost sections (held out)"] = [
            make(r["headline"], r.get("short_description"), r["category"], MAPS["huffpost"])
            for r in rows
            if r["category"] in MAPS["huffpost"]
        ]
    path = data / "uci-news-aggregator" / "newsCorpora.tsv.gz"
    if path.exists():
        start, end = datetime(2014, 7, 1, tzinfo=UTC), datetime(2014, 7, 15, tzinfo=UTC)
        cases = []
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for rec in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                if len(rec) < 8 or rec[0] == "ID":
                    continue
                when = datetime.fromtimestamp(int(rec[7]) / 1000, tz=UTC)
                if start <= when < end:
                    cases.append(make(rec[1], None, rec[4], MAPS["uci_category"]))
        sets["UCI test window"] = cases
    return sets


# -- systems ---------------------------------------------------------------------------------


def region_baseline() -> Callable[[Case], str]:
    """Plain regular expressions of pycountry's country names; first match wins."""
    try:
        importlib.import_module("pycountry")
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pycountry"], check=True)
    import pycountry

    gaz = default_gazetteer()
    patterns = []
    for c in pycountry.countries:
        region = gaz.country_region(c.alpha_2)
        if not region:
            continue
        names = {c.name, getattr(c, "common_name", c.name)}
        for name in names:
            patterns.append((re.compile(rf"\b{re.escape(name)}\b", re.I), region))

    def predict(case: Case) -> str:
        text = case.text
        hits = [(m.start(), region) for p, region in patterns if (m := p.search(text))]
        return min(hits)[1] if hits else WORLD

    return predict


KEYWORDS = {
    "sport": "match cup league win team coach player game season olympic tennis football",
    "economy": "market shares stocks economy bank profit sales prices trade inflation company",
    "science-tech": "technology software internet google apple microsoft study space research",
    "health": "health virus disease cancer vaccine hospital drug patients",
    "politics": "election president minister government party parliament vote",
    "conflict": "war troops killed attack military bomb rebels",
    "culture": "film music star movie show album actor festival",
    "crime": "police court murder arrested trial crime",
}


def topic_baseline(case: Case) -> str:
    words = set(re.findall(r"[a-z]+", case.text.lower()))
    scores = {t: len(words & set(k.split())) for t, k in KEYWORDS.items()}
    best = max(scores, key=lambda t: scores[t])
    return best if scores[best] else GENERAL


# -- metrics ---------------------------------------------------------------------------------


def evaluate(
    name: str,
    system: str,
    cases: Sequence[Case],
    predict: Callable[[Case], str],
    matrix: bool,
    abstain: str | None = None,
) -> None:
    """Print accuracy, macro-F1, recall by class (and a confusion matrix). With ``abstain``
    (World for region), also how many cases got a real answer and how often it was right."""
    golds = sorted({c.gold for c in cases})
    hit: Counter[str] = Counter()
    total: Counter[str] = Counter()
    predicted_as: Counter[str] = Counter()
    confusion: defaultdict[str, Counter[str]] = defaultdict(Counter)
    answered = answered_right = 0
    started = time.perf_counter()
    for case in cases:
        label = predict(case)
        total[case.gold] += 1
        ok = label in case.accept
        if abstain is not None and label != abstain:
            answered += 1
            answered_right += ok
        hit[case.gold] += ok
        # a prediction "belongs" to the gold class it would be right for
        as_gold = (
            case.gold
            if ok
            else next((g for g in golds if label in frozenset(_accepts(cases, g))), label)
        )
        predicted_as[as_gold] += 1
        confusion[case.gold][label] += 1
    secs = time.perf_counter() - started
    accuracy = sum(hit.values()) / len(cases)
    f1s = []
    for g in golds:
        recall = hit[g] / total[g] if total[g] else 0.0
        precision = hit[g] / predicted_as[g] if predicted_as[g] else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    recalls = "  ".join(f"{g} {hit[g] / total[g]:.2f}" for g in golds)
    print(
        f"{name:<22} {system:<10} n={len(cases):>6,} accuracy {accuracy:.3f} "
        f"macro-F1 {sum(f1s) / len(f1s):.3f} ({secs:.1f} s)"
    )
    print(f"{'':<22} {'':<10} recall by class: {recalls}")
    if abstain is not None:
        print(
            f"{'':<22} {'':<10} answered (not {abstain}) {answered / len(cases):.1%}, "
            f"accuracy when answered {answered_right / max(1, answered):.3f}"
        )
    if matrix:
        labels = sorted({lab for row in confusion.values() for lab in row})
        print(f"{'':<24}gold \\ predicted: " + " ".join(f"{lab[:8]:>8}" for lab in labels))
        for g in golds:
            print(f"{'':<24}{g[:16]:>16}: " + " ".join(f"{confusion[g][lab]:>8}" for lab in labels))


_ACCEPTS: dict[tuple[int, str], frozenset[str]] = {}


def _accepts(cases: Sequence[Case], gold: str) -> frozenset[str]:
    key = (id(cases), gold)
    if key not in _ACCEPTS:
        _ACCEPTS[key] = next((c.accept for c in cases if c.gold == gold), frozenset())
    return _ACCEPTS[key]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--no-matrix", action="store_true")
    args = parser.parse_args()
    if not args.data.exists():
        print(f"skipped: {args.data} not found")
        return 0
    classifier = Classifier()
    matrix = not args.no_matrix

    def ours_region(case: Case) -> str:
        return classifier.classify(case.text, summary=case.summary).region

    def ours_topic(case: Case) -> str:
        return classifier.classify(case.text, summary=case.summary).topic

    baseline = region_baseline()
    print("# region")
    for name, cases in region_cases(args.data).items():
        evaluate(name, "ours", cases, ours_region, matrix, abstain=WORLD)
        evaluate(name, "baseline", cases, baseline, False, abstain=WORLD)
    print("# topic")
    topics = topic_cases(args.data)
    for name, cases in topics.items():
        evaluate(name, "ours", cases, ours_topic, matrix)
        evaluate(name, "baseline", cases, topic_baseline, False)
    print("# speed")
    titles = [c.text for cases in topics.values() for c in cases]
    titles = (titles * (100_000 // max(1, len(titles)) + 1))[:100_000]
    started = time.perf_counter()
    for title in titles:
        classifier.classify(title)
    print(f"classified {len(titles):,} headlines in {time.perf_counter() - started:.1f} s")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time; t = time.perf_counter(); "
            "from aggregator.classify import Classifier; Classifier(); "
            "print(f'{time.perf_counter() - t:.3f}')",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    print(f"import and load of the classifier: {out.stdout.strip()} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
