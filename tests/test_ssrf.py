"""SSRF: a public feed that redirects to a private, loopback or link-local address is refused
by default; feeds configured at such addresses are the user's choice, and so are their
redirects; `allow_private_targets` lifts the rule."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from aggregator.config import parse_config
from aggregator.errors import ConfigError
from aggregator.fetch import Fetcher, _non_public
from aggregator.models import FeedState, FetchResult

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
DNS = {
    "intranet.corp": ["10.0.0.5"],
    "metadata.cloud": ["169.254.169.254"],
    "news.example": ["93.184.216.34"],
    "cdn.example": ["93.184.216.35", "2606:2800:220:1::1"],
    "sneaky.example": ["93.184.216.36", "127.0.0.1"],  # one private answer is enough
    "mapped.example": ["::ffff:192.168.1.1"],
}


async def resolve(host: str) -> list[str]:
    if host not in DNS:
        raise OSError(f"unknown host {host}")
    return DNS[host]


def fetch(feed: str, redirects: dict[str, str], **kw: object) -> tuple[FetchResult, list[str]]:
    """Fetch ``feed`` through a fake network where ``redirects`` maps URL -> Location;
    returns the result and every URL requested."""
    requested: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        requested.append(url)
        if url in redirects:
            return httpx.Response(302, headers={"Location": redirects[url]})
        return httpx.Response(200, content=RSS, headers={"Content-Type": "application/rss+xml"})

    fetcher = Fetcher(
        user_agent="t",
        transport=httpx.MockTransport(handler),
        now=lambda: NOW,
        resolve=resolve,
        **kw,  # type: ignore[arg-type]
    )
    (result,) = fetcher.fetch_all([FeedState(feed)])
    return result, requested


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:8080/admin",
        "http://localhost.localdomain.invalid.127.0.0.1.nip.invalid/",  # unresolvable: allowed
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.1.2.3/",
        "http://192.168.0.1/router",
        "http://0.0.0.0/",
        "http://intranet.corp/wiki",
        "http://metadata.cloud/",
        "http://sneaky.example/",
        "http://mapped.example/",
    ],
)
def test_public_feed_redirecting_to_a_private_address_is_refused(target: str) -> None:
    feed = "https://news.example/feed.xml"
    result, requested = fetch(feed, {feed: target})
    if "nip.invalid" in target:  # a name that does not resolve is left to the request
        assert result.error is None
        return
    assert result.error_kind == "blocked"
    assert "redirect to a private or local address refused" in result.error
    assert "allow_private_targets" in result.error
    assert requested == [feed]  # the private address was never contacted


@pytest.mark.parametrize("target", ["https://cdn.example/feed.xml", "https://93.184.216.40/f"])
def test_public_redirects_are_followed(target: str) -> None:
    feed = "https://news.example/feed.xml"
    result, requested = fetch(feed, {feed: target})
    assert result.error is None
    assert requested == [feed, target]


def test_a_later_hop_is_checked_too() -> None:
    feed = "https://news.example/feed.xml"
    hops = {feed: "https://cdn.example/a", "https://cdn.example/a": "http://10.9.9.9/b"}
    result, requested = fetch(feed, hops)
    assert result.error_kind == "blocked"
    assert requested == [feed, "https://cdn.example/a"]


@pytest.mark.parametrize(
    "feed", ["http://127.0.0.1:8080/feed.xml", "http://intranet.corp/feed.xml"]
)
def test_feeds_configured_at_private_addresses_may_redirect_privately(feed: str) -> None:
    target = "http://10.0.0.7/moved.xml"
    result, requested = fetch(feed, {feed: target})
    assert result.error is None
    assert requested == [feed, target]


def test_the_setting_allows_private_targets() -> None:
    feed = "https://news.example/feed.xml"
    result, requested = fetch(feed, {feed: "http://127.0.0.1/x"}, allow_private=True)
    assert result.error is None
    assert requested == [feed, "http://127.0.0.1/x"]
    config = parse_config({"settings": {"allow_private_targets": True}, "sources": []})
    assert config.settings.allow_private_targets is True
    assert parse_config({"sources": []}).settings.allow_private_targets is False
    with pytest.raises(ConfigError, match="allow_private_targets"):
        parse_config({"settings": {"allow_private_targets": "yes"}, "sources": []})


def test_address_classification() -> None:
    assert not _non_public("93.184.216.34")
    assert not _non_public("2606:4700::1")
    for address in ("127.0.0.1", "::1", "10.0.0.1", "100.64.0.1", "fe80::1%eth0", "bogus"):
        assert _non_public(address), address
