"""feeds.yaml -> Config: a valid file, defaults, durations, paths, and a table of bad files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from aggregator.config import DEFAULT_USER_AGENT, Config, Settings, load_config
from aggregator.errors import AggregatorError, ConfigError
from aggregator.models import Source

REPO_FEEDS_YAML = Path(__file__).resolve().parents[1] / "feeds.yaml"

VALID = """\
# a complete, valid configuration
settings:
  database: data/archive.db
  output_dir: public
  templates_dir: my-templates
  interval: 20m
  user_agent: "test-agent/1.0"
  timeout: 12.5
  connect_timeout: 3
  concurrency: 4
  per_host: 1
  max_body_bytes: 1000000
  cluster_threshold: 0.6
  cluster_window: 2d
  digest_window: 36h
  digest_max_stories: 50

sources:
  - name: BBC World
    url: https://feeds.bbci.co.uk/news/world/rss.xml
    interval: 15m
  - url: https://www.aljazeera.com/xml/rss/all.xml
    region: Middle East
    topic: conflict
  - https://rss.dw.com/xml/rss-en-world
"""


def write(tmp_path: Path, text: str | bytes, name: str = "feeds.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_valid_file_loads_every_setting_and_source(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    config = load_config(path)
    base = tmp_path.resolve()
    assert config.path == path
    assert config.settings == Settings(
        database=base / "data" / "archive.db",
        output_dir=base / "public",
        templates_dir=base / "my-templates",
        interval=timedelta(minutes=20),
        user_agent="test-agent/1.0",
        timeout=12.5,
        connect_timeout=3.0,
        concurrency=4,
        per_host=1,
        max_body_bytes=1_000_000,
        cluster_threshold=0.6,
        cluster_window=timedelta(days=2),
        digest_window=timedelta(hours=36),
        digest_max_stories=50,
    )
    assert config.sources == (
        Source(
            url="https://feeds.bbci.co.uk/news/world/rss.xml",
            name="BBC World",
            interval=timedelta(minutes=15),
        ),
        Source(
            url="https://www.aljazeera.com/xml/rss/all.xml",
            name="www.aljazeera.com",  # no name: the host stands in
            region="Middle East",
            topic="conflict",
        ),
        Source(url="https://rss.dw.com/xml/rss-en-world", name="rss.dw.com"),
    )


def test_defaults_when_settings_are_omitted(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "sources:\n  - url: https://example.com/rss\n"))
    s = config.settings
    base = tmp_path.resolve()
    assert s.database == base / "aggregator.db"
    assert s.output_dir == base / "site"
    assert s.templates_dir is None
    assert s.interval == timedelta(minutes=30)
    assert s.user_agent == DEFAULT_USER_AGENT
    assert (s.timeout, s.connect_timeout) == (30.0, 10.0)
    assert (s.concurrency, s.per_host) == (16, 2)
    assert s.max_body_bytes == 15 * 1024 * 1024
    assert s.cluster_threshold == 0.26
    assert s.cluster_window == timedelta(hours=72)
    assert s.digest_window == timedelta(hours=48)
    assert s.digest_max_stories == 300
    assert config.sources == (Source(url="https://example.com/rss", name="example.com"),)
    assert config.sources[0].kind == "feed"
    assert config.sources[0].interval is None


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ('"30m"', 1800),
        ('"2h"', 7200),
        ("90", 90),
        ("90.5", 90.5),
        ('"90s"', 90),
        ('"45 min"', 2700),
        ('"1.5h"', 5400),
        ('"1d"', 86400),
        ('"1w"', 604800),
        ('"600"', 600),
    ],
)
def test_durations(tmp_path: Path, raw: str, seconds: float) -> None:
    text = f"settings:\n  interval: {raw}\nsources:\n  - url: https://a.example/rss\n"
    text += f"    interval: {raw}\n"
    config = load_config(write(tmp_path, text))
    assert config.settings.interval == timedelta(seconds=seconds)
    assert config.sources[0].interval == timedelta(seconds=seconds)


def test_relative_paths_resolve_against_the_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    absolute = tmp_path / "elsewhere" / "abs.db"
    write(conf_dir, f"settings:\n  database: {absolute}\n  output_dir: ../out\n")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the working directory must not matter
    config = load_config(Path("..") / "conf" / "feeds.yaml")
    assert config.settings.database == absolute
    assert config.settings.output_dir == conf_dir.resolve() / ".." / "out"
    assert config.settings.output_dir.resolve() == (tmp_path / "out").resolve()


def test_default_paths_resolve_against_the_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "settings:\n  interval: 5m\n")
    monkeypatch.chdir(tmp_path)
    config = load_config("feeds.yaml")
    assert config.settings.database == tmp_path.resolve() / "aggregator.db"
    assert config.settings.output_dir == tmp_path.resolve() / "site"
    assert config.settings.database.is_absolute()


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file_is_valid_with_no_sources(tmp_path: Path, text: str) -> None:
    config = load_config(write(tmp_path, text))
    assert config.sources == ()
    assert config.settings.interval == Settings().interval
    assert config.settings.database == tmp_path.resolve() / "aggregator.db"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, b"\xef\xbb\xbfsources:\n  - https://a.example/rss\n"))
    assert [s.url for s in config.sources] == ["https://a.example/rss"]


SRC = "sources:\n  - url: https://a.example/rss\n"

# (id, file content (None: no file), fragments the one-line message must contain)
BAD_CONFIGS: list[tuple[str, str | bytes | None, tuple[str, ...]]] = [
    ("unknown-top-level-key", "feeds:\n  - https://a.example/rss\n", ("feeds", "unknown")),
    ("top-level-list", "- https://a.example/rss\n", ("top level",)),
    ("settings-not-mapping", "settings: [1, 2]\n", ("settings", "mapping")),
    ("unknown-setting", "settings:\n  intervall: 5m\n", ("settings.intervall", "unknown")),
    ("unknown-source-key", SRC + "    tags: [x]\n", ("sources[0].tags", "unknown key")),
    ("interval-word", "settings:\n  interval: soon\n", ("settings.interval", "'soon'")),
    ("interval-zero", "settings:\n  interval: 0\n", ("settings.interval", "greater than zero")),
    ("interval-negative", "settings:\n  interval: -5m\n", ("settings.interval",)),
    ("interval-bool", "settings:\n  interval: yes\n", ("settings.interval", "True")),
    ("concurrency-zero", "settings:\n  concurrency: 0\n", ("settings.concurrency", "got 0")),
    ("concurrency-bool", "settings:\n  concurrency: true\n", ("settings.concurrency", "True")),
    ("concurrency-float", "settings:\n  concurrency: 2.5\n", ("settings.concurrency", "2.5")),
    ("per-host-string", "settings:\n  per_host: two\n", ("settings.per_host", "'two'")),
    ("timeout-zero", "settings:\n  timeout: 0\n", ("settings.timeout",)),
    ("threshold-2", "settings:\n  cluster_threshold: 2\n", ("settings.cluster_threshold", "2")),
    ("threshold-1", "settings:\n  cluster_threshold: 1\n", ("settings.cluster_threshold",)),
    ("user-agent-empty", "settings:\n  user_agent: '  '\n", ("settings.user_agent",)),
    ("source-interval-word", SRC + "    interval: soon\n", ("sources[0].interval", "'soon'")),
    ("missing-url", "sources:\n  - name: No URL\n", ("sources[0].url", "expected a URL")),
    ("url-not-string", "sources:\n  - url: 42\n", ("sources[0].url",)),
    ("source-not-mapping", "sources:\n  - 42\n", ("sources[0]", "mapping")),
    ("ftp-url", "sources:\n  - url: ftp://a.example/rss\n", ("sources[0].url", "ftp://")),
    ("relative-url", "sources:\n  - url: /rss.xml\n", ("sources[0].url", "/rss.xml")),
    ("url-without-host", "sources:\n  - url: https:///rss\n", ("sources[0].url", "https:///rss")),
    ("url-with-space", "sources:\n  - url: https://a.example/my feed\n", ("sources[0].url",)),
    ("url-bad-port", "sources:\n  - url: https://a.example:99999/rss\n", ("sources[0].url",)),
    (
        "duplicate-url",
        SRC + "  - url: https://b.example/rss\n  - url: https://a.example/rss\n",
        ("sources[2].url", "duplicate of sources[0]"),
    ),
    (
        "duplicate-url-host-case",
        SRC + "  - url: https://A.Example/rss\n",
        ("sources[1].url", "duplicate of sources[0]"),
    ),
    ("bad-kind", SRC + "    kind: podcast\n", ("sources[0].kind", "'podcast'")),
    ("bad-region", SRC + "    region: Atlantis\n", ("sources[0].region", "'Atlantis'")),
    ("region-wrong-case", SRC + "    region: europe\n", ("sources[0].region", "'europe'")),
    ("bad-topic", SRC + "    topic: gossip\n", ("sources[0].topic", "'gossip'")),
    ("empty-name", SRC + "    name: ''\n", ("sources[0].name",)),
    ("sources-not-list", "sources:\n  url: https://a.example/rss\n", ("sources", "list")),
    ("sources-string", "sources: https://a.example/rss\n", ("sources", "list")),
    (
        "duplicate-yaml-key",
        "settings:\n  interval: 5m\n  interval: 10m\n",
        ("duplicate key", "'interval'", "line 3"),
    ),
    (
        "duplicate-yaml-key-in-source",
        SRC + "    url: https://b.example/rss\n",
        ("duplicate key", "'url'", "line 3"),
    ),
    (
        "yaml-alias",
        "x_base: &base\n  url: https://a.example/rss\nsources:\n  - *base\n",
        ("alias", "line 4"),
    ),
    (
        "yaml-merge-key",
        "sources:\n  - &a {url: 'https://a.example/rss'}\n  - <<: *a\n    name: B\n",
        ("alias", "line 3"),
    ),
    ("invalid-yaml", "settings: [unclosed\nsources: []\n", ("invalid YAML", "line")),
    ("invalid-yaml-tab", "settings:\n\tinterval: 5m\n", ("invalid YAML", "line 2")),
    ("python-tag", "settings: !!python/object:os.system {}\n", ("invalid YAML",)),
    ("non-utf8", b"settings:\n  user_agent: caf\xe9\n", ("not UTF-8",)),
    ("missing-file", None, ("file not found",)),
]


@pytest.mark.parametrize(
    ("content", "fragments"),
    [pytest.param(content, fragments, id=case) for case, content, fragments in BAD_CONFIGS],
)
def test_bad_config_is_refused_with_one_line_naming_file_and_key(
    tmp_path: Path, content: str | bytes | None, fragments: tuple[str, ...]
) -> None:
    path = tmp_path / "feeds.yaml" if content is None else write(tmp_path, content)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert "\r" not in message
    assert message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message


def test_config_error_is_a_value_error_and_an_aggregator_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"settings\.per_host"):
        load_config(write(tmp_path, "settings:\n  per_host: 0\n"))
    assert issubclass(ConfigError, AggregatorError)


def test_yaml_syntax_error_chains_the_cause(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "sources: [\n"))
    assert info.value.__cause__ is not None


@pytest.mark.parametrize("raw", [".inf", ".nan", "99999999999999"])
def test_non_finite_or_huge_interval_is_a_config_error(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ConfigError, match=r"settings\.interval"):
        load_config(write(tmp_path, f"settings:\n  interval: {raw}\n"))


def test_duplicate_url_differing_only_by_default_port_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sources\[1\]\.url: duplicate of sources\[0\]"):
        load_config(write(tmp_path, SRC + "  - url: https://a.example:443/rss\n"))


def test_nan_timeout_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"settings\.timeout"):
        load_config(write(tmp_path, "settings:\n  timeout: .nan\n"))


def test_with_settings_overrides_one_setting() -> None:
    config = Config(sources=(Source(url="https://a.example/rss", name="A"),))
    changed = config.with_settings(per_host=5)
    assert changed.settings.per_host == 5
    assert changed.settings.concurrency == 16
    assert changed.sources == config.sources
    assert config.settings.per_host == 2  # the original is unchanged


def test_repository_feeds_yaml_loads_with_unique_sources() -> None:
    config = load_config(REPO_FEEDS_YAML)
    assert len(config.sources) >= 12
    keys = []
    for source in config.sources:
        parts = urlsplit(source.url)
        assert parts.scheme in ("http", "https")
        keys.append((parts.hostname or "").lower() + parts.path + "?" + parts.query)
    assert len(set(keys)) == len(keys)
    assert len({s.name for s in config.sources}) == len(config.sources)


def test_settings_table_and_dataclass_defaults_agree() -> None:
    """config.SETTINGS (documented defaults) and Settings() (used by code) say the same."""
    from aggregator.config import SETTINGS, Settings, parse_config

    parsed = parse_config({}, base=Path("/base")).settings
    defaults = Settings()
    for setting in SETTINGS:
        if setting.name in ("database", "output_dir"):
            assert getattr(parsed, setting.name) == Path("/base") / setting.default
            continue
        expected = (
            setting.check(setting.default, setting.name) if setting.default is not None else None
        )
        assert getattr(defaults, setting.name) == expected, setting.name


def test_both_yaml_loaders_read_the_same_document() -> None:
    """libyaml reads documents without '&' (no anchor possible); the pure-Python strict
    loader reads the rest; both refuse duplicate keys and agree on every value."""
    from aggregator import config as config_module

    doc = (
        "settings:\n  interval: 30m\n  semantic: false\nsources:\n"
        "  - url: https://a.example/rss?x=1\n    name: 'A: \"quoted\"'\n"
        "  - {url: 'https://b.example/feed', region: Europe}\n"
    )
    fast = config_module._load_yaml(doc)
    slow = yaml.load(doc, Loader=config_module._NoAliasComposer)
    assert fast == slow
    with_amp = doc.replace("?x=1", "?x=1&y=2")  # '&' sends it to the strict loader
    assert config_module._load_yaml(with_amp)["sources"][0]["url"].endswith("&y=2")
    with pytest.raises(ConfigError, match="duplicate key 'a'"):
        config_module._load_yaml("a: 1\na: 2\n")
