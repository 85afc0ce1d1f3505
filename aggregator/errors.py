"""Exceptions raised by aggregator.

Every error the core raises derives from :class:`AggregatorError`; the CLI turns it into a
one-line message and a non-zero exit. The tree mirrors the pipeline stages::

    AggregatorError
    ├── ConfigError (also ValueError)       feeds.yaml is missing, unreadable or invalid
    ├── FetchError                          one feed could not be retrieved (kept as a value)
    │   ├── HTTPStatusError                 the server answered with an error status
    │   ├── TransportError                  connect/read timeout, DNS, TLS, connection reset
    │   └── ResponseTooLarge                the body went over the configured size cap
    ├── ParseError                          the body is not a usable feed (kept as a value)
    ├── StoreError                          the database cannot be opened or written
    └── RenderError                         the digest cannot be rendered or written

Fetch and parse errors do not stop a pass: the pipeline records them on the feed row and in the
fetch log and carries on with the other feeds.
"""

from __future__ import annotations

from datetime import datetime


class AggregatorError(Exception):
    """Root of every error raised by aggregator."""


class ConfigError(AggregatorError, ValueError):
    """The configuration file is invalid; the message names the file and the key."""


class FetchError(AggregatorError):
    """A feed could not be retrieved. ``kind`` is a short stable label for the fetch log."""

    kind = "fetch"

    def __init__(self, url: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url
        self.message = message
        self.status = status


class HTTPStatusError(FetchError):
    kind = "http"

    def __init__(
        self,
        url: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(url, message, status=status)
        self.retry_after = retry_after  # when the server asked us to come back (429, 503)


class TransportError(FetchError):
    kind = "transport"


class ResponseTooLarge(FetchError):
    kind = "too_large"


class BlockedTarget(FetchError):
    """A redirect from a public address to a private, loopback or link-local one (SSRF)."""

    kind = "blocked"


class ParseError(AggregatorError):
    """A response body is not a usable feed."""

    kind = "parse"

    def __init__(self, url: str, message: str) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url
        self.message = message


class StoreError(AggregatorError):
    """The database could not be opened, migrated or written."""


class RenderError(AggregatorError):
    """The digest could not be rendered or written."""
