"""Fetcher: requests, validators, limits and failures as values.

Most tests fake the network at the transport (httpx.MockTransport); the last few use the real
loopback ``feed_server`` for what only a socket shows (deadlines, concurrency).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import FeedServer

from aggregator.fetch import (
    ACCEPT,
    MAX_REDIRECTS,
    Fetcher,
    conditional_headers,
    fresh_until,
    http_date,
    retry_after,
)
from aggregator.models import FeedState, FetchResult

UA = "aggregator-tests/1.0 (+https://example.invalid/)"
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
LAST_MODIFIED = "Wed, 14 Jan 2026 10:00:00 GMT"

Handler = Callable[[httpx.Request], Any]


def make_fetcher(now: datetime, handler: Handler | None = None, **kw: Any) -> Fetcher:
    transport = httpx.MockTransport(handler) if handler is not None else None
    return Fetcher(user_agent=UA, transport=transport, now=lambda: now, **kw)


def fetch_one(now: datetime, handler: Handler, state: FeedState, **kw: Any) -> FetchResult:
    results = make_fetcher(now, handler, **kw).fetch_all([state])
    assert len(results) == 1
    return results[0]


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=RSS, headers={"Content-Type": "application/rss+xml"})


# -- requests -------------------------------------------------------------------------------


def test_sends_user_agent_and_accept_and_no_validators_on_first_fetch(now: datetime) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok(request)

    fetch_one(now, handler, FeedState("https://feeds.example/world.xml"))
    (request,) = seen
    assert request.method == "GET"
    assert str(request.url) == "https://feeds.example/world.xml"
    assert request.headers["User-Agent"] == UA
    assert request.headers["Accept"] == ACCEPT
    assert "application/rss+xml" in ACCEPT
    assert "application/atom+xml" in ACCEPT
    assert "If-None-Match" not in request.headers
    assert "If-Modified-Since" not in request.headers


def test_sends_validators_from_feed_state(now: datetime) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok(request)

    state = FeedState("https://feeds.example/world.xml", etag='W/"v1"', last_modified=LAST_MODIFIED)
    fetch_one(now, handler, state)
    assert seen[0].headers["If-None-Match"] == 'W/"v1"'
    assert seen[0].headers["If-Modified-Since"] == LAST_MODIFIED


def test_conditional_headers() -> None:
    assert conditional_headers(FeedState("https://x.example/")) == {}
    assert conditional_headers(FeedState("https://x.example/", etag='"e"')) == {
        "If-None-Match": '"e"'
    }
    assert conditional_headers(FeedState("https://x.example/", last_modified=LAST_MODIFIED)) == {
        "If-Modified-Since": LAST_MODIFIED
    }


# -- outcomes -------------------------------------------------------------------------------


def test_success_returns_body_headers_and_validators(now: datetime) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            content=RSS,
            headers={
                "Content-Type": "application/rss+xml; charset=utf-8",
                "ETag": '"v2"',
                "Last-Modified": LAST_MODIFIED,
            },
        )

    result = fetch_one(now, handler, FeedState("https://feeds.example/world.xml", etag='"v1"'))
    assert result.ok
    assert not result.not_modified
    assert result.status == 200
    assert result.body == RSS
    assert result.url == "https://feeds.example/world.xml"
    assert result.final_url == "https://feeds.example/world.xml"
    assert result.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert all(k == k.lower() for k in result.headers)
    assert (result.etag, result.last_modified) == ('"v2"', LAST_MODIFIED)
    assert result.fetched_at == now
    assert result.elapsed >= 0
    assert (result.error, result.error_kind) == (None, None)


def test_304_is_not_modified_and_keeps_validators(now: datetime) -> None:
    state = FeedState("https://feeds.example/world.xml", etag='"v1"', last_modified=LAST_MODIFIED)
    result = fetch_one(now, lambda request: httpx.Response(304), state)
    assert result.not_modified
    assert result.ok
    assert result.status == 304
    assert result.body is None
    assert (result.etag, result.last_modified) == ('"v1"', LAST_MODIFIED)


def test_304_with_a_new_etag_updates_it(now: datetime) -> None:
    state = FeedState("https://feeds.example/world.xml", etag='"v1"', last_modified=LAST_MODIFIED)
    result = fetch_one(now, lambda request: httpx.Response(304, headers={"ETag": '"v2"'}), state)
    assert result.not_modified
    assert (result.etag, result.last_modified) == ('"v2"', LAST_MODIFIED)


@pytest.mark.parametrize(
    ("status", "message"),
    [(500, "HTTP 500 Internal Server Error"), (404, "HTTP 404 Not Found"), (410, "HTTP 410 Gone")],
)
def test_error_status_is_an_http_error_value(now: datetime, status: int, message: str) -> None:
    state = FeedState("https://feeds.example/world.xml", etag='"v1"')
    result = fetch_one(now, lambda request: httpx.Response(status, content=b"oops"), state)
    assert not result.ok
    assert not result.not_modified
    assert result.error_kind == "http"
    assert result.status == status
    assert result.error == message
    assert result.body is None
    assert result.etag == '"v1"'  # validators survive a failure
    assert result.fetched_at == now


def test_declared_oversized_body_is_too_large(now: datetime) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        # Declares 5000 bytes: refused before reading, whatever actually follows.
        return httpx.Response(200, headers={"Content-Length": "5000"}, content=b"<rss/>")

    result = fetch_one(now, handler, FeedState("https://feeds.example/big"), max_body_bytes=1000)
    assert result.error_kind == "too_large"
    assert result.status == 200
    assert result.error == "body of 5,000 bytes is over the 1,000 byte cap"
    assert result.body is None


def test_streamed_oversized_body_is_too_large_and_reading_stops(now: datetime) -> None:
    produced: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(50):
            produced.append(i)
            yield b"x" * 200

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())  # chunked: no Content-Length

    result = fetch_one(now, handler, FeedState("https://feeds.example/big"), max_body_bytes=1000)
    assert result.error_kind == "too_large"
    assert result.error == "body is over the 1,000 byte cap"
    assert len(produced) <= 6  # gave up as soon as the cap was passed


def test_body_exactly_at_the_cap_is_accepted(now: datetime) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * 200

    result = fetch_one(
        now,
        lambda request: httpx.Response(200, content=chunks()),
        FeedState("https://feeds.example/exact"),
        max_body_bytes=1000,
    )
    assert result.ok
    assert result.body == b"x" * 1000


def test_cap_applies_to_the_decompressed_body(now: datetime) -> None:
    bomb = gzip.compress(b"\0" * 200_000)
    assert len(bomb) < 1000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=bomb)

    result = fetch_one(now, handler, FeedState("https://feeds.example/bomb"), max_body_bytes=10_000)
    assert result.error_kind == "too_large"


def test_gzip_body_is_decompressed(now: datetime) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=gzip.compress(RSS))

    result = fetch_one(now, handler, FeedState("https://feeds.example/gz"))
    assert result.body == RSS


def test_broken_gzip_is_a_transport_error(now: datetime) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=b"not gzip")

    result = fetch_one(now, handler, FeedState("https://feeds.example/gz"))
    assert result.error_kind == "transport"
    assert result.error is not None
    assert result.error.startswith("bad content encoding")


@pytest.mark.parametrize(
    ("exc", "fragment"),
    [
        (httpx.ConnectError, "ConnectError"),
        (httpx.ReadError, "ReadError"),
        (httpx.ConnectTimeout, "timed out"),
        (httpx.ReadTimeout, "timed out"),
    ],
)
def test_transport_failure_is_a_transport_error_value(
    now: datetime, exc: type[httpx.TransportError], fragment: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("boom", request=request)

    state = FeedState("https://down.example/feed", etag='"v1"')
    result = fetch_one(now, handler, state)
    assert result.error_kind == "transport"
    assert result.status is None
    assert result.error is not None
    assert fragment in result.error
    assert result.etag == '"v1"'


def test_results_come_back_in_input_order(now: datetime) -> None:
    urls = [f"https://host{i}.example/feed" for i in range(6)]

    async def handler(request: httpx.Request) -> httpx.Response:
        index = urls.index(str(request.url))
        await asyncio.sleep(0.01 * (len(urls) - index))  # the last finishes first
        if index == 2:
            return httpx.Response(503)
        return httpx.Response(200, content=f"feed {index}".encode())

    results = make_fetcher(now, handler).fetch_all([FeedState(u) for u in urls])
    assert [r.url for r in results] == urls
    assert [r.status for r in results] == [200, 200, 503, 200, 200, 200]
    assert [r.body for r in results] == [f"feed {i}".encode() if i != 2 else None for i in range(6)]


def test_no_feeds_no_requests(now: datetime) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    assert make_fetcher(now, handler).fetch_all([]) == []


def test_redirect_chain_is_followed_and_final_url_recorded(now: datetime) -> None:
    hops = {
        "https://old.example/feed": (301, "https://new.example/feed"),
        "https://new.example/feed": (302, "/feeds/world.xml"),
        "https://new.example/feeds/world.xml": (307, "https://cdn.example/world.xml"),
    }
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        hop = hops.get(str(request.url))
        if hop:
            return httpx.Response(hop[0], headers={"Location": hop[1]})
        return httpx.Response(200, content=RSS)

    result = fetch_one(now, handler, FeedState("https://old.example/feed"))
    assert result.ok
    assert result.status == 200
    assert result.url == "https://old.example/feed"
    assert result.final_url == "https://cdn.example/world.xml"
    assert result.body == RSS
    assert seen == [*hops, "https://cdn.example/world.xml"]


def test_redirect_loop_is_an_error(now: datetime) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        other = "/b" if request.url.path == "/a" else "/a"
        return httpx.Response(302, headers={"Location": other})

    result = fetch_one(now, handler, FeedState("https://loop.example/a"))
    assert not result.ok
    assert result.error_kind == "transport"
    assert result.error == "redirect loop at https://loop.example/a"


def test_redirect_to_another_scheme_is_refused(now: datetime) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(301, headers={"Location": "file:///etc/passwd"})

    result = fetch_one(now, handler, FeedState("https://odd.example/feed"))
    assert result.error == "redirect to a non-http(s) URL: file:///etc/passwd"


@pytest.mark.parametrize(
    ("statuses", "moved"),
    [
        ((301,), "https://new.example/feed.xml"),
        ((308, 301), "https://new.example/feed.xml"),
        ((301, 302), None),  # one temporary hop: the feed has not moved for good
        ((307,), None),
        ((), None),
    ],
)
def test_permanent_redirects_are_reported(
    now: datetime, statuses: tuple[int, ...], moved: str | None
) -> None:
    hops = [f"https://old.example/{i}" for i in range(len(statuses))]

    def handler(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url in hops:
            i = hops.index(url)
            target = hops[i + 1] if i + 1 < len(hops) else "https://new.example/feed.xml"
            return httpx.Response(statuses[i], headers={"Location": target})
        return httpx.Response(200, content=RSS)

    start = hops[0] if hops else "https://new.example/feed.xml"
    result = fetch_one(now, handler, FeedState("https://config.example/feed", fetch_url=start))
    assert result.ok
    assert result.url == "https://config.example/feed"  # always the configured URL
    assert result.requested_url == start
    assert result.permanent_redirect == moved


@pytest.mark.parametrize(
    ("status", "header", "expected"),
    [
        (429, "120", timedelta(seconds=120)),
        (503, "Sun, 29 Nov 2026 14:00:00 GMT", None),  # an HTTP date: checked below
        (429, "soon", None),
        (500, "120", None),  # only 429 and 503 carry a Retry-After we honour
    ],
)
def test_retry_after_is_read_on_429_and_503(
    now: datetime, status: int, header: str, expected: timedelta | None
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"Retry-After": header})

    result = fetch_one(now, handler, FeedState("https://busy.example/feed"))
    assert result.error_kind == "http"
    if header.startswith("Sun"):
        assert result.retry_after == datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
    elif expected is None:
        assert result.retry_after is None
    else:
        assert result.retry_after == now + expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Cache-Control": "public, max-age=3600"}, timedelta(hours=1)),
        ({"Cache-Control": 'max-age="600"'}, timedelta(minutes=10)),
        ({"Cache-Control": "s-maxage=600"}, "none"),  # for shared caches, not for us
        ({"Cache-Control": "max-age=60", "Expires": "Thu, 01 Jan 2099 00:00:00 GMT"}, None),
        ({"Cache-Control": "no-cache, max-age=3600"}, "none"),
        ({"Expires": "0"}, "none"),
        ({}, "none"),
    ],
)
def test_freshness_hints(now: datetime, headers: dict[str, str], expected: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=RSS, headers=headers)

    result = fetch_one(now, handler, FeedState("https://cache.example/feed"))
    if expected == "none":
        assert result.fresh_until is None
    elif expected is None:  # max-age wins over Expires
        assert result.fresh_until == now + timedelta(seconds=60)
    else:
        assert result.fresh_until == now + expected


def test_http_date_and_retry_after_helpers(now: datetime) -> None:
    assert http_date("Wed, 21 Oct 2015 07:28:00 GMT") == datetime(2015, 10, 21, 7, 28, tzinfo=UTC)
    assert http_date("not a date") is None
    assert http_date(None) is None
    assert retry_after(" 30 ", now) == now + timedelta(seconds=30)
    assert retry_after("", now) is None
    assert fresh_until({"cache-control": "max-age=10"}, now) == now + timedelta(seconds=10)


@pytest.mark.parametrize(("hops", "succeeds"), [(MAX_REDIRECTS, True), (MAX_REDIRECTS + 1, False)])
def test_redirect_limit(now: datetime, hops: int, succeeds: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.path.strip("/"))
        if n < hops:
            return httpx.Response(301, headers={"Location": f"/{n + 1}"})
        return httpx.Response(200, content=RSS)

    result = fetch_one(now, handler, FeedState("https://hops.example/0"))
    assert result.ok is succeeds


# -- against the real loopback server -------------------------------------------------------


def test_conditional_get_against_a_real_server(now: datetime, feed_server: FeedServer) -> None:
    url = feed_server.add("/world.xml", RSS, etag='"v1"', last_modified=LAST_MODIFIED)
    fetcher = make_fetcher(now)
    (first,) = fetcher.fetch_all([FeedState(url)])
    assert (first.status, first.body, first.etag) == (200, RSS, '"v1"')
    assert first.last_modified == LAST_MODIFIED
    (second,) = fetcher.fetch_all([FeedState(url, first.etag, first.last_modified)])
    assert second.not_modified
    assert second.etag == '"v1"'
    assert [r.header("If-None-Match") for r in feed_server.requests] == [None, '"v1"']
    assert feed_server.requests[0].header("User-Agent") == UA


def test_slow_drip_ends_at_the_total_deadline(now: datetime, feed_server: FeedServer) -> None:
    # 40 chunks, one every 0.1 s: each read is quick, the whole body takes 4 s.
    url = feed_server.add("/slow.xml", b"x" * 400, chunk_size=10, drip=0.1)
    fetcher = make_fetcher(now, timeout=1.0, connect_timeout=1.0)
    started = time.monotonic()
    (result,) = fetcher.fetch_all([FeedState(url)])
    took = time.monotonic() - started
    assert result.error_kind == "transport"
    assert result.error == "no complete response within 1 s"
    assert 0.9 <= result.elapsed < 3
    assert took < 3


def test_a_server_that_never_answers_ends_at_the_deadline(
    now: datetime, feed_server: FeedServer
) -> None:
    url = feed_server.add("/silent.xml", RSS, delay=30)
    fetcher = make_fetcher(now, timeout=1.0, connect_timeout=1.0)
    (result,) = fetcher.fetch_all([FeedState(url)])
    assert result.error_kind == "transport"
    assert result.error in ("no complete response within 1 s", "timed out (ReadTimeout)")
    assert result.elapsed < 3


def test_connect_timeout(now: datetime) -> None:
    """A listener whose accept queue is full: the handshake never completes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):  # fill the accept queue (never accepted)
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        fetcher = make_fetcher(now, timeout=5.0, connect_timeout=0.5)
        (result,) = fetcher.fetch_all([FeedState(f"http://127.0.0.1:{port}/feed.xml")])
    finally:
        for filler in fillers:
            filler.close()
        server.close()
    assert result.error_kind == "transport"
    assert result.error == "timed out (ConnectTimeout)"
    assert result.elapsed < 2


def test_per_host_limit_is_respected(now: datetime, feed_server: FeedServer) -> None:
    urls = [feed_server.add(f"/feed{i}.xml", RSS, delay=0.25) for i in range(6)]
    fetcher = make_fetcher(now, per_host=2, concurrency=16)
    started = time.monotonic()
    results = fetcher.fetch_all([FeedState(u) for u in urls])
    took = time.monotonic() - started
    assert [r.status for r in results] == [200] * 6
    assert len(feed_server.requests) == 6
    assert feed_server.max_active == 2  # <= 2, and the limit is actually reached
    assert took >= 0.7  # three rounds of two


def test_global_limit_is_respected(now: datetime, feed_server: FeedServer) -> None:
    urls = [feed_server.add(f"/g{i}.xml", RSS, delay=0.15) for i in range(4)]
    fetcher = make_fetcher(now, per_host=4, concurrency=1)
    results = fetcher.fetch_all([FeedState(u) for u in urls])
    assert all(r.status == 200 for r in results)
    assert feed_server.max_active == 1


def test_a_hosts_requests_take_its_pools_in_turn() -> None:
    from aggregator.fetch import _Clients

    pools: Any = [f"pool{i}" for i in range(8)]
    clients = _Clients(pools, per_host=2)
    picks = [clients.pick("a.example") for _ in range(6)]
    assert len(set(picks)) == 2  # at most per_host pools for one host
    assert picks[0] == picks[2] == picks[4]
    assert picks[1] == picks[3] == picks[5]
    assert clients.pick("b.example") in pools
