"""Topic of a headline from weighted keyword and phrase lexicons (``data/topics.json``) and a
small trained model (:mod:`.model`).

Signals, strongest first: the feed's own ``<category>`` values mapped to a topic, a section in
the URL path (``/business/``, ``/sport/``), lexicon phrases in the headline, the same in the
summary at a lower weight, the model's posterior over the headline and summary words, and the
source's topic hint as a prior. Words are folded and lightly stemmed on both sides, so
"strikes" matches "strike". The best topic wins when it has enough evidence; otherwise the
hint, otherwise ``general``. Topics scoring at least half the winner's score are kept as
secondary topics.

The model adds ``MODEL_WEIGHT * p`` for each class it gives a posterior ``p >= MODEL_FLOOR``.
Its classes are coarser than the topics in two places (:data:`MODEL_CLASSES`): ``world``, hard
news abroad, is no topic, so its share goes to the world-type topic (politics, conflict,
diplomacy, humanitarian, crime) that the other signals score highest for this headline, and
to ``politics`` when none scores; ``economy`` goes to ``energy`` when the other signals score
energy higher. MODEL_WEIGHT and MODEL_FLOOR were chosen on held-out data of the model's own
sources only (the BBC RSS fold and the HuffPost fifth that training leaves out): macro-F1
rises from a weight of 3 to 4 and is flat (within 0.01) from 4 to 12, so 4, the smallest
weight on that plateau, leaves the hand-written and the user's phrases the most say (from 4.5
the model's US-politics sense of "White House weighs Iran strike" outvotes the lexicon's
conflict). The model reads the first MODEL_SUMMARY characters of the summary as well.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from aggregator.classify.model import TopicModel, default_model, features, token_features
from aggregator.models import GENERAL
from aggregator.text import STOPWORDS, fold, stem, words

HEADLINE = 1.0
SUMMARY = 0.4
CATEGORY = 2.5
URL_SECTION = 2.0
HINT = 0.75
MIN_SCORE = 1.0
MODEL_WEIGHT = 4.0
MODEL_FLOOR = 0.5
MODEL_SUMMARY = 400  # characters of the summary the model reads
SECONDARY = 0.5
# A model class -> the topics its share may go to: the one the other signals score highest,
# the first when they score none of them.
MODEL_CLASSES: dict[str, tuple[str, ...]] = {
    "world": ("politics", "conflict", "diplomacy", "humanitarian", "crime"),
    "economy": ("economy", "energy"),
}


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
        # first word of a phrase -> the most words a phrase starting with it has
        self._starts: dict[str, int] = {}
        for topic, entries in data["lexicon"].items():
            if topic.startswith("_"):
                continue
            for phrase, weight in entries.items():
                key = _key(phrase)
                if key:
                    self.lexicon[key].append((topic, float(weight)))
                    self._starts[key[0]] = max(self._starts.get(key[0], 0), len(key))
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
        starts, lexicon = self._starts, self.lexicon
        while i < n:
            longest = starts.get(tokens[i], 0)
            for length in range(min(longest, n - i), 0, -1):
                hits = lexicon.get(tuple(tokens[i : i + length]))
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
            buckets = token_features(content)
            if summary:
                buckets += features(summary[:MODEL_SUMMARY])
            for cls, p in self.model.posterior_of_features(buckets).items():
                if p >= MODEL_FLOOR:
                    targets = MODEL_CLASSES.get(cls)
                    # max() keeps the first of equal scores: the default when none scores
                    topic = max(targets, key=lambda t: scores.get(t, 0.0)) if targets else cls
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
