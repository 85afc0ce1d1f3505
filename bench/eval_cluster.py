"""Story clustering, measured on real labelled news, side by side with two baselines.

Data (skipped cleanly when ../shared/data is absent):
* UCI News Aggregator: the dev sample (sample_240_stories.tsv, 12,117 headlines), the
  calibration window 2014-06-01..06-14 and the test window 2014-07-01..07-14 (38,956
  headlines, 754 stories) of newsCorpora.tsv.gz, fed in TIMESTAMP order;
* STS benchmark headline pairs: ROC-AUC of our pair score, positives >= 4.0 vs negatives <= 2.0;
* BBC RSS 2022: recall of the 349 links the BBC re-headlined (same link, other title).

Systems, each one line per data set: ours (aggregator.cluster with the default settings);
rapidfuzz token_set_ratio >= 80 on normalised titles, union-find, 48 h window; datasketch
MinHash LSH on character 4-grams, threshold 0.5; exact normalised title. Metrics: pairwise and
B-cubed precision/recall/F1 from the contingency table, wall time.

    python bench/eval_cluster.py                 # dev sample, test window (no rapidfuzz there),
                                                 # STS, BBC
    python bench/eval_cluster.py --slow          # also rapidfuzz on the test window (~20 min)
    python bench/eval_cluster.py --only dev --sweep 0.25,0.3,0.35
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib
import re
import subprocess
import sys
import time
import tracemalloc
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.cluster import DEFAULT_THRESHOLD, Clusterer
from aggregator.models import ClusterItem

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
csv.field_size_limit(10**9)


@dataclass(frozen=True)
class Row:
    id: int
    title: str
    source: str
    story: str
    when: datetime
    url: str = ""


def ensure(package: str, module: str) -> None:
    """Baseline libraries are the benchmark's, never the project's: install on first use."""
    try:
        importlib.import_module(module)
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", package], check=True)


# -- data ------------------------------------------------------------------------------------


def load_uci(path: Path, start: datetime | None = None, end: datetime | None = None) -> list[Row]:
    opener = gzip.open if path.suffix == ".gz" else open
    rows: list[Row] = []
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        for rec in reader:
            if len(rec) < 8 or rec[0] == "ID":
                continue
            when = datetime.fromtimestamp(int(rec[7]) / 1000, tz=UTC)
            if start is not None and end is not None and not start <= when < end:
                continue
            rows.append(Row(int(rec[0]), rec[1], rec[3], rec[5], when, rec[2]))
    rows.sort(key=lambda r: (r.when, r.id))
    return rows


# -- metrics ---------------------------------------------------------------------------------


def scores(pred: dict[int, object], gold: dict[int, str]) -> dict[str, float]:
    """Pairwise and B-cubed P/R/F1 from the contingency table of two partitions."""
    cont = Counter((pred[i], gold[i]) for i in gold)
    psize = Counter(pred[i] for i in gold)
    gsize = Counter(gold.values())
    n = len(gold)

    def pairs(k: int) -> int:
        return k * (k - 1) // 2

    tp = sum(pairs(v) for v in cont.values())
    pp = sum(pairs(v) for v in psize.values())
    gp = sum(pairs(v) for v in gsize.values())
    bp = sum(v * v / psize[a] for (a, _), v in cont.items()) / n
    br = sum(v * v / gsize[b] for (_, b), v in cont.items()) / n

    def f1(p: float, r: float) -> float:
        return 2 * p * r / (p + r) if p + r else 0.0

    p = tp / pp if pp else 1.0
    r = tp / gp if gp else 1.0
    return {"P": p, "R": r, "F1": f1(p, r), "bP": bp, "bR": br, "bF1": f1(bp, br)}


def roc_auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Probability a positive outscores a negative (ties count half), by ranks."""
    labelled = sorted([(s, 1) for s in positives] + [(s, 0) for s in negatives])
    rank_sum = 0.0
    i = 0
    while i < len(labelled):
        j = i
        while j < len(labelled) and labelled[j][0] == labelled[i][0]:
            j += 1
        mid = (i + j + 1) / 2  # average 1-based rank of the tie group
        rank_sum += mid * sum(label for _, label in labelled[i:j])
        i = j
    npos, nneg = len(positives), len(negatives)
    return (rank_sum - npos * (npos + 1) / 2) / (npos * nneg)


# -- systems ---------------------------------------------------------------------------------

_NON_ALNUM = re.compile(r"[\W_]+")


def normalised(title: str) -> str:
    decomposed = unicodedata.normalize("NFKD", title.casefold())
    return _NON_ALNUM.sub(" ", "".join(c for c in decomposed if not unicodedata.combining(c)))


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def ours(rows: Sequence[Row], threshold: float = DEFAULT_THRESHOLD) -> dict[int, object]:
    clusterer = Clusterer(threshold=threshold)
    return {
        a.item_id: a.story_id
        for a in (clusterer.add(ClusterItem(r.id, r.title, r.when, r.source)) for r in rows)
    }


def exact(rows: Sequence[Row]) -> dict[int, object]:
    return {r.id: normalised(r.title).strip() for r in rows}


def rapidfuzz_baseline(rows: Sequence[Row]) -> dict[int, object]:
    from rapidfuzz import fuzz, process

    window = timedelta(hours=48)
    uf = UnionFind()
    titles = [normalised(r.title) for r in rows]
    start = 0
    for i, r in enumerate(rows):
        while rows[start].when < r.when - window:
            start += 1
        uf.find(r.id)
        if i > start:
            for _, _, j in process.extract(
                titles[i],
                titles[start:i],
                scorer=fuzz.token_set_ratio,
                score_cutoff=80,
                limit=None,
            ):
                uf.union(r.id, rows[start + j].id)
    return {r.id: uf.find(r.id) for r in rows}


def minhash_baseline(rows: Sequence[Row]) -> dict[int, object]:
    ensure("datasketch", "datasketch")
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    uf = UnionFind()
    for r in rows:
        text = normalised(r.title)
        grams = {text[i : i + 4] for i in range(max(1, len(text) - 3))}
        mh = MinHash(num_perm=128)
        for g in grams:
            mh.update(g.encode("utf-8"))
        uf.find(r.id)
        for other in lsh.query(mh):
            uf.union(r.id, int(other))
        lsh.insert(str(r.id), mh)
    return {r.id: uf.find(r.id) for r in rows}


def ours_semantic(rows: Sequence[Row]) -> dict[int, object]:
    """Ours with `semantic: true`; embeddings come from bench/eval_semantic.py's cache (the
    embedding time is reported there), so this times the clustering."""
    from eval_semantic import Precomputed, embed, ensure

    ensure()
    key = f"{len(rows)}-{rows[0].id}-{rows[-1].id}"
    matrix = embed([r.title for r in rows], Path(f"/tmp/aggregator-emb-{key}.npy"))
    clusterer = Clusterer(embedder=Precomputed())
    clusterer.embeddings.update({r.id: matrix[i] for i, r in enumerate(rows)})
    started = time.perf_counter()
    pred: dict[int, object] = {
        r.id: clusterer.add(ClusterItem(r.id, r.title, r.when, r.source)).story_id for r in rows
    }
    ours_semantic.seconds = time.perf_counter() - started  # type: ignore[attr-defined]
    return pred


SYSTEMS: dict[str, Callable[[Sequence[Row]], dict[int, object]]] = {
    "ours": ours,
    "ours+semantic": ours_semantic,
    "rapidfuzz>=80": rapidfuzz_baseline,
    "minhash-lsh": minhash_baseline,
    "exact-title": exact,
}


def report(
    name: str,
    data: str,
    rows: Sequence[Row],
    pred: dict[int, object],
    secs: float,
    peak: float | None = None,
) -> None:
    gold = {r.id: r.story for r in rows}
    s = scores(pred, gold)
    mem = f"  peak {peak:.0f} MB" if peak is not None else ""
    print(
        f"{data:<22} {name:<14} B-cubed P {s['bP']:.3f} R {s['bR']:.3f} F1 {s['bF1']:.3f}"
        f" | pairwise P {s['P']:.3f} R {s['R']:.3f} F1 {s['F1']:.3f}"
        f" | {len(set(pred.values())):>6} stories  {secs:7.1f} s{mem}",
        flush=True,
    )


def run_system(name: str, data: str, rows: Sequence[Row], memory: bool = False) -> float:
    if memory:
        tracemalloc.start()
    started = time.perf_counter()
    pred = SYSTEMS[name](rows)
    secs = getattr(SYSTEMS[name], "seconds", None) or time.perf_counter() - started
    peak = None
    if memory:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    report(name, data, rows, pred, secs, peak)
    return secs


# -- STS and BBC -----------------------------------------------------------------------------


def sts_auc(path: Path) -> None:
    with path.open(encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        pairs = [(float(r["score"]), r["sentence1"], r["sentence2"]) for r in reader]
    clusterer = Clusterer()
    clusterer.learn(t for _, a, b in pairs for t in (a, b))  # corpus weights from STS itself
    now = datetime(2026, 1, 1, tzinfo=UTC)
    pos, neg = [], []
    for score, a, b in pairs:
        s = clusterer.score(ClusterItem(1, a, now), ClusterItem(2, b, now))
        if score >= 4.0:
            pos.append(s)
        elif score <= 2.0:
            neg.append(s)
    auc = roc_auc(pos, neg)
    threshold = clusterer.threshold
    tpr = sum(s >= threshold for s in pos) / len(pos)
    fpr = sum(s >= threshold for s in neg) / len(neg)
    print(
        f"{'STS headlines':<22} {'ours':<14} ROC-AUC {auc:.3f} ({len(pos)} pos >= 4.0, "
        f"{len(neg)} neg <= 2.0); at threshold {threshold}: TPR {tpr:.3f} FPR {fpr:.3f}"
    )


def bbc_rewrites(path: Path) -> None:
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    parsed = []
    for i, r in enumerate(rows):
        try:
            when = datetime.strptime(r["pubDate"], "%a, %d %b %Y %H:%M:%S %Z").replace(tzinfo=UTC)
        except ValueError:
            continue
        parsed.append((when, i, r["title"], r["link"], r["description"]))
    parsed.sort()
    by_link: defaultdict[str, set[str]] = defaultdict(set)
    for _, _, title, link, _ in parsed:
        by_link[link].add(title)
    rewritten = {link for link, titles in by_link.items() if len(titles) > 1}
    for with_summary in (False, True):
        clusterer = Clusterer()
        story: dict[int, int] = {}
        seen: set[tuple[str, str]] = set()
        members: defaultdict[str, list[int]] = defaultdict(list)
        for when, i, title, link, description in parsed:
            if (link, title) in seen:  # the same headline seen twice is one entry
                continue
            seen.add((link, title))
            # no URL: the link would merge them for free; this measures the headlines
            item = ClusterItem(i, title, when, "BBC", description if with_summary else None)
            story[i] = clusterer.add(item).story_id
            members[link].append(i)
        hit = total = 0
        for link in rewritten:
            ids = members[link]
            for a in range(len(ids)):
                for b in range(a + 1, len(ids)):
                    total += 1
                    hit += story[ids[a]] == story[ids[b]]
        what = "headline + summary" if with_summary else "headline only"
        print(
            f"{'BBC rewrites':<22} {'ours':<14} recall {hit / total:.3f} of {total} same-link "
            f"headline pairs ({len(rewritten)} links), {what}, clustered among "
            f"{len(story)} BBC headlines"
        )


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--only", choices=["dev", "calib", "test", "sts", "bbc"], action="append")
    parser.add_argument("--slow", action="store_true", help="rapidfuzz on the test window too")
    parser.add_argument("--sweep", help="comma-separated thresholds for ours")
    parser.add_argument(
        "--semantic", action="store_true", help="also ours with `semantic: true` (the extra)"
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    uci = args.data / "uci-news-aggregator"
    if not uci.exists():
        print(f"skipped: {uci} not found")
        return 0
    parts = args.only or ["dev", "test", "sts", "bbc"]
    sets: list[tuple[str, Callable[[], list[Row]], list[str]]] = []
    if "dev" in parts:
        sets.append(
            ("UCI dev sample", lambda: load_uci(uci / "sample_240_stories.tsv"), list(SYSTEMS))
        )
    if "calib" in parts:
        sets.append(
            (
                "UCI calib 06-01..14",
                lambda: load_uci(
                    uci / "newsCorpora.tsv.gz",
                    datetime(2014, 6, 1, tzinfo=UTC),
                    datetime(2014, 6, 15, tzinfo=UTC),
                ),
                ["ours"],
            )
        )
    if "test" in parts:
        systems = [
            s
            for s in SYSTEMS
            if (args.slow or s != "rapidfuzz>=80") and (args.semantic or s != "ours+semantic")
        ]
        sets.append(
            (
                "UCI test 07-01..14",
                lambda: load_uci(
                    uci / "newsCorpora.tsv.gz",
                    datetime(2014, 7, 1, tzinfo=UTC),
                    datetime(2014, 7, 15, tzinfo=UTC),
                ),
                systems,
            )
        )
    for data, load, systems in sets:
        rows = load()
        print(f"# {data}: {len(rows):,} headlines, {len({r.story for r in rows}):,} stories")
        if args.sweep:
            for t in (float(x) for x in args.sweep.split(",")):
                started = time.perf_counter()
                pred = ours(rows, t)
                report(f"ours t={t}", data, rows, pred, time.perf_counter() - started)
            continue
        times = {name: run_system(name, data, rows, memory=False) for name in systems}
        if "ours" in times:
            for name, secs in times.items():
                if name not in ("ours", "ours+semantic", "exact-title"):
                    print(f"{'':<22} speed: ours is {secs / times['ours']:.1f}x faster than {name}")
    if "sts" in parts and (args.data / "sts-benchmark").exists():
        sts_auc(args.data / "sts-benchmark" / "headlines_pairs.tsv")
    if "bbc" in parts and (args.data / "bbc-news-rss-2022").exists():
        bbc_rewrites(args.data / "bbc-news-rss-2022" / "bbc_news_rss_2022.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
