"""The shipped topic lexicon (data/topics.json) on its own, without the model: entries it pins
and words it must not take for another sense (our own headlines, written for the tests)."""

from __future__ import annotations

import pytest

from aggregator.classify.topic import TopicClassifier


@pytest.fixture(scope="module")
def lexicon() -> TopicClassifier:
    return TopicClassifier(model=False)


@pytest.mark.parametrize(
    ("title", "topic"),
    [
        ("Yankees and Red Sox split a doubleheader", "sport"),
        ("Quarterback throws three touchdowns as New England Patriots win", "sport"),
        ("Federer and Roddick go to a tiebreak", "sport"),
        ("Ottawa Senators edge Maple Leafs", "sport"),
        ("Miami Heat rally past Lakers", "sport"),
        ("Socceroos held to goalless draw", "sport"),
        ("Birdie on the last gives her the clubhouse lead", "sport"),
        ("Intel unveils faster processor for laptops", "science-tech"),
        ("Oracle raises its bid for PeopleSoft", "science-tech"),
        ("Phishing and spyware top the list of threats", "science-tech"),
        ("Hubble spots a supernova in a distant nebula", "science-tech"),
        ("Exxon Mobil and Chevron lift output", "energy"),
        ("Payrolls grow as housing starts rise", "economy"),
        ("Automaker's dividend and buyback cheer shareholders", "economy"),
    ],
)
def test_lexicon_topic(lexicon: TopicClassifier, title: str, topic: str) -> None:
    assert lexicon.classify(title)[0] == topic


@pytest.mark.parametrize(
    ("title", "topic", "not_topic"),
    [
        # nicknames that are everyday words count only with their city
        ("Heat wave grips southern Europe", "environment", "sport"),
        ("Giants of industry meet in Davos", "economy", "sport"),
        ("Senators vote on the budget", "politics", "sport"),
        ("Russia expands its nuclear arsenal", "conflict", "sport"),
        # stems of common words are not athletes or teams (Warne, rowing, Sabres, Spurs)
        ("UN warns of famine as aid convoys are blocked", "humanitarian", "sport"),
        ("Row over pay erupts at parliament", "politics", "sport"),
        ("Sabre-rattling in the Taiwan Strait", None, "sport"),
        ("Cheap credit spurs growth in Asia", "economy", "sport"),
        # nor market words
        ("Security forces raid opposition offices", "conflict", "economy"),
        ("Land Rover recalls cars", "economy", "science-tech"),
    ],
)
def test_lexicon_ambiguity_guards(
    lexicon: TopicClassifier, title: str, topic: str | None, not_topic: str
) -> None:
    assert not_topic not in lexicon.scores(title)
    if topic is not None:
        assert lexicon.classify(title)[0] == topic
