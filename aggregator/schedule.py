"""Pure scheduling decisions: when is a feed next due, and has it moved? All take ``now``;
nothing here sleeps or does I/O.

* success: ``now + interval``, lengthened (never shortened) by the feed's RSS ``<ttl>`` and
  the server's Cache-Control max-age / Expires, those hints capped at ``max_wait`` (7 days by
  default); plus a deterministic jitter of up to 10 % of the interval derived from the URL, so
  feeds added together do not stay in lock-step;
* failure: exponential backoff ``interval * 2**(failures - 1)``, capped at ``max_backoff``
  (24 hours by default), plus up to 10 % jitter; a Retry-After from the server (429, 503) can
  only lengthen it, up to ``max_wait``. Never "give up": a failing feed is retried at least
  once per ``max_backoff``; only 410 Gone disables a feed;
* moves: a feed whose every redirect was permanent (301/308) to the same URL on
  ``MOVE_AFTER`` fetches running is fetched from there from then on.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

MAX_BACKOFF = timedelta(hours=24)
MAX_WAIT = timedelta(days=7)
JITTER = 0.1
MOVE_AFTER = 3


def jitter_fraction(url: str) -> float:
    """A stable number in [0, 1) for ``url``."""
    digest = hashlib.sha1(url.encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def _hinted(wait: timedelta, now: datetime, until: datetime | None, cap: timedelta) -> timedelta:
    """``wait``, lengthened to reach ``until`` (a server's hint) but never beyond ``cap``."""
    if until is None:
        return wait
    return max(wait, min(until - now, cap))


def next_fetch_after_success(
    now: datetime,
    interval: timedelta,
    url: str,
    ttl_minutes: int | None = None,
    fresh_until: datetime | None = None,
    *,
    max_wait: timedelta = MAX_WAIT,
) -> datetime:
    wait = interval
    if ttl_minutes:
        wait = _hinted(wait, now, now + timedelta(minutes=ttl_minutes), max_wait)
    wait = _hinted(wait, now, fresh_until, max_wait)
    return now + wait + interval * (JITTER * jitter_fraction(url))


def next_fetch_after_failure(
    now: datetime,
    interval: timedelta,
    url: str,
    failures: int,
    retry_after: datetime | None = None,
    *,
    max_backoff: timedelta = MAX_BACKOFF,
    max_wait: timedelta = MAX_WAIT,
) -> datetime:
    failures = max(1, failures)
    wait: timedelta = min(interval * (2 ** min(failures - 1, 20)), max_backoff)
    wait = max(wait, min(interval, max_backoff))
    wait += wait * (JITTER * jitter_fraction(url))
    return now + _hinted(wait, now, retry_after, max_wait)


def moved(
    target: str | None, streak: int, seen: str | None, fetched_from: str
) -> tuple[str | None, int, bool]:
    """(candidate URL, fetches running that permanently redirected to it, move now?) after a
    fetch from ``fetched_from`` that permanently redirected to ``seen`` (None: it did not)."""
    if seen is None or seen == fetched_from:
        return None, 0, False
    streak = streak + 1 if seen == target else 1
    return seen, streak, streak >= MOVE_AFTER


def is_due(next_fetch_at: datetime | None, now: datetime) -> bool:
    return next_fetch_at is None or next_fetch_at <= now
