"""``aggregator browse``: the real Datasette, in-process (``ds.client``), on a database written
by ``aggregator demo``; the command's own paths (install hint, missing database, hosts); and a
headless Chromium smoke test of the stories page on a real server on 127.0.0.1.

The demo runs once for the module. Tests that change the database work on a copy.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import Chromium, find_chromium
from click.testing import CliRunner

from aggregator.browse import (
    DATABASE,
    build_datasette,
    close_datasette,
    is_loopback,
    load_metadata,
    make_server,
    url_for,
)
from aggregator.cli import cli

ROOT = Path(__file__).parent.parent
ARTIFACTS = Path(os.environ.get("AGGREGATOR_ARTIFACTS") or ROOT / "test-artifacts") / "browser"
TABLES = ("feeds", "entries", "stories", "related_links", "fetch_log", "embeddings")
VIEWS = ("story_overview", "story_coverage", "feed_health")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browse-demo")
    result = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "aggregator.db"


def get(db: Path, *paths: str) -> list[Any]:
    """GET each path from a fresh Datasette on ``db``: JSON for ``.json`` paths, else text."""

    async def fetch() -> list[Any]:
        found = []
        for path in paths:
            response = await ds.client.get(path)
            assert response.status_code == 200, (path, response.text[:500])
            found.append(response.json() if ".json" in path else response.text)
        return found

    ds = build_datasette(db)
    try:
        return asyncio.run(fetch())
    finally:
        close_datasette(ds)


def get_json(db: Path, path: str) -> Any:
    return get(db, path)[0]


def counts(facet: dict[str, Any]) -> dict[str, int]:
    return {r["value"]: r["count"] for r in facet["results"]}


# -- metadata --------------------------------------------------------------------------------


def test_metadata_is_served_with_the_table_descriptions(demo_db: Path) -> None:
    shipped = load_metadata()["databases"][DATABASE]["tables"]
    served = get_json(demo_db, "/-/metadata.json")
    assert served["title"] == "World news archive"
    tables = served["databases"][DATABASE]["tables"]
    for name in (*TABLES, *VIEWS):
        assert tables[name]["description"] == shipped[name]["description"]
    [page] = get(demo_db, "/aggregator/stories")
    assert shipped["stories"]["description"].split(":")[0] in page
    assert "<dt>outlets</dt><dd>Distinct outlets (feeds) that covered the story</dd>" in page


def test_the_front_page_links_work(demo_db: Path) -> None:
    [home] = get(demo_db, "/")
    links = re.findall(r'href="(/aggregator/[^"]+)"', home)
    assert {"/aggregator/stories", "/aggregator/top_stories_today"} <= set(links)
    assert len(get(demo_db, *links, "/aggregator-static/browse.css")) == len(links) + 1


def test_the_readme_walkthrough_addresses_work(demo_db: Path) -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Browsing the archive")[1].split("\n## ")[0]
    paths = sorted(set(re.findall(r"(/aggregator/[^\s`)]*)", section)))
    assert len(paths) >= 10
    assert "/aggregator/story_timeline?story_id=17" in paths
    get(demo_db, *paths)  # each answers 200


def test_every_column_is_described_and_every_described_column_exists(demo_db: Path) -> None:
    shipped = load_metadata()["databases"][DATABASE]["tables"]
    conn = sqlite3.connect(demo_db)
    try:
        for name in (*TABLES, *VIEWS):
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info([{name}])")]
            assert columns, f"{name} is not in the database"
            assert sorted(shipped[name]["columns"]) == sorted(columns), name
    finally:
        conn.close()


def test_the_database_is_named_aggregator_whatever_the_file(demo_db: Path, tmp_path: Path) -> None:
    other = tmp_path / "news-2026.db"
    shutil.copy(demo_db, other)
    [databases, stories] = get(other, "/-/databases.json", "/aggregator/stories.json")
    assert [d["name"] for d in databases] == [DATABASE]
    assert stories["human_description_en"] == "sorted by last_seen descending"  # metadata applies


# -- facets, search, links -------------------------------------------------------------------


def test_default_facets_count_stories_by_region_topic_and_outlet(demo_db: Path) -> None:
    data = get_json(demo_db, "/aggregator/stories.json")
    facets = data["facet_results"]
    total = data["filtered_table_rows_count"]
    assert total == 19
    for column in ("region", "topic", "outlet"):
        assert sum(counts(facets[column]).values()) == total, column
    assert counts(facets["region"])["Africa"] >= 2
    assert counts(facets["topic"])["conflict"] >= 1
    assert facets["last_seen"]["type"] == "date"
    countries = get_json(demo_db, "/aggregator/stories.json?_facet_array=countries")
    assert counts(countries["facet_results"]["countries"])["SD"] == 1


def test_entry_facets_and_a_facet_filter(demo_db: Path) -> None:
    data = get_json(demo_db, "/aggregator/entries.json")
    facets = data["facet_results"]
    assert set(facets) >= {"region", "topic", "feed_url", "published"}
    assert sum(counts(facets["region"]).values()) == data["filtered_table_rows_count"] == 51
    europe = counts(facets["region"])["Europe"]
    filtered = get_json(demo_db, "/aggregator/entries.json?region=Europe")
    assert filtered["filtered_table_rows_count"] == europe
    # the feed facet shows outlet names, not URLs
    assert "DW" in {r["label"] for r in facets["feed_url"]["results"]}


def test_the_overview_facets_by_day(demo_db: Path) -> None:
    facets = get_json(demo_db, "/aggregator/story_overview.json")["facet_results"]
    assert set(facets) >= {"region", "topic", "lead_outlet", "day"}
    assert sum(counts(facets["day"]).values()) == 19


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("entries", "title"),
        ("stories", "headline"),
        ("story_overview", "headline"),
        ("story_coverage", "title"),
    ],
)
def test_search_without_diacritics_finds_turkiye(demo_db: Path, table: str, column: str) -> None:
    data = get_json(demo_db, f"/aggregator/{table}.json?_search=Turkiye&_shape=objects")
    titles = [row[column] for row in data["rows"]]
    assert any("Türkiye" in t for t in titles), titles
    assert all("rki" in t.lower() or "turk" in t.lower() for t in titles)


def test_search_box_is_on_the_views(demo_db: Path) -> None:
    [page] = get(demo_db, "/aggregator/story_coverage?_search=Sudan")
    assert 'name="_search"' in page
    assert "Sudan" in page


def test_a_row_page_links_an_entry_to_its_feed_and_story(demo_db: Path) -> None:
    found = get_json(demo_db, "/aggregator/entries.json?_search=Turkiye&_shape=objects&_labels=on")
    entry = found["rows"][0]
    # the table's JSON carries the labels
    assert entry["feed_url"]["label"] == "TRT World"
    assert "Türkiye" in entry["story_id"]["label"]
    [page] = get(demo_db, f"/aggregator/entries/{entry['id']}")
    story = entry["story_id"]
    assert f'<a href="/aggregator/stories/{story["value"]}">{story["label"]}</a>' in page
    assert ">TRT World</a>" in page
    assert 'href="/aggregator/feeds/http~3A~2F~2F127~2E0~2E0~2E1~3A' in page
    # and the story's page lists its reports
    [story_page] = get(demo_db, f"/aggregator/stories/{story['value']}")
    assert f'href="/aggregator/entries?story_id={story["value"]}"' in story_page
    assert f'<a href="/aggregator/entries/{story["value"]}">{story["label"]}</a>' in story_page


def test_row_links_leave_other_cells_alone(demo_db: Path) -> None:
    [page] = get(demo_db, "/aggregator/feeds")
    assert "<em>" not in page.split("<tbody>")[1].split("</tbody>")[0]


# -- canned queries --------------------------------------------------------------------------


def test_every_canned_query_runs(demo_db: Path) -> None:
    queries = load_metadata()["databases"][DATABASE]["queries"]
    story = get_json(demo_db, "/aggregator/stories.json?_search=Turkiye&_shape=objects")
    story_id = story["rows"][0]["id"]
    params = {"story_timeline": f"story_id={story_id}", "stories_by_country": "country=sd"}
    rows = {}
    for name in queries:
        data = get_json(demo_db, f"/aggregator/{name}.json?_shape=objects&{params.get(name, '')}")
        assert data["ok"], (name, data.get("error"))
        rows[name] = data["rows"]
    assert set(rows) == {
        "top_stories_today",
        "story_timeline",
        "broken_feeds",
        "stories_by_country",
    }
    top = rows["top_stories_today"]
    assert top, "the demo's dates are shifted to now"
    assert [r["outlets"] for r in top] == sorted((r["outlets"] for r in top), reverse=True)
    assert top[0]["outlets"] >= 4
    timeline = rows["story_timeline"]
    assert len(timeline) == 3
    assert [r["published"] for r in timeline] == sorted(r["published"] for r in timeline)
    assert {r["outlet"] for r in timeline} == {"TRT World", "Al Jazeera", "DW"}
    assert [r["headline"] for r in rows["stories_by_country"]] == [
        "UN warns famine is spreading in Darfur as aid routes are cut"
    ]
    assert rows["broken_feeds"] == []  # every demo feed works


def test_broken_feeds_lists_failing_and_disabled_feeds(demo_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "aggregator.db"
    shutil.copy(demo_db, db)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "UPDATE feeds SET consecutive_failures = 3, last_error = 'HTTP 503',"
            " last_error_kind = 'http' WHERE name = 'DW'"
        )
        conn.execute(
            "UPDATE feeds SET disabled_at = '2026-01-15T12:00:00Z',"
            " disabled_reason = '410 Gone' WHERE name = 'NPR World'"
        )
    conn.close()
    rows = get_json(db, "/aggregator/broken_feeds.json?_shape=objects")["rows"]
    assert [(r["outlet"], r["health"]) for r in rows] == [
        ("NPR World", "disabled"),
        ("DW", "failing"),
    ]
    assert rows[1]["last_error"] == "HTTP 503"


# -- the command -----------------------------------------------------------------------------


def write_config(tmp_path: Path, database: Path) -> Path:
    config = tmp_path / "feeds.yaml"
    config.write_text(f"settings:\n  database: {database}\nsources: []\n", "utf-8")
    return config


def test_browse_without_datasette_says_how_to_install_it(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn.Server, "run", fake_run([]))  # in case it served all the same
    for name in ("datasette", "datasette.app"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delattr("aggregator.browse")  # imported by this module: forget it
    monkeypatch.delitem(sys.modules, "aggregator.browse")
    config = write_config(tmp_path, demo_db)
    result = CliRunner().invoke(cli, ["-c", str(config), "browse"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: aggregator browse needs Datasette, which is not installed: "
        "pip install 'aggregator[browse]'\n"
    )


def test_browse_without_a_database_suggests_a_first_run(tmp_path: Path) -> None:
    config = write_config(tmp_path, tmp_path / "missing.db")
    result = CliRunner().invoke(cli, ["-c", str(config), "browse"])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {tmp_path / 'missing.db'}: no database yet; run `aggregator run --once` first\n"
    )
    assert not (tmp_path / "missing.db").exists()


def fake_run(seen: list[tuple[socket.socket, Any]]) -> Any:
    """A stand-in for ``uvicorn.Server.run``: records the sockets it is given and their
    addresses, and serves nothing."""

    def run(server: Any, sockets: list[socket.socket]) -> None:
        seen.extend((s, s.getsockname()) for s in sockets)

    return run


def test_browse_serves_the_configured_database_on_loopback(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    sockets: list[tuple[socket.socket, Any]] = []
    opened: list[str] = []
    monkeypatch.setattr(uvicorn.Server, "run", fake_run(sockets))
    monkeypatch.setattr("webbrowser.open", opened.append)
    config = write_config(tmp_path, demo_db)
    result = CliRunner().invoke(cli, ["-c", str(config), "browse", "--port", "0", "--open"])
    assert result.exit_code == 0, result.output
    sock, (host, port) = sockets[0]
    assert host == "127.0.0.1"
    url = f"http://127.0.0.1:{port}/aggregator"
    assert result.output == f"Serving {demo_db} at {url} (Ctrl-C to stop)\n"
    assert opened == [url]
    assert sock.fileno() == -1  # closed when the server stops


def test_browse_stops_quietly_on_ctrl_c(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    def interrupted(server: Any, sockets: list[socket.socket]) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(uvicorn.Server, "run", interrupted)
    config = write_config(tmp_path, demo_db)
    result = CliRunner().invoke(cli, ["-c", str(config), "-q", "browse", "--port", "0"])
    assert result.exit_code == 0, result.output


def test_another_host_must_be_explicit_and_is_warned_about(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    sockets: list[tuple[socket.socket, Any]] = []
    monkeypatch.setattr(uvicorn.Server, "run", fake_run(sockets))
    config = write_config(tmp_path, demo_db)
    runner = CliRunner()
    # from anywhere but the command line (here click's default_map), it is refused
    refused = runner.invoke(
        cli, ["-c", str(config), "browse"], default_map={"browse": {"host": "0.0.0.0"}}
    )
    assert refused.exit_code == 1
    assert refused.output == (
        "Error: --host 0.0.0.0: not a loopback address; give it with --host\n"
    )
    allowed = runner.invoke(cli, ["-c", str(config), "browse", "--host", "0.0.0.0", "--port", "0"])
    assert allowed.exit_code == 0, allowed.output
    assert sockets[0][1][0] == "0.0.0.0"
    assert "warning: listening on 0.0.0.0: anyone who can reach it" in allowed.output


def test_a_port_in_use_is_a_one_line_error(demo_db: Path, tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        config = write_config(tmp_path, demo_db)
        result = CliRunner().invoke(cli, ["-c", str(config), "browse", "--port", str(port)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot listen on 127.0.0.1 port {port}: ")
    assert result.output.count("\n") == 1


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_url_for() -> None:
    assert url_for("127.0.0.1", 8001) == "http://127.0.0.1:8001/aggregator"
    assert url_for("::1", 8001) == "http://[::1]:8001/aggregator"


# -- a real server in a real browser ---------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    binary = find_chromium()
    if binary is None:
        message = (
            "chromium not found: install Debian's chromium (apt-get install chromium) "
            "or set AGGREGATOR_CHROMIUM to a Chrome binary"
        )
        if os.environ.get("CI"):
            pytest.fail(message + " (.ci/run installs it on CI)")
        pytest.skip(message)
    with Chromium(binary) as browser:
        yield browser


@pytest.fixture
def server(demo_db: Path) -> Iterator[str]:
    """Datasette on the demo database, served by uvicorn on 127.0.0.1 (a free port)."""
    ds = build_datasette(demo_db)
    uv = make_server(ds)
    sock = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert uv.started
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        sock.close()
        close_datasette(ds)


STORIES_PAGE = """(() => ({
  rows: document.querySelectorAll('table.rows-and-columns tbody tr').length,
  headers: [...document.querySelectorAll('table.rows-and-columns th')]
    .map(th => th.dataset.column),
  facets: [...document.querySelectorAll('.facet-info')].map(f => ({
    column: f.dataset.column,
    values: f.querySelectorAll('li').length,
  })),
  search: !!document.querySelector('input[name="_search"]'),
  description: document.querySelector('.metadata-description')?.textContent.trim() ?? '',
  compact: getComputedStyle(document.querySelector('dl.column-descriptions dt')).display,
  overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
}))()"""


def test_the_stories_page_in_a_browser(chromium: Chromium, server: str) -> None:
    log = chromium.open(f"{server}/aggregator/stories", 1280)
    assert log.errors == [], log.errors
    outside = [u for u in log.requests if not u.startswith(server)]
    assert outside == [], f"requests outside the server: {outside}"
    page = chromium.evaluate(STORIES_PAGE)
    assert page["rows"] == 19
    assert {"headline", "outlets", "region", "topic", "last_seen"} <= set(page["headers"])
    facets = {f["column"]: f["values"] for f in page["facets"]}
    assert {"region", "topic", "outlet", "last_seen"} <= set(facets)
    assert facets["region"] >= 5
    assert facets["topic"] >= 5
    assert page["search"]
    assert page["description"].startswith("One row per story")
    assert page["compact"] == "inline", "the shipped stylesheet applies"
    path = chromium.screenshot(ARTIFACTS / "datasette-stories-1280.png")
    print(f"screenshot: {path}", file=sys.stderr)
    log = chromium.open(f"{server}/aggregator/stories?region=Africa", 390)
    assert log.errors == [], log.errors
    assert chromium.evaluate(STORIES_PAGE)["rows"] == 3
    chromium.screenshot(ARTIFACTS / "datasette-stories-africa-390.png")
