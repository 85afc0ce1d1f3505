"""The bundled demo sample and its gold partition, for the tests (see aggregator.demo)."""

from __future__ import annotations

from aggregator.demo import REFERENCE_TIME as REFERENCE
from aggregator.demo import GoldItem as SampleItem
from aggregator.demo import gold_sample as sample_items

__all__ = ["REFERENCE", "SampleItem", "sample_items"]
