"""Pure scheduling decisions with a fixed ``now``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.schedule import (
    JITTER,
    MAX_BACKOFF,
    MAX_WAIT,
    is_due,
    jitter_fraction,
    next_fetch_after_failure,
    next_fetch_after_success,
)

URL = "https://feeds.example/world.xml"
INTERVAL = timedelta(minutes=30)
US = timedelta(microseconds=1)  # timedelta * float rounds to whole microseconds


def test_jitter_is_deterministic_per_url_and_in_range() -> None:
    assert jitter_fraction(URL) == jitter_fraction(URL)
    values = {jitter_fraction(f"https://feeds.example/{i}") for i in range(50)}
    assert all(0 <= v < 1 for v in values)
    assert len(values) == 50  # different URLs spread out
    assert max(values) - min(values) > 0.5


def test_success_is_now_plus_interval_plus_jitter(now: datetime) -> None:
    due = next_fetch_after_success(now, INTERVAL, URL)
    assert due == now + INTERVAL + INTERVAL * (JITTER * jitter_fraction(URL))
    assert now + INTERVAL <= due <= now + INTERVAL * 1.1
    assert next_fetch_after_success(now, INTERVAL, URL) == due  # same URL, same answer


@settings(derandomize=True, database=None, max_examples=200)
@given(st.text(max_size=50), st.integers(1, 7 * 24 * 3600))
def test_success_jitter_is_at_most_ten_percent(url: str, seconds: int) -> None:
    now = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    interval = timedelta(seconds=seconds)
    due = next_fetch_after_success(now, interval, url)
    assert now + interval <= due <= now + interval * 1.1 + US


def test_different_urls_get_different_times(now: datetime) -> None:
    times = {next_fetch_after_success(now, INTERVAL, f"https://f.example/{i}") for i in range(20)}
    assert len(times) == 20


def test_ttl_lengthens_the_wait(now: datetime) -> None:
    jitter = INTERVAL * (JITTER * jitter_fraction(URL))
    assert next_fetch_after_success(now, INTERVAL, URL, ttl_minutes=120) == (
        now + timedelta(minutes=120) + jitter
    )


@pytest.mark.parametrize("ttl", [None, 0, 1, 10, 30])
def test_ttl_never_shortens_the_wait(now: datetime, ttl: int | None) -> None:
    assert next_fetch_after_success(now, INTERVAL, URL, ttl_minutes=ttl) == (
        next_fetch_after_success(now, INTERVAL, URL)
    )


def test_huge_ttl_is_capped(now: datetime) -> None:
    jitter = INTERVAL * (JITTER * jitter_fraction(URL))
    due = next_fetch_after_success(now, INTERVAL, URL, ttl_minutes=10**9)
    assert due == now + MAX_WAIT + jitter
    assert timedelta(days=7) == MAX_WAIT


def _failure_wait(now: datetime, failures: int, interval: timedelta = INTERVAL) -> timedelta:
    return next_fetch_after_failure(now, interval, URL, failures) - now


@pytest.mark.parametrize(
    ("failures", "base"),
    [
        (0, timedelta(minutes=30)),  # treated as the first failure
        (1, timedelta(minutes=30)),
        (2, timedelta(hours=1)),
        (3, timedelta(hours=2)),
        (4, timedelta(hours=4)),
        (6, timedelta(hours=16)),
        (7, timedelta(hours=24)),  # 32 h capped
        (50, timedelta(hours=24)),
        (10**6, timedelta(hours=24)),
    ],
)
def test_failure_backoff(now: datetime, failures: int, base: timedelta) -> None:
    jitter = base * (JITTER * jitter_fraction(URL))
    assert _failure_wait(now, failures) == base + jitter


def test_failure_backoff_doubles(now: datetime) -> None:
    waits = [_failure_wait(now, n) for n in range(1, 7)]
    for shorter, longer in pairwise(waits):
        assert abs(longer - 2 * shorter) <= 2 * US


def test_failure_backoff_is_capped_at_a_day_plus_jitter(now: datetime) -> None:
    assert timedelta(hours=24) == MAX_BACKOFF
    for failures in (8, 20, 1000):
        wait = _failure_wait(now, failures)
        assert MAX_BACKOFF <= wait <= MAX_BACKOFF * (1 + JITTER)


def test_failure_with_an_interval_over_a_day_retries_within_a_day(now: datetime) -> None:
    wait = _failure_wait(now, 1, timedelta(days=3))
    assert MAX_BACKOFF <= wait <= MAX_BACKOFF * (1 + JITTER)


def test_failure_jitter_is_deterministic(now: datetime) -> None:
    assert next_fetch_after_failure(now, INTERVAL, URL, 3) == next_fetch_after_failure(
        now, INTERVAL, URL, 3
    )
    assert next_fetch_after_failure(now, INTERVAL, URL, 3) != next_fetch_after_failure(
        now, INTERVAL, URL + "?other", 3
    )


def test_is_due(now: datetime) -> None:
    assert is_due(None, now)
    assert is_due(now, now)
    assert is_due(now - timedelta(seconds=1), now)
    assert not is_due(now + timedelta(seconds=1), now)
