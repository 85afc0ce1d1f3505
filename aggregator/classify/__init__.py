"""Region and topic labels for headlines and stories (pure, offline).

:func:`classify` labels one headline (with its summary, URL, feed categories and the source's
hints); :func:`story_labels` combines the labels of a story's members by vote, so one odd
headline does not move a story. See :mod:`.region` and :mod:`.topic` for the rules.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from functools import lru_cache

from aggregator.classify.region import RegionClassifier
from aggregator.classify.topic import TopicClassifier
from aggregator.models import GENERAL, WORLD, Labels, Taxonomy

__all__ = ["Classifier", "story_labels"]


class Classifier:
    """Labels headlines with a region, countries, a topic and secondary topics."""

    def __init__(
        self, region: RegionClassifier | None = None, topic: TopicClassifier | None = None
    ) -> None:
        self.region = region or RegionClassifier()
        self.topic = topic or TopicClassifier()

    @classmethod
    def for_taxonomy(cls, taxonomy: Taxonomy) -> Classifier:
        """The classifier feeds.yaml's ``classify:`` section describes (the shipped one when
        it changes nothing); built once per taxonomy."""
        return _for_taxonomy(taxonomy)

    def classify(
        self,
        title: str,
        *,
        summary: str | None = None,
        url: str | None = None,
        categories: Sequence[str] = (),
        region_hint: str | None = None,
        topic_hint: str | None = None,
    ) -> Labels:
        region, countries, weight = self.region.classify(
            title, summary=summary, url=url, hint=region_hint
        )
        topic, topics = self.topic.classify(
            title, summary=summary, url=url, categories=categories, hint=topic_hint
        )
        return Labels(
            region=region, countries=countries, topic=topic, topics=topics, region_weight=weight
        )


@lru_cache(maxsize=4)
def _for_taxonomy(taxonomy: Taxonomy) -> Classifier:
    if taxonomy.is_default:
        return Classifier()
    from aggregator.classify.topic import with_phrases
    from aggregator.text import custom_gazetteer

    gazetteer = custom_gazetteer(
        [(p.names, p.country, p.region) for p in taxonomy.places],
        dict(taxonomy.country_regions),
        taxonomy.regions,
    )
    return Classifier(
        RegionClassifier(gazetteer),
        TopicClassifier(with_phrases(taxonomy.topics, taxonomy.phrases)),
    )


def story_labels(members: Sequence[Labels]) -> Labels:
    """A story's labels: the members' vote. Each member's region counts by where it came
    from (a place in the headline counts most, World least); a topic counts 1, ``general``
    a quarter, a secondary topic 0.3. Ties go to the earliest member. Countries are every
    member's, most mentioned first."""
    if not members:
        return Labels(region=WORLD, topic=GENERAL)
    region_votes: defaultdict[str, float] = defaultdict(float)
    topic_votes: defaultdict[str, float] = defaultdict(float)
    first_seen: dict[str, int] = {}
    countries: Counter[str] = Counter()
    for i, lab in enumerate(members):
        region_votes[lab.region] += lab.region_weight
        topic_votes[lab.topic] += 0.25 if lab.topic == GENERAL else 1.0
        for t in lab.topics:
            topic_votes[t] += 0.3
        first_seen.setdefault(lab.region, i)
        first_seen.setdefault(lab.topic, i)
        countries.update(dict.fromkeys(lab.countries, 1))
    region = max(region_votes, key=lambda r: (region_votes[r], -first_seen.get(r, 10**9)))
    topic = max(
        (t for t in topic_votes if t in first_seen or t != GENERAL),
        key=lambda t: (topic_votes[t], -first_seen.get(t, 10**9)),
    )
    best = topic_votes[topic]
    secondary = tuple(
        t
        for t, v in sorted(topic_votes.items(), key=lambda kv: -kv[1])
        if t != topic and t != GENERAL and v >= 0.5 * best
    )
    order = {c: i for i, c in enumerate(dict.fromkeys(c for lab in members for c in lab.countries))}
    ranked = tuple(sorted(countries, key=lambda c: (-countries[c], order[c])))
    return Labels(region=region, topic=topic, countries=ranked, topics=secondary)
