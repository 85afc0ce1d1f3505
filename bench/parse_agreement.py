"""The fast parser against feedparser on real feeds: agreement and speed, side by side.

For every feed in ../shared/data/rss-feeds-2026-02/feeds/ (26 real news feeds) and every
.xml file of ../shared/data/feed-test-corpus/ (feedparser's well-formed, ill-formed and
encoding tests, miniflux's test feeds), reports which path `parse_feed` takes, and for the
documents the fast path takes, whether it agrees with feedparser on the entries, titles,
links, GUIDs, dates and summaries (aggregator.normalise.parser_differences). Then times both
parsers over the real feeds. Skips cleanly when the data is absent.

    python bench/parse_agreement.py [--data ../shared/data] [-v]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from aggregator.normalise import parser_differences
from aggregator.parse import fast_parse, fast_path_fits, parse_feed, robust_parse

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def check(paths: list[Path], verbose: bool) -> tuple[int, int, int, int, Counter[str]]:
    """(documents, taken by the fast path, agreeing, entries compared, differing fields)."""
    fast_taken = agree = entries = 0
    fields: Counter[str] = Counter()
    for path in paths:
        body = path.read_bytes()
        url = f"https://feeds.example/{path.name}"
        if not fast_path_fits(body, {}):
            continue
        fast = fast_parse(url, body)
        if fast is None:
            continue
        fast_taken += 1
        try:
            robust = robust_parse(url, body)
        except Exception as e:  # feedparser refuses what the fast path read
            print(f"  {path}: feedparser failed ({e}), fast path read {len(fast.entries)}")
            continue
        diffs = parser_differences(fast, robust)
        entries += len(robust.entries)
        fields.update({d.split(":")[0].split()[-1] for d in diffs})
        if diffs:
            print(f"  {path.relative_to(path.parents[2])}: {len(diffs)} differences")
            for d in diffs[: 5 if verbose else 2]:
                print(f"      {d[:160]}")
        else:
            agree += 1
    return len(paths), fast_taken, agree, entries, fields


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    real = sorted((args.data / "rss-feeds-2026-02" / "feeds").glob("*.xml"))
    corpus = sorted((args.data / "feed-test-corpus").rglob("*.xml"))
    if not real and not corpus:
        print(f"skipped: no feeds under {args.data}")
        return 0
    for name, paths in (("real news feeds", real), ("feed-test-corpus .xml files", corpus)):
        docs, taken, agree, entries, fields = check(paths, args.verbose)
        share = taken / docs if docs else 0.0
        print(
            f"{name}: {docs} documents, fast path took {taken} ({share:.0%}), "
            f"agreeing with feedparser {agree}/{taken} ({agree / max(1, taken):.1%}) "
            f"over {entries:,} entries"
        )
        if fields:
            print(f"  documents differing, by field: {dict(fields.most_common())}")
    if real:
        bodies = [p.read_bytes() for p in real]
        size = sum(map(len, bodies))
        timings = {}
        for label, fn in (
            ("parse_feed (fast path, fallback)", lambda b: parse_feed("https://f.example/", b)),
            ("feedparser only", lambda b: robust_parse("https://f.example/", b)),
        ):
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                for body in bodies:
                    fn(body)
                best = min(best, time.perf_counter() - started)
            timings[label] = best
            print(f"{label:<34} {size / 1e6:.1f} MB in {best:.3f} s ({size / 1e6 / best:.1f} MB/s)")
        ratio = timings["feedparser only"] / timings["parse_feed (fast path, fallback)"]
        print(f"speed-up over feedparser alone: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
