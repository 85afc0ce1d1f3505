"""`aggregator classify`: JSON lines in, labels out, with the pipeline's classifier."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from aggregator.classify import Classifier
from aggregator.cli import cli


def run(lines: list[str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "classify"], input="\n".join(lines) + "\n")
    return result.exit_code, result.output


def test_labels_in_input_order_same_as_the_pipeline() -> None:
    records = [
        {"id": "b", "title": "Drone attack on Kiev leaves four dead"},
        {"id": 1, "title": "Central bank raises interest rates", "categories": ["Business"]},
        {"id": ["x"], "title": "Scientists find new deep-sea fish"},
    ]
    code, output = run([json.dumps(r) for r in records])
    assert code == 0, output
    out = [json.loads(line) for line in output.splitlines()]
    assert [o["id"] for o in out] == ["b", 1, ["x"]]
    classifier = Classifier()
    for record, got in zip(records, out, strict=True):
        labels = classifier.classify(
            record["title"],
            categories=record.get("categories", []),  # type: ignore[arg-type]
        )
        assert got == {
            "id": record["id"],
            "region": labels.region,
            "countries": list(labels.countries),
            "topic": labels.topic,
            "topics": list(labels.topics),
        }
    assert out[0]["region"] == "Europe"
    assert "UA" in out[0]["countries"]
    assert out[1]["topic"] == "economy"
    assert out[2]["region"] == "World"


def test_source_hints_come_from_feeds_yaml(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "sources:\n  - url: https://a.test/feed\n    name: Desk\n    region: Asia\n"
        "    topic: culture\n"
    )
    code, output = run(
        [json.dumps({"id": 1, "title": "Something happened somewhere", "source": "Desk"})],
        "-c",
        str(config),
    )
    assert code == 0, output
    got = json.loads(output)
    assert (got["region"], got["topic"]) == ("Asia", "culture")


def test_bad_lines_are_one_line_errors() -> None:
    code, output = run(['{"id": 1, "title": "ok"}', '{"id": 2, "title": "x", "categories": "Biz"}'])
    assert code == 1
    assert "<stdin>:2: 'categories' must be a list of strings" in output
    code, output = run(["oops"])
    assert code == 1
    assert "<stdin>:1: invalid JSON" in output
