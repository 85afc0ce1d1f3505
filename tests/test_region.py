"""Region of headlines through entities other than country names: armed groups, institutions,
parties, peoples, historic and abbreviated names; and the guards against false hits
(our own headlines, written for the tests)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from aggregator.classify import Classifier
from aggregator.classify.region import KIND_WEIGHT, RegionClassifier
from aggregator.models import WORLD
from aggregator.text import Gazetteer


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier()


@pytest.fixture(scope="module")
def curated() -> dict[str, Any]:
    text = resources.files("aggregator").joinpath("data/gazetteer.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@pytest.mark.parametrize(
    ("title", "region", "country"),
    [
        # armed groups, militias and security forces
        ("Naxalites ambush police convoy", "Asia", "IN"),
        ("Shabaab fighters storm army base", "Africa", "SO"),
        ("Peshmerga forces retake village", "Middle East", "IQ"),
        ("New People's Army rebels surrender", "Asia", "PH"),
        ("Janjaweed accused of burning villages", "Africa", "SD"),
        ("Gulf Clan leader captured", "Americas", "CO"),
        # institutions, parties, exchanges, central banks
        ("Riksdag approves defence budget", "Europe", "SE"),
        ("Politburo meets on the economy", "Asia", "CN"),
        ("Sinn Féin tops opinion poll", "Europe", "IE"),
        ("Hang Seng falls 2% at the open", "Asia", "HK"),
        ("Banxico cuts rates again", "Americas", "MX"),
        ("Peronists win the provincial vote", "Americas", "AR"),
        # peoples
        ("Rohingya refugees stranded at sea", "Asia", "MM"),
        ("Tigrayan forces withdraw from town", "Africa", "ET"),
        # historic and abbreviated names
        ("Mobutu ruled Zaire for 32 years", "Africa", "CD"),
        ("Soviet Union archives opened to historians", "Europe", "RU"),
        ("Ceylon tea exports rise", "Asia", "LK"),
        ("N.Z. election result due tonight", "Oceania", "NZ"),
        ("S. Korea exports jump", "Asia", "KR"),
        # spelling variants of places
        ("Clashes in Lattakia countryside", "Middle East", "SY"),
        ("Strikes hit Deir al-Zour", "Middle East", "SY"),
    ],
)
def test_entities_name_the_country(
    classifier: Classifier, title: str, region: str, country: str
) -> None:
    labels = classifier.classify(title)
    assert labels.region == region, labels
    assert country in labels.countries


@pytest.mark.parametrize(
    ("title", "region"),
    [
        ("Islamic State claims attack", "Middle East"),
        ("Kurdish fighters clash with militia", "Middle East"),
        ("Fulani herders and farmers clash", "Africa"),
    ],
)
def test_transnational_entities_give_a_region_only(
    classifier: Classifier, title: str, region: str
) -> None:
    labels = classifier.classify(title)
    assert (labels.region, labels.countries) == (region, ())


def test_a_former_name_counts_less_than_todays(classifier: Classifier) -> None:
    labels = classifier.classify("Soviet-era statue toppled in Kazakhstan")
    assert labels.region == "Asia"
    assert labels.countries[0] == "KZ"


@pytest.mark.parametrize(
    "title",
    [
        "Team won the final in extra time",  # 'won' is not the Korean currency
        "Apple pie recipe wins contest",  # nor is Apple a company here
        "Ayn Rand biography tops charts",  # 'Rand' the writer, not the South African rand
        "Tips for a quiet home office",  # the UK Home Office only with capitals
        "kiwi fruit prices rise",
        "A new sabor for summer",  # Croatia's Sabor only as a name
        "Flight eta unknown",  # ETA only in capitals
    ],
)
def test_false_hits_are_avoided(classifier: Classifier, title: str) -> None:
    assert classifier.classify(title).region == WORLD


@pytest.mark.parametrize(
    ("title", "not_country"),
    [
        ("Jos Buttler hits a century at Lord's", "NG"),
        ("Arsenal win at the Emirates Stadium", "AE"),
        ("Mount Sinai study links sleep to memory", "EG"),
        ("Rand Paul blocks spending bill", "ZA"),  # the US senator, not the rand
    ],
)
def test_blockers_keep_names_from_other_countries(
    classifier: Classifier, title: str, not_country: str
) -> None:
    assert not_country not in classifier.classify(title).countries


def test_companies_and_currencies_weigh_less_than_a_place() -> None:
    gazetteer = Gazetteer(
        {
            "countries": {
                "JP": {"name": "Japan", "region": "Asia"},
                "KE": {"name": "Kenya", "region": "Africa"},
            },
            "entities": [
                {"id": "acme", "kind": "company", "country": "JP", "variants": ["Acme"]},
                {"id": "currency.yen", "kind": "currency", "country": "JP", "variants": ["yen"]},
                {"id": "nairobi", "kind": "place", "country": "KE", "variants": ["Nairobi"]},
            ],
        }
    )
    region = RegionClassifier(gazetteer)
    assert region.classify("Acme opens a plant in Nairobi")[0] == "Africa"
    assert region.classify("Cheap yen lures shoppers to Nairobi")[0] == "Africa"
    assert region.classify("Acme profit beats forecasts")[:2] == ("Asia", ("JP",))
    assert KIND_WEIGHT["company"] < KIND_WEIGHT["place"]
    assert KIND_WEIGHT["currency"] < KIND_WEIGHT["place"]


def test_curated_gazetteer_is_consistent(curated: dict[str, Any]) -> None:
    ids = [e["id"] for e in curated["entities"]]
    assert len(ids) == len(set(ids))
    for entity in curated["entities"]:
        assert entity["kind"] in KIND_WEIGHT, entity
        assert entity["variants"], entity
        country = entity.get("country")
        assert country is None or country in curated["countries"], entity
        region = entity.get("region")
        assert region is None or region in curated["regions"], entity
