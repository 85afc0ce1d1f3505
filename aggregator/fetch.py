"""The only module that touches the network.

``fetch_all`` retrieves many feeds concurrently with httpx: a global limit and a per-host limit,
conditional requests (If-None-Match / If-Modified-Since from the stored validators), a total
deadline per feed, and a cap on the (decompressed) body size enforced while streaming: the
body is decompressed here, a bounded piece at a time, so a compression bomb never costs more
than the cap (httpx would inflate each 64 KiB read whole, a thousand times larger).
Redirects are followed here, hop by hop (at most five, http(s) only, loops refused), so the
result can say whether every hop was permanent (301/308). The server's hints come back as
times: Retry-After (429, 503) and Cache-Control max-age / Expires. Every outcome, failures
included, comes back as a :class:`~aggregator.models.FetchResult` value, so one bad feed
never stops the others. Nothing here parses feeds or decides when to fetch next.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import queue
import re
import socket
import threading
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import brotli
import httpx

from aggregator.errors import (
    BlockedTarget,
    FetchError,
    HTTPStatusError,
    ResponseTooLarge,
    TransportError,
)
from aggregator.models import FeedState, FetchResult

log = logging.getLogger(__name__)

# the encodings _Inflater reads, each a bounded piece at a time (httpx would also ask for zstd
# when its library is present, and decode it unbounded)
ACCEPT_ENCODING = "gzip, deflate, br"
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.8, text/html;q=0.5, */*;q=0.1"
)
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT = frozenset({301, 308})
# max-age only: s-maxage is for shared caches, and a feed reader is a private one
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,10})", re.I)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def http_date(value: str | None) -> datetime | None:
    """An HTTP date as an aware UTC datetime (None when absent or unreadable)."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def retry_after(value: str | None, now: datetime) -> datetime | None:
    """Retry-After as a time: delay-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=min(int(value), 10**8))
    return http_date(value)


def fresh_until(headers: Mapping[str, str], now: datetime) -> datetime | None:
    """How long the response may be reused: Cache-Control max-age wins over Expires; no-store
    and no-cache say nothing (the feed's own interval applies)."""
    control = headers.get("cache-control", "")
    if re.search(r"no-store|no-cache", control, re.I):
        return None
    if m := _MAX_AGE.search(control):
        return now + timedelta(seconds=min(int(m.group(1)), 10**8))
    return http_date(headers.get("expires"))


def conditional_headers(state: FeedState) -> dict[str, str]:
    """The cache validators to send for ``state`` (empty on a first fetch)."""
    headers: dict[str, str] = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


class Fetcher:
    """Fetch feeds with shared limits. Pass ``transport`` to fake the network in tests."""

    def __init__(
        self,
        *,
        user_agent: str,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        concurrency: int = 16,
        per_host: int = 2,
        max_body_bytes: int = 15 * 1024 * 1024,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], datetime] = _utcnow,
        allow_private: bool = False,
        resolve: Resolver | None = None,
    ) -> None:
        self.user_agent = user_agent
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.concurrency = concurrency
        self.per_host = per_host
        self.max_body_bytes = max_body_bytes
        self.transport = transport
        self.now = now
        self.allow_private = allow_private
        self.resolve = resolve or _resolve

    def fetch_all(self, states: Sequence[FeedState]) -> list[FetchResult]:
        """Fetch every feed in ``states``; results come back in the same order."""
        if not states:
            return []
        return asyncio.run(self._fetch_all(states))

    def stream(
        self, states: Sequence[FeedState], *, cancel: threading.Event | None = None
    ) -> Iterator[FetchResult]:
        """Fetch every feed in ``states``, yielding each result as soon as it is complete.

        The requests run on an event loop in a background thread, so the caller can parse
        and store one feed while the others are still downloading. Leaving the loop early
        cancels the outstanding requests, and so does setting ``cancel`` (from any thread):
        within about 0.1 s the stream ends after the results already complete, even while a
        slow download is still going."""
        if not states:
            return
        results: queue.Queue[FetchResult | BaseException | None] = queue.Queue()
        stop = threading.Event()

        async def main() -> None:
            clients = self._clients()
            try:
                tasks = self._tasks(clients, states, lambda _i, r: results.put(r))
                while not (
                    stop.is_set()
                    or (cancel is not None and cancel.is_set())
                    or all(t.done() for t in tasks)
                ):
                    await asyncio.wait(tasks, timeout=0.1)
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            finally:
                await clients.aclose()

        def run() -> None:
            try:
                asyncio.run(main())
            except BaseException as e:  # handed to the caller's thread
                results.put(e)
            finally:
                results.put(None)

        worker = threading.Thread(target=run, name="fetch", daemon=True)
        worker.start()
        try:
            while (item := results.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            worker.join()

    async def _fetch_all(self, states: Sequence[FeedState]) -> list[FetchResult]:
        out: list[FetchResult | None] = [None] * len(states)

        def done(i: int, result: FetchResult) -> None:
            out[i] = result

        clients = self._clients()
        try:
            await asyncio.gather(*self._tasks(clients, states, done))
        finally:
            await clients.aclose()
        return [r for r in out if r is not None]

    def _tasks(
        self,
        clients: _Clients,
        states: Sequence[FeedState],
        done: Callable[[int, FetchResult], None],
    ) -> list[asyncio.Task[None]]:
        """One task per feed under the global and per-host limits; each hands its result
        (with the feed's index) to ``done``."""
        glob = asyncio.Semaphore(self.concurrency)
        hosts: dict[str, asyncio.Semaphore] = {}

        async def one(i: int, state: FeedState) -> None:
            host = (urlsplit(state.target).hostname or "").lower()
            per_host = hosts.setdefault(host, asyncio.Semaphore(self.per_host))
            async with glob, per_host:
                done(i, await self._fetch_one(clients.pick(host), state))

        return [asyncio.create_task(one(i, s)) for i, s in enumerate(states)]

    def _clients(self) -> _Clients:
        # one client when the tests bring their own transport; else small pools
        count = 1 if self.transport is not None else min(self.concurrency, MAX_POOLS)
        verify = httpx.create_ssl_context()  # loaded once, shared by the pools
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.per_host
        )
        clients = [
            httpx.AsyncClient(
                headers={
                    "User-Agent": self.user_agent,
                    "Accept": ACCEPT,
                    "Accept-Encoding": ACCEPT_ENCODING,
                },
                timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout),
                limits=limits,
                follow_redirects=False,  # followed hop by hop in _request
                transport=self.transport,
                verify=verify,
            )
            for _ in range(count)
        ]
        return _Clients(clients, self.per_host)

    async def _fetch_one(self, client: httpx.AsyncClient, state: FeedState) -> FetchResult:
        started = time.monotonic()
        fetched_at = self.now()
        try:
            async with asyncio.timeout(self.timeout):
                result = await self._request(client, state, fetched_at)
        except TimeoutError:
            error: FetchError = TransportError(
                state.url, f"no complete response within {self.timeout:g} s"
            )
            result = self._failure(state, fetched_at, error)
        except FetchError as e:
            result = self._failure(state, fetched_at, e)
        elapsed = time.monotonic() - started
        result = replace(result, elapsed=elapsed, requested_url=state.target)
        log.debug("fetched %s: %s in %.2f s", state.url, result.status or result.error, elapsed)
        return result

    async def _request(
        self, client: httpx.AsyncClient, state: FeedState, fetched_at: datetime
    ) -> FetchResult:
        url = state.target
        seen = {url}
        permanent = True
        try:
            for _hop in range(MAX_REDIRECTS + 1):
                async with client.stream(
                    "GET", url, headers=conditional_headers(state)
                ) as response:
                    status = response.status_code
                    headers = {k.lower(): v for k, v in response.headers.items()}
                    location = headers.get("location")
                    if status in REDIRECTS and location:
                        await _drain(response)
                        permanent = permanent and status in PERMANENT
                        url = _next_hop(state.url, url, location, seen)
                        if not self.allow_private:
                            await self._check_target(state, url)
                        continue
                    moved = url if permanent and len(seen) > 1 else None
                    return await self._response(
                        state, response, status, headers, url, fetched_at, moved
                    )
        except httpx.TimeoutException as e:
            raise TransportError(state.url, f"timed out ({type(e).__name__})") from e
        except (httpx.DecodingError, zlib.error) as e:
            raise TransportError(state.url, f"bad content encoding: {e}") from e
        except httpx.HTTPError as e:
            raise TransportError(state.url, f"{type(e).__name__}: {e}") from e
        raise TransportError(state.url, f"more than {MAX_REDIRECTS} redirects")

    async def _check_target(self, state: FeedState, target: str) -> None:
        """Refuse a redirect from a public feed address to a private one (a feed must not
        make us read an intranet or a cloud metadata service). A feed configured at a
        private address is the user's choice, and so are its redirects."""
        if await self._private(urlsplit(state.target).hostname):
            return
        if await self._private(urlsplit(target).hostname):
            raise BlockedTarget(
                state.url,
                f"redirect to a private or local address refused: {target[:200]} "
                "(settings.allow_private_targets allows it)",
            )

    async def _private(self, host: str | None) -> bool:
        """Whether ``host`` is, or resolves to, a non-public address (any of them)."""
        if not host:
            return False
        try:
            ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
        except ValueError:
            pass  # a name, not an address
        else:
            return _non_public(host.strip("[]"))
        try:
            addresses = await self.resolve(host)
        except OSError:
            return False  # unresolvable: the request itself will fail with a clear error
        return any(_non_public(a) for a in addresses)

    async def _response(
        self,
        state: FeedState,
        response: httpx.Response,
        status: int,
        headers: dict[str, str],
        final_url: str,
        fetched_at: datetime,
        moved: str | None,
    ) -> FetchResult:
        """The final (non-redirect) response as a result; ``moved`` is the final URL when
        every redirect on the way was permanent."""
        if status == 304:
            await response.aread()  # (empty) read to the end, so the connection is reused
            return FetchResult(
                url=state.url,
                fetched_at=fetched_at,
                status=304,
                final_url=final_url,
                headers=headers,
                etag=headers.get("etag") or state.etag,
                last_modified=headers.get("last-modified") or state.last_modified,
                permanent_redirect=moved,
                fresh_until=fresh_until(headers, fetched_at),
            )
        if status >= 400:
            reason = response.reason_phrase or "error"
            raise HTTPStatusError(
                state.url,
                f"HTTP {status} {reason}",
                status=status,
                retry_after=retry_after(headers.get("retry-after"), fetched_at)
                if status in (429, 503)
                else None,
            )
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise ResponseTooLarge(
                state.url,
                f"body of {int(declared):,} bytes is over the {self.max_body_bytes:,} byte cap",
                status=status,
            )
        chunks: list[bytes] = []
        size = 0
        inflater = _Inflater(headers.get("content-encoding", ""))

        def add(pieces: Iterator[bytes]) -> None:
            nonlocal size
            for piece in pieces:
                size += len(piece)
                if size > self.max_body_bytes:
                    raise ResponseTooLarge(
                        state.url,
                        f"body is over the {self.max_body_bytes:,} byte cap",
                        status=status,
                    )
                chunks.append(piece)

        async for raw in _raw(response):
            add(inflater.feed(raw))
        add(inflater.flush())
        return FetchResult(
            url=state.url,
            fetched_at=fetched_at,
            status=status,
            final_url=final_url,
            headers=headers,
            body=b"".join(chunks),
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            permanent_redirect=moved,
            fresh_until=fresh_until(headers, fetched_at),
        )

    @staticmethod
    def _failure(state: FeedState, fetched_at: datetime, error: FetchError) -> FetchResult:
        return FetchResult(
            url=state.url,
            fetched_at=fetched_at,
            status=error.status,
            error_kind=error.kind,
            error=error.message,
            etag=state.etag,
            last_modified=state.last_modified,
            retry_after=getattr(error, "retry_after", None),
        )


MAX_POOLS = 16


class _Clients:
    """Several small connection pools instead of one big one. httpcore's bookkeeping grows
    with the connections in a pool; with 16 busy connections it cost more than the requests
    themselves on a fast network (1,000 conditional requests: 1.6 s in one pool, 0.7 s in
    16). A host's requests take its pools in turn, up to ``per_host`` of them, so its
    connections are kept alive and reused."""

    def __init__(self, clients: list[httpx.AsyncClient], per_host: int) -> None:
        self.clients = clients
        self.per_host = per_host
        self.turns: dict[str, int] = {}

    def pick(self, host: str) -> httpx.AsyncClient:
        turn = self.turns.get(host, 0)
        self.turns[host] = turn + 1
        base = zlib.crc32(host.encode("utf-8", "replace"))
        return self.clients[(base + turn % self.per_host) % len(self.clients)]

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


async def _raw(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it was sent (still encoded). A response made from bytes (by a test's
    httpx.MockTransport) was read when it was made; its stream holds those bytes still."""
    if not response.is_stream_consumed:
        async for chunk in response.aiter_raw():
            yield chunk
    elif isinstance(response.stream, httpx.AsyncByteStream):
        async for chunk in response.stream:
            yield chunk


class _Zlib:
    """One gzip or deflate layer (deflate as the RFC says, zlib-wrapped, or raw as some
    servers send it)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.d = zlib.decompressobj(zlib.MAX_WBITS | 16 if name != "deflate" else zlib.MAX_WBITS)
        self.started = False

    def feed(self, data: bytes, step: int) -> Iterator[bytes]:
        while data:
            try:
                piece = self.d.decompress(data, step)
            except zlib.error:
                if self.name != "deflate" or self.started:
                    raise
                self.d = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, without a header
                piece = self.d.decompress(data, step)
            self.started = True
            data = self.d.unconsumed_tail  # what did not fit in ``step`` bytes of output
            if piece:
                yield piece

    def flush(self, step: int) -> Iterator[bytes]:
        # all input was consumed (``unconsumed_tail`` is empty): what is left is small
        tail = self.d.flush()
        if tail:
            yield tail


class _Brotli:
    """One br layer; the output is bounded with brotli's ``output_buffer_limit``."""

    def __init__(self) -> None:
        self.d = brotli.Decompressor()

    def feed(self, data: bytes, step: int) -> Iterator[bytes]:
        try:
            piece = self.d.process(data, output_buffer_limit=step)
            while True:
                if piece:
                    yield piece
                if self.d.can_accept_more_data():
                    return
                piece = self.d.process(b"", output_buffer_limit=step)  # the output held back
                if not piece:
                    return
        except brotli.error as e:
            raise zlib.error(f"brotli: {e}") from e

    def flush(self, step: int) -> Iterator[bytes]:
        return iter(())


class _Inflater:
    """Content-Encoding decoding (gzip, deflate, br, and several layered) that never produces
    much more than ``STEP`` bytes at once, however much a piece of input expands; unknown
    encodings pass the bytes through, as httpx does."""

    STEP = 65536

    def __init__(self, content_encoding: str) -> None:
        self.layers: list[_Zlib | _Brotli] = []
        for name in reversed(content_encoding.lower().split(",")):  # the last applied first
            name = name.strip()
            if name in ("gzip", "x-gzip", "deflate"):
                self.layers.append(_Zlib(name))
            elif name == "br":
                self.layers.append(_Brotli())

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes of ``data``, in bounded pieces."""
        yield from self._through(0, data)

    def flush(self) -> Iterator[bytes]:
        """What the decoders still hold at the end of the body, in the same pieces."""
        for i, layer in enumerate(self.layers):  # each gets all its input, then flushes
            for piece in layer.flush(self.STEP):
                yield from self._through(i + 1, piece)

    def _through(self, i: int, data: bytes) -> Iterator[bytes]:
        if i == len(self.layers):
            if data:
                yield data
            return
        for piece in self.layers[i].feed(data, self.STEP):
            yield from self._through(i + 1, piece)


async def _drain(response: httpx.Response, limit: int = 65536) -> None:
    """Read a small body we do not need (a redirect's) to its end, so the connection can be
    reused; a body larger than ``limit`` is left unread and the connection dropped."""
    size = 0
    async for chunk in _raw(response):  # not decoded: a bomb costs nothing here
        size += len(chunk)
        if size > limit:
            return


Resolver = Callable[[str], Awaitable[list[str]]]


async def _resolve(host: str) -> list[str]:
    """The addresses ``host`` resolves to (the system resolver, off the event loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _non_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True  # not an address we understand: do not trust it
    mapped = getattr(ip, "ipv4_mapped", None)
    return not (mapped or ip).is_global


def _next_hop(feed: str, current: str, location: str, seen: set[str]) -> str:
    """The URL a redirect points at, or a TransportError for a loop or a non-http(s) target."""
    target = urljoin(current, location.strip())
    if urlsplit(target).scheme.lower() not in ("http", "https"):
        raise TransportError(feed, f"redirect to a non-http(s) URL: {target[:200]}")
    if target in seen:
        raise TransportError(feed, f"redirect loop at {target[:200]}")
    seen.add(target)
    return target
