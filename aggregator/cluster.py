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

import heapq
import math
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any

from rapidfuzz import fuzz

from aggregator.models import Assignment, ClusterItem
from aggregator.normalise import strip_outlet_suffix
from aggregator.semantic import Embedder
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

DEFAULT_THRESHOLD = 0.26
DEFAULT_WINDOW = timedelta(hours=72)
SUPPORT_LEVEL = 0.5
SUPPORT_SHARE = 0.5
MAX_MEMBERS_SCORED = 45
WORD_WEIGHT = 1.0
ENTITY_WEIGHT = 1.2
COUNTRY_WEIGHT = 0.5
NUMBER_WEIGHT = 1.2
DICE_SHARE = 0.75
DECAY = 0.3
MIN_WHAT = 0.1
CONTRAST_DAMPING = 0.4
MAX_BLOCKING_FEATURES = 6
MIN_FEATURES = 3
BOILERPLATE_TITLE = re.compile(
    r"(?i)\b(?:article (?:you )?requested (?:cannot|could not) be found|page not found"
    r"|^posted by\b|^business wire$|^press release$|^news release$|^untitled$)"
)
MAX_POSTINGS = 200
MAX_CANDIDATES = 8
RELATIVE_SCREEN = 0.5
SURE = 0.8
# With an embedder: an embedding cosine of COSINE scores as much as the threshold.
COSINE = 0.65
PRUNE_EVERY = 5000
_EPOCH_STEP = math.log(1.1)
SUMMARY_WEIGHT = 0.3
SUMMARY_CHARS = 300
WHAT_DAMPING = 0.6
RELATED_BAR = 0.5  # a story the feed links the item to needs half the usual similarity

# Words that say what kind of item it is, not what it is about.
BOILERPLATE = frozenset(
    fold(w)
    for w in """live watch video videos photo photos gallery update updates updated breaking
    news report reports reported latest explainer analysis opinion podcast listen read exclusive
    today week day says said january february march april may june july august september october
    november december jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday
    thursday friday saturday sunday""".split()
)
# A year says when, not what: "... - February 17, 2026" must not glue two daily round-ups.
YEAR = re.compile(r"^(?:19|20)\d\d$")
YEAR_WEIGHT = 0.3


@dataclass(slots=True)
class Features:
    """The weighted features of one headline, and its folded content words."""

    weights: dict[str, float]
    norm: str


@dataclass(slots=True)
class _Doc:
    id: int
    story: int
    published: datetime
    features: Features
    url: str | None
    ts: float = 0.0
    weak: bool = False
    contrast: frozenset[str] = frozenset()
    vector: _Vector | None = None
    epoch: int = -1
    embedding: Any = None
    coverage: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Vector:
    """Features weighted by inverse document frequency, with the sums the score needs."""

    weights: dict[str, float]
    total: float
    what: float


@dataclass(slots=True)
class _Story:
    id: int
    members: list[int] = field(default_factory=list)
    first: float = math.inf
    last: float = -math.inf


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
        # a company or a currency is what a business story is about: a "what" feature
        what = entity.kind in ("company", "currency")
        yield f"{'~' if what else '='}{key}", ENTITY_WEIGHT, key.casefold()
        if entity.country:
            yield f"@{entity.country}", COUNTRY_WEIGHT, ""
    for i, word in enumerate(original):
        if i in covered:
            continue
        folded = fold(word)
        if folded in STOPWORDS or folded in BOILERPLATE:
            continue
        if folded[:1].isdigit():
            number = _number(folded)
            if (
                folded.isascii()
                and folded.isdigit()
                and int(folded) <= 31
                and _next_to_month(original, i)
            ):
                continue  # the day of a date ("February 17", "17 Feb")
            yield f"#{number}", YEAR_WEIGHT if YEAR.match(number) else NUMBER_WEIGHT, number
        elif len(folded) >= 2:
            stemmed = same.get(folded) or stem(folded)
            yield stemmed, WORD_WEIGHT, stemmed


MONTHS = frozenset(
    """january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec""".split()
)


def _next_to_month(original: Sequence[str], i: int) -> bool:
    return any(0 <= j < len(original) and fold(original[j]) in MONTHS for j in (i - 1, i + 1))


_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")


def _number(text: str) -> str:
    """One spelling per number: "281,000" and "281000" meet; "4.5%" and "4.5" meet."""
    return _THOUSANDS.sub("", text).rstrip("%")


def _contrasting(a: Iterable[str], b: Iterable[str]) -> bool:
    """Whether one headline names an event the other contradicts ("halt" vs "kill")."""
    groups = contrast_groups()
    return _contrasting_groups(
        frozenset(f for f in a if f in groups), frozenset(f for f in b if f in groups)
    )


def _contrasting_groups(a: frozenset[str], b: frozenset[str]) -> bool:
    return any(y in b and x not in b for x, y in _opposed(a))


@lru_cache(maxsize=4096)
def _opposed(groups: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """The contrast pairs (x, y) with x among ``groups`` and y not: a headline with y and
    without x then names an incompatible event."""
    return tuple((x, y) for x, y in contrasts() if x in groups and y not in groups)


@cache
def contrast_groups() -> frozenset[str]:
    return frozenset(x for pair in contrasts() for x in pair)


def is_weak(title: str, features: Features) -> bool:
    """A headline too thin to tell a story by ("Robin Thicke", "Business Wire", "The article
    requested cannot be found"): it opens its own story, never joins or attracts others."""
    if BOILERPLATE_TITLE.search(title):
        return True
    return sum(1 for f in features.weights if f[0] != "@" and features.weights[f] >= 1) < (
        MIN_FEATURES
    )


def headline_features(title: str, gazetteer: Gazetteer, summary: str | None = None) -> Features:
    """Features of one headline: entities, their countries, numbers, stemmed content words;
    with a summary, its first sentences add the same features at ``SUMMARY_WEIGHT``."""
    weights: dict[str, float] = {}
    content: list[str] = []
    for feature, weight, folded in _terms(title, gazetteer):
        # one string object per distinct feature: a first pass holds tens of thousands of
        # headlines' features, and their stems and keys are made anew for each
        weights.setdefault(sys.intern(feature), weight)
        if folded:
            content.append(folded)
    if summary:
        for feature, weight, _ in _terms(summary[:SUMMARY_CHARS], gazetteer):
            if feature not in weights:
                weights[sys.intern(feature)] = _summary_weight(weight)
    return Features(weights=weights, norm=" ".join(sorted(set(content))))


@cache
def _summary_weight(weight: float) -> float:
    """One float object per distinct weight: a long recluster holds millions of them."""
    return weight * SUMMARY_WEIGHT


class Clusterer:
    """Assigns items to stories incrementally; see the module docstring for the rule."""

    def __init__(
        self,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        window: timedelta = DEFAULT_WINDOW,
        gazetteer: Gazetteer | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.threshold = threshold
        self.embedder = embedder
        # item id -> embedding, filled by the caller (from the store) or by ``prepare``
        self.embeddings: dict[int, Any] = {}
        self._current: Any = None
        self.window = window
        self.span = window.total_seconds()
        self.gazetteer = gazetteer or default_gazetteer()
        self.df: Counter[str] = Counter()
        self.n_docs = 0
        self.docs: dict[int, _Doc] = {}
        self.stories: dict[int, _Story] = {}
        # feature -> stories holding it, least recently updated first (a dict keeps order)
        self.index: defaultdict[str, dict[int, None]] = defaultdict(dict)
        self.by_url: dict[str, int] = {}
        self._idf: dict[str, float] = {}
        self._epoch = 0
        self._latest = -math.inf
        self._added = 0

    # -- scoring -------------------------------------------------------------------------

    def idf(self, feature: str) -> float:
        """Inverse document frequency, smoothed; cached until the corpus grows by a tenth."""
        epoch = int(math.log(self.n_docs + 10) / _EPOCH_STEP)
        if epoch != self._epoch:
            self._epoch = epoch
            self._idf.clear()
        value = self._idf.get(feature)
        if value is None:
            value = self._idf[feature] = math.log((self.n_docs + 10) / (self.df[feature] + 1))
        return value

    def _vector(self, features: Features) -> _Vector:
        weights: dict[str, float] = {}
        total = what = 0.0
        for f, w in features.weights.items():
            x = weights[f] = w * self.idf(f)
            total += x
            if f[0] not in "=@":
                what += x
        return _Vector(weights, total, what)

    def _doc_vector(self, doc: _Doc) -> _Vector:
        if doc.vector is None or doc.epoch != self._epoch:
            doc.vector = self._vector(doc.features)
            doc.epoch = self._epoch
        return doc.vector

    def _similarity(
        self,
        a: _Vector,
        b: _Vector,
        a_norm: str,
        b_norm: str,
        contrast: bool,
        floor: float = 0.0,
    ) -> float:
        if not a.total or not b.total:
            return 0.0
        aw, bw = a.weights, b.weights
        shared = aw.keys() & bw.keys()
        if not shared:
            return 0.0  # nothing in common: at most a faint spelling likeness
        common = what_common = 0.0
        for f in shared:
            x = aw[f] + bw[f]
            common += x
            if f[0] not in "=@":
                what_common += x
        dice = common / (a.total + b.total)
        damping = 1.0
        what_total = a.what + b.what
        if (what_common / what_total if what_total else 0.0) < MIN_WHAT:
            damping *= WHAT_DAMPING
        if contrast:
            damping *= CONTRAST_DAMPING
        if (DICE_SHARE * dice + (1 - DICE_SHARE)) * damping < floor:
            return DICE_SHARE * dice * damping  # cannot reach the floor: skip the costly part
        chars = fuzz.ratio(a_norm, b_norm) / 100.0
        return (DICE_SHARE * dice + (1 - DICE_SHARE) * chars) * damping

    def similarity(self, a: Features, b: Features) -> float:
        """Symmetric headline similarity in [0, 1], without time decay.

        Weighted Dice overlap of all features, mixed with character similarity; pairs that
        share places and people but no content word or number ("what" happened) are
        damped, and so are pairs naming incompatible events ("halt" vs "kill"), so "drone
        attack on Kyiv" and "pause in strikes on Kyiv" stay apart.
        """
        if not a.weights or not b.weights:
            return 0.0
        contrast = _contrasting(a.weights, b.weights)
        return self._similarity(self._vector(a), self._vector(b), a.norm, b.norm, contrast)

    def decay(self, a: datetime, b: datetime) -> float:
        return self._decay(abs((a - b).total_seconds()))

    def _decay(self, gap_seconds: float) -> float:
        gap = gap_seconds / self.span
        return 0.0 if gap > 1 else 1.0 - DECAY * gap

    def score(self, a: ClusterItem, b: ClusterItem) -> float:
        """Pair score of two items as the clusterer would see them now (for evaluation)."""
        fa = headline_features(a.title, self.gazetteer, a.summary)
        fb = headline_features(b.title, self.gazetteer, b.summary)
        return self.similarity(fa, fb) * self.decay(a.published, b.published)

    def learn(self, titles: Iterable[str]) -> None:
        """Count ``titles`` into the corpus weights without clustering them (for scoring
        pairs against a background corpus)."""
        for title in titles:
            self.n_docs += 1
            self.df.update(headline_features(title, self.gazetteer).weights.keys())

    # -- assignment ----------------------------------------------------------------------

    def _new_doc(self, item: ClusterItem, story: int) -> _Doc:
        # "... - Reuters", "... | DW": the outlet's name says nothing about the story.
        title = strip_outlet_suffix(item.title, (item.source,) if item.source else ())
        features = headline_features(title, self.gazetteer, item.summary)
        groups = contrast_groups()
        return _Doc(
            item.id,
            story,
            item.published,
            features,
            item.url,
            ts=item.published.timestamp(),
            weak=is_weak(item.title, features),
            contrast=frozenset(f for f in features.weights if f in groups),
            embedding=self._embedding(item),
            coverage=tuple(item.coverage),
        )

    def _embedding(self, item: ClusterItem) -> Any:
        if self.embedder is None:
            return None
        vector = self.embeddings.get(item.id)
        if vector is None:
            vector = self.embeddings[item.id] = self.embedder.embed([item.title])[0]
        return vector

    def prepare(self, items: Iterable[ClusterItem]) -> dict[int, Any]:
        """Embed, in batches, the items that have no embedding yet; returns the new ones
        (for the caller to keep). Without an embedder, nothing."""
        if self.embedder is None:
            return {}
        todo = [i for i in items if i.id not in self.embeddings]
        fresh = dict(
            zip(
                (i.id for i in todo),
                self.embedder.embed([i.title for i in todo]) if todo else [],
                strict=True,
            )
        )
        self.embeddings.update(fresh)
        return fresh

    def _register(self, doc: _Doc) -> None:
        self.docs[doc.id] = doc
        self.n_docs += 1
        self.df.update(doc.features.weights.keys())
        story = self.stories.get(doc.story)
        if story is None:
            story = self.stories[doc.story] = _Story(doc.story)
        story.members.append(doc.id)
        if len(story.members) > MAX_MEMBERS_SCORED:
            # a member out of the scored window is never scored again: drop its vector
            self.docs[story.members[-MAX_MEMBERS_SCORED - 1]].vector = None
        story.first = min(story.first, doc.ts)
        story.last = max(story.last, doc.ts)
        for f in doc.features.weights:
            if f[0] != "@":
                postings = self.index[f]
                postings.pop(doc.story, None)
                postings[doc.story] = None  # most recently updated last
        if doc.url:
            self.by_url.setdefault(doc.url, doc.story)
        for url in doc.coverage:  # the feed says these reports are this story
            self.by_url.setdefault(url, doc.story)
        self._latest = max(self._latest, doc.ts)
        self._added += 1
        if self._added % PRUNE_EVERY == 0:
            self._prune()

    def _prune(self) -> None:
        """Forget index entries of stories that can no longer take new reports, and the
        cached vectors of their members (long reclusters stay bounded in memory)."""
        horizon = self._latest - 2 * self.span
        stale = {sid for sid, story in self.stories.items() if story.last < horizon}
        if not stale:
            return
        for feature in list(self.index):
            postings = self.index[feature]
            for sid in stale.intersection(postings):
                del postings[sid]
            if not postings:
                del self.index[feature]
        for sid in stale:
            for doc_id in self.stories[sid].members:
                self.docs[doc_id].vector = None

    def seed(self, item: ClusterItem, story_id: int) -> None:
        """Add an item already assigned to ``story_id`` (from the store), without scoring."""
        if item.id not in self.docs:
            self._register(self._new_doc(item, story_id))

    def _candidates(self, vector: _Vector, ts: float) -> list[int]:
        """The stories most worth scoring: those sharing the item's rarest features, ranked
        by the weight they share (blocking keeps the cost near-linear)."""
        shared: dict[int, float] = {}
        features = sorted(
            (f for f in vector.weights if f[0] != "@"), key=lambda f: -vector.weights[f]
        )
        for f in features[:MAX_BLOCKING_FEATURES]:
            postings = self.index.get(f)
            if not postings:
                continue
            w = vector.weights[f]
            for n, sid in enumerate(reversed(postings)):
                if n >= MAX_POSTINGS:
                    break
                if not self._within(sid, ts):
                    continue
                shared[sid] = shared.get(sid, 0.0) + w
        if not shared:
            return []
        # Stories sharing much less than the best one are not worth scoring.
        least = RELATIVE_SCREEN * max(shared.values())
        ranked = [sid for sid, w in shared.items() if w >= least]
        return heapq.nlargest(MAX_CANDIDATES, ranked, key=shared.__getitem__)

    def _within(self, story_id: int, ts: float) -> bool:
        """Whether a report at ``ts`` keeps the story within the window: no two reports of a
        story are further apart than ``window``, so a running story that is reported every
        day becomes a new story every few days instead of one chain of thousands of reports
        that never ends (and so is never pruned)."""
        story = self.stories[story_id]
        return story.first >= ts - self.span and story.last <= ts + self.span

    def story_score(self, features: Features, when: datetime, story_id: int) -> tuple[float, float]:
        """(best link, support) of an item to a story's most recent members: support is the
        share of those members the item is at least ``SUPPORT_LEVEL`` times the threshold
        similar to."""
        groups = contrast_groups()
        contrast = frozenset(f for f in features.weights if f in groups)
        return self._story_score(
            self._vector(features), features.norm, contrast, when.timestamp(), story_id
        )

    def _story_score(
        self,
        vector: _Vector,
        norm: str,
        contrast: frozenset[str],
        ts: float,
        story_id: int,
        *,
        give_up: bool = False,
    ) -> tuple[float, float]:
        """(best link, support), as `story_score`; with ``give_up``, scoring stops as soon as
        support cannot exceed ``SUPPORT_SHARE`` (the story cannot take the item), and the
        support returned is then the bound that ruled it out."""
        floor = SUPPORT_LEVEL * self.threshold
        best = 0.0
        supported = 0
        members = self.stories[story_id].members[-MAX_MEMBERS_SCORED:]
        docs = self.docs
        span = self.span
        seen: dict[str, float] = {}  # syndicated copies of one headline are scored once
        needed = SUPPORT_SHARE * len(members)
        left = len(members)
        for doc_id in members:
            if give_up and supported + left <= needed:
                # even if every member left were close, support could not pass the bar
                return best, (supported + left) / len(members)
            left -= 1
            doc = docs[doc_id]
            if doc.weak:
                continue
            gap = abs(ts - doc.ts) / span
            if gap > 1:
                continue
            sim = seen.get(doc.features.norm)
            if sim is None:
                clash = bool(contrast and doc.contrast) and _contrasting_groups(
                    contrast, doc.contrast
                )
                doc_vector = doc.vector
                if doc_vector is None or doc.epoch != self._epoch:
                    doc_vector = self._doc_vector(doc)
                sim = seen[doc.features.norm] = self._similarity(
                    vector, doc_vector, norm, doc.features.norm, clash, floor
                )
            if self._current is not None and doc.embedding is not None:
                # a close paraphrase counts as a link even when few words are shared
                sim = max(sim, self.threshold * float(self._current @ doc.embedding) / COSINE)
            x = (1.0 - DECAY * gap) * sim
            if x > best:
                best = x
            if x >= floor:
                supported += 1
        return best, supported / len(members)

    def add(self, item: ClusterItem) -> Assignment:
        """Assign ``item`` to a story (opening a new one when nothing is close enough)."""
        if item.id in self.docs:
            doc = self.docs[item.id]
            return Assignment(item.id, doc.story, 1.0, new_story=False)
        doc = self._new_doc(item, item.id)
        self._current = doc.embedding
        best: tuple[float, float, int] | None = None
        known = self._known_story(item)
        if known is not None:
            best = (1.0, 1.0, known)
        elif not doc.weak:
            # Count the item's own features first, so the weights see it in the corpus.
            self.n_docs += 1
            self.df.update(doc.features.weights.keys())
            vector = self._vector(doc.features)
            # stories the feed relates the item to are scored first, against a lower bar
            linked = dict.fromkeys(
                sid
                for sid in (self.by_url[u] for u in item.related if u in self.by_url)
                if self._within(sid, doc.ts)
            )
            candidates = dict(linked)
            candidates.update(dict.fromkeys(self._candidates(vector, doc.ts)))
            for sid in candidates:
                top, support = self._story_score(
                    vector, doc.features.norm, doc.contrast, doc.ts, sid, give_up=True
                )
                if sid in linked:
                    top = min(1.0, top / RELATED_BAR)
                if top >= self.threshold and support > SUPPORT_SHARE:
                    key = (top, support, -sid)
                    if best is None or key > (best[0], best[1], -best[2]):
                        best = (top, support, sid)
                    if top >= SURE and support == 1.0:
                        break  # candidates come best-first: no other story will do better
            self.n_docs -= 1
            self.df.subtract(doc.features.weights.keys())
        if best is None:
            story_id, score, new = item.id, 0.0, True
        else:
            story_id, score, new = best[2], best[0], False
        doc.story = story_id
        self._current = None
        self._register(doc)
        return Assignment(item.id, story_id, score, new_story=new)

    def _known_story(self, item: ClusterItem) -> int | None:
        """The story that already holds the item's link, or one of the reports its feed
        lists as the same story elsewhere (Google-News-style coverage)."""
        if item.url and item.url in self.by_url:
            return self.by_url[item.url]
        for url in item.coverage:
            if url in self.by_url:
                return self.by_url[url]
        return None

    def add_all(
        self,
        items: Iterable[ClusterItem],
        *,
        every: int = 0,
        between: Callable[[], None] | None = None,
    ) -> list[Assignment]:
        """Assign many items in published order (ties by id); answers follow that order.
        With ``between``, it is called after each ``every`` items (the pipeline gives memory
        back to the system there)."""
        ordered: list[ClusterItem | None] = [*sorted(items, key=_arrival)]
        self.prepare(i for i in ordered if i is not None)
        out = []
        for k, item in enumerate(ordered):
            assert item is not None
            ordered[k] = None  # the clusterer keeps what it needs of each item, not the item
            out.append(self.add(item))
            if between is not None and every > 0 and (k + 1) % every == 0:
                between()
        return out

    def members(self, story_id: int) -> list[int]:
        return list(self.stories[story_id].members)

    def lead(self, story_id: int) -> int:
        """The member whose headline is most typical of the story (earliest on a tie).

        A member's centrality is how much of its weight lies on features the other members
        share (its weighted overlap with the story's centroid, itself left out), so the lead
        is the wording most reports agree on rather than the first outlet's, which may be a
        teaser or a live page. Linear in the story's size. One or two members: the earliest
        report leads.
        """
        members = [self.docs[m] for m in self.stories[story_id].members]
        if len(members) <= 2:
            return min(members, key=lambda d: (d.published, d.id)).id
        vectors = {d.id: self._vector(d.features) for d in members}
        centroid: Counter[str] = Counter()
        for v in vectors.values():
            centroid.update(dict.fromkeys(v.weights, 1))
        others = len(members) - 1

        def centrality(doc: _Doc) -> float:
            v = vectors[doc.id]
            if not v.total:
                return 0.0
            shared = sum(w * (centroid[f] - 1) for f, w in v.weights.items())
            return shared / (v.total * others)

        return max(members, key=lambda d: (round(centrality(d), 9), -d.ts, -d.id)).id


def _arrival(item: ClusterItem) -> tuple[datetime, int]:
    return item.published, item.id


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
