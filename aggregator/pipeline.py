"""One pass of the pipeline: due feeds -> fetch -> parse -> normalise -> store -> cluster ->
classify -> store -> render.

Failures are values: a feed that cannot be fetched or parsed is recorded on its row and in the
fetch log, and the pass goes on with the others. Each feed's entries are written in their own
transaction, then the new entries are clustered into stories and labelled, then the digest is
rendered when anything changed (or when it does not exist yet).
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from aggregator.config import Config
from aggregator.errors import ParseError
from aggregator.fetch import Fetcher
from aggregator.models import (
    Assignment,
    ClusterItem,
    EntryRecord,
    FeedReport,
    FetchResult,
    Labels,
    PassReport,
)
from aggregator.normalise import normalise_feed
from aggregator.schedule import moved, next_fetch_after_failure, next_fetch_after_success
from aggregator.store import Store

if TYPE_CHECKING:
    from aggregator.classify import Classifier
    from aggregator.cluster import Clusterer

log = logging.getLogger(__name__)

# called after each feed is stored: (its report, feeds done, feeds in this pass)
Progress = Callable[[FeedReport, int, int], None]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Feed:
    name: str
    interval: timedelta
    failures: int
    max_backoff: timedelta
    max_wait: timedelta
    moved_to: str | None = None
    moved_streak: int = 0
    fetch_url: str | None = None
    kind: str = "feed"
    selector: str | None = None


def _process(
    store: Store,
    result: FetchResult,
    feed: _Feed,
    now: datetime,
    unchanged: list[tuple[FetchResult, datetime]],
) -> tuple[FeedReport, tuple[int, ...], tuple[int, ...]]:
    """Parse, normalise and store one fetch result; returns (report, new ids, updated ids).
    A 304 is only appended to ``unchanged``: the caller writes those in batches."""
    _follow_moves(store, result, feed)
    if result.error is not None:
        report = _failed(store, result, feed, now, result.error_kind or "fetch", result.error)
        if result.status == 410:
            reason = (
                f"410 Gone on {now:%Y-%m-%d}: the publisher removed the feed; remove it from"
                " feeds.yaml, or `aggregator feeds enable URL` to try again"
            )
            store.disable(result.url, reason, now)
            log.warning("%s: disabled: %s", feed.name, reason)
        return report, (), ()
    if result.not_modified:
        when = next_fetch_after_success(
            now, feed.interval, result.url, fresh_until=result.fresh_until, max_wait=feed.max_wait
        )
        unchanged.append((result, when))
        return FeedReport(result.url, feed.name, "not_modified", 304), (), ()
    # the parsers (feedparser, fastfeedparser, lxml) load with the first body to parse: a
    # pass over unchanged feeds (all 304) never needs them
    from aggregator.htmlsource import parse_html_page
    from aggregator.parse import parse_feed

    try:
        if feed.kind == "html":
            parsed = parse_html_page(
                result.url,
                result.body or b"",
                result.headers,
                selector=feed.selector,
                location=result.final_url,
            )
        else:
            parsed = parse_feed(result.url, result.body or b"", result.headers)
    except ParseError as e:
        return _failed(store, result, feed, now, e.kind, e.message), (), ()
    entries = normalise_feed(parsed, feed.name, result.fetched_at)
    written = store.record_success(
        result,
        parsed,
        entries,
        next_fetch_after_success(
            now,
            feed.interval,
            result.url,
            parsed.ttl_minutes,
            result.fresh_until,
            max_wait=feed.max_wait,
        ),
    )
    report = FeedReport(
        result.url,
        feed.name,
        "ok",
        result.status,
        new_entries=len(written.new_ids),
        updated_entries=len(written.updated_ids),
        bozo=parsed.bozo,
        error=parsed.bozo_message,
    )
    return report, written.new_ids, written.updated_ids


def _failed(
    store: Store, result: FetchResult, feed: _Feed, now: datetime, kind: str, message: str
) -> FeedReport:
    """Record a failed fetch or parse and schedule the retry (backoff, Retry-After)."""
    when = next_fetch_after_failure(
        now,
        feed.interval,
        result.url,
        feed.failures + 1,
        result.retry_after,
        max_backoff=feed.max_backoff,
        max_wait=feed.max_wait,
    )
    store.record_failure(result, kind, message, when)
    return FeedReport(result.url, feed.name, "error", result.status, error_kind=kind, error=message)


def _follow_moves(store: Store, result: FetchResult, feed: _Feed) -> None:
    """Track permanent redirects; after three fetches running to the same place, fetch the
    feed from there (the configured URL stays its name; feeds.yaml is never rewritten)."""
    fetched_from = result.requested_url or result.url
    target, streak, move = moved(
        feed.moved_to, feed.moved_streak, result.permanent_redirect, fetched_from
    )
    fetch_url = target if move else feed.fetch_url
    if (target, streak, fetch_url) != (feed.moved_to, feed.moved_streak, feed.fetch_url):
        store.note_location(result.url, target, streak, fetch_url)
    if move:
        log.warning(
            "%s: moved permanently to %s; fetching from there (update feeds.yaml)",
            feed.name,
            target,
        )


def label(classifier: Classifier, entry: EntryRecord) -> Labels:
    return classifier.classify(
        entry.title,
        summary=entry.summary,
        url=entry.url,
        categories=entry.categories,
        region_hint=entry.region_hint,
        topic_hint=entry.topic_hint,
    )


CLUSTER_SUMMARY = 300  # clustering reads the start of a summary only (cluster.SUMMARY_CHARS)


def _item(entry: EntryRecord) -> ClusterItem:
    return ClusterItem(
        id=entry.id,
        title=entry.title,
        published=entry.published,
        source=entry.feed_url,
        summary=entry.summary[:CLUSTER_SUMMARY] if entry.summary else entry.summary,
        url=entry.url,
        coverage=tuple(r.url for r in entry.related if r.rel == "coverage"),
        related=tuple(r.url for r in entry.related if r.rel != "coverage"),
    )


def update_stories(
    store: Store,
    config: Config,
    entry_ids: Iterable[int],
    now: datetime,
    *,
    classifier: Classifier | None = None,
    touched: Iterable[int] = (),
) -> set[int]:
    """Label the given entries, cluster those without a story, and rewrite every story they
    touch. Returns the ids of the stories written.

    Entries are read in batches and only what clustering needs is kept of them, so a first
    pass over thousands of feeds stays small (see the memory figures in the README)."""
    from aggregator.classify import Classifier  # labelling and clustering load on demand:

    settings = config.settings  # a pass where nothing changed never needs them
    ids = sorted(set(entry_ids))
    touched_ids = set(touched)
    pending: list[ClusterItem] = []
    assignments: list[Assignment] = []
    if ids:
        classifier = classifier or Classifier.for_taxonomy(config.taxonomy)
    for start in range(0, len(ids), BATCH):
        batch = store.entries(ids=ids[start : start + BATCH])
        assert classifier is not None
        store.label_entries({e.id: label(classifier, e) for e in batch})
        touched_ids.update(e.story_id for e in batch if e.story_id is not None)
        pending.extend(_item(e) for e in batch if e.story_id is None)
    clusterer = make_clusterer(config)
    if pending:
        spans = seed_spans([i.published for i in pending], settings.cluster_window)
        seeds = [
            (_item(e), e.story_id)
            for e in store.iter_entries(spans=spans, assigned=True, batch=BATCH)
        ]
        if clusterer.embedder is not None:
            with_embeddings(store, clusterer, [*(i for i, _ in seeds), *pending])
        for item, story_id in seeds:
            clusterer.seed(item, story_id)  # type: ignore[arg-type]
        del seeds
        # handed over item by item, so each is freed once clustered (a first pass holds
        # thousands)
        # and the holes clustering leaves in the heap are given back as it goes
        assignments = clusterer.add_all(_drain(pending), every=BATCH, between=give_back_memory)
    # one transaction: a reader (Datasette, render) never sees an entry pointing at a story
    # row not written yet, nor a story whose counts disagree with its members
    with store.db.atomic():
        if assignments:
            store.assign({a.item_id: a.story_id for a in assignments})
            touched_ids.update(a.story_id for a in assignments)
        write_stories(store, clusterer, touched_ids, now)
    return touched_ids


BATCH = 2000  # entries read, labelled or converted at a time
MAX_SPANS = 32  # time ranges of stored entries read as clustering seeds, at most


def seed_spans(
    times: Sequence[datetime], window: timedelta, limit: int = MAX_SPANS
) -> list[tuple[datetime, datetime | None]]:
    """The time ranges whose stored entries new entries dated ``times`` can meet: ``window``
    either side of each, merged, the last one open (stories still growing). One new entry
    dated a year ago (a feed re-listing an old item) then reads a few days of the archive
    around it, not the whole year since. At most ``limit`` ranges: the closest are merged."""
    if not times:
        return []
    spans: list[list[datetime]] = []
    for t in sorted(times):
        if spans and t - window <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], t + window)
        else:
            spans.append([t - window, t + window])
    while len(spans) > limit:
        gap = min(range(len(spans) - 1), key=lambda k: spans[k + 1][0] - spans[k][1])
        spans[gap : gap + 2] = [[spans[gap][0], spans[gap + 1][1]]]
    out: list[tuple[datetime, datetime | None]] = [(a, b) for a, b in spans]
    out[-1] = (out[-1][0], None)
    return out


def give_back_memory() -> None:
    """Return the C heap's free pages to the system (glibc's ``malloc_trim``; elsewhere
    nothing). Clustering thousands of entries frees most of what it built, in holes spread
    over the heap that the allocator keeps; the render that follows would then add its own
    peak on top. A few milliseconds."""
    if not sys.platform.startswith("linux"):
        return
    try:
        trim = ctypes.CDLL(None).malloc_trim  # (absent on musl)
    except (OSError, AttributeError):
        return
    trim(0)


def _drain(items: list[ClusterItem]) -> Iterator[ClusterItem]:
    """Yield and remove every item of ``items`` (last first)."""
    while items:
        yield items.pop()


def make_clusterer(config: Config) -> Clusterer:
    """The clusterer the settings describe (with embeddings when ``semantic`` is on)."""
    from aggregator.classify import Classifier
    from aggregator.cluster import Clusterer

    settings = config.settings
    embedder = None
    if settings.semantic:
        from aggregator.semantic import load_embedder

        embedder = load_embedder()
    # feeds.yaml's extra place names count as entities for clustering too
    taxonomy = config.taxonomy
    gazetteer = None if taxonomy.is_default else Classifier.for_taxonomy(taxonomy).region.gazetteer
    return Clusterer(
        threshold=settings.cluster_threshold,
        window=settings.cluster_window,
        gazetteer=gazetteer,
        embedder=embedder,
    )


def with_embeddings(store: Store, clusterer: Clusterer, items: Sequence[ClusterItem]) -> None:
    """Give the clusterer the stored embeddings of ``items``, embedding (and storing) the
    rest in batches; each headline is embedded once in its life."""
    embedder = clusterer.embedder
    if embedder is None or not items:
        return
    from aggregator.semantic import from_bytes, to_bytes

    stored = store.embeddings((i.id for i in items), embedder.model_id)
    clusterer.embeddings.update({k: from_bytes(v) for k, v in stored.items()})
    fresh = clusterer.prepare(items)
    if fresh:
        store.save_embeddings(embedder.model_id, {k: to_bytes(v) for k, v in fresh.items()})


WRITE_BATCH = 2000  # members of the stories read back and written at a time


def _batches(ids: Sequence[int], clusterer: Clusterer) -> Iterator[list[int]]:
    """``ids`` in runs whose stories hold about ``WRITE_BATCH`` members together."""
    batch: list[int] = []
    size = 0
    for sid in ids:
        story = clusterer.stories.get(sid)
        batch.append(sid)
        size += len(story.members) if story is not None else 1
        if size >= WRITE_BATCH:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def write_stories(
    store: Store, clusterer: Clusterer, story_ids: Iterable[int], now: datetime
) -> None:
    """Rewrite the rows of ``story_ids`` from their members (lead, counts, labels)."""
    from aggregator.classify import story_labels

    ids = sorted(set(story_ids))
    with store.db.atomic():
        # a batch of stories at a time: a first pass touches every entry it stored
        for batch in _batches(ids, clusterer):
            members = store.story_members(batch)
            labels = store.entry_labels(m.id for ms in members.values() for m in ms)
            store.delete_stories(sid for sid in batch if sid not in members)
            for sid, ms in members.items():
                by_id = {m.id: m for m in ms}
                lead_id = clusterer.lead(sid) if sid in clusterer.stories else None
                if lead_id is None or lead_id not in by_id:
                    lead_id = min(ms, key=lambda m: (m.published, m.id)).id
                votes = [labels[m.id] for m in ms if m.id in labels]
                store.save_story(sid, by_id[lead_id], ms, story_labels(votes), now)


def run_pass(
    config: Config,
    *,
    now: datetime | None = None,
    all_feeds: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
    render: bool = True,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> PassReport:
    """Fetch the due feeds (every feed with ``all_feeds``), store, cluster, label, render.

    Setting ``stop`` (from any thread: a signal, the daemon) ends the pass early: it is
    checked between feeds (the downloads still running are cancelled) and before the
    clustering and render stages. Each feed already stored stays stored (it was its own
    transaction); its new entries have no story yet, and the next pass clusters them, as it
    clusters any entry left without a story (by a stop or a crash)."""
    started = now or utcnow()
    settings = config.settings

    def stopped() -> bool:
        return stop is not None and stop.is_set()

    store = Store.open(settings.database)
    try:
        store.sync_sources(config.sources, started)
        states = store.feed_states(due_at=None if all_feeds else started)
        selectors = {s.url: s.selector for s in config.sources}
        feeds = {
            row["url"]: _Feed(
                name=row["name"],
                interval=timedelta(seconds=row["interval_seconds"])
                if row["interval_seconds"]
                else settings.interval,
                failures=row["consecutive_failures"],
                max_backoff=settings.max_backoff,
                max_wait=settings.max_wait,
                moved_to=row["moved_to"],
                moved_streak=row["moved_streak"],
                fetch_url=row["fetch_url"],
                kind=row["kind"],
                selector=selectors.get(row["url"]),
            )
            for row in store.feeds()
        }
        fetcher = Fetcher(
            user_agent=settings.user_agent,
            timeout=settings.timeout,
            connect_timeout=settings.connect_timeout,
            concurrency=settings.concurrency,
            per_host=settings.per_host,
            max_body_bytes=settings.max_body_bytes,
            allow_private=settings.allow_private_targets,
            transport=transport,
            now=(lambda: started) if now is not None else utcnow,
        )
        log.info("fetching %d of %d feeds", len(states), len(config.sources))
        reports: list[FeedReport] = []
        # entries an interrupted pass stored but did not cluster (normally none; read before
        # this pass stores its own, so a first pass does not hold all of them at once)
        changed: list[int] = [e.id for e in store.entries(unassigned=True)]
        if changed:
            log.info("%d stored entries have no story yet: clustering them too", len(changed))
        # each feed is parsed and stored as soon as it arrives, while others download
        clock = time.perf_counter()
        seconds: dict[str, float] = {}
        unchanged: list[tuple[FetchResult, datetime]] = []
        for result in fetcher.stream(states, cancel=stop):
            if stopped():
                break
            report, new_ids, updated_ids = _process(
                store, result, feeds[result.url], started, unchanged
            )
            if len(unchanged) >= UNCHANGED_BATCH:
                store.record_not_modified(unchanged)
                unchanged.clear()
            _log_report(report, result.elapsed)
            reports.append(report)
            changed.extend(new_ids)
            changed.extend(updated_ids)
            if progress:
                progress(report, len(reports), len(states))
        store.record_not_modified(unchanged)
        store.index_pending()  # the new entries, into the full-text index in one statement
        seconds["fetch+store"] = time.perf_counter() - clock
        if stopped():
            log.warning(
                "pass stopped after %d of %d feeds; their new entries get stories next pass",
                len(reports),
                len(states),
            )
            changed = []
        clock = time.perf_counter()
        touched = update_stories(store, config, changed, started) if changed else set()
        if len(changed) >= BATCH:
            give_back_memory()  # clustering a big batch left the heap full of holes
        seconds["stories"] = time.perf_counter() - clock
        clock = time.perf_counter()
        rendered: Sequence[str] = ()
        if stopped():
            if touched:
                _render_later(config)  # stories changed but the digest was not rewritten
        elif render and needs_render(config, bool(touched), started):
            from aggregator.render import render_site  # the last stage, loaded when it runs

            rendered = render_site(store, config, started)
        seconds["render"] = time.perf_counter() - clock
        clock = time.perf_counter()  # retention: the live tables keep retention_days
        if not stopped():  # (a stopping daemon leaves retention to the next pass)
            store.apply_retention(settings.retention_days, started)
        seconds["prune"] = time.perf_counter() - clock
        log.info("pass: %s", ", ".join(f"{stage} {secs:.2f} s" for stage, secs in seconds.items()))
        return PassReport(
            started_at=started,
            finished_at=utcnow() if now is None else started,
            feeds=tuple(sorted(reports, key=lambda r: (r.name.casefold(), r.url))),
            stories_touched=len(touched),
            rendered=tuple(rendered),
            seconds=seconds,
        )
    except Store.Error as e:  # disk full, locked too long: one line naming the database
        raise store.failure(e) from e
    finally:
        store.close()


RERENDER_AFTER = timedelta(hours=1)
UNCHANGED_BATCH = 200  # 304s written per transaction


def needs_render(config: Config, changed: bool, now: datetime) -> bool:
    """Render when stories changed, when there is no digest yet, or when the last render is
    over an hour old (stories age out of the digest window even when nothing new arrives).
    The last render's time is the mtime of ``.rendered`` in the output folder: unchanged
    pages keep their old mtime, so the index's would ask for a render on every pass."""
    out = Path(config.settings.output_dir)
    if not (out / "index.html").exists():
        return True
    try:
        mtime = datetime.fromtimestamp((out / ".rendered").stat().st_mtime, tz=UTC)
    except OSError:
        return True
    return changed or now - mtime >= RERENDER_AFTER


def _render_later(config: Config) -> None:
    """Make the next pass render (``needs_render`` reads the stamp's time)."""
    (Path(config.settings.output_dir) / ".rendered").unlink(missing_ok=True)


def _log_report(report: FeedReport, seconds: float) -> None:
    """One line per feed fetched: outlet, status, entries or error, time taken."""
    if report.outcome == "error":
        log.warning("%s: failed in %.2f s: %s (%s)", report.name, seconds, report.error, report.url)
    elif report.outcome == "not_modified":
        log.info("%s: 304 not modified in %.2f s", report.name, seconds)
    else:
        extra = f", malformed but usable: {report.error}" if report.bozo else ""
        log.info(
            "%s: %s in %.2f s, %d new, %d updated%s",
            report.name,
            report.status,
            seconds,
            report.new_entries,
            report.updated_entries,
            extra,
        )


def recluster(
    config: Config,
    *,
    since: datetime | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Rebuild stories from stored entries with the current settings.

    Returns (entries clustered, stories written). Entries before ``since`` keep their stories.
    """
    from aggregator.classify import Classifier

    now = now or utcnow()
    settings = config.settings
    store = Store.open(settings.database)
    try:
        entries = store.entries(since=since)
        classifier = Classifier.for_taxonomy(config.taxonomy)
        clusterer = make_clusterer(config)
        assignments: dict[int, int] = {}
        items = sorted((_item(e) for e in entries), key=lambda i: (i.published, i.id))
        with_embeddings(store, clusterer, items)
        for n, item in enumerate(items, 1):
            assignments[item.id] = clusterer.add(item).story_id
            if progress and (n % 500 == 0 or n == len(items)):
                progress(n, len(items))
        labels = {e.id: label(classifier, e) for e in entries}
        with store.db.atomic():  # readers see the old stories or the new, never a mix
            old = store.clear_assignments(since)
            store.assign(assignments)
            store.label_entries(labels)
            write_stories(store, clusterer, set(old) | set(assignments.values()), now)
        return len(entries), len(set(assignments.values()))
    finally:
        store.close()
