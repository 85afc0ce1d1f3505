"""Region and topic labels of headlines and stories (our own headlines, written for the tests)."""

from __future__ import annotations

import pytest

from aggregator.classify import Classifier, story_labels
from aggregator.models import GENERAL, TOPICS, WORLD, Labels


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier()


@pytest.mark.parametrize(
    ("title", "region", "country"),
    [
        ("Drone attack on Kiev leaves four dead", "Europe", "UA"),
        ("Kremlin says talks with Washington were useful", "Europe", "RU"),
        ("Trump weighs Iran strike as carrier heads to Gulf", "Middle East", "IR"),
        ("Emirati investors pour money into Kenyan ports", "Middle East", "AE"),  # the subject
        ("Türkiye's foreign minister Fidan visits Baghdad", "Middle East", "TR"),
        ("Turkey's central bank holds rates", "Middle East", "TR"),
        ("Downing Street defends new migration bill", "Europe", "GB"),
        ("Myanmar junta extends emergency rule", "Asia", "MM"),
        ("Floods in Khartoum displace thousands", "Africa", "SD"),
        ("Ivory Coast opposition boycotts vote", "Africa", "CI"),
        ("Wildfires force evacuations near Sydney", "Oceania", "AU"),
        ("Lula and Milei clash over trade bloc", "Americas", "BR"),
        ("Israeli strikes hit Rafah and Khan Younis", "Middle East", "IL"),
    ],
)
def test_region_of_headline(classifier: Classifier, title: str, region: str, country: str) -> None:
    labels = classifier.classify(title)
    assert labels.region == region, labels
    assert country in labels.countries


@pytest.mark.parametrize(
    ("title", "not_country"),
    [
        ("Turkey prices soar ahead of Thanksgiving dinner", "TR"),
        ("Michael Jordan's sneakers sell for record sum", "JO"),
        ("How to repair fine china clay pots at home", "CN"),
        ("Chad Smith releases new drum album", "TD"),
        ("Jordan Peterson cancels tour dates", "JO"),
    ],
)
def test_false_hits_are_avoided(classifier: Classifier, title: str, not_country: str) -> None:
    assert not_country not in classifier.classify(title).countries


def test_no_country_is_world_and_hint_is_a_prior(classifier: Classifier) -> None:
    assert classifier.classify("Scientists find new species of deep-sea fish").region == WORLD
    hinted = classifier.classify("Scientists find new species of deep-sea fish", region_hint="Asia")
    assert hinted.region == "Asia"
    assert hinted.region_weight < 1.0
    # a hint does not override a headline that names a country
    assert classifier.classify("Brazil votes in runoff", region_hint="Asia").region == "Americas"


@pytest.mark.parametrize(
    ("title", "topic"),
    [
        ("Air strikes kill dozens in northern Gaza", "conflict"),
        ("Central bank raises interest rates to fight inflation", "economy"),
        ("Opposition wins parliamentary election in landslide", "politics"),
        ("Foreign ministers hold peace talks in Geneva", "diplomacy"),
        ("Oil prices jump as OPEC cuts output", "energy"),
        ("Measles outbreak spreads as vaccination rates fall", "health"),
        ("Real Madrid beat Barcelona to win the league title", "sport"),
        ("Famine warning as aid convoys are blocked", "humanitarian"),
    ],
)
def test_topic_of_headline(classifier: Classifier, title: str, topic: str) -> None:
    assert classifier.classify(title).topic == topic


def test_topic_signals_from_feed_categories_and_url(classifier: Classifier) -> None:
    assert classifier.classify(
        "Quarterly results beat forecasts", categories=["Business"]
    ).topic == ("economy")
    assert (
        classifier.classify(
            "A remarkable night in Melbourne", url="https://news.test/sport/tennis/123"
        ).topic
        == "sport"
    )
    assert classifier.classify("Something happened somewhere").topic == GENERAL
    assert classifier.classify("Something happened somewhere", topic_hint="culture").topic == (
        "culture"
    )


def test_every_label_is_known(classifier: Classifier) -> None:
    for title in ("", "???", "Kyiv", "Trump", "Rates"):
        labels = classifier.classify(title)
        assert labels.topic in (*TOPICS, GENERAL)
        assert labels.region


def test_story_vote_is_not_moved_by_one_odd_headline() -> None:
    members = [
        Labels("Europe", "conflict", ("UA",), region_weight=1.0),
        Labels("Europe", "conflict", ("UA", "RU"), region_weight=1.0),
        Labels("Americas", "politics", ("US",), region_weight=1.0),
    ]
    labels = story_labels(members)
    assert (labels.region, labels.topic) == ("Europe", "conflict")
    assert labels.countries[0] == "UA"


def test_story_vote_prefers_a_named_place_over_world() -> None:
    members = [
        Labels(WORLD, "conflict", region_weight=0.25),
        Labels("Europe", "conflict", ("UA",), region_weight=1.0),
    ]
    assert story_labels(members).region == "Europe"
    assert story_labels([]).region == WORLD


def test_acronyms_count_only_in_capitals(classifier: Classifier) -> None:
    assert "US" not in classifier.classify("Tell us what you think of the budget").countries
    assert "US" in classifier.classify("US and Iran resume talks").countries
    assert "US" in classifier.classify("U.S. economy adds jobs").countries
    # a name also written in lower case ("Nato") still counts that way
    gazetteer = classifier.region.gazetteer
    from aggregator.text import words

    assert [m.entity.id for m in gazetteer.mentions(words("Nato summit opens"))] == ["nato"]
    assert [m.entity.id for m in gazetteer.mentions(words("who cares"))] == []


@pytest.mark.parametrize(
    ("title", "country", "expected"),
    [
        ("Nice weather expected across the weekend", "FR", False),
        ("Tourists flock to Nice for the carnival", "FR", True),
        ("Georgia Senate runoff: candidates make final pitch in Atlanta", "GE", False),
        ("Georgia protesters rally in Tbilisi against foreign agents law", "GE", True),
        ("Chad junta leader sworn in as president", "TD", True),
        ("Turkey earthquake death toll rises", "TR", True),
        ("King Abdullah of Jordan meets US envoy", "JO", True),
    ],
)
def test_ambiguous_names_in_context(
    classifier: Classifier, title: str, country: str, expected: bool
) -> None:
    assert (country in classifier.classify(title).countries) is expected


def test_generated_cities_need_a_capital(classifier: Classifier) -> None:
    assert "CN" in classifier.classify("Flooding in Wuxi displaces thousands").countries
    assert classifier.classify("Brent crude rises above 90 dollars").countries == ()
    assert classifier.classify("pest control firms report a boom").countries == ()
