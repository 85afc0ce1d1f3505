"""`aggregator dedupe`: JSON lines in, stories out, same algorithm as the pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sample_helpers import sample_items

from aggregator.cli import cli
from aggregator.cluster import Clusterer


def dedupe(records: list[dict[str, object]], tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    result = CliRunner().invoke(cli, ["dedupe", str(path)])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def test_output_follows_input_order_and_keeps_ids(tmp_path: Path) -> None:
    out = dedupe(
        [
            {
                "id": "late",
                "title": "Federal Reserve keeps rates on hold - Reuters",
                "published": "2026-01-15T11:00:00Z",
                "source": "Reuters",
            },
            {
                "id": 7,
                "title": "Fed holds interest rates steady",
                "published": "Thu, 15 Jan 2026 10:00:00 GMT",
            },
            {"id": ["x"], "title": "Floods in Pakistan kill dozens", "published": 1768471200},
        ],
        tmp_path,
    )
    assert [o["id"] for o in out] == ["late", 7, ["x"]]
    # the story is named by its first report (published order, not input order)
    assert out[0]["story"] == 7
    assert out[1]["story"] == 7
    assert out[2]["story"] == ["x"]


def test_same_partition_as_the_clusterer_on_the_sample(tmp_path: Path) -> None:
    items = sample_items()
    records = [
        {
            "id": s.key,
            "title": s.item.title,
            "published": s.item.published.isoformat(),
            "source": s.outlet,
            "url": s.url,
            "summary": s.summary,
        }
        for s in items
    ]
    out = {o["id"]: o["story"] for o in dedupe(records, tmp_path)}
    clusterer = Clusterer()
    direct = {a.item_id: a.story_id for a in clusterer.add_all(s.item for s in items)}
    key_of = {s.item.id: s.key for s in items}
    assert {k: out[k] for k in out} == {key_of[i]: key_of[direct[i]] for i in direct}


def test_reads_standard_input() -> None:
    result = CliRunner().invoke(
        cli, ["dedupe", "-"], input='{"id": 1, "title": "Volcano erupts in Iceland"}\n\n'
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"id": 1, "story": 1}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "<stdin>:1: invalid JSON"),
        ("[1, 2]", "<stdin>:1: expected a JSON object"),
        ('{"title": "no id"}', "<stdin>:1: each line needs an 'id' and a string 'title'"),
        ('{"id": 1, "title": 5}', "<stdin>:1: each line needs an 'id' and a string 'title'"),
        ('{"id": 1, "title": "a", "published": "yesterday"}', "<stdin>:1: published: not an ISO"),
    ],
)
def test_bad_input_is_one_line_naming_the_line(line: str, message: str) -> None:
    result = CliRunner().invoke(cli, ["dedupe"], input=line + "\n")
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_duplicate_ids_are_refused() -> None:
    lines = '{"id": 1, "title": "a b c"}\n{"id": 1, "title": "d e f"}\n'
    result = CliRunner().invoke(cli, ["dedupe"], input=lines)
    assert result.exit_code == 1
    assert "<stdin>:2: duplicate id 1" in result.output


def test_uses_the_configured_threshold(tmp_path: Path) -> None:
    records = [
        {"id": 1, "title": "Fed holds interest rates steady", "published": 0},
        {"id": 2, "title": "Federal Reserve keeps rates on hold", "published": 60},
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    strict = tmp_path / "feeds.yaml"
    strict.write_text("settings:\n  cluster_threshold: 0.99\n")
    result = CliRunner().invoke(cli, ["-c", str(strict), "dedupe", str(path)])
    assert result.exit_code == 0, result.output
    assert [json.loads(x)["story"] for x in result.output.splitlines()] == [1, 2]
