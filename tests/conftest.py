"""Shared fixtures: a fixed clock, the test data folder, an in-memory store, and a real loopback
HTTP server (``feed_server``) whose routes tests fill in.

Everything here is local: the server binds 127.0.0.1 on a free port and nothing reaches the
internet.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from aggregator.store import Store

DATA_DIR = Path(__file__).parent / "data"
FEEDS_DIR = DATA_DIR / "feeds"
NOW = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    """The fixed "current time" of every test: 2026-01-15T12:00:00Z (aware UTC)."""
    return NOW


@pytest.fixture
def data_dir() -> Path:
    """``tests/data``; the fixture feeds are in ``data_dir / "feeds"``."""
    return DATA_DIR


@pytest.fixture
def store() -> Iterator[Store]:
    """A migrated in-memory :class:`~aggregator.store.Store`, closed afterwards."""
    s = Store.memory()
    yield s
    s.close()


# -- feed_server ---------------------------------------------------------------------------


@dataclass
class Route:
    """What the server answers on one path.

    ``status``/``headers``/``body``: the response. ``Content-Length`` is added unless
    ``headers`` has one or ``send_length`` is false (then the body ends when the connection
    closes). ``etag``/``last_modified``: sent as ``ETag``/``Last-Modified``; a request whose
    ``If-None-Match`` matches ``etag`` (or, without ``If-None-Match``, whose
    ``If-Modified-Since`` is not older than ``last_modified``) gets a bodiless 304.
    ``delay``: seconds to wait before the status line. ``drip``: seconds to wait before each
    ``chunk_size`` slice of the body (a slow server).
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0
    drip: float = 0.0
    chunk_size: int = 64
    send_length: bool = True


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received: method, path (with query) and headers."""

    method: str
    path: str
    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        """A request header by case-insensitive name."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


RouteSpec = Route | Callable[[RecordedRequest], Route]


class FeedServer:
    """A real HTTP/1.0 server on 127.0.0.1, run in a daemon thread for one test.

    * ``routes``: a mutable dict ``path -> Route`` (or ``path -> callable(request) -> Route``
      for answers that change per request); the path includes any query string. Unknown
      paths get 404. Tests may change routes while the server runs.
    * ``requests``: every request received, in arrival order, as :class:`RecordedRequest`.
    * ``max_active``: the most requests that were being handled at the same time (a request
      counts from when its headers are read to when its response is written), for tests of
      concurrency limits. ``active`` is the current number.
    * ``errors``: exceptions raised while answering (e.g. by a route callable); the fixture
      fails the test at teardown if there are any.
    * ``url(path)``: the absolute URL of a path; ``base_url`` is ``http://127.0.0.1:PORT``.
    * ``add(path, ...)``: shortcut that sets ``routes[path] = Route(...)`` and returns the URL.

    Slow responses (``delay``/``drip``) stop early when the test ends, so teardown is quick.
    """

    def __init__(self) -> None:
        self.routes: dict[str, RouteSpec] = {}
        self.requests: list[RecordedRequest] = []
        self.active = 0
        self.max_active = 0
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.port: int = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="feed_server",
            daemon=True,
        )

    def url(self, path: str) -> str:
        return self.base_url + path

    def add(self, path: str, body: bytes = b"", **route: Any) -> str:
        self.routes[path] = Route(body=body, **route)
        return self.url(path)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _wait(self, seconds: float) -> bool:
        """Sleep ``seconds``; false if the server is stopping."""
        return seconds <= 0 or not self._stopping.wait(seconds)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._handle(self)

            def do_HEAD(self) -> None:
                server._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output clean

        return Handler

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        request = RecordedRequest(h.command, h.path, dict(h.headers.items()))
        with self._lock:
            self.requests.append(request)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            spec = self.routes.get(h.path)
            if spec is None:
                route = Route(status=404, body=b"not found")
            elif isinstance(spec, Route):
                route = spec
            else:
                route = spec(request)
            self._respond(h, request, route)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            pass  # the client gave up (a timeout test): nothing to answer
        except Exception as e:  # a bug in a route callable: fail the test at teardown
            self.errors.append(e)
        finally:
            with self._lock:
                self.active -= 1

    def _respond(self, h: BaseHTTPRequestHandler, request: RecordedRequest, route: Route) -> None:
        if not self._wait(route.delay):
            return
        validators: dict[str, str] = {}
        if route.etag is not None:
            validators["ETag"] = route.etag
        if route.last_modified is not None:
            validators["Last-Modified"] = route.last_modified
        if _not_modified(request, route):
            h.send_response(304)
            for name, value in validators.items():
                h.send_header(name, value)
            h.end_headers()
            return
        h.send_response(route.status)
        headers = validators | route.headers
        for name, value in headers.items():
            h.send_header(name, value)
        if route.send_length and not any(k.lower() == "content-length" for k in headers):
            h.send_header("Content-Length", str(len(route.body)))
        h.end_headers()
        if h.command == "HEAD":
            return
        if route.drip <= 0:
            h.wfile.write(route.body)
            return
        for start in range(0, len(route.body), max(1, route.chunk_size)):
            if not self._wait(route.drip):
                return
            h.wfile.write(route.body[start : start + route.chunk_size])
            h.wfile.flush()


def _not_modified(request: RecordedRequest, route: Route) -> bool:
    if_none_match = request.header("If-None-Match")
    if if_none_match is not None:
        if route.etag is None:
            return False
        wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in wanted or route.etag.removeprefix("W/") in wanted
    if_modified_since = request.header("If-Modified-Since")
    if if_modified_since is not None and route.last_modified is not None:
        try:
            since = email.utils.parsedate_to_datetime(if_modified_since)
            modified = email.utils.parsedate_to_datetime(route.last_modified)
        except (TypeError, ValueError):
            return False
        return modified <= since
    return False


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A started :class:`FeedServer` on 127.0.0.1 (port chosen by the OS), shut down after the
    test. Fill ``feed_server.routes`` (or call ``feed_server.add``) and fetch
    ``feed_server.url(path)``; inspect ``feed_server.requests`` and ``feed_server.max_active``.
    """
    server = FeedServer()
    server.start()
    try:
        yield server
    finally:
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 5, "feed_server took too long to stop"
        assert not server.errors, f"feed_server handler errors: {server.errors!r}"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite the golden files (tests/golden/) from the current output",
    )
