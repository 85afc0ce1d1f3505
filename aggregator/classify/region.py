"""Region of a headline: which countries is it about, and where are they?

Mentions come from the gazetteer (country names, demonyms, capitals and cities, metonyms such
as "Kremlin", leaders, organisations). Each mention weighs by where it is (headline over
summary over URL), its order (the first mention is the subject) and its kind (an organisation
with no country counts only for its region). The United States is discounted when another
country is named, because world headlines name Washington as an actor in other regions'
stories ("Trump weighs Iran strike" is a Middle East story). The region with the most weight
wins; the source's region hint is a prior, not an override; no country at all gives World.
"""

from __future__ import annotations

import re
from collections import defaultdict
from urllib.parse import urlsplit

from aggregator.models import WORLD
from aggregator.text import Gazetteer, default_gazetteer, words

HEADLINE = 3.0
SUMMARY = 1.0
URL = 0.75
FIRST_MENTION_BONUS = 1.5
HINT = 0.6
# Weight of a headline's region in its story's vote, by where the region came from.
FROM_HEADLINE = 1.0
FROM_TEXT = 0.5
FROM_HINT = 0.3
FROM_NOTHING = 0.25
US_ACTOR_DISCOUNT = 0.4
KIND_WEIGHT = {
    "country": 1.0,
    "demonym": 0.9,
    "place": 1.0,
    "metonym": 0.8,
    "person": 0.8,
    "org": 0.6,
    "former": 0.6,  # Soviet Union, Zaire, Ceylon: history, or the country under an old name
    "company": 0.5,  # weaker than a place: "Toyota opens plant in Kenya" is Kenya's story
    "currency": 0.5,
}
_SLUG_SPLIT = re.compile(r"[/\-_.]+")


class RegionClassifier:
    def __init__(self, gazetteer: Gazetteer | None = None) -> None:
        self.gazetteer = gazetteer or default_gazetteer()

    def mentions(
        self, title: str, summary: str | None = None, url: str | None = None
    ) -> tuple[dict[str, float], dict[str, float], list[str], bool]:
        """(weight per country, weight per region without a country, countries in order,
        whether the headline itself named a place)."""
        by_country: defaultdict[str, float] = defaultdict(float)
        by_region: defaultdict[str, float] = defaultdict(float)
        order: list[str] = []
        parts: list[tuple[list[str], float]] = [(words(title), HEADLINE)]
        if summary:
            parts.append((words(summary[:400]), SUMMARY))
        if url:
            path = urlsplit(url).path
            parts.append(([w for w in _SLUG_SPLIT.split(path) if w.isalpha()], URL))
        first = True
        in_headline = False
        for tokens, weight in parts:
            for mention in self.gazetteer.mentions(tokens):
                entity = mention.entity
                w = weight * KIND_WEIGHT.get(entity.kind, 0.5)
                if weight == HEADLINE and (entity.country or entity.region):
                    in_headline = True
                    if first:
                        w *= FIRST_MENTION_BONUS
                        first = False
                if entity.country:
                    by_country[entity.country] += w
                    if entity.country not in order:
                        order.append(entity.country)
                elif entity.region:
                    by_region[entity.region] += w
        return dict(by_country), dict(by_region), order, in_headline

    def classify(
        self,
        title: str,
        *,
        summary: str | None = None,
        url: str | None = None,
        hint: str | None = None,
    ) -> tuple[str, tuple[str, ...], float]:
        """(region, countries most weighted first, weight in a story's vote) of a headline."""
        by_country, by_region, order, in_headline = self.mentions(title, summary, url)
        if "US" in by_country and len(by_country) > 1:
            by_country["US"] *= US_ACTOR_DISCOUNT
        votes: defaultdict[str, float] = defaultdict(float)
        first_index: dict[str, int] = {}
        for code, w in by_country.items():
            region = self.gazetteer.country_region(code)
            if region:
                votes[region] += w
                first_index.setdefault(region, order.index(code))
        for region, w in by_region.items():
            votes[region] += w
            first_index.setdefault(region, len(order))
        if hint and votes:
            votes[hint] += HINT
        countries = tuple(sorted(by_country, key=lambda c: (-by_country[c], order.index(c))))
        if not votes:
            return (hint, countries, FROM_HINT) if hint else (WORLD, countries, FROM_NOTHING)
        region = max(votes, key=lambda r: (votes[r], -first_index.get(r, 99)))
        return region, countries, FROM_HEADLINE if in_headline else FROM_TEXT
