"""feeds.yaml's ``classify:`` section: regions moved or added, extra places, extra topics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aggregator.classify import Classifier
from aggregator.config import parse_config
from aggregator.errors import ConfigError
from aggregator.models import REGIONS, TOPICS


def config(classify: Any, sources: Any = ()) -> Any:
    return parse_config({"classify": classify, "sources": list(sources)}, base=Path("."))


def test_no_section_is_the_shipped_classifier() -> None:
    taxonomy = config(None).taxonomy
    assert taxonomy.is_default
    assert taxonomy.regions == REGIONS
    assert taxonomy.topics == TOPICS
    assert Classifier.for_taxonomy(taxonomy) is Classifier.for_taxonomy(taxonomy)


def test_countries_move_to_another_or_a_new_region() -> None:
    taxonomy = config({"regions": {"Europe": ["tr"], "South Asia": ["IN", "PK"]}}).taxonomy
    assert taxonomy.regions == (*REGIONS, "South Asia")
    classifier = Classifier.for_taxonomy(taxonomy)
    assert classifier.classify("Erdogan meets opposition leaders in Ankara").region == "Europe"
    assert classifier.classify("Floods in Punjab leave thousands homeless").region == "South Asia"
    assert classifier.classify("Modi visits Karachi").region == "South Asia"
    # the shipped classifier is unchanged
    assert Classifier().classify("Erdogan meets opposition leaders in Ankara").region == (
        "Middle East"
    )


def test_extra_places_win_and_count_for_clustering_too() -> None:
    taxonomy = config(
        {
            "places": [
                {"names": ["Zorbania", "Zorbanian"], "country": "NO"},
                {"names": "Sahel belt", "region": "Africa"},
            ]
        }
    ).taxonomy
    classifier = Classifier.for_taxonomy(taxonomy)
    labels = classifier.classify("Zorbanian fishermen protest new quotas")
    assert (labels.region, labels.countries) == ("Europe", ("NO",))
    assert classifier.classify("Drought spreads across the Sahel belt").region == "Africa"
    assert Classifier().classify("Zorbanian fishermen protest new quotas").region == "World"


def test_extra_topics_and_phrases() -> None:
    taxonomy = config(
        {
            "topics": {
                "space": {"rocket": 3, "orbit": 3, "satellite": 3, "astronaut": 3},
                "energy": {"heat pumps": 4},
            }
        }
    ).taxonomy
    assert taxonomy.topics == (*TOPICS, "space")
    classifier = Classifier.for_taxonomy(taxonomy)
    assert classifier.classify("Rocket carries astronaut into orbit").topic == "space"
    assert classifier.classify("Sales of heat pumps double this winter").topic == "energy"
    # a phrase given for one topic counts for that topic only
    assert classifier.classify("Satellite reaches orbit").topic == "space"
    assert Classifier().classify("Rocket puts weather satellite in orbit").topic == "science-tech"


def test_sources_may_use_new_region_and_topic_names() -> None:
    cfg = config(
        {"regions": {"South Asia": ["IN"]}, "topics": {"space": {"orbit": 2}}},
        [{"url": "https://example.org/feed", "region": "South Asia", "topic": "space"}],
    )
    assert (cfg.sources[0].region, cfg.sources[0].topic) == ("South Asia", "space")
    with pytest.raises(ConfigError, match=r"sources\[0\]\.region: expected one of"):
        config(None, [{"url": "https://example.org/feed", "region": "South Asia"}])


@pytest.mark.parametrize(
    ("classify", "message"),
    [
        ("yes", r"^classify: expected a mapping"),
        ({"colours": {}}, r"^classify\.colours: unknown key"),
        ({"regions": ["Europe"]}, r"^classify\.regions: expected a mapping"),
        ({"regions": {"Europe": "TR"}}, r"^classify\.regions\.Europe: expected a list"),
        ({"regions": {"Europe": ["XX"]}}, r"^classify\.regions\.Europe\[0\]: expected an ISO"),
        ({"regions": {"World": ["FR"]}}, r"^classify\.regions\.World: World is for"),
        ({"regions": {"<b>": ["FR"]}}, r"^classify\.regions: region name '<b>'"),
        (
            {"regions": {"Europe": ["TR"], "Asia": ["TR"]}},
            r"^classify\.regions\.Asia\[0\]: TR is already moved to Europe",
        ),
        ({"places": {"a": 1}}, r"^classify\.places: expected a list"),
        ({"places": [{"names": [], "country": "FR"}]}, r"^classify\.places\[0\]\.names"),
        ({"places": [{"names": ["X"]}]}, r"^classify\.places\[0\]: give either country or region"),
        (
            {"places": [{"names": ["X"], "country": "FR", "region": "Europe"}]},
            r"^classify\.places\[0\]: give either",
        ),
        ({"places": [{"names": ["X"], "region": "Mars"}]}, r"^classify\.places\[0\]\.region"),
        ({"places": [{"names": ["X"], "country": "ZZ"}]}, r"^classify\.places\[0\]\.country"),
        ({"places": [{"names": ["X"], "city": "Y"}]}, r"^classify\.places\[0\]\.city: unknown"),
        ({"topics": {"space": []}}, r"^classify\.topics\.space: expected a mapping"),
        ({"topics": {"space": {"orbit": "high"}}}, r"^classify\.topics\.space\.orbit: expected"),
        ({"topics": {"space": {"orbit": 0}}}, r"^classify\.topics\.space\.orbit: expected"),
        ({"topics": {"space": {"orbit": True}}}, r"^classify\.topics\.space\.orbit: expected"),
    ],
)
def test_bad_sections_are_refused_with_the_key(classify: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config(classify)


def test_a_pass_labels_with_the_configured_taxonomy(tmp_path: Path, feed_server: Any) -> None:
    from click.testing import CliRunner
    from test_pipeline import rss

    from aggregator.cli import cli

    url = feed_server.add(
        "/feed.xml",
        rss(
            "Alpha",
            [
                ("a1", "Zorbanian fishermen protest new quotas", "https://alpha.test/a1", 1),
                ("a2", "Floods in Punjab leave thousands homeless", "https://alpha.test/a2", 2),
            ],
        ),
    )
    (tmp_path / "feeds.yaml").write_text(
        "settings: {database: agg.db, output_dir: site}\n"
        "classify:\n"
        "  regions: {South Asia: [IN, PK]}\n"
        "  places: [{names: [Zorbanian], country: 'NO'}]\n"
        f"sources: [{{url: '{url}', region: South Asia}}]\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["-c", str(tmp_path / "feeds.yaml"), "run", "--once"])
    assert result.exit_code == 0, result.output
    import sqlite3

    conn = sqlite3.connect(tmp_path / "agg.db")
    regions = dict(conn.execute("SELECT headline, region FROM stories"))
    conn.close()
    assert regions == {
        "Zorbanian fishermen protest new quotas": "Europe",
        "Floods in Punjab leave thousands homeless": "South Asia",
    }
    assert "South Asia" in (tmp_path / "site" / "index.html").read_text("utf-8")


def test_the_readme_example_is_valid() -> None:
    import yaml

    readme = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
    section = readme.split("### classify", 1)[1]
    block = section.split("```yaml", 1)[1].split("```", 1)[0]
    taxonomy = parse_config(yaml.safe_load(block), base=Path(".")).taxonomy
    assert "South Asia" in taxonomy.regions
    assert "space" in taxonomy.topics
    classifier = Classifier.for_taxonomy(taxonomy)
    assert classifier.classify("Shelling in Donbass kills three").countries == ("UA",)
    assert classifier.classify("Erdogan wins runoff").region == "Europe"
