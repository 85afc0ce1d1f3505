"""A small topic model: a linear classifier over hashed headline words.

Trained by ``scripts/train_topic_model.py`` on openly licensed data only (see
``data/topic_model.json`` for the sources, their licences and the held-out split); shipped as
a compressed byte table read with the standard library, so it needs no numpy and loads in
milliseconds.

A class's score is ``scale * (sum of its bytes over the headline's buckets) + bias[class]``
and the posterior is the softmax of the scores. Naive Bayes (log-probabilities, no bias) and
logistic regression (weights and biases) both fit this shape. For speed the bytes of one
bucket are packed into one integer, a lane of :data:`LANE` bits per class, so a headline costs
one integer addition per feature whatever the number of classes.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Sequence
from functools import cache
from importlib import resources

from aggregator.text import STOPWORDS, fold, stem, words

BUCKETS = 1 << 16
LANE = 24  # bits per class in a packed bucket: room for 65,793 features of 255
_MAX_FEATURES = ((1 << LANE) - 1) // 255


def _bucket(token: str) -> int:
    return zlib.crc32(token.encode("utf-8")) % BUCKETS


def features(text: str) -> list[int]:
    """Hashed buckets of a text's folded, stemmed content words (stopwords left out)."""
    return token_features([stem(t) for t in (fold(w) for w in words(text)) if t not in STOPWORDS])


def token_features(tokens: Sequence[str]) -> list[int]:
    """Hashed buckets of already folded, stemmed content tokens, one per token. (Word pairs
    were tried as well: they scored lower on held-out data.)"""
    return [_bucket(t) for t in tokens]


class TopicModel:
    """Class posteriors from a byte table of ``len(classes)`` rows of :data:`BUCKETS` bytes."""

    def __init__(
        self,
        classes: Sequence[str],
        table: bytes,
        scale: float,
        bias: Sequence[float] | None = None,
    ) -> None:
        k = len(classes)
        if len(table) != k * BUCKETS:
            raise ValueError(f"topic model table has {len(table)} bytes, expected {k * BUCKETS}")
        self.classes = tuple(classes)
        self.bias = tuple(bias) if bias is not None else (0.0,) * k
        self._scale = scale
        width = LANE // 8
        lanes = bytearray(BUCKETS * k * width)
        for i in range(k):  # byte i*width of each bucket's record is class i's value
            lanes[i * width :: k * width] = table[i * BUCKETS : (i + 1) * BUCKETS]
        view = memoryview(lanes)
        step = k * width
        self._packed = [
            int.from_bytes(view[j : j + step], "little") for j in range(0, len(lanes), step)
        ]

    def posterior(self, text: str) -> dict[str, float]:
        """Class probabilities of ``text`` (empty when it has no features)."""
        return self.posterior_of_features(features(text))

    def posterior_of(self, tokens: Sequence[str]) -> dict[str, float]:
        """Class probabilities of already folded, stemmed content tokens."""
        return self.posterior_of_features(token_features(tokens))

    def posterior_of_features(self, buckets: Sequence[int]) -> dict[str, float]:
        """Class probabilities of hashed feature buckets (see :func:`features`)."""
        if not buckets:
            return {}
        total = sum(map(self._packed.__getitem__, buckets[:_MAX_FEATURES]))
        mask = (1 << LANE) - 1
        logs = [((total >> (LANE * i)) & mask) * self._scale + b for i, b in enumerate(self.bias)]
        top = max(logs)
        exps = [math.exp(x - top) for x in logs]
        norm = sum(exps)
        return {c: e / norm for c, e in zip(self.classes, exps, strict=True)}


@cache
def default_model() -> TopicModel | None:
    """The shipped model, or None when the package has none."""
    data = resources.files("aggregator").joinpath("data")
    try:
        meta = json.loads(data.joinpath("topic_model.json").read_text("utf-8"))
        blob = zlib.decompress(data.joinpath("topic_model.bin").read_bytes())
    except FileNotFoundError:
        return None
    return TopicModel(meta["classes"], blob, meta["scale"], meta.get("bias"))
