"""Datasette reading while `aggregator run --once` writes: no failed request, and never a
half-written story (an entry pointing at a story row not written yet, a story whose counts
disagree with its members, a story without members)."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FeedServer

from aggregator.cli import cli

pytest.importorskip("datasette")

from aggregator.browse import build_datasette, close_datasette

NOW = datetime.now(UTC).replace(microsecond=0)
FEEDS = 60
ITEMS = 40
CHECKS = {
    "dangling": "SELECT count(*) FROM entries e WHERE e.story_id IS NOT NULL AND NOT EXISTS "
    "(SELECT 1 FROM stories s WHERE s.id = e.story_id)",
    "miscounted": "SELECT count(*) FROM stories s WHERE s.entries != "
    "(SELECT count(*) FROM entries e WHERE e.story_id = s.id)",
    "empty": "SELECT count(*) FROM stories s WHERE NOT EXISTS "
    "(SELECT 1 FROM entries e WHERE e.story_id = s.id)",
}
PLACES = ["Kenya", "Peru", "Japan", "Poland", "Egypt", "Chile", "Nepal", "Ghana", "Italy", "Laos"]
EVENTS = [
    "floods force thousands from homes in {p}",
    "{p} central bank raises interest rates again",
    "election count resumes in {p} after delays",
    "earthquake of magnitude 6 strikes near {p} coast",
    "strike halts trains across {p} for second day",
]


def feed(index: int) -> bytes:
    items = []
    for k in range(ITEMS):
        story = (index * 7 + k) % (len(PLACES) * len(EVENTS))
        title = EVENTS[story % len(EVENTS)].format(p=PLACES[story // len(EVENTS)])
        when = (NOW - timedelta(minutes=5 * k + index)).strftime("%a, %d %b %Y %H:%M:%S GMT")
        items.append(
            f"<item><guid>f{index}-{k}</guid><title>{title.capitalize()}</title>"
            f"<link>https://outlet{index}.test/{k}</link><pubDate>{when}</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Outlet {index}</title><link>https://outlet{index}.test/</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


async def check(db: Path) -> dict[str, Any]:
    ds = build_datasette(db)
    try:
        out: dict[str, Any] = {}
        for name, sql in CHECKS.items():
            response = await ds.client.get(
                f"/{db.stem}.json", params={"sql": sql, "_shape": "array"}
            )
            assert response.status_code == 200, response.text
            out[name] = next(iter(response.json()[0].values()))
        return out
    finally:
        close_datasette(ds)


def test_datasette_reads_while_a_pass_writes(tmp_path: Path, feed_server: FeedServer) -> None:
    lines = ["settings:", "  database: aggregator.db", "  output_dir: site", "  timeout: 10"]
    lines.append("sources:")
    for i in range(FEEDS):
        url = feed_server.add(f"/f{i}.xml", feed(i))
        lines += [f"  - name: Outlet {i}", f"    url: {url}"]
    config = tmp_path / "feeds.yaml"
    config.write_text("\n".join(lines) + "\n")
    db = tmp_path / "aggregator.db"
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["result"] = CliRunner().invoke(cli, ["-c", str(config), "run", "--once"])

    writer = threading.Thread(target=run, name="pass")
    writer.start()
    reads_during = 0
    deadline = datetime.now(UTC) + timedelta(seconds=120)
    while writer.is_alive() and datetime.now(UTC) < deadline:
        if db.exists():
            found = asyncio.run(check(db))
            assert found == {"dangling": 0, "miscounted": 0, "empty": 0}
            reads_during += 1 if writer.is_alive() else 0
    writer.join(timeout=120)
    assert not writer.is_alive()
    result = outcome["result"]
    assert result.exit_code == 0, result.output
    assert f"{FEEDS * ITEMS} new entries" in result.output
    assert reads_during >= 3, "the reads did not overlap the pass"
    final = asyncio.run(check(db))
    assert final == {"dangling": 0, "miscounted": 0, "empty": 0}
