"""A small topic model: multinomial naive Bayes over hashed headline features.

Trained by ``scripts/train_topic_model.py`` on openly licensed data only (see
``data/topic_model.json`` for the sources and their licences); shipped as a compressed byte
table read with the standard library, so it needs no numpy and loads in milliseconds.
"""

from __future__ import annotations

import json
import math
import zlib
from functools import cache
from importlib import resources
from itertools import pairwise

from aggregator.text import STOPWORDS, fold, stem, words

BUCKETS = 1 << 16


def _bucket(token: str) -> int:
    return zlib.crc32(token.encode("utf-8")) % BUCKETS


def features(text: str) -> list[int]:
    """Hashed buckets of a headline's folded, stemmed words and adjacent word pairs."""
    return token_features([stem(t) for t in (fold(w) for w in words(text)) if t not in STOPWORDS])


def token_features(tokens: list[str]) -> list[int]:
    """Hashed buckets of stemmed content tokens and adjacent pairs."""
    out = [_bucket(t) for t in tokens]
    out.extend(_bucket(f"{a} {b}") for a, b in pairwise(tokens))
    return out


class TopicModel:
    def __init__(self, classes: list[str], table: bytes, low: float, scale: float) -> None:
        self.classes = classes
        self._rows = [table[i * BUCKETS : (i + 1) * BUCKETS] for i in range(len(classes))]
        self._low = low
        self._scale = scale

    def posterior(self, text: str) -> dict[str, float]:
        """Class probabilities of ``text`` (empty when it has no features)."""
        return self._posterior(features(text))

    def posterior_of(self, tokens: list[str]) -> dict[str, float]:
        """Class probabilities of already folded, stemmed content tokens."""
        return self._posterior(token_features(tokens))

    def _posterior(self, buckets: list[int]) -> dict[str, float]:
        if not buckets:
            return {}
        logs = [
            sum(row[b] for b in buckets) * self._scale + len(buckets) * self._low
            for row in self._rows
        ]
        top = max(logs)
        exps = [math.exp(x - top) for x in logs]
        total = sum(exps)
        return {c: e / total for c, e in zip(self.classes, exps, strict=True)}


@cache
def default_model() -> TopicModel | None:
    """The shipped model, or None when the package has none."""
    data = resources.files("aggregator").joinpath("data")
    try:
        meta = json.loads(data.joinpath("topic_model.json").read_text("utf-8"))
        blob = zlib.decompress(data.joinpath("topic_model.bin").read_bytes())
    except FileNotFoundError:
        return None
    return TopicModel(meta["classes"], blob, meta["low"], meta["scale"])
