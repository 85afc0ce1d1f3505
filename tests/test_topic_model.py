"""The shipped topic model: loads, is deterministic, and is only a signal among others."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from aggregator.classify.model import BUCKETS, TopicModel, default_model, features
from aggregator.classify.topic import TopicClassifier
from aggregator.models import TOPICS


def test_the_model_ships_with_its_provenance() -> None:
    meta = json.loads(
        resources.files("aggregator").joinpath("data/topic_model.json").read_text("utf-8")
    )
    assert meta["buckets"] == BUCKETS
    assert set(meta["classes"]) <= set(TOPICS)
    sources = " ".join(meta["trained_on"])
    assert "CC BY 4.0" in sources
    for research_only in ("AG News", "Reuters", "MIND", "MSRP"):
        assert research_only not in sources


def test_posterior_is_a_distribution_and_sensible() -> None:
    model = default_model()
    assert model is not None
    p = model.posterior("Apple shares rise after strong iPhone sales")
    assert sum(p.values()) == pytest.approx(1.0)
    assert max(p, key=p.__getitem__) in ("economy", "science-tech")
    assert model.posterior("") == {}
    assert model.posterior("Apple shares rise") == model.posterior("Apple shares rise")


def test_features_are_hashed_words_and_pairs() -> None:
    got = features("Central bank raises rates")
    assert len(got) == 4 + 3  # four content words, three adjacent pairs
    assert all(0 <= b < BUCKETS for b in got)


def test_model_is_one_signal_among_others() -> None:
    with_model = TopicClassifier()
    without = TopicClassifier(model=False)
    assert without.model is None
    # a decisive lexicon phrase still wins
    assert with_model.classify("Premier League title race goes to the final day")[0] == "sport"
    # a tiny fake model shows the signal is added to the scores
    fake = TopicModel(["health"], bytes([255]) * BUCKETS, low=-1.0, scale=1 / 255)
    assert TopicClassifier(model=fake).scores("Something happened")["health"] > 0
