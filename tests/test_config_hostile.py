"""Hostile feeds.yaml files (issue 10): each is refused before anything runs.

The table extends ``BAD_CONFIGS`` of test_config.py (not repeated here): wrong types for every
setting and source key, unknown and unprintable keys, duplicate sources spelt differently,
bad and garbage URLs, YAML bombs, deep nesting, huge files, merge keys and anchors, other
encodings, ``kind: html`` with bad selectors, ``classify:`` garbage. Every case is checked
twice: ``load_config`` raises a ``ConfigError`` of one line that starts with the file and names
the key, within seconds; and ``aggregator -c bad.yaml run --once`` exits with status 1 and one
line, leaving no database and no output behind (its folder holds only the bad file).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.config import SETTINGS, load_config
from aggregator.errors import ConfigError

SRC = "sources:\n  - url: https://a.example/rss\n"
HTML = "sources:\n  - url: https://a.example/page\n    kind: html\n"
MB = 1 << 20
# every ConfigError must come this fast (the biggest case reads 2 MiB and stops)
SECONDS = 5.0

Content = str | bytes | Callable[[], bytes]


def billion_laughs() -> bytes:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    lines.append("sources: *a9")
    return ("\n".join(lines) + "\n").encode()


def nested(depth: int, prefix: str = "") -> Callable[[], bytes]:
    return lambda: f"{prefix}sources: {'[' * depth}{']' * depth}\n".encode()


def source_with(key: str, value: str, base: str = SRC) -> str:
    return base + f"    {key}: {value}\n"


def setting_cases() -> list[tuple[str, Content, tuple[str, ...]]]:
    """A mapping and a list of lists for every setting: no setting takes either."""
    cases: list[tuple[str, Content, tuple[str, ...]]] = []
    for setting in SETTINGS:
        for label, value in (("mapping", "{a: 1}"), ("nested-list", "[[1]]")):
            cases.append(
                (
                    f"setting-{setting.name}-{label}",
                    f"settings:\n  {setting.name}: {value}\n",
                    (f"settings.{setting.name}",),
                )
            )
    return cases


def source_key_cases() -> list[tuple[str, Content, tuple[str, ...]]]:
    """A mapping for every key of a source (and a number where text is expected)."""
    cases: list[tuple[str, Content, tuple[str, ...]]] = [
        ("source-url-mapping", "sources:\n  - url: {a: 1}\n", ("sources[0].url",)),
        ("source-url-list", "sources:\n  - url: [https://a.example/rss]\n", ("sources[0].url",)),
        ("source-url-null", "sources:\n  - url: null\n", ("sources[0].url",)),
    ]
    for key in ("name", "kind", "region", "topic", "interval"):
        cases.append((f"source-{key}-mapping", source_with(key, "{a: 1}"), (f"sources[0].{key}",)))
    cases += [
        ("source-name-number", source_with("name", "42"), ("sources[0].name", "42")),
        ("source-name-list", source_with("name", "[a, b]"), ("sources[0].name",)),
        ("source-kind-bool", source_with("kind", "true"), ("sources[0].kind", "True")),
        ("source-interval-list", source_with("interval", "[5m]"), ("sources[0].interval",)),
        ("source-interval-bool", source_with("interval", "no"), ("sources[0].interval",)),
        (
            "source-selector-mapping",
            source_with("selector", "{a: 1}", HTML),
            ("sources[0].selector",),
        ),
        ("source-selector-number", source_with("selector", "5", HTML), ("sources[0].selector",)),
    ]
    return cases


URL_CASES: list[tuple[str, str, tuple[str, ...]]] = [
    ("no-scheme", "a.example/rss", ("not an http(s) URL",)),
    ("protocol-relative", "//a.example/rss", ("not an http(s) URL",)),
    ("javascript", "javascript:alert(document.cookie)", ("not an http(s) URL", "javascript:")),
    ("javascript-slashes", "javascript://a.example/%0aalert(1)", ("not an http(s) URL",)),
    ("file", "file:///etc/passwd", ("not an http(s) URL", "file:")),
    ("file-host", "file://localhost/etc/passwd", ("not an http(s) URL",)),
    ("data", "data:text/html,<script>alert(1)</script>", ("not an http(s) URL",)),
    ("ftp", "ftp://ftp.a.example/feed.xml", ("not an http(s) URL",)),
    ("gopher", "gopher://a.example/", ("not an http(s) URL",)),
    ("scheme-only", "http:", ("malformed URL",)),
    ("no-host-port", "https://:8080/rss", ("malformed URL",)),
    ("space-in-host", "https://a example/rss", ("malformed URL",)),
    ("tab", "https://a.example/r\\tss", ("malformed URL",)),
    ("newline", "https://a.example/rss\\nX-Injected: 1", ("malformed URL",)),
    ("nul", "https://a.example/\\0rss", ("malformed URL",)),
    ("port-letters", "https://a.example:eighty/rss", ("malformed URL", "eighty")),
    ("port-negative", "https://a.example:-1/rss", ("malformed URL",)),
    ("port-zero", "https://a.example:0/rss", ("malformed URL",)),
    ("port-huge", "https://a.example:4294967377/rss", ("malformed URL",)),
    ("ipv6-unclosed", "https://[::1/rss", ("malformed URL",)),
    ("ipv6-garbage", "https://[zz]/rss", ("malformed URL",)),
    ("host-empty-label", "https://a..example/rss", ("not a valid host name",)),
    ("host-leading-hyphen", "https://-a.example/rss", ("not a valid host name",)),
    ("host-percent", "https://a%20b.example/rss", ("not a valid host name",)),
    ("host-label-64", f"https://{'a' * 64}.example/rss", ("not a valid host name",)),
    ("host-too-long", "https://" + ".".join(["a" * 60] * 5) + "/rss", ("not a valid host name",)),
    ("idn-symbol", "https://\\u2603.example/rss", ("only letters, digits",)),
    ("idn-zero-width", "https://a\\u200b.example/rss", ("malformed URL",)),
    ("idn-rtl-override", "https://\\u202eelpmaxe.a/rss", ("malformed URL",)),
    ("punycode-broken", "https://xn--zz.example/rss", ("international host name", "xn--zz")),
    ("punycode-invalid-char", "https://xn--a.xn--b/rss", ("international host name",)),
]

FIRST = "https://a.example/rss"
# (case, the first source, the same feed spelt another way)
DUPLICATES: list[tuple[str, str, str]] = [
    ("scheme-case", FIRST, "HTTPS://a.example/rss"),
    ("host-case", FIRST, "https://A.EXAMPLE/rss"),
    ("default-port", FIRST, "https://a.example:443/rss"),
    ("default-port-http", "http://a.example/rss", "http://a.example:80/rss"),
    ("fragment", FIRST, "https://a.example/rss#top"),
    ("empty-fragment", FIRST, "https://a.example/rss#"),
    ("empty-path", "https://a.example", "https://a.example/"),
    ("surrounding-spaces", FIRST, "'  https://a.example/rss  '"),
    ("mapping-and-string", FIRST, "{url: 'https://a.example/rss#latest', name: Other}"),
    ("punycode-of-idn", "https://a\u00e4.example/rss", "https://xn--a-0fa.example/rss"),
]

CLASSIFY: list[tuple[str, str, tuple[str, ...]]] = [
    ("list", "classify: [regions, topics]\n", ("classify", "mapping")),
    ("string", "classify: everything\n", ("classify", "mapping")),
    ("unknown-key", "classify:\n  colours: {red: 1}\n", ("classify.colours", "unknown key")),
    ("regions-list", "classify:\n  regions: [Europe]\n", ("classify.regions", "mapping")),
    ("region-codes-string", "classify:\n  regions: {Europe: TR}\n", ("classify.regions.Europe",)),
    ("region-code-list", "classify:\n  regions: {Europe: [[TR]]}\n", ("classify.regions.Europe",)),
    ("region-code-mapping", "classify:\n  regions: {Europe: [{TR: 1}]}\n", ("Europe[0]",)),
    ("region-code-unknown", "classify:\n  regions: {Europe: [XX]}\n", ("Europe[0]", "'XX'")),
    ("region-world", "classify:\n  regions: {World: [FR]}\n", ("classify.regions.World",)),
    ("region-moved-twice", "classify:\n  regions: {Europe: [TR], Asia: [TR]}\n", ("Asia[0]",)),
    ("region-name-markup", "classify:\n  regions: {'<b>x</b>': [FR]}\n", ("classify.regions",)),
    ("region-name-newline", 'classify:\n  regions: {"Eu\\nrope": [FR]}\n', ("classify.regions",)),
    ("region-name-hidden", 'classify:\n  regions: {"Eu\\u200bro": [FR]}\n', ("classify.regions",)),
    ("region-name-long", f"classify:\n  regions: {{{'R' * 41}: [FR]}}\n", ("classify.regions",)),
    ("places-mapping", "classify:\n  places: {Donbas: UA}\n", ("classify.places", "list")),
    ("place-not-mapping", "classify:\n  places: [Donbas]\n", ("classify.places[0]",)),
    ("place-unknown-key", "classify:\n  places: [{names: [x], country: UA, x: 1}]\n", ("[0].x",)),
    ("place-no-names", "classify:\n  places: [{names: [], country: UA}]\n", ("places[0].names",)),
    ("place-both", "classify:\n  places: [{names: [x], country: UA, region: Europe}]\n", ("[0]",)),
    ("place-neither", "classify:\n  places: [{names: [x]}]\n", ("classify.places[0]",)),
    ("place-country-list", "classify:\n  places: [{names: [x], country: [UA]}]\n", ("country",)),
    ("place-bad-region", "classify:\n  places: [{names: [x], region: Mars}]\n", ("[0].region",)),
    ("place-name-number", "classify:\n  places: [{names: [1], country: UA}]\n", ("names[0]",)),
    ("topics-list", "classify:\n  topics: [sport]\n", ("classify.topics", "mapping")),
    ("topic-empty", "classify:\n  topics: {sport: {}}\n", ("classify.topics.sport",)),
    ("topic-list", "classify:\n  topics: {sport: [goal]}\n", ("classify.topics.sport",)),
    ("weight-big", "classify:\n  topics: {sport: {goal: 11}}\n", ("topics.sport.goal", "11")),
    ("weight-zero", "classify:\n  topics: {sport: {goal: 0}}\n", ("topics.sport.goal",)),
    ("weight-nan", "classify:\n  topics: {sport: {goal: .nan}}\n", ("topics.sport.goal", "nan")),
    ("weight-bool", "classify:\n  topics: {sport: {goal: yes}}\n", ("topics.sport.goal",)),
    ("weight-text", "classify:\n  topics: {sport: {goal: high}}\n", ("topics.sport.goal",)),
    ("phrase-newline", 'classify:\n  topics: {sport: {"go\\nal": 11}}\n', ("'go\\nal'",)),
    ("phrase-empty", "classify:\n  topics: {sport: {'': 1}}\n", ("classify.topics.sport",)),
]

HOSTILE: list[tuple[str, Content, tuple[str, ...]]] = [
    *setting_cases(),
    *source_key_cases(),
    *((f"url-{n}", f'sources:\n  - "{u}"\n', ("sources[0].url", *f)) for n, u, f in URL_CASES),
    *(
        (f"duplicate-{n}", f"sources:\n  - {a}\n  - {b}\n", ("sources[1].url", "duplicate of"))
        for n, a, b in DUPLICATES
    ),
    *((f"classify-{n}", text, f) for n, text, f in CLASSIFY),
    # unknown and unprintable keys
    ("unknown-top-level-typo", "source:\n  - https://a.example/rss\n", ("source", "unknown")),
    ("unknown-top-level-number", "1: x\n", ("1: unknown top-level key",)),
    ("unknown-top-level-null", "~: x\n", ("None: unknown top-level key",)),
    ("unknown-top-level-newline", '"sources\\nsettings": []\n', ("'sources\\nsettings'",)),
    ("unknown-top-level-u2028", '"a\\u2028b": 1\n', ("'a\\u2028b'", "unknown")),
    ("unknown-setting-newline", 'settings:\n  "interval\\n": 5m\n', ("settings.'interval\\n'",)),
    ("unknown-setting-number", "settings:\n  3: x\n", ("settings.3", "unknown setting")),
    ("unknown-source-key-newline", SRC + '    "x\\ry": 1\n', ("sources[0].'x\\ry'",)),
    ("key-is-a-list", "settings:\n  [a, b]: 1\n", ("a key must be a plain value", "line 2")),
    ("key-is-a-mapping", "? {a: 1}\n: x\n", ("a key must be a plain value", "line 1")),
    ("key-is-a-set", "? !!set {a}\n: x\n", ("a key must be a plain value",)),
    # wrong shapes
    ("top-level-scalar", "42\n", ("top level",)),
    ("top-level-string", "https://a.example/rss\n", ("top level",)),
    ("sources-nested-list", "sources:\n  - []\n", ("sources[0]", "mapping")),
    ("sources-null-item", "sources:\n  -\n", ("sources[0]",)),
    ("settings-string", "settings: fast\n", ("settings", "mapping")),
    ("settings-set", "settings: !!set {interval}\n", ("settings", "mapping")),
    # values
    ("user-agent-newline", 'settings:\n  user_agent: "a/1\\r\\nX-Evil: 1"\n', ("user_agent",)),
    ("user-agent-non-ascii", "settings:\n  user_agent: Agr\u00e9gateur/1.0\n", ("user_agent",)),
    ("database-nul", 'settings:\n  database: "a\\0.db"\n', ("settings.database", "NUL")),
    ("output-dir-nul", 'settings:\n  output_dir: "site\\0"\n', ("settings.output_dir", "NUL")),
    ("templates-dir-nul", 'settings:\n  templates_dir: "t\\0"\n', ("settings.templates_dir",)),
    ("site-url-javascript", "settings:\n  site_url: javascript:alert(1)\n", ("settings.site_url",)),
    ("interval-date", "settings:\n  interval: 2026-01-15\n", ("settings.interval",)),
    ("max-body-negative", "settings:\n  max_body_bytes: -1\n", ("settings.max_body_bytes",)),
    ("timeout-huge", "settings:\n  timeout: 1e400\n", ("settings.timeout",)),
    ("semantic-string", "settings:\n  semantic: 'yes'\n", ("settings.semantic",)),
    ("private-targets-int", "settings:\n  allow_private_targets: 1\n", ("allow_private_targets",)),
    # kind: html and selectors
    ("selector-syntax", source_with("selector", "'a[[['", HTML), ("sources[0].selector", "a[[[")),
    ("selector-xpath", source_with("selector", "//a[@href]", HTML), ("sources[0].selector",)),
    ("selector-empty", source_with("selector", "''", HTML), ("sources[0].selector",)),
    ("selector-unclosed", source_with("selector", "'a:not(b'", HTML), ("sources[0].selector",)),
    ("selector-deep", source_with("selector", "'" + "div " * 5000 + "'", HTML), ("selector",)),
    ("selector-on-feed", source_with("selector", "a", SRC), ("sources[0].selector", "html")),
    ("kind-html-case", source_with("kind", "HTML"), ("sources[0].kind", "'HTML'")),
    # YAML bombs, anchors, merge keys, tags
    ("billion-laughs", billion_laughs, ("YAML aliases are not allowed", "line 2")),
    ("recursive-alias", "sources: &a [*a]\n", ("YAML aliases are not allowed",)),
    ("alias-in-key", "a: &k url\nsources:\n  - {*k : https://a.example/rss}\n", ("aliases",)),
    ("undefined-alias", "sources:\n  - *nowhere\n", ("invalid YAML", "undefined alias")),
    ("merge-without-alias", "settings:\n  <<: {interval: 5m}\n", ("invalid YAML", "merge")),
    (
        "merge-without-alias-strict-loader",
        "# Tom & Jerry\nsettings:\n  <<: {interval: 5m}\n",
        ("invalid YAML", "merge"),
    ),
    ("merge-list", "a: &a {url: x}\nsources:\n  - <<: [*a, *a]\n", ("aliases",)),
    ("python-object", "sources: !!python/object/apply:os.system [id]\n", ("invalid YAML",)),
    ("python-name", "settings: !!python/name:os.system\n", ("invalid YAML",)),
    ("local-tag", "settings: !include other.yaml\n", ("invalid YAML", "!include")),
    ("two-documents", "settings: {}\n---\nsources: []\n", ("invalid YAML", "line 2")),
    ("nested-5000-fast", nested(5000), ("invalid YAML", "nesting depth")),
    ("nested-900-fast", nested(900), ("nested too deeply",)),
    ("nested-5000-strict", nested(5000, "# &\n"), ("nested too deeply",)),
    (
        "nested-mappings",
        lambda: ("sources: " + "{a: " * 3000 + "1" + "}" * 3000).encode(),
        ("depth",),
    ),
    ("nested-blocks", lambda: "".join(" " * i + "a:\n" for i in range(1200)).encode(), ("depth",)),
    # size and encodings
    ("huge-50mb-comments", lambda: b"# " + b"x" * 97 + b"\n" + b"#" * (50 * MB), ("2 MiB",)),
    ("huge-3mb-string", lambda: b"sources: ['" + b"x" * (3 * MB) + b"']\n", ("2 MiB",)),
    ("long-value-clipped", lambda: b"sources: '" + b"x" * MB + b"'\n", ("sources", "...")),
    ("latin-1", "settings:\n  user_agent: caf\u00e9\n".encode("latin-1"), ("not UTF-8", "byte 27")),
    ("windows-1251", "sources:\n  - name: Новости\n".encode("cp1251"), ("not UTF-8",)),
    ("utf-16-le-bom", "sources: []\n".encode("utf-16"), ("not UTF-8", "UTF-16")),
    ("utf-16-be-bom", b"\xfe\xff" + "sources: []\n".encode("utf-16-be"), ("not UTF-8", "UTF-16")),
    ("utf-32-bom", "sources: []\n".encode("utf-32"), ("not UTF-8", "UTF-32")),
    ("utf-16-no-bom", "sources: []\n".encode("utf-16-le"), ("invalid YAML",)),
    ("overlong-utf8", b"settings:\n  user_agent: \xc0\xaf\n", ("not UTF-8",)),
    ("surrogate-utf8", b"settings:\n  user_agent: \xed\xa0\x80\n", ("not UTF-8",)),
    ("invalid-byte-in-comment", b"# \xff\xfe\nsources: []\n", ("not UTF-8", "byte 2")),
    ("nul-byte", b"sources: []\n\x00\n", ("invalid YAML",)),
    ("bell-character", b"settings:\n  user_agent: a\x07b\n", ("invalid YAML",)),
    ("tab-indent-in-list", "sources:\n\t- https://a.example/rss\n", ("invalid YAML", "line 2")),
]


def materialise(content: Content) -> bytes:
    if callable(content):
        return content()
    return content.encode("utf-8") if isinstance(content, str) else content


CASES = [pytest.param(content, fragments, id=case) for case, content, fragments in HOSTILE]


def test_case_ids_are_unique() -> None:
    ids = [case for case, _, _ in HOSTILE]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("content", "fragments"), CASES)
def test_hostile_config_is_one_line_naming_file_and_key(
    tmp_path: Path, content: Content, fragments: tuple[str, ...]
) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_bytes(materialise(content))
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert time.monotonic() - started < SECONDS
    message = str(info.value)
    assert len(message.splitlines()) == 1, message[:300]  # no \n, \r, \u2028 ...
    assert message.startswith(f"{path}: ")
    assert len(message) <= len(str(path)) + 1002
    for fragment in fragments:
        assert fragment in message, message[:300]


@pytest.mark.parametrize(("content", "fragments"), CASES)
def test_hostile_config_stops_a_run_before_anything_is_written(
    tmp_path: Path, content: Content, fragments: tuple[str, ...]
) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_bytes(materialise(content))
    result = CliRunner().invoke(cli, ["-c", str(path), "run", "--once"])
    assert result.exit_code == 1, result.output[:300]
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output[:300]
    assert lines[0].startswith(f"Error: {path}: ")
    assert [p.name for p in tmp_path.iterdir()] == ["feeds.yaml"]  # no database, no site


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_file_is_read_only_up_to_the_limit() -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"^/dev/zero: larger than 2 MiB"):
        load_config("/dev/zero")
    assert time.monotonic() - started < SECONDS


def test_a_folder_is_not_a_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    "url",
    [
        "https://m\u00fcnchen.example/rss",
        "https://xn--mnchen-3ya.example/rss",
        "https://\u4f8b\u3048.\u30c6\u30b9\u30c8/rss",
        "https://a_b.example/rss",
        "https://127.0.0.1:8080/rss",
        "https://[::1]:8080/rss",
        "https://[fe80::1%25eth0]/rss",
        "https://user:secret@a.example/rss",
        "https://a.example./rss",
        "http://localhost/rss",
    ],
)
def test_unusual_but_valid_urls_are_kept(tmp_path: Path, url: str) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(f'sources:\n  - "{url}"\n', encoding="utf-8")
    assert [s.url for s in load_config(path).sources] == [url]


def test_anchors_without_aliases_are_harmless(tmp_path: Path) -> None:
    """Only aliases are refused: an anchor nobody refers to changes nothing."""
    path = tmp_path / "feeds.yaml"
    path.write_text("sources: &all\n  - &one https://a.example/rss\n", encoding="utf-8")
    assert [s.url for s in load_config(path).sources] == ["https://a.example/rss"]
