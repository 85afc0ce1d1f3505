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
    moved,
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


def test_cache_hints_only_lengthen_the_wait(now: datetime) -> None:
    url = "https://hint.example/feed"
    base = next_fetch_after_success(now, timedelta(minutes=30), url)
    shorter = next_fetch_after_success(
        now, timedelta(minutes=30), url, fresh_until=now + timedelta(minutes=5)
    )
    assert shorter == base
    longer = next_fetch_after_success(
        now, timedelta(minutes=30), url, fresh_until=now + timedelta(hours=3)
    )
    assert longer - now >= timedelta(hours=3)
    assert longer - now < timedelta(hours=3, minutes=4)


def test_cache_hints_are_capped(now: datetime) -> None:
    url = "https://hint.example/feed"
    far = next_fetch_after_success(
        now, timedelta(minutes=30), url, fresh_until=now + timedelta(days=365)
    )
    assert timedelta(days=7) <= far - now < timedelta(days=7, minutes=4)
    capped = next_fetch_after_success(
        now,
        timedelta(minutes=30),
        url,
        ttl_minutes=10_000,
        max_wait=timedelta(hours=2),
    )
    assert timedelta(hours=2) <= capped - now < timedelta(hours=2, minutes=4)


def test_retry_after_lengthens_a_backoff_but_never_shortens_it(now: datetime) -> None:
    url = "https://busy.example/feed"
    plain = next_fetch_after_failure(now, timedelta(minutes=30), url, 3)
    soon = next_fetch_after_failure(
        now, timedelta(minutes=30), url, 3, retry_after=now + timedelta(seconds=5)
    )
    assert soon == plain
    later = next_fetch_after_failure(
        now, timedelta(minutes=30), url, 1, retry_after=now + timedelta(hours=6)
    )
    assert later == now + timedelta(hours=6)
    forever = next_fetch_after_failure(
        now, timedelta(minutes=30), url, 1, retry_after=now + timedelta(days=400)
    )
    assert forever == now + timedelta(days=7)


def test_backoff_cap_is_a_setting(now: datetime) -> None:
    url = "https://down.example/feed"
    when = next_fetch_after_failure(
        now, timedelta(minutes=30), url, 20, max_backoff=timedelta(hours=2)
    )
    assert timedelta(hours=2) <= when - now <= timedelta(hours=2, minutes=12)


@pytest.mark.parametrize(
    ("state", "seen", "expected"),
    [
        ((None, 0), None, (None, 0, False)),
        ((None, 0), "https://new/f", ("https://new/f", 1, False)),
        (("https://new/f", 1), "https://new/f", ("https://new/f", 2, False)),
        (("https://new/f", 2), "https://new/f", ("https://new/f", 3, True)),
        (("https://new/f", 2), "https://other/f", ("https://other/f", 1, False)),
        (("https://new/f", 2), None, (None, 0, False)),  # a fetch without the redirect
        ((None, 0), "https://old/f", (None, 0, False)),  # "moved" to where we already are
    ],
)
def test_a_feed_moves_after_three_permanent_redirects_running(
    state: tuple[str | None, int], seen: str | None, expected: tuple[str | None, int, bool]
) -> None:
    assert moved(*state, seen, "https://old/f") == expected
