"""The optional semantic signal, with a fake embedder (the real model is an extra)."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aggregator.cluster import Clusterer, cluster
from aggregator.config import parse_config
from aggregator.errors import ConfigError
from aggregator.models import ClusterItem
from aggregator.store import Store

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


class Vec:
    """A tiny unit vector supporting ``@`` (numpy is an optional dependency)."""

    def __init__(self, *xs: float) -> None:
        norm = math.sqrt(sum(x * x for x in xs))
        self.xs = tuple(x / norm for x in xs)

    def __matmul__(self, other: Vec) -> float:
        return sum(a * b for a, b in zip(self.xs, other.xs, strict=True))


class FakeEmbedder:
    """Paraphrases of the iPhone launch point one way, everything else another."""

    model_id = "fake"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> list[Any]:
        self.calls.append(list(texts))
        return [Vec(1, 0.05) if "iPhone" in t or "handset" in t else Vec(0.05, 1) for t in texts]


PARAPHRASES = (
    "Apple unveils new iPhone at Cupertino event",
    "Cupertino firm shows off its latest handset",
)


def items(*titles: str) -> list[ClusterItem]:
    return [ClusterItem(i + 1, t, T0 + timedelta(hours=i)) for i, t in enumerate(titles)]


def test_paraphrases_meet_only_with_the_semantic_signal() -> None:
    assert len(set(cluster(items(*PARAPHRASES)).values())) == 2
    semantic = Clusterer(embedder=FakeEmbedder())
    stories = {a.story_id for a in semantic.add_all(items(*PARAPHRASES))}
    assert stories == {1}


def test_unrelated_headlines_stay_apart_with_the_semantic_signal() -> None:
    embedder = FakeEmbedder()
    clusterer = Clusterer(embedder=embedder)
    got = clusterer.add_all(items(PARAPHRASES[0], "Floods in Pakistan kill dozens"))
    assert got[0].story_id != got[1].story_id
    assert embedder.calls == [[PARAPHRASES[0], "Floods in Pakistan kill dozens"]]  # one batch


def test_embeddings_are_kept_in_the_store(tmp_path: Path) -> None:
    from aggregator.pipeline import with_embeddings

    store = Store.open(tmp_path / "db.sqlite")
    store.db.execute(
        "INSERT INTO feeds (url, name, added_at) VALUES ('https://a.test/f', 'A', '2026')"
    )
    for i, title in enumerate(PARAPHRASES, 1):
        store.db.execute(
            "INSERT INTO entries (id, feed_url, identity, title, published, first_seen, "
            "last_seen) VALUES (?, 'https://a.test/f', ?, ?, '2026', '2026', '2026')",
            [i, f"guid:{i}", title],
        )
    saved: dict[int, bytes] = {}

    class BytesEmbedder(FakeEmbedder):
        def embed(self, texts: Sequence[str]) -> list[Any]:
            self.calls.append(list(texts))
            return [float(len(t)) for t in texts]

    embedder = BytesEmbedder()
    clusterer = Clusterer(embedder=embedder)
    import aggregator.semantic as semantic

    original = semantic.to_bytes, semantic.from_bytes
    semantic.to_bytes = lambda v: str(v).encode()  # type: ignore[assignment]
    semantic.from_bytes = lambda b: float(b.decode())  # type: ignore[assignment]
    try:
        with_embeddings(store, clusterer, items(*PARAPHRASES))
        saved = store.embeddings([1, 2], "fake")
        again = Clusterer(embedder=embedder)
        with_embeddings(store, again, items(*PARAPHRASES))
    finally:
        semantic.to_bytes, semantic.from_bytes = original
    lengths = [float(len(t)) for t in PARAPHRASES]
    assert saved == {1: str(lengths[0]).encode(), 2: str(lengths[1]).encode()}
    assert len(embedder.calls) == 1  # the second clusterer read them from the store
    assert again.embeddings == {1: lengths[0], 2: lengths[1]}
    conn = sqlite3.connect(tmp_path / "db.sqlite")
    assert conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 2
    conn.close()
    store.close()


def test_semantic_setting_needs_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import aggregator.semantic as semantic

    monkeypatch.setattr(semantic, "missing", lambda: ["onnxruntime"])
    with pytest.raises(ConfigError, match=r"settings\.semantic: needs onnxruntime: pip install"):
        parse_config({"settings": {"semantic": True}})
    with pytest.raises(ConfigError, match=r"settings\.semantic: expected true or false"):
        parse_config({"settings": {"semantic": "yes"}})
    assert parse_config({"settings": {"semantic": False}}).settings.semantic is False
