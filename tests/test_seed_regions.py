"""The seed page's "Explore" headlines get the region a news editor would give them.

The headlines are publishers' text, so they are read from ../shared/seed at test time (never
copied into the project); the test skips when the seed is absent. The expected regions are
our editorial judgement, in the list's order; where a desk could go either way (China acting
in the Americas), both answers count.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.classify import Classifier

SEED = Path(__file__).resolve().parent.parent.parent / "shared" / "seed"
EDITOR = [
    {"Europe"},  # Russia pauses strikes on Kyiv at Trump's request
    {"Middle East"},  # MSF and Israel over access to Gaza
    {"Middle East"},  # Iraq's diplomacy over US-Iran tensions
    {"Middle East"},  # Israel to reopen the Rafah crossing
    {"Americas"},  # Trump's nominee for Fed chair
    {"Middle East"},  # Türkiye's foreign minister on Iran
    {"Asia"},  # militants killed in Pakistan
    {"Asia"},  # Myanmar air strikes
    {"Europe"},  # Zelenskyy offers to halt energy strikes
    {"Asia"},  # China and a Hong Kong firm's Panama ports
    {"Middle East"},  # Erdogan and Pezeshkian
    {"Middle East"},  # Syrian government and the YPG
    {"Asia", "Americas"},  # China's support for Cuba
    {"Middle East"},  # Trump weighs an Iran strike
    {"Americas"},  # Venezuela's hydrocarbon reforms
]


def explore_headlines() -> list[str]:
    path = SEED / "article-with-explore-list.txt"
    if not path.exists():
        pytest.skip("the seed page is not beside the checkout")
    lines = [line.strip() for line in path.read_text("utf-8").splitlines()]
    start = lines.index("Explore") + 1
    return [line for line in lines[start:] if line]


def test_every_explore_headline_gets_the_editors_region() -> None:
    headlines = explore_headlines()
    assert len(headlines) == len(EDITOR) == 15
    classifier = Classifier()
    wrong = [
        (headline, classifier.classify(headline).region, sorted(expected))
        for headline, expected in zip(headlines, EDITOR, strict=True)
        if classifier.classify(headline).region not in expected
    ]
    assert not wrong
