"""The shipped topic model: loads, is deterministic, scores as its byte table says, and is one
signal among others; its coarse classes land on real topics."""

from __future__ import annotations

import json
import math
import random
from importlib import resources

import pytest

from aggregator.classify.model import BUCKETS, TopicModel, default_model, features
from aggregator.classify.topic import MODEL_CLASSES, MODEL_WEIGHT, TopicClassifier
from aggregator.models import GENERAL, TOPICS

WORLD_TYPE = MODEL_CLASSES["world"]


def test_the_model_ships_with_its_provenance() -> None:
    meta = json.loads(
        resources.files("aggregator").joinpath("data/topic_model.json").read_text("utf-8")
    )
    assert meta["buckets"] == BUCKETS
    # every class is a topic, or a coarse class the classifier hands on to topics
    assert set(meta["classes"]) <= set(TOPICS) | set(MODEL_CLASSES)
    assert {"sport", "world"} <= set(meta["classes"])
    sources = " ".join(meta["trained_on"])
    assert "CC BY 4.0" in sources
    assert "BBC" in sources
    assert "crc32(link) % 5" in meta["held_out"]["BBC News RSS 2022"]
    for research_only in ("AG News", "Reuters", "MIND", "MSRP"):
        assert research_only not in sources
    # sport and world are no longer a few hundred headlines
    assert min(meta["documents_per_class"][c] for c in ("sport", "world")) > 3000


def test_posterior_is_a_distribution_and_sensible() -> None:
    model = default_model()
    assert model is not None
    p = model.posterior("Apple shares rise after strong iPhone sales")
    assert sum(p.values()) == pytest.approx(1.0)
    assert max(p, key=p.__getitem__) in ("economy", "science-tech")
    assert model.posterior("") == {}
    assert model.posterior("Apple shares rise") == model.posterior("Apple shares rise")


def test_features_are_hashed_content_words() -> None:
    got = features("Central bank raises the rates")
    assert len(got) == 4  # four content words, "the" is a stopword
    assert all(0 <= b < BUCKETS for b in got)
    assert features("Banks raise rates") == features("bank raising rate")  # folded and stemmed


def test_packed_scores_equal_the_byte_table() -> None:
    rng = random.Random(7)
    classes = ["a", "b", "c"]
    table = bytes(rng.randrange(256) for _ in range(len(classes) * BUCKETS))
    bias = [0.5, -1.0, 0.0]
    model = TopicModel(classes, table, scale=0.01, bias=bias)
    buckets = [rng.randrange(BUCKETS) for _ in range(300)] + [5, 5, 5]
    logits = [
        0.01 * sum(table[k * BUCKETS + b] for b in buckets) + bias[k] for k in range(len(classes))
    ]
    norm = sum(math.exp(x) for x in logits)
    got = model.posterior_of_features(buckets)
    assert list(got) == classes
    for k, c in enumerate(classes):
        assert got[c] == pytest.approx(math.exp(logits[k]) / norm)


def test_lanes_do_not_overflow_into_each_other() -> None:
    model = TopicModel(["a", "b"], bytes([255]) * BUCKETS + bytes(BUCKETS), scale=1 / 255)
    p = model.posterior_of_features([0] * 70_000)  # more than a lane holds: clipped
    assert p["a"] == 1.0
    assert p["b"] == 0.0


def test_a_table_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="expected"):
        TopicModel(["a", "b"], bytes(BUCKETS), scale=1.0)


def test_model_is_one_signal_among_others() -> None:
    with_model = TopicClassifier()
    without = TopicClassifier(model=False)
    assert without.model is None
    # a decisive lexicon phrase still wins
    assert with_model.classify("Premier League title race goes to the final day")[0] == "sport"
    # a tiny fake model shows the signal is added to the scores
    fake = TopicModel(["health"], bytes([255]) * BUCKETS, scale=1 / 255)
    assert TopicClassifier(model=fake).scores("Something happened")["health"] == MODEL_WEIGHT


@pytest.mark.parametrize(
    "title", ["Hamilton takes pole at Silverstone", "Woods two shots off the lead at Augusta"]
)
def test_sport_headlines_without_sport_words_are_sport(title: str) -> None:
    # the lexicon alone has nothing to go on: the model, trained on sports desks, knows them
    assert TopicClassifier(model=False).classify(title)[0] == GENERAL
    assert TopicClassifier().classify(title)[0] == "sport"


def test_world_news_lands_on_a_world_type_topic() -> None:
    model = default_model()
    assert model is not None
    classifier = TopicClassifier()
    titles = ("Taliban ban women from universities", "Thousands flee as fighting nears capital")
    for title in titles:
        p = model.posterior(title)
        assert max(p, key=p.__getitem__) == "world"
        assert classifier.classify(title)[0] in WORLD_TYPE
    # no world-type word in the headline: politics, the default
    assert TopicClassifier(model=False).classify("Taliban ban women from universities")[0] == (
        GENERAL
    )
    assert classifier.classify("Taliban ban women from universities")[0] == "politics"


def test_coarse_classes_go_to_the_topic_the_other_signals_favour() -> None:
    only_world = TopicClassifier(model=TopicModel(["world"], bytes(BUCKETS), scale=1.0))
    assert only_world.classify("Something happened somewhere") == ("politics", ())
    assert only_world.classify("Thousands flee as fighting nears capital")[0] == "humanitarian"
    assert "world" not in only_world.scores("Thousands flee as fighting nears capital")
    only_economy = TopicClassifier(model=TopicModel(["economy"], bytes(BUCKETS), scale=1.0))
    assert only_economy.classify("Something happened somewhere") == ("economy", ())
    energy = only_economy.scores("Pipeline gas flows to Germany resume")
    assert "economy" not in energy
    assert energy["energy"] > MODEL_WEIGHT


def test_the_model_reads_the_summary() -> None:
    fake = TopicModel(["culture", "sport"], bytes(BUCKETS) + bytes([255]) * BUCKETS, scale=1 / 255)
    classifier = TopicClassifier(model=fake)
    # each feature adds 1 to sport's score and 0 to culture's
    few = classifier.scores("Quiet night", summary=None)["sport"]
    more = classifier.scores("Quiet night", summary="Another quiet night in town")["sport"]
    assert more > few
