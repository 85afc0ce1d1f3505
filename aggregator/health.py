"""Feed health for `aggregator status`: pure, from the feeds table's columns and ``now``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aggregator.store import parse_iso

OK, FAILING, DISABLED, NEW = "ok", "failing", "disabled", "new"


@dataclass(frozen=True)
class FeedHealth:
    url: str
    name: str
    state: str  # ok, failing, disabled, new (never fetched)
    entries: int
    failures: int
    last_success: datetime | None
    next_fetch: datetime | None
    problem: str | None  # the last error, why it is disabled, or where it moved


def health(row: Mapping[str, Any]) -> FeedHealth:
    """One feed's health from its row (Store.feed_health)."""
    if row["disabled_at"]:
        state, problem = DISABLED, row["disabled_reason"]
    elif row["consecutive_failures"]:
        state, problem = FAILING, row["last_error"]
    elif row["last_fetched_at"] is None:
        state, problem = NEW, None
    else:
        state, problem = OK, None
    if state != DISABLED and row["fetch_url"]:
        moved = f"moved permanently to {row['fetch_url']} (update feeds.yaml)"
        problem = f"{problem}; {moved}" if problem else moved
    elif state == OK and row["bozo"]:
        problem = "malformed, entries kept"
    return FeedHealth(
        url=row["url"],
        name=row["name"],
        state=state,
        entries=int(row["entries"]),
        failures=int(row["consecutive_failures"]),
        last_success=parse_iso(row["last_success_at"]),
        next_fetch=parse_iso(row["next_fetch_at"]),
        problem=problem,
    )


def failing_share(feeds: Sequence[FeedHealth]) -> float:
    """Share of the enabled, already fetched feeds that are failing (0 when there are none)."""
    counted = [f for f in feeds if f.state in (OK, FAILING)]
    return sum(f.state == FAILING for f in counted) / len(counted) if counted else 0.0


def ago(when: datetime | None, now: datetime) -> str:
    """'3 min ago', 'in 2 h', 'never': short relative times for a terminal table."""
    if when is None:
        return "never"
    seconds = (when - now).total_seconds()
    size = abs(seconds)
    for unit, span in (("d", 86400), ("h", 3600), ("min", 60)):
        if size >= span:
            amount = f"{size / span:.0f} {unit}"
            break
    else:
        return "now"
    return f"in {amount}" if seconds > 0 else f"{amount} ago"
