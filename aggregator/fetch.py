"""The only module that touches the network.

``fetch_all`` retrieves many feeds concurrently with httpx: a global limit and a per-host limit,
conditional requests (If-None-Match / If-Modified-Since from the stored validators), a total
deadline per feed, and a cap on the (decompressed) body size enforced while streaming. Every
outcome, failures included, comes back as a :class:`~aggregator.models.FetchResult` value, so one
bad feed never stops the others. Nothing here parses feeds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from aggregator.errors import FetchError, HTTPStatusError, ResponseTooLarge, TransportError
from aggregator.models import FeedState, FetchResult

log = logging.getLogger(__name__)

ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.8, text/html;q=0.5, */*;q=0.1"
)
MAX_REDIRECTS = 5


def _utcnow() -> datetime:
    return datetime.now(UTC)


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
    ) -> None:
        self.user_agent = user_agent
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.concurrency = concurrency
        self.per_host = per_host
        self.max_body_bytes = max_body_bytes
        self.transport = transport
        self.now = now

    def fetch_all(self, states: Sequence[FeedState]) -> list[FetchResult]:
        """Fetch every feed in ``states``; results come back in the same order."""
        if not states:
            return []
        return asyncio.run(self._fetch_all(states))

    async def _fetch_all(self, states: Sequence[FeedState]) -> list[FetchResult]:
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        timeout = httpx.Timeout(self.timeout, connect=self.connect_timeout)
        glob = asyncio.Semaphore(self.concurrency)
        hosts: dict[str, asyncio.Semaphore] = {}
        async with httpx.AsyncClient(
            headers={"User-Agent": self.user_agent, "Accept": ACCEPT},
            timeout=timeout,
            limits=limits,
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            transport=self.transport,
        ) as client:

            async def one(state: FeedState) -> FetchResult:
                host = (urlsplit(state.url).hostname or "").lower()
                per_host = hosts.setdefault(host, asyncio.Semaphore(self.per_host))
                async with glob, per_host:
                    return await self._fetch_one(client, state)

            return list(await asyncio.gather(*(one(s) for s in states)))

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
        result = _with_elapsed(result, elapsed)
        log.debug("fetched %s: %s in %.2f s", state.url, result.status or result.error, elapsed)
        return result

    async def _request(
        self, client: httpx.AsyncClient, state: FeedState, fetched_at: datetime
    ) -> FetchResult:
        try:
            async with client.stream(
                "GET", state.url, headers=conditional_headers(state)
            ) as response:
                status = response.status_code
                headers = {k.lower(): v for k, v in response.headers.items()}
                final_url = str(response.url)
                if status == 304:
                    return FetchResult(
                        url=state.url,
                        fetched_at=fetched_at,
                        status=304,
                        final_url=final_url,
                        headers=headers,
                        etag=headers.get("etag") or state.etag,
                        last_modified=headers.get("last-modified") or state.last_modified,
                    )
                if status >= 400:
                    reason = response.reason_phrase or "error"
                    raise HTTPStatusError(state.url, f"HTTP {status} {reason}", status=status)
                declared = headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_body_bytes:
                    raise ResponseTooLarge(
                        state.url,
                        f"body of {int(declared):,} bytes is over the "
                        f"{self.max_body_bytes:,} byte cap",
                        status=status,
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_body_bytes:
                        raise ResponseTooLarge(
                            state.url,
                            f"body is over the {self.max_body_bytes:,} byte cap",
                            status=status,
                        )
                    chunks.append(chunk)
        except httpx.TooManyRedirects as e:
            raise TransportError(state.url, f"more than {MAX_REDIRECTS} redirects") from e
        except httpx.TimeoutException as e:
            raise TransportError(state.url, f"timed out ({type(e).__name__})") from e
        except httpx.DecodingError as e:
            raise TransportError(state.url, f"bad content encoding: {e}") from e
        except httpx.HTTPError as e:
            raise TransportError(state.url, f"{type(e).__name__}: {e}") from e
        return FetchResult(
            url=state.url,
            fetched_at=fetched_at,
            status=status,
            final_url=final_url,
            headers=headers,
            body=b"".join(chunks),
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
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
        )


def _with_elapsed(result: FetchResult, elapsed: float) -> FetchResult:
    return replace(result, elapsed=elapsed)
