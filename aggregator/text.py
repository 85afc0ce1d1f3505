"""Headline analysis shared by clustering and classification (pure, no I/O after import).

* :func:`fold` - Unicode folding: NFKD, diacritics dropped, casefolded ("Türkiye" -> "turkiye").
* :func:`words` - the words of a headline with their original spelling (for capitalisation).
* :func:`stem` - a light suffix stripper ("strikes" -> "strik", "talks" -> "talk").
* :class:`Gazetteer` - countries, demonyms, places, metonyms, people and organisations from
  ``data/gazetteer.json``, matched as phrases of folded words, so that Kiev/Kyiv,
  Turkey/Türkiye and Moscow/Kremlin/Russian meet on the same entity or country.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

_WORD = re.compile(r"\d+(?:[.,]\d+)*%?(?![^\W_])|[^\W_]+(?:[.'’][^\W_]+)*%?", re.UNICODE)
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    out over own same she should so some such than that the their theirs them then there these
    they this those through to too under until up very was we were what when where which while
    who whom why will with would you your yours via amid says say said new after over per vs
    us's its' s t ll re ve d m o y
    """.split()
)
# "US" is a country, not the pronoun, in headlines; keep it out of the stopwords.
STOPWORDS = STOPWORDS - {"us"}


@lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """Casefold and drop diacritics: ``fold("Türkiye") == "turkiye"``."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    """Words of ``text`` in their original spelling; possessive 's is dropped."""
    out: list[str] = []
    for m in _WORD.finditer(text.translate(_APOSTROPHES)):
        w = m.group(0)
        if w.endswith(("'s", "'S")):
            w = w[:-2]
        elif w.endswith("'"):
            w = w[:-1]
        if w:
            out.append(w)
    return out


_SUFFIXES = (
    ("ational", "ate"),
    ("ization", "ize"),
    ("isation", "ize"),
    ("ises", "ize"),
    ("izes", "ize"),
    ("ised", "ize"),
    ("ized", "ize"),
    ("ise", "ize"),
    ("ies", "y"),
    ("ied", "y"),
    ("ing", ""),
    ("ers", "er"),
    ("ed", ""),
    ("es", "e"),
    ("s", ""),
)


@cache
def stem(word: str) -> str:
    """A light, predictable English suffix stripper for folded words."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, repl in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            base = word[: -len(suffix)] + repl
            if suffix in ("ing", "ed") and len(base) > 3 and base[-1] == base[-2]:
                base = base[:-1]  # "stopped" -> "stop"
            return base.rstrip("e") if len(base) > 4 else base
    return word.rstrip("e") if len(word) > 4 else word


@dataclass(frozen=True)
class Entity:
    """A named thing from the gazetteer: a country, a city, a person, an organisation..."""

    id: str
    kind: str  # country, demonym, place, metonym, person, org
    country: str | None
    region: str | None


@dataclass(frozen=True)
class Mention:
    """An entity found in a text: which words it spans and how it was written."""

    entity: Entity
    start: int
    end: int
    surface: str


class Gazetteer:
    """Phrase lookup of gazetteer entities over folded words."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.as_of: str = str(data.get("as_of", ""))
        self.countries: dict[str, dict[str, Any]] = dict(data.get("countries", {}))
        self.phrases: dict[tuple[str, ...], Entity] = {}
        self.ambiguous: frozenset[tuple[str, ...]] = frozenset(
            tuple(fold(w) for w in words(v)) for v in data.get("ambiguous", ())
        )
        self.max_len = 1
        acronyms: set[tuple[str, ...]] = set()
        spelled: set[tuple[str, ...]] = set()
        for raw in data.get("entities", ()):
            country = raw.get("country")
            region = raw.get("region")
            if region is None and country and country in self.countries:
                region = self.countries[country].get("region")
            entity = Entity(id=raw["id"], kind=raw["kind"], country=country, region=region)
            for variant in raw.get("variants", ()):
                key = tuple(fold(w) for w in words(variant))
                if key and key not in self.phrases:
                    self.phrases[key] = entity
                    self.max_len = max(self.max_len, len(key))
                if key and self.phrases.get(key) == entity:
                    (acronyms if _is_acronym(variant) else spelled).add(key)
                # "U.S." -> also "US"; dotted acronyms are written both ways
                if "." in variant and len(key) == 1:
                    bare = (key[0].replace(".", ""),)
                    if bare not in self.phrases:
                        self.phrases[bare] = entity
                        acronyms.add(bare)
        # Acronyms count only in capitals: "US" the country, not "us"; "WHO", not "who".
        # first word of a phrase -> the longest phrase it starts (most words start none)
        self.starts: dict[str, int] = {}
        for phrase in self.phrases:
            self.starts[phrase[0]] = max(self.starts.get(phrase[0], 0), len(phrase))
        self.capitalised: frozenset[tuple[str, ...]] = frozenset(
            tuple(fold(w) for w in words(v)) for v in data.get("capitalised", ())
        )
        # (a key also written in lower case, "Nato", is not only an acronym)
        self.acronyms: frozenset[tuple[str, ...]] = frozenset(acronyms - spelled)

    def country_name(self, code: str) -> str:
        return str(self.countries.get(code, {}).get("name", code))

    def country_region(self, code: str) -> str | None:
        region = self.countries.get(code, {}).get("region")
        return str(region) if region else None

    def mentions(self, original: Sequence[str]) -> Iterator[Mention]:
        """Longest-first phrase matches over ``original`` words (unfolded, for case checks)."""
        folded = [fold(w) for w in original]
        starts = self.starts
        i, n = 0, len(folded)
        while i < n:
            longest = starts.get(folded[i], 0)
            for length in range(min(longest, n - i), 0, -1):
                key = tuple(folded[i : i + length])
                entity = self.phrases.get(key)
                if entity is None:
                    continue
                surface = " ".join(original[i : i + length])
                if key in self.ambiguous and not _looks_like_name(original, i, length):
                    continue
                if key in self.acronyms and not _capitals(surface):
                    continue
                if key in self.capitalised and not (
                    original[i][:1].isupper() and (length > 1 or _standalone(original, i))
                ):
                    continue
                yield Mention(entity, i, i + length, surface)
                i += length
                break
            else:
                i += 1


def _is_acronym(variant: str) -> bool:
    """ "US", "U.S.", "UN", "WHO", "NATO": short, written in capitals."""
    letters = [c for c in variant if c.isalpha()]
    return 2 <= len(letters) <= 5 and all(c.isupper() for c in letters) and " " not in variant


def _capitals(surface: str) -> bool:
    letters = [c for c in surface if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


# Place names that are everyday words: capitalised at the start of a headline they say nothing.
_COMMON_WORD_NAMES = frozenset(
    "nice reading split mobile bath male sale orange phoenix bradford worthing".split()
)

# Words that, anywhere in a headline, say an ambiguous name is not the place ("Turkey" the
# bird, "china" the clay, "Jordan" the player).
_NOT_PLACE_CONTEXT = frozenset(
    fold(w)
    for w in """thanksgiving recipe recipes roast roasted carve carving stuffing gravy dinner
    feast sandwich clay porcelain pig pigs michael nba sneakers sneaker jumpman""".split()
)


def _looks_like_name(original: Sequence[str], start: int, length: int) -> bool:
    """An ambiguous variant ("Turkey", "Jordan", "Chad", "Georgia") counts as the place only
    when it is capitalised, the headline has no context word against it, and, in a headline
    that is not Title Case, it is not followed by another capitalised word (a person's name:
    "Jordan Peterson", "Chad Smith")."""
    if not original[start][:1].isupper():
        return False
    if start == 0 and fold(original[0]) in _COMMON_WORD_NAMES:
        return False  # "Nice weather ahead", "Reading the signs": a capital the headline gave
    if any(fold(w) in _NOT_PLACE_CONTEXT for w in original):
        return False
    caps = sum(1 for w in original if w[:1].isupper())
    title_case = len(original) >= 4 and caps >= 0.7 * len(original)
    after = start + length
    return not (not title_case and after < len(original) and original[after][:1].isupper())


def _standalone(original: Sequence[str], i: int) -> bool:
    """A generated one-word place name counts unless, in a headline that is not Title Case,
    a capitalised word stands right before or after it: then it is most likely part of a
    person's name ("Sir Mo Farah", "Nancy Pelosi", "Queen Elizabeth")."""
    caps = sum(1 for w in original if w[:1].isupper())
    if len(original) >= 4 and caps >= 0.7 * len(original):
        return True
    before = i > 0 and original[i - 1][:1].isupper()
    after = i + 1 < len(original) and original[i + 1][:1].isupper()
    return not (before or after)


@cache
def _synonym_data() -> dict[str, Any]:
    text = resources.files("aggregator").joinpath("data/synonyms.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def contrasts() -> frozenset[tuple[str, str]]:
    """Pairs of synonym groups naming incompatible events ("halt" vs "kill"), both ways."""
    pairs = _synonym_data().get("_contrasts", [])
    return frozenset((a, b) for x, y in pairs for a, b in ((x, y), (y, x)))


@cache
def synonyms() -> dict[str, str]:
    """Folded headline word -> its canonical synonym (``data/synonyms.json``)."""
    out: dict[str, str] = {}
    for canonical, variants in _synonym_data().items():
        if canonical.startswith("_"):
            continue
        for variant in variants:
            out.setdefault(fold(variant), canonical)
    return out


@cache
def _shipped_data() -> dict[str, Any]:
    data_dir = resources.files("aggregator").joinpath("data")
    data: dict[str, Any] = json.loads(data_dir.joinpath("gazetteer.json").read_text("utf-8"))
    places = data_dir.joinpath("places.json")
    if places.is_file():
        data = with_generated(data, json.loads(places.read_text("utf-8"))["places"])
    return data


def custom_gazetteer(
    places: Sequence[tuple[Sequence[str], str | None, str | None]] = (),
    country_regions: Mapping[str, str] | None = None,
    regions: Sequence[str] = (),
) -> Gazetteer:
    """The shipped gazetteer with a user's changes (feeds.yaml ``classify:``): extra names,
    each ``(names, country, region)``, which win over shipped ones; countries moved to
    another region; extra region names."""
    data = dict(_shipped_data())
    extra = [
        {
            "id": f"user:{i}",
            "kind": "place",
            "variants": list(names),
            **({"country": country} if country else {"region": region}),
        }
        for i, (names, country, region) in enumerate(places)
    ]
    data["entities"] = [*extra, *data["entities"]]
    countries = {code: dict(info) for code, info in data["countries"].items()}
    for code, region in (country_regions or {}).items():
        countries[code]["region"] = region
    data["countries"] = countries
    data["regions"] = [*data.get("regions", ()), *(r for r in regions if r not in data["regions"])]
    return Gazetteer(data)


@cache
def default_gazetteer() -> Gazetteer:
    """The gazetteer shipped with the package (loaded once): the hand-curated
    ``gazetteer.json`` and the generated ``places.json`` (ISO names, spellings, demonyms,
    capitals, first-level subdivisions and larger cities; see scripts/build_places.py).
    Curated entries win where both name something."""
    return Gazetteer(_shipped_data())


def with_generated(data: Mapping[str, Any], rows: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Curated gazetteer ``data`` plus generated ``[name, kind, country, region]`` rows, which
    count only when written with a capital ("Brent" the crude is not the city)."""
    extra = [
        {
            "id": f"gen:{country or region}:{name}",
            "kind": kind,
            "variants": [name],
            **({"country": country} if country else {"region": region}),
        }
        for name, kind, country, region in rows
    ]
    return {
        **data,
        "entities": [*data.get("entities", ()), *extra],
        "capitalised": [*data.get("capitalised", ()), *(row[0] for row in rows)],
    }
