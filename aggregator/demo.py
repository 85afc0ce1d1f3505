"""``aggregator demo``: the bundled sample served on 127.0.0.1, and one full pass over it.

The sample (``aggregator/sample/``) is a set of feeds written for this project: ten outlets,
RSS 2.0 and Atom, with stories that several outlets report in different words, and an article
page whose "Explore" list of other stories is a source of kind html. The server
shifts every date in them so that the sample's ``reference_time`` becomes "now" (the digest
shows recent news), and answers conditional requests with 304 like a well-behaved server.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from aggregator.config import Config, Settings
from aggregator.htmlsource import parse_html_page
from aggregator.models import ClusterItem, Source
from aggregator.normalise import normalise_feed
from aggregator.parse import parse_feed

_RFC822 = re.compile(r"<(pubDate|lastBuildDate)>([^<]+)</\1>")
_ISO = re.compile(r"<(published|updated)>([^<]+)</\1>")


@dataclass(frozen=True)
class SampleFeed:
    path: str
    name: str
    content_type: str
    body: bytes
    region: str | None = None
    topic: str | None = None
    kind: str = "feed"

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body, usedforsecurity=False).hexdigest()[:16] + '"'


def sample_dir() -> Path:
    return Path(str(resources.files("aggregator").joinpath("sample")))


def shift_dates(text: str, delta: timedelta) -> str:
    """Move every RSS/Atom date in ``text`` by ``delta`` (written back as UTC)."""

    def rfc822(m: re.Match[str]) -> str:
        try:
            dt = email.utils.parsedate_to_datetime(m.group(2).strip())
        except (TypeError, ValueError):
            return m.group(0)
        shifted = email.utils.format_datetime((dt + delta).astimezone(UTC), usegmt=True)
        return f"<{m.group(1)}>{shifted}</{m.group(1)}>"

    def iso(m: re.Match[str]) -> str:
        try:
            dt = datetime.fromisoformat(m.group(2).strip().replace("Z", "+00:00"))
        except ValueError:
            return m.group(0)
        shifted = (dt + delta).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"<{m.group(1)}>{shifted}</{m.group(1)}>"

    return _ISO.sub(iso, _RFC822.sub(rfc822, text))


def load_sample(now: datetime | None = None) -> tuple[datetime, list[SampleFeed]]:
    """The sample feeds, with dates moved so the reference time is ``now`` (minute precision)."""
    root = sample_dir()
    meta: dict[str, Any] = yaml.safe_load((root / "sample.yaml").read_text("utf-8"))
    reference = datetime.fromisoformat(str(meta["reference_time"]).replace("Z", "+00:00"))
    now = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    delta = now - reference
    feeds = [
        SampleFeed(
            path=f"/feeds/{src['file']}",
            name=src["name"],
            content_type=src["content_type"],
            body=shift_dates((root / "feeds" / src["file"]).read_text("utf-8"), delta).encode(),
            region=src.get("region"),
            topic=src.get("topic"),
            kind=src.get("kind", "feed"),
        )
        for src in meta["sources"]
    ]
    return now, feeds


def _handler(feeds: dict[str, SampleFeed], last_modified: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "aggregator-demo"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            feed = feeds.get(self.path.split("?", 1)[0])
            if feed is None:
                self.send_error(404, "no such sample feed")
                return
            if self.headers.get("If-None-Match") == feed.etag or (
                self.headers.get("If-Modified-Since") == last_modified
                and "If-None-Match" not in self.headers
            ):
                self.send_response(304)
                self.send_header("ETag", feed.etag)
                self.send_header("Last-Modified", last_modified)
                self.end_headers()
                return
            body = feed.body
            gzipped = "gzip" in self.headers.get("Accept-Encoding", "")
            if gzipped:
                body = gzip.compress(body, mtime=0)
            self.send_response(200)
            self.send_header("Content-Type", f"{feed.content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", feed.etag)
            self.send_header("Last-Modified", last_modified)
            if gzipped:
                self.send_header("Content-Encoding", "gzip")
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def serve_sample(now: datetime | None = None) -> Iterator[tuple[str, list[SampleFeed]]]:
    """Serve the sample on 127.0.0.1 on a free port; yields (base URL, feeds)."""
    when, feeds = load_sample(now)
    last_modified = email.utils.format_datetime(when, usegmt=True)
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), _handler({f.path: f for f in feeds}, last_modified)
    )
    thread = threading.Thread(target=server.serve_forever, name="demo-server", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}", feeds
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def demo_config(base_url: str, feeds: list[SampleFeed], out: Path) -> Config:
    """A configuration for the served sample, writing into ``out``."""
    out = out.resolve()
    sources = tuple(
        Source(url=base_url + f.path, name=f.name, kind=f.kind, region=f.region, topic=f.topic)
        for f in feeds
    )
    settings = Settings(database=out / "aggregator.db", output_dir=out)
    return Config(settings=settings, sources=sources)


def reset(out: Path) -> None:
    """Remove a previous demo's database (its feed URLs had another port)."""
    for suffix in ("", "-wal", "-shm"):
        (out / f"aggregator.db{suffix}").unlink(missing_ok=True)


REFERENCE_TIME = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class GoldItem:
    """One sample entry with its gold story (``sample/expected.yaml``), for tests and
    ``bench/eval_sample.py``."""

    key: str  # "<file>#<guid or link>", as in expected.yaml
    outlet: str
    item: ClusterItem
    region_hint: str | None
    topic_hint: str | None
    categories: tuple[str, ...]
    story: str  # gold story label
    region: str  # gold region of the story
    topic: str  # gold topic of the story

    @property
    def summary(self) -> str | None:
        return self.item.summary

    @property
    def url(self) -> str | None:
        return self.item.url


def gold_sample() -> list[GoldItem]:
    """Every sample entry, parsed and normalised as the pipeline would, with its gold story."""
    gold: dict[str, Any] = yaml.safe_load((sample_dir() / "expected.yaml").read_text("utf-8"))
    story_of = {m: story for story in gold["stories"] for m in story["members"]}
    _, feeds = load_sample(REFERENCE_TIME)
    out: list[GoldItem] = []
    for feed in feeds:
        file = feed.path.rsplit("/", 1)[1]
        url = f"http://sample.invalid{feed.path}"
        if feed.kind == "html":
            parsed = parse_html_page(url, feed.body)
        else:
            parsed = parse_feed(url, feed.body)
        entries = normalise_feed(parsed, feed.name, REFERENCE_TIME)
        for raw, entry in zip(parsed.entries, entries, strict=True):
            key = f"{file}#{raw.guid or raw.link}"
            story = story_of[key]
            item = ClusterItem(
                id=len(out) + 1,
                title=entry.title,
                published=entry.published,
                source=feed.name,
                summary=entry.summary,
                url=entry.url,
            )
            out.append(
                GoldItem(
                    key=key,
                    outlet=feed.name,
                    item=item,
                    region_hint=feed.region,
                    topic_hint=feed.topic,
                    categories=tuple(entry.categories),
                    story=story["label"],
                    region=story["region"],
                    topic=story["topic"],
                )
            )
    if len(out) != len(story_of):
        raise ValueError("sample/expected.yaml and the sample feeds disagree")
    return out
