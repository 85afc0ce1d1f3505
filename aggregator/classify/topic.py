"""Topic of a headline from weighted keyword and phrase lexicons (``data/topics.json``).

Signals, strongest first: the feed's own ``<category>`` values mapped to a topic, a section in
the URL path (``/business/``, ``/sport/``), lexicon phrases in the headline, the same in the
summary at a lower weight, and the source's topic hint as a prior. Words are folded and lightly
stemmed on both sides, so "strikes" matches "strike". The best topic wins when it has enough
evidence; otherwise the hint, otherwise ``general``. Topics scoring at least half the winner's
score are kept as secondary topics.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from aggregator.classify.model import TopicModel, default_model
from aggregator.models import GENERAL
from aggregator.text import STOPWORDS, fold, stem, words

HEADLINE = 1.0
SUMMARY = 0.4
CATEGORY = 2.5
URL_SECTION = 2.0
HINT = 0.75
MIN_SCORE = 1.0
MODEL_WEIGHT = 3.0
MODEL_FLOOR = 0.5
SECONDARY = 0.5


def _key(phrase: str) -> tuple[str, ...]:
    return tuple(stem(fold(w)) for w in words(phrase))


@cache
def _default_data() -> dict[str, Any]:
    text = resources.files("aggregator").joinpath("data/topics.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def with_phrases(
    topics: Sequence[str], phrases: Iterable[tuple[str, str, float]]
) -> dict[str, Any]:
    """The shipped lexicon data with extra topics and phrases (feeds.yaml ``classify.topics``).
    A phrase given there means that topic only: the shipped entries for the same phrase, in
    any topic, are dropped."""
    data = dict(_default_data())
    data["topics"] = [*data["topics"], *(t for t in topics if t not in data["topics"])]
    phrases = list(phrases)
    given = {_key(phrase) for _topic, phrase, _weight in phrases}
    lexicon = {
        topic: {p: w for p, w in entries.items() if _key(p) not in given}
        for topic, entries in data["lexicon"].items()
        if not topic.startswith("_")
    }
    for topic, phrase, weight in phrases:
        lexicon.setdefault(topic, {})[phrase] = weight
    data["lexicon"] = lexicon
    return data


class TopicClassifier:
    def __init__(
        self, data: Mapping[str, Any] | None = None, model: TopicModel | bool | None = True
    ) -> None:
        self.model = default_model() if model is True else (model or None)
        data = data if data is not None else _default_data()
        self.topics: tuple[str, ...] = tuple(data["topics"])
        self.lexicon: dict[tuple[str, ...], list[tuple[str, float]]] = defaultdict(list)
        self.max_len = 1
        for topic, entries in data["lexicon"].items():
            if topic.startswith("_"):
                continue
            for phrase, weight in entries.items():
                key = _key(phrase)
                if key:
                    self.lexicon[key].append((topic, float(weight)))
                    self.max_len = max(self.max_len, len(key))
        self.url_sections = {fold(k): v for k, v in data.get("url_sections", {}).items()}
        self.categories = {fold(k): v for k, v in data.get("categories", {}).items()}

    def _scan(
        self,
        text: str,
        weight: float,
        scores: defaultdict[str, float],
        tokens: list[str] | None = None,
    ) -> None:
        if tokens is None:
            tokens = [stem(fold(w)) for w in words(text)]
        i, n = 0, len(tokens)
        while i < n:
            for length in range(min(self.max_len, n - i), 0, -1):
                hits = self.lexicon.get(tuple(tokens[i : i + length]))
                if hits:
                    for topic, w in hits:
                        scores[topic] += w * weight
                    i += length
                    break
            else:
                i += 1

    def scores(
        self,
        title: str,
        *,
        summary: str | None = None,
        url: str | None = None,
        categories: Sequence[str] = (),
        hint: str | None = None,
    ) -> dict[str, float]:
        scores: defaultdict[str, float] = defaultdict(float)
        folded = [fold(w) for w in words(title)]
        stems = [stem(t) for t in folded]
        self._scan(title, HEADLINE, scores, stems)
        if summary:
            self._scan(summary[:400], SUMMARY, scores)
        for category in categories:
            topic = self.categories.get(fold(category).strip())
            if topic:
                scores[topic] += CATEGORY
            else:
                self._scan(category, CATEGORY / 2, scores)
        if url:
            for segment in urlsplit(url).path.lower().split("/")[:-1]:
                for part in {segment, *segment.split("-")}:
                    topic = self.url_sections.get(part)
                    if topic:
                        scores[topic] += URL_SECTION
                        break
        if self.model is not None:
            content = [s for t, s in zip(folded, stems, strict=True) if t not in STOPWORDS]
            for topic, p in self.model.posterior_of(content).items():
                if p >= MODEL_FLOOR:
                    scores[topic] += MODEL_WEIGHT * p
        if hint:
            scores[hint] += HINT
        return dict(scores)

    def classify(
        self,
        title: str,
        *,
        summary: str | None = None,
        url: str | None = None,
        categories: Sequence[str] = (),
        hint: str | None = None,
    ) -> tuple[str, tuple[str, ...]]:
        """(primary topic, secondary topics) of one headline."""
        scores = self.scores(title, summary=summary, url=url, categories=categories, hint=hint)
        if not scores:
            return GENERAL, ()
        ranked = sorted(
            scores.items(),
            key=lambda kv: (-kv[1], self.topics.index(kv[0]) if kv[0] in self.topics else 99),
        )
        topic, best = ranked[0]
        if best < MIN_SCORE:
            return (hint or GENERAL), ()
        secondary = tuple(t for t, s in ranked[1:] if s >= SECONDARY * best)
        return topic, secondary
