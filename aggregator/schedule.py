"""Pure scheduling decisions: when is a feed next due? All take ``now``; nothing here sleeps.

* success: ``now + interval``, lengthened (never shortened) by the feed's RSS ``<ttl>``, plus a
  deterministic jitter of up to 10 % of the interval derived from the URL, so feeds added
  together do not stay in lock-step;
* failure: exponential backoff ``interval * 2**(failures - 1)``, capped at ``MAX_BACKOFF``,
  never "give up": a failing feed is retried at least once a day.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

MAX_BACKOFF = timedelta(hours=24)
MAX_WAIT = timedelta(days=7)
JITTER = 0.1


def jitter_fraction(url: str) -> float:
    """A stable number in [0, 1) for ``url``."""
    digest = hashlib.sha1(url.encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def next_fetch_after_success(
    now: datetime, interval: timedelta, url: str, ttl_minutes: int | None = None
) -> datetime:
    wait = interval
    if ttl_minutes:
        wait = max(wait, min(timedelta(minutes=ttl_minutes), MAX_WAIT))
    return now + wait + interval * (JITTER * jitter_fraction(url))


def next_fetch_after_failure(
    now: datetime, interval: timedelta, url: str, failures: int
) -> datetime:
    failures = max(1, failures)
    wait: timedelta = min(interval * (2 ** min(failures - 1, 20)), MAX_BACKOFF)
    wait = max(wait, min(interval, MAX_BACKOFF))
    return now + wait + wait * (JITTER * jitter_fraction(url))


def is_due(next_fetch_at: datetime | None, now: datetime) -> bool:
    return next_fetch_at is None or next_fetch_at <= now
