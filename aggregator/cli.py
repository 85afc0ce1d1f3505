"""The command line: ``aggregator run | render | recluster | demo``.

Parses options, configures logging (the only place that does), and turns every
:class:`~aggregator.errors.AggregatorError` into a one-line message and exit status 1.
Tracebacks are shown only with ``-vv``.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from aggregator import __version__
from aggregator.config import Config, load_config
from aggregator.errors import AggregatorError
from aggregator.models import ClusterItem, PassReport
from aggregator.normalise import canonical_url

if TYPE_CHECKING:
    from aggregator.health import FeedHealth
    from aggregator.models import FetchResult, Source

log = logging.getLogger("aggregator")


# syslog priorities, for journald's "<N>" line prefix
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}


def log_format(verbose: int, *, timestamps: bool) -> str:
    """The log line: ``LEVEL: message`` (``LEVEL name: message`` with -vv), after a UTC
    time when ``timestamps``."""
    line = "%(levelname)s %(name)s: %(message)s" if verbose >= 2 else "%(levelname)s: %(message)s"
    return "%(asctime)s " + line if timestamps else line


def stderr_is_journal() -> bool:
    """Whether stderr is a systemd journal stream ($JOURNAL_STREAM names its device:inode)."""
    stream = os.environ.get("JOURNAL_STREAM")
    if not stream:
        return False
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):  # (a test runner's stand-in for stderr)
        return False
    return stream == f"{st.st_dev}:{st.st_ino}"


class _LogFormatter(logging.Formatter):
    """UTC times (``2026-01-15T12:00:00Z``); a ``<N>`` priority prefix for journald."""

    def __init__(self, fmt: str, *, journal: bool) -> None:
        super().__init__(fmt, datefmt="%Y-%m-%dT%H:%M:%SZ")
        self.converter = time.gmtime
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if self.journal:
            return f"<{_PRIORITY.get(record.levelno, 2)}>{text}"
        return text


def setup_logging(verbose: int, quiet: bool, *, daemon: bool = False) -> None:
    """Log to stderr, one line per record. The daemon's lines carry a UTC time, unless
    stderr is the systemd journal, which adds its own; there each line starts with its
    syslog priority (``<4>``), which journald turns into the entry's priority."""
    level = (
        logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    )
    journal = stderr_is_journal()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _LogFormatter(log_format(verbose, timestamps=daemon and not journal), journal=journal)
    )
    logging.basicConfig(level=level, handlers=[handler], force=True)
    if verbose < 2:
        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)


@contextmanager
def errors_as_messages(ctx: click.Context) -> Iterator[None]:
    try:
        yield
    except AggregatorError as e:
        if ctx.find_root().obj.get("verbose", 0) >= 2:
            raise
        raise click.ClickException(str(e)) from e
    except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
        raise
    except Exception as e:  # a bug: still one line, the traceback with -vv
        if ctx.find_root().obj.get("verbose", 0) >= 2:
            raise
        raise click.ClickException(
            f"internal error: {type(e).__name__}: {e} (run with -vv for the traceback)"
        ) from e


def _config(ctx: click.Context) -> Config:
    obj: dict[str, Any] = ctx.find_root().obj
    if "config" not in obj:
        with errors_as_messages(ctx):
            obj["config"] = load_config(obj["config_path"])
    config: Config = obj["config"]
    return config


def _parse_date(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise click.BadParameter(f"expected an ISO date such as 2026-01-15, got {value!r}") from e
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="feeds.yaml",
    show_default=True,
    envvar="AGGREGATOR_CONFIG",
    help="The feeds.yaml to use (env: AGGREGATOR_CONFIG).",
)
@click.option("-v", "--verbose", count=True, help="More output: -v per-feed lines, -vv debug.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.version_option(__version__, prog_name="aggregator")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, verbose: int, quiet: bool) -> None:
    """Fetch world-news feeds, group the same story across outlets, label each story with a
    region and a topic, and write a static HTML digest."""
    setup_logging(verbose, quiet)
    ctx.ensure_object(dict)
    ctx.obj.update(config_path=config_path, verbose=verbose, quiet=quiet)


def _summary(report: PassReport, echo: Callable[[str], None]) -> None:
    ok = sum(1 for f in report.feeds if f.outcome == "ok")
    same = sum(1 for f in report.feeds if f.outcome == "not_modified")
    echo(
        f"{len(report.feeds)} feeds fetched ({ok} updated, {same} not modified, "
        f"{report.errors} failed): {report.new_entries} new entries, "
        f"{report.stories_touched} stories updated"
    )
    for f in report.feeds:
        if f.outcome == "error":
            echo(f"  failed: {f.name}: {f.error}")


def _summary_table(report: PassReport) -> None:
    """The end of a pass on a terminal: one screen, the busiest feeds and every failure."""
    seconds = (report.finished_at - report.started_at).total_seconds()
    ok = [f for f in report.feeds if f.outcome == "ok"]
    rows = [
        ("feeds fetched", f"{len(report.feeds):,}"),
        ("  updated", f"{len(ok):,}"),
        ("  not modified", f"{sum(f.outcome == 'not_modified' for f in report.feeds):,}"),
        ("  failed", f"{report.errors:,}"),
        ("new entries", f"{report.new_entries:,}"),
        ("updated entries", f"{sum(f.updated_entries for f in report.feeds):,}"),
        ("stories updated", f"{report.stories_touched:,}"),
        ("pages written", f"{len(report.rendered):,}"),
        ("time", f"{seconds:.1f} s"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key:<{width}}  {value:>8}")
    busiest = sorted(ok, key=lambda f: -f.new_entries)[:5]
    if busiest and busiest[0].new_entries:
        click.echo("most new entries: " + ", ".join(f"{f.name} {f.new_entries}" for f in busiest))
    failures = [f for f in report.feeds if f.outcome == "error"]
    for f in failures[:15]:
        click.secho(f"  failed: {f.name}: {f.error}", fg="yellow")
    if len(failures) > 15:
        click.echo(f"  ... and {len(failures) - 15} more (aggregator status)")


@cli.command()
@click.option("--once", is_flag=True, help="One pass over the due feeds, then exit (cron mode).")
@click.option("--all", "all_feeds", is_flag=True, help="With --once: fetch every feed now.")
@click.pass_context
def run(ctx: click.Context, once: bool, all_feeds: bool) -> None:
    """Fetch due feeds, update stories and the digest; as a daemon unless --once.

    On a terminal, --once shows live progress and ends with a summary table; otherwise it
    prints one summary line and the failures (cron mails only what matters). Both take the
    lock file next to the database: --once skips (status 0) while another run holds it,
    the daemon waits for it. The daemon stops on SIGTERM/SIGINT and reloads feeds.yaml on
    SIGHUP or when the file changes."""
    config = _config(ctx)
    obj = ctx.find_root().obj
    quiet = obj["quiet"]
    with errors_as_messages(ctx):
        if once or all_feeds:
            from aggregator.lock import LockBusy, RunLock, lock_path
            from aggregator.pipeline import run_pass

            try:
                lock = RunLock.acquire(lock_path(config.settings.database))
            except LockBusy as e:
                if not quiet:
                    click.echo(f"{e}; skipping", err=True)
                return
            with lock:
                if sys.stderr.isatty() and not quiet:
                    report = _run_with_progress(config, all_feeds)
                    _summary_table(report)
                else:
                    report = run_pass(config, all_feeds=all_feeds)
                    if not quiet:
                        _summary(report, click.echo)
        else:
            from aggregator.scheduler import run_daemon

            setup_logging(obj["verbose"], quiet, daemon=True)
            if not run_daemon(config):  # a pass did not stop in time: do not wait for it
                logging.shutdown()
                os._exit(0)


def _run_with_progress(config: Config, all_feeds: bool) -> PassReport:
    """A pass with a live line on the terminal: feeds done of all, new entries, errors."""
    from aggregator.models import FeedReport
    from aggregator.pipeline import run_pass

    counts = {"new": 0, "errors": 0}
    with click.progressbar(
        length=1, label="Fetching", file=sys.stderr, show_pos=True, width=24
    ) as bar:

        def progress(report: FeedReport, done: int, total: int) -> None:
            counts["new"] += report.new_entries
            counts["errors"] += report.outcome == "error"
            bar.length = total
            bar.label = f"Fetching ({counts['new']:,} new, {counts['errors']:,} errors)"
            bar.update(done - bar.pos)

        return run_pass(config, all_feeds=all_feeds, progress=progress)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed instead.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Each feed's health: state, entries, failures, last success, next fetch, last problem.

    Exits 1 when more than `status_max_failing` of the feeds are failing (for monitoring).
    """
    from aggregator.health import failing_share, health
    from aggregator.store import Store

    config = _config(ctx)
    now = datetime.now(UTC)
    with errors_as_messages(ctx):
        store = Store.open(config.settings.database)
        try:
            store.sync_sources(config.sources, now)
            feeds = [health(row) for row in store.feed_health()]
        finally:
            store.close()
    share = failing_share(feeds)
    if as_json:
        for f in feeds:
            record = {
                "url": f.url,
                "name": f.name,
                "state": f.state,
                "entries": f.entries,
                "failures": f.failures,
                "last_success": f.last_success.isoformat() if f.last_success else None,
                "next_fetch": f.next_fetch.isoformat() if f.next_fetch else None,
                "problem": f.problem,
            }
            click.echo(json.dumps(record, ensure_ascii=False))
    else:
        _status_table(feeds, now)
        failing = sum(f.state == "failing" for f in feeds)
        disabled = sum(f.state == "disabled" for f in feeds)
        click.echo(
            f"{len(feeds)} feeds: {failing} failing ({share:.0%}), {disabled} disabled, "
            f"{sum(f.entries for f in feeds):,} entries"
        )
    if share > config.settings.status_max_failing:
        ctx.exit(1)


def _status_table(feeds: Sequence[FeedHealth], now: datetime) -> None:
    from aggregator.health import ago

    rows = [
        (
            f.name[:28],
            f.state,
            f"{f.entries:,}",
            str(f.failures) if f.failures else "",
            ago(f.last_success, now),
            ago(f.next_fetch, now) if f.state != "disabled" else "-",
            (f.problem or "")[:70],
        )
        for f in feeds
    ]
    head = ("feed", "state", "entries", "fails", "last success", "next fetch", "problem")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for n, r in enumerate([head, *rows]):
        line = "  ".join(
            c.rjust(w) if i in (2, 3) else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        style = {"failing": "yellow", "disabled": "red"}.get(r[1]) if n else None
        click.secho(line.rstrip(), fg=style, bold=n == 0)


@cli.group()
def feeds() -> None:
    """Manage the sources."""


@feeds.command("enable")
@click.argument("url")
@click.pass_context
def feeds_enable(ctx: click.Context, url: str) -> None:
    """Fetch a disabled feed (410 Gone) again, from its configured URL."""
    from aggregator.store import Store

    config = _config(ctx)
    with errors_as_messages(ctx):
        store = Store.open(config.settings.database)
        try:
            found = store.enable(url)
        finally:
            store.close()
    if not found:
        raise click.ClickException(f"{url}: no such feed in the database")
    click.echo(f"{url}: enabled; it is fetched on the next pass")


def _config_path(ctx: click.Context) -> Path:
    path: Path = ctx.find_root().obj["config_path"]
    return path


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source instead.")
@click.pass_context
def feeds_list(ctx: click.Context, as_json: bool) -> None:
    """Every source in feeds.yaml: kind, region/topic hints and health.

    Health (state, entries, failures, last success, next fetch, last problem) comes from the
    database; before the first run there is none, and every source shows as new."""
    from aggregator.health import health
    from aggregator.store import Store

    config = _config(ctx)
    now = datetime.now(UTC)
    rows: dict[str, tuple[FeedHealth, dict[str, Any]]] = {}
    database = config.settings.database
    exists = Path(database).exists()  # never created just to be listed
    with errors_as_messages(ctx):
        if exists:
            store = Store.open(database)
            try:
                store.sync_sources(config.sources, now)
                rows = {row["url"]: (health(row), row) for row in store.feed_health()}
            finally:
                store.close()
    listed: list[tuple[Source, FeedHealth, dict[str, Any]]] = []
    for source in config.sources:
        state, row = rows.get(source.url) or (_never_fetched(source), {})
        listed.append((source, state, row))
    if as_json:
        for source, state, row in listed:
            record = {
                "url": source.url,
                "name": source.name,
                "kind": source.kind,
                "region": source.region,
                "topic": source.topic,
                "interval": source.interval.total_seconds() if source.interval else None,
                "selector": source.selector,
                "state": state.state,
                "entries": state.entries,
                "failures": state.failures,
                "last_success": state.last_success.isoformat() if state.last_success else None,
                "last_error": row.get("last_error"),
                "last_error_at": row.get("last_error_at"),
                "next_fetch": state.next_fetch.isoformat() if state.next_fetch else None,
                "problem": state.problem,
            }
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    _sources_table(listed, now)
    kinds = ", ".join(
        f"{sum(s.kind == kind for s in config.sources)} {kind}"
        for kind in sorted({s.kind for s in config.sources})
    )
    click.echo(f"{len(config.sources)} sources" + (f" ({kinds})" if kinds else ""))
    if not exists:
        click.echo(f"no database yet ({database}): health shows after the first run")


def _never_fetched(source: Source) -> FeedHealth:
    from aggregator.health import NEW, FeedHealth

    return FeedHealth(
        url=source.url,
        name=source.name,
        state=NEW,
        entries=0,
        failures=0,
        last_success=None,
        next_fetch=None,
        problem=None,
    )


def _sources_table(
    listed: Sequence[tuple[Source, FeedHealth, dict[str, Any]]], now: datetime
) -> None:
    from aggregator.health import ago

    rows = [
        (
            source.name[:28],
            source.kind,
            source.region or "-",
            source.topic or "-",
            f.state,
            f"{f.entries:,}",
            str(f.failures) if f.failures else "",
            ago(f.last_success, now),
            ago(f.next_fetch, now) if f.state != "disabled" else "-",
            (f.problem or "")[:60],
        )
        for source, f, _row in listed
    ]
    head = (
        "source",
        "kind",
        "region",
        "topic",
        "state",
        "entries",
        "fails",
        "last success",
        "next fetch",
        "last problem",
    )
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for n, r in enumerate([head, *rows]):
        line = "  ".join(
            c.rjust(w) if i in (5, 6) else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        style = {"failing": "yellow", "disabled": "red"}.get(r[4]) if n else None
        click.secho(line.rstrip(), fg=style, bold=n == 0)


@feeds.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def feeds_import(ctx: click.Context, file: Path) -> None:
    """Add the feeds of an OPML file to feeds.yaml.

    Every outline with an xmlUrl becomes a source; enclosing folders named after a region
    (Europe, Middle East, ...) or a topic (politics, economy, ...) give its hints, other
    folder names are ignored. Sources already in feeds.yaml are skipped. The file keeps its
    comments and order, and is only written when the result is valid."""
    from aggregator.errors import ConfigError
    from aggregator.feedsfile import add_sources, partition
    from aggregator.opml import read_opml

    config = _config(ctx)
    path = _config_path(ctx)
    with errors_as_messages(ctx):
        try:
            data = file.read_bytes()
        except OSError as e:
            raise ConfigError(f"{file}: cannot read: {e.strerror or e}") from e
        found = read_opml(data, file=str(file), taxonomy=config.taxonomy)
        new, skipped = partition(config.sources, found)
        if new:
            add_sources(path, new)
    for source, why in skipped:
        click.echo(f"skipped {source.url}: {why}")
    click.echo(f"{file}: {len(new)} added to {path}, {len(skipped)} skipped")


@feeds.command("export")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
@click.pass_context
def feeds_export(ctx: click.Context, output: Path | None) -> None:
    """Write the sources as OPML 2.0, in folders by region, then topic.

    Every field (kind, hints, interval, selector) is kept in aggregator* attributes, so
    `aggregator feeds import` reads the file back without loss."""
    from aggregator.feedsfile import write_atomic
    from aggregator.opml import write_opml

    config = _config(ctx)
    text = write_opml(config.sources)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        write_atomic(output, text.encode("utf-8"))
    except OSError as e:
        raise click.ClickException(f"{output}: cannot write: {e.strerror or e}") from e
    click.echo(f"{output}: {len(config.sources)} sources", err=True)


@feeds.command("add")
@click.argument("url")
@click.option("--name", help="Outlet name (default: the feed's title, else the host name).")
@click.option("--region", help="Region hint, such as Europe or 'Middle East'.")
@click.option("--topic", help="Topic hint, such as politics or economy.")
@click.option(
    "--pick",
    type=click.IntRange(min=1),
    help="When the page links to several feeds: the number of the one to add.",
)
@click.option(
    "--kind",
    type=click.Choice(["feed", "html"]),
    help="Add the URL as this kind without fetching it (html: a page of headline links).",
)
@click.option("--selector", help="With --kind html: CSS selector of the list of links.")
@click.pass_context
def feeds_add(
    ctx: click.Context,
    url: str,
    name: str | None,
    region: str | None,
    topic: str | None,
    pick: int | None,
    kind: str | None,
    selector: str | None,
) -> None:
    """Add a source to feeds.yaml, finding the feed when URL is a web page.

    URL is fetched: a feed (RSS, Atom, JSON Feed) is added as it is; an HTML page's
    advertised feeds (<link rel="alternate">) are listed, and the only one, or the one
    chosen with --pick (or at the prompt on a terminal), is added. The file keeps its
    comments and order."""
    from aggregator.config import check_selector, check_url
    from aggregator.feedsfile import add_sources, default_name
    from aggregator.models import Source

    config = _config(ctx)
    path = _config_path(ctx)
    if selector is not None and kind != "html":
        raise click.UsageError("--selector needs --kind html")
    with errors_as_messages(ctx):
        url = check_url(url, "URL")
        _refuse_duplicate(config, url, path)
        hints = (
            _hint(region, config.taxonomy.regions, "--region"),
            _hint(topic, config.taxonomy.topics, "--topic"),
        )
        if name is not None and not name.strip():
            raise click.BadParameter("must not be empty", param_hint="--name")
        title = None
        if kind is None:
            url, title = _find_feed(config, url, pick)
            _refuse_duplicate(config, url, path)
        source = Source(
            url=url,
            name=(name or title or default_name(url)).strip(),
            kind=kind or "feed",
            region=hints[0],
            topic=hints[1],
            selector=check_selector(selector.strip(), "--selector") if selector else None,
        )
        add_sources(path, [source])
    click.echo(f"added {source.name} ({source.url}) to {path}")


def _hint(value: str | None, names: Sequence[str], option: str) -> str | None:
    from aggregator.opml import match_name

    if value is None:
        return None
    found = match_name(value, names)
    if found is None:
        raise click.BadParameter(f"expected one of {', '.join(names)}", param_hint=option)
    return found


def _refuse_duplicate(config: Config, url: str, path: Path) -> None:
    from aggregator.feedsfile import url_key

    for source in config.sources:
        if url_key(source.url) == url_key(url):
            raise click.ClickException(f"{path}: already has {url} (as {source.name!r})")


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _find_feed(config: Config, url: str, pick: int | None) -> tuple[str, str | None]:
    """The feed to add for ``url`` and its title: ``url`` itself when it is a feed, else
    the feed its page advertises (the only one, or the one picked)."""
    from aggregator.discover import FEED, HTML, discover, sniff

    result = _fetch(config, url)
    body = result.body or b""
    found = sniff(body, result.headers.get("content-type"))
    if found == FEED:
        return result.permanent_redirect or url, _feed_title(url, body, result.headers)
    if found != HTML:
        kind = result.headers.get("content-type") or "no Content-Type"
        raise click.ClickException(f"{url}: neither a feed nor an HTML page ({kind})")
    candidates = discover(result.final_url or url, body)
    if not candidates:
        raise click.ClickException(
            f"{url}: the page advertises no feed; to follow its headline links, "
            "add it with --kind html"
        )
    if len(candidates) > 1 or (pick or 1) > 1:
        for n, c in enumerate(candidates, 1):
            click.echo(f"{n}. {c.title or '(untitled)'} [{c.type}] {c.url}")
    if pick is not None:
        if pick > len(candidates):
            raise click.BadParameter(
                f"the page lists {len(candidates)} feed(s); pick 1 to {len(candidates)}",
                param_hint="--pick",
            )
        chosen = candidates[pick - 1]
    elif len(candidates) == 1:
        chosen = candidates[0]
    elif _interactive():
        chosen = candidates[
            click.prompt("Add which feed", type=click.IntRange(1, len(candidates))) - 1
        ]
    else:
        raise click.ClickException(
            f"{url}: the page lists {len(candidates)} feeds; choose one with --pick N"
        )
    feed = _fetch(config, chosen.url)
    if sniff(feed.body or b"", feed.headers.get("content-type")) != FEED:
        raise click.ClickException(
            f"{chosen.url}: the page links to it as a feed, but it is not one"
        )
    title = _feed_title(chosen.url, feed.body or b"", feed.headers)
    return feed.permanent_redirect or chosen.url, title


def _fetch(config: Config, url: str) -> FetchResult:
    """One GET through the pipeline's fetcher (limits, User-Agent, redirects)."""
    from aggregator.errors import FetchError
    from aggregator.fetch import Fetcher
    from aggregator.models import FeedState

    s = config.settings
    fetcher = Fetcher(
        user_agent=s.user_agent,
        timeout=s.timeout,
        connect_timeout=s.connect_timeout,
        max_body_bytes=s.max_body_bytes,
    )
    # stream() runs the request on an event loop in its own thread: with fetch_all's
    # asyncio.run on this thread, coverage stopped recording this frame's lines after an
    # httpx request (seen on CPython 3.11 with coverage 7.17)
    [result] = fetcher.stream([FeedState(url)])
    if result.error:
        raise FetchError(url, result.error)
    return result


def _feed_title(url: str, body: bytes, headers: Mapping[str, str]) -> str | None:
    from aggregator.errors import ParseError
    from aggregator.parse import parse_feed

    try:
        title = parse_feed(url, body, headers).title
    except ParseError:
        return None
    return " ".join((title or "").split()) or None


@cli.command()
@click.pass_context
def render(ctx: click.Context) -> None:
    """Write the HTML digest from the database, without fetching."""
    from aggregator.render import render_site
    from aggregator.store import Store

    config = _config(ctx)
    with errors_as_messages(ctx):
        store = Store.open(config.settings.database)
        try:
            written = render_site(store, config, datetime.now(UTC))
        finally:
            store.close()
    index = Path(config.settings.output_dir) / "index.html"
    click.echo(f"{index} ({'written' if written else 'unchanged'})")


@cli.command()
@click.option("--since", help="Only entries published at or after this ISO date.")
@click.pass_context
def recluster(ctx: click.Context, since: str | None) -> None:
    """Rebuild stories from stored entries with the current settings."""
    from aggregator.pipeline import recluster as do_recluster

    config = _config(ctx)
    start = _parse_date(since)
    show = sys.stderr.isatty() and not ctx.find_root().obj["quiet"]
    with errors_as_messages(ctx):
        if show:
            with click.progressbar(length=1, label="Clustering", file=sys.stderr) as bar:
                state = {"done": 0}

                def progress(done: int, total: int) -> None:
                    bar.length = total
                    bar.update(done - state["done"])
                    state["done"] = done

                n, stories = do_recluster(config, since=start, progress=progress)
        else:
            n, stories = do_recluster(config, since=start)
    click.echo(f"{n} entries clustered into {stories} stories")


def _read_items(stream: Any, name: str) -> tuple[list[ClusterItem], list[Any]]:
    """JSON lines -> cluster items (ids are line order) and the callers' ids."""
    items: list[ClusterItem] = []
    ids: list[Any] = []
    seen: set[str] = set()
    fallback = datetime(1970, 1, 1, tzinfo=UTC)
    for where, record in _json_lines(stream, name):
        key = json.dumps(record["id"], sort_keys=True)
        if key in seen:
            raise click.ClickException(f"{where}: duplicate id {record['id']!r}")
        seen.add(key)
        published = record.get("published")
        try:
            when = _parse_when(published) if published is not None else fallback
        except ValueError as e:
            raise click.ClickException(f"{where}: published: {e}") from e
        items.append(
            ClusterItem(
                id=len(items),
                title=record["title"],
                published=when,
                source=str(record.get("source") or ""),
                summary=record.get("summary") if isinstance(record.get("summary"), str) else None,
                url=canonical_url(record["url"]) if isinstance(record.get("url"), str) else None,
            )
        )
        ids.append(record["id"])
    return items, ids


def _parse_when(value: Any) -> datetime:
    """ISO 8601 text, RFC 822 text, or seconds since the epoch; naive means UTC."""
    if isinstance(value, bool):
        raise ValueError(f"not a date: {value!r}")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            try:
                dt = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                raise ValueError(f"not an ISO 8601 or RFC 822 date: {value!r}") from None
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    raise ValueError(f"not a date: {value!r}")


def _settings_or_defaults(ctx: click.Context) -> Config:
    """feeds.yaml when there is one (so the command clusters like the pipeline), else the
    defaults."""
    path: Path = ctx.find_root().obj["config_path"]
    if path.exists() or ctx.find_root().get_parameter_source("config_path") not in (
        click.core.ParameterSource.DEFAULT,
        None,
    ):
        return _config(ctx)
    return Config()


@cli.command()
@click.argument("file", type=click.File("r", encoding="utf-8"), default="-")
@click.pass_context
def dedupe(ctx: click.Context, file: Any) -> None:
    """Group headlines into stories: JSON lines in, JSON lines out.

    Reads FILE (or standard input) with one object per line: "id", "title", and optionally
    "published" (ISO 8601, RFC 822 or epoch seconds), "source", "url", "summary". Writes
    {"id": ..., "story": ...} per input line, in input order, where "story" is the id of the
    first report of that story. Uses the same algorithm and settings as the pipeline
    (feeds.yaml's cluster_threshold and cluster_window when there is one).
    """
    settings = _settings_or_defaults(ctx).settings
    items, ids = _read_items(file, getattr(file, "name", "-"))
    from aggregator.pipeline import make_clusterer

    with errors_as_messages(ctx):
        clusterer = make_clusterer(Config(settings=settings))
    story = {a.item_id: a.story_id for a in clusterer.add_all(items)}
    for item in items:
        click.echo(json.dumps({"id": ids[item.id], "story": ids[story[item.id]]}))


def _json_lines(stream: Any, name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, object) for each non-empty line; a bad line is a one-line error."""
    for n, line in enumerate(stream, 1):
        if not line.strip():
            continue
        where = f"{name}:{n}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise click.ClickException(f"{where}: invalid JSON: {e.msg}") from e
        if not isinstance(record, dict):
            raise click.ClickException(f"{where}: expected a JSON object")
        if "id" not in record or not isinstance(record.get("title"), str):
            raise click.ClickException(f"{where}: each line needs an 'id' and a string 'title'")
        yield where, record


@cli.command()
@click.argument("file", type=click.File("r", encoding="utf-8"), default="-")
@click.pass_context
def classify(ctx: click.Context, file: Any) -> None:
    """Label headlines with region and topic: JSON lines in, JSON lines out.

    Reads FILE (or standard input) with one object per line: "id", "title", and optionally
    "summary", "url", "categories" (a list of the feed's categories) and "source" (a source
    name from feeds.yaml, whose region/topic hints then apply). Writes {"id", "region",
    "countries", "topic", "topics"} per line, in input order, with the pipeline's classifier.
    """
    from aggregator.classify import Classifier

    config = _settings_or_defaults(ctx)
    hints = {s.name: (s.region, s.topic) for s in config.sources}
    classifier = Classifier.for_taxonomy(config.taxonomy)
    for where, record in _json_lines(file, getattr(file, "name", "-")):
        categories = record.get("categories") or []
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise click.ClickException(f"{where}: 'categories' must be a list of strings")
        region_hint, topic_hint = hints.get(str(record.get("source") or ""), (None, None))
        labels = classifier.classify(
            record["title"],
            summary=record["summary"] if isinstance(record.get("summary"), str) else None,
            url=record["url"] if isinstance(record.get("url"), str) else None,
            categories=categories,
            region_hint=region_hint,
            topic_hint=topic_hint,
        )
        click.echo(
            json.dumps(
                {
                    "id": record["id"],
                    "region": labels.region,
                    "countries": list(labels.countries),
                    "topic": labels.topic,
                    "topics": list(labels.topics),
                },
                ensure_ascii=False,
            )
        )


@cli.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default="demo",
    show_default=True,
    help="Folder for the demo database and digest.",
)
@click.pass_context
def demo(ctx: click.Context, out: Path) -> None:
    """Serve the bundled sample feeds on 127.0.0.1 and run one full pass over them."""
    from aggregator.demo import demo_config, reset, serve_sample
    from aggregator.pipeline import run_pass

    with errors_as_messages(ctx):
        out.mkdir(parents=True, exist_ok=True)
        reset(out)
        with serve_sample() as (base_url, feeds):
            config = demo_config(base_url, feeds, out)
            report = run_pass(config, all_feeds=True)
    if not ctx.find_root().obj["quiet"]:
        _summary(report, click.echo)
    click.echo(f"digest:   {(out / 'index.html').resolve()}")
    click.echo(f"database: {(out / 'aggregator.db').resolve()}")


@cli.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8001,
    show_default=True,
    help="Port (0: any free one).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; any other than loopback must be given here, explicitly.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the archive in a web browser.")
@click.pass_context
def browse(ctx: click.Context, port: int, host: str, open_browser: bool) -> None:
    """Browse the database in Datasette, on 127.0.0.1 by default.

    Serves the configured database read-only, with facets, full-text search, views and
    canned queries (safe while `aggregator run` writes). Needs the extra:
    pip install 'aggregator[browse]'."""
    try:
        from aggregator import browse as browsing
    except ImportError as e:
        if (e.name or "").partition(".")[0] not in ("datasette", "uvicorn"):
            raise
        raise click.ClickException(
            "aggregator browse needs Datasette, which is not installed: "
            "pip install 'aggregator[browse]'"
        ) from None
    import socket
    import webbrowser

    from aggregator.store import Store

    config = _config(ctx)
    database = Path(config.settings.database)
    if not database.exists():
        raise click.ClickException(
            f"{database}: no database yet; run `aggregator run --once` first"
        )
    if not browsing.is_loopback(host) and (
        ctx.get_parameter_source("host") is not click.core.ParameterSource.COMMANDLINE
    ):
        raise click.ClickException(f"--host {host}: not a loopback address; give it with --host")
    with errors_as_messages(ctx):
        Store.open(database).close()  # brings the schema up to date, like every command
        ds = browsing.build_datasette(database)
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((host, port), family=family)
    except OSError as e:
        browsing.close_datasette(ds)
        raise click.ClickException(f"cannot listen on {host} port {port}: {e}") from e
    url = browsing.url_for(host, sock.getsockname()[1])
    obj = ctx.find_root().obj
    if not browsing.is_loopback(host):
        click.secho(
            f"warning: listening on {host}: anyone who can reach it can read the archive "
            "and run SQL on it",
            fg="yellow",
            err=True,
        )
    click.echo(f"Serving {database} at {url} (Ctrl-C to stop)")
    level = "error" if obj["quiet"] else ("warning", "info", "debug")[min(obj["verbose"], 2)]
    server = browsing.make_server(ds, log_level=level)
    if open_browser:
        webbrowser.open(url)  # the socket already listens: the request waits for the server
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn has shut down cleanly, then passes Ctrl-C on
        pass
    finally:
        sock.close()
        browsing.close_datasette(ds)
