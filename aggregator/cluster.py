"""Which story does a headline belong to? Incremental, pure, cross-outlet.

A :class:`Clusterer` takes items (id, headline, time, outlet) one at a time in published order
and answers with the story each joins; a story's id is the id of the item that opened it, so it
never changes as reports join. The score of two headlines combines:

* weighted overlap (Dice) of their features, each weighted by inverse document frequency over
  the items seen so far: stemmed content words, numbers, and gazetteer entities, where
  Kiev/Kyiv or Turkey/Türkiye fold to one entity and Moscow/Kremlin/Russian share a country;
* character similarity of the folded, sorted content words (rapidfuzz), which catches
  spelling variants the gazetteer does not know;
* a time decay: reports further apart score lower, and beyond ``window`` never meet.

An item joins the best candidate story when its best link to a member reaches ``threshold``
and it is at least half that similar to more than half of the story's members (support), so
A~B, B~C cannot pull an unrelated C into A's story. Candidates come from an inverted index of
features (blocking), so cost stays near-linear. The same canonical link is always one story.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rapidfuzz import fuzz

from aggregator.models import Assignment, ClusterItem
from aggregator.text import (
    STOPWORDS,
    Gazetteer,
    contrasts,
    default_gazetteer,
    fold,
    stem,
    synonyms,
    words,
)

DEFAULT_THRESHOLD = 0.3
DEFAULT_WINDOW = timedelta(hours=72)
SUPPORT_LEVEL = 0.5
SUPPORT_SHARE = 0.5
MAX_MEMBERS_SCORED = 30
WORD_WEIGHT = 1.0
ENTITY_WEIGHT = 1.2
COUNTRY_WEIGHT = 0.5
NUMBER_WEIGHT = 1.2
DICE_SHARE = 0.75
DECAY = 0.3
MIN_WHAT = 0.1
CONTRAST_DAMPING = 0.6
SUMMARY_WEIGHT = 0.3
SUMMARY_CHARS = 300
WHAT_DAMPING = 0.6

# Words that say what kind of item it is, not what it is about.
BOILERPLATE = frozenset(
    fold(w)
    for w in """live watch video videos photo photos gallery update updates updated breaking
    news report reports reported latest explainer analysis opinion podcast listen read exclusive
    today week day says said""".split()
)


@dataclass
class Features:
    """The weighted features of one headline, and its folded content words."""

    weights: dict[str, float]
    norm: str


@dataclass
class _Doc:
    id: int
    story: int
    published: datetime
    features: Features
    url: str | None


@dataclass
class _Story:
    id: int
    members: list[int] = field(default_factory=list)
    first: datetime | None = None
    last: datetime | None = None


def _terms(text: str, gazetteer: Gazetteer) -> Iterator[tuple[str, float, str]]:
    """(feature, weight, folded form) of each entity, number and content word of ``text``."""
    original = words(text)
    same = synonyms()
    covered: set[int] = set()
    for mention in gazetteer.mentions(original):
        covered.update(range(mention.start, mention.end))
        entity = mention.entity
        # "Uganda" and "Ugandans", "Russia" and "Russian" are one feature.
        key = entity.id
        if entity.kind in ("country", "demonym") and entity.country:
            key = entity.country
        yield f"={key}", ENTITY_WEIGHT, key.casefold()
        if entity.country:
            yield f"@{entity.country}", COUNTRY_WEIGHT, ""
    for i, word in enumerate(original):
        if i in covered:
            continue
        folded = fold(word)
        if folded in STOPWORDS or folded in BOILERPLATE:
            continue
        if folded[:1].isdigit():
            yield f"#{folded.rstrip('%')}", NUMBER_WEIGHT, folded
        elif len(folded) >= 2:
            stemmed = same.get(folded) or stem(folded)
            yield stemmed, WORD_WEIGHT, stemmed


def _contrasting(a: dict[str, float], b: dict[str, float]) -> bool:
    """Whether one headline names an event the other contradicts ("halt" vs "kill")."""
    return any(x in a and y in b and y not in a and x not in b for x, y in contrasts())


def headline_features(title: str, gazetteer: Gazetteer, summary: str | None = None) -> Features:
    """Features of one headline: entities, their countries, numbers, stemmed content words;
    with a summary, its first sentences add the same features at ``SUMMARY_WEIGHT``."""
    weights: dict[str, float] = {}
    content: list[str] = []
    for feature, weight, folded in _terms(title, gazetteer):
        weights.setdefault(feature, weight)
        if folded:
            content.append(folded)
    if summary:
        for feature, weight, _ in _terms(summary[:SUMMARY_CHARS], gazetteer):
            weights.setdefault(feature, weight * SUMMARY_WEIGHT)
    return Features(weights=weights, norm=" ".join(sorted(set(content))))


class Clusterer:
    """Assigns items to stories incrementally; see the module docstring for the rule."""

    def __init__(
        self,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        window: timedelta = DEFAULT_WINDOW,
        gazetteer: Gazetteer | None = None,
    ) -> None:
        self.threshold = threshold
        self.window = window
        self.gazetteer = gazetteer or default_gazetteer()
        self.df: Counter[str] = Counter()
        self.n_docs = 0
        self.docs: dict[int, _Doc] = {}
        self.stories: dict[int, _Story] = {}
        self.index: defaultdict[str, set[int]] = defaultdict(set)
        self.by_url: dict[str, int] = {}

    # -- scoring -------------------------------------------------------------------------

    def idf(self, feature: str) -> float:
        return math.log((self.n_docs + 10) / (self.df[feature] + 1))

    def similarity(self, a: Features, b: Features) -> float:
        """Symmetric headline similarity in [0, 1], without time decay.

        Weighted Dice overlap of all features, mixed with character similarity; pairs that
        share places and people but no content word or number ("what" happened) are
        damped, so "drone attack on Kyiv" and "pause in strikes on Kyiv" stay apart.
        """
        if not a.weights or not b.weights:
            return 0.0
        total = common = what_total = what_common = 0.0
        for features, other in ((a.weights, b.weights), (b.weights, a.weights)):
            for f, w in features.items():
                x = w * self.idf(f)
                total += x
                shared = f in other
                if shared:
                    common += x
                if f[0] not in "=@":
                    what_total += x
                    if shared:
                        what_common += x
        dice = common / total if total else 0.0
        chars = fuzz.ratio(a.norm, b.norm) / 100.0
        score = DICE_SHARE * dice + (1 - DICE_SHARE) * chars
        what = what_common / what_total if what_total else 0.0
        if what < MIN_WHAT:
            score *= WHAT_DAMPING
        if _contrasting(a.weights, b.weights):
            score *= CONTRAST_DAMPING
        return score

    def decay(self, a: datetime, b: datetime) -> float:
        gap = abs((a - b).total_seconds()) / self.window.total_seconds()
        return 0.0 if gap > 1 else 1.0 - DECAY * gap

    def score(self, a: ClusterItem, b: ClusterItem) -> float:
        """Pair score of two items as the clusterer would see them now (for evaluation)."""
        fa = headline_features(a.title, self.gazetteer, a.summary)
        fb = headline_features(b.title, self.gazetteer, b.summary)
        return self.similarity(fa, fb) * self.decay(a.published, b.published)

    # -- assignment ----------------------------------------------------------------------

    def _register(self, doc: _Doc) -> None:
        self.docs[doc.id] = doc
        self.n_docs += 1
        self.df.update(doc.features.weights.keys())
        story = self.stories.get(doc.story)
        if story is None:
            story = self.stories[doc.story] = _Story(doc.story)
        story.members.append(doc.id)
        story.first = min(story.first or doc.published, doc.published)
        story.last = max(story.last or doc.published, doc.published)
        for f in doc.features.weights:
            if not f.startswith("@"):
                self.index[f].add(doc.story)
        if doc.url:
            self.by_url.setdefault(doc.url, doc.story)

    def seed(self, item: ClusterItem, story_id: int) -> None:
        """Add an item already assigned to ``story_id`` (from the store), without scoring."""
        if item.id in self.docs:
            return
        features = headline_features(item.title, self.gazetteer, item.summary)
        self._register(_Doc(item.id, story_id, item.published, features, item.url))

    def _candidates(self, features: Features, when: datetime) -> set[int]:
        out: set[int] = set()
        for f in features.weights:
            if f.startswith("@"):
                continue
            for sid in self.index.get(f, ()):
                story = self.stories[sid]
                assert story.first is not None
                assert story.last is not None
                if story.first - self.window <= when <= story.last + self.window:
                    out.add(sid)
        return out

    def story_score(self, features: Features, when: datetime, story_id: int) -> tuple[float, float]:
        """(best link, support) of an item to a story's most recent members: support is the
        share of those members the item is at least ``SUPPORT_LEVEL`` times the threshold
        similar to."""
        story = self.stories[story_id]
        scores = []
        for doc_id in story.members[-MAX_MEMBERS_SCORED:]:
            doc = self.docs[doc_id]
            scores.append(self.similarity(features, doc.features) * self.decay(when, doc.published))
        floor = SUPPORT_LEVEL * self.threshold
        return max(scores), sum(1 for x in scores if x >= floor) / len(scores)

    def add(self, item: ClusterItem) -> Assignment:
        """Assign ``item`` to a story (opening a new one when nothing is close enough)."""
        if item.id in self.docs:
            doc = self.docs[item.id]
            return Assignment(item.id, doc.story, 1.0, new_story=False)
        features = headline_features(item.title, self.gazetteer, item.summary)
        # Count the item's own features first, so the weights see it as part of the corpus.
        best: tuple[float, float, int] | None = None
        if item.url and item.url in self.by_url:
            best = (1.0, 1.0, self.by_url[item.url])
        else:
            self.n_docs += 1
            self.df.update(features.weights.keys())
            for sid in self._candidates(features, item.published):
                top, support = self.story_score(features, item.published, sid)
                if top >= self.threshold and support > SUPPORT_SHARE:
                    key = (top, support, -sid)
                    if best is None or key > (best[0], best[1], -best[2]):
                        best = (top, support, sid)
            self.n_docs -= 1
            self.df.subtract(features.weights.keys())
        if best is None:
            story_id, score, new = item.id, 0.0, True
        else:
            story_id, score, new = best[2], best[0], False
        self._register(_Doc(item.id, story_id, item.published, features, item.url))
        return Assignment(item.id, story_id, score, new_story=new)

    def add_all(self, items: Iterable[ClusterItem]) -> list[Assignment]:
        """Assign many items in published order (ties by id); answers follow that order."""
        ordered = sorted(items, key=lambda i: (i.published, i.id))
        return [self.add(item) for item in ordered]

    def members(self, story_id: int) -> list[int]:
        return list(self.stories[story_id].members)

    def lead(self, story_id: int) -> int:
        """The member whose headline is closest to all the others (earliest on a tie).

        One or two members: the earliest report leads. This picks the most representative
        wording rather than the first outlet's, which may be a teaser or a live page.
        """
        members = [self.docs[m] for m in self.stories[story_id].members]
        if len(members) <= 2:
            return min(members, key=lambda d: (d.published, d.id)).id

        def centrality(doc: _Doc) -> float:
            return sum(
                self.similarity(doc.features, other.features)
                for other in members
                if other.id != doc.id
            )

        return max(
            members, key=lambda d: (round(centrality(d), 9), -d.published.timestamp(), -d.id)
        ).id


def cluster(
    items: Sequence[ClusterItem],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    window: timedelta = DEFAULT_WINDOW,
    gazetteer: Gazetteer | None = None,
) -> dict[int, int]:
    """Cluster ``items`` from scratch: item id -> story id."""
    clusterer = Clusterer(threshold=threshold, window=window, gazetteer=gazetteer)
    return {a.item_id: a.story_id for a in clusterer.add_all(items)}
