"""OPML import and export, and the feeds.yaml editor behind `feeds import` / `feeds add`.

Folders -> hints, the lossless round trip (a fixture and a property test), a table of invalid
OPML documents (one-line errors, feeds.yaml byte-identical), and the text splice that keeps
feeds.yaml's comments, order and formatting.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import aggregator.feedsfile
from aggregator.cli import cli
from aggregator.config import load_config, parse_config
from aggregator.errors import ConfigError
from aggregator.feedsfile import (
    add_sources,
    append_sources_text,
    partition,
    source_mapping,
    write_atomic,
)
from aggregator.models import REGIONS, TOPICS, Source, Taxonomy
from aggregator.opml import format_interval, match_name, read_opml, write_opml

OPML_DIR = Path(__file__).parent / "data" / "opml"

FEEDS_YAML = """\
# My desk's sources. Keep the wire services first.
settings:
  database: agg.db   # next to this file
  output_dir: site

sources:
  # wires
  - name: BBC World
    url: https://feeds.bbci.co.uk/news/world/rss.xml
    interval: 15m   # busy
  - https://rss.dw.com/xml/rss-en-world
  # - url: https://paused.example.com/rss   (paused for now)

# classify comes last
classify:
  topics:
    space: {rocket: 3}
"""


def write_feeds(tmp_path: Path, text: str = FEEDS_YAML) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


# -- reading ----------------------------------------------------------------------------------


def test_nested_folders_give_hints() -> None:
    sources = read_opml((OPML_DIR / "nested.opml").read_bytes(), file="nested.opml")
    assert sources == [
        Source("https://rss.dw.com/xml/rss-en-world", "DW World", region="Europe"),
        Source(
            "https://www.politico.eu/feed/", "Politico Europe", region="Europe", topic="politics"
        ),
        Source(
            "https://www.al-monitor.com/rss",
            "Al-Monitor",
            region="Middle East",
            interval=timedelta(hours=1),
        ),
        # its own attributes win over the "middle east" folder
        Source("https://news.example.org/asia.xml", "Moved desk", region="Asia", topic="diplomacy"),
        Source(
            "https://africa.example.com/business.rss",
            "Business Africa",
            region="Africa",
            topic="economy",
        ),
        # "Tech blogs" is no region or topic; no title or text: the host name
        Source("https://blog.example.net/atom.xml", "blog.example.net"),
        Source(
            "https://news.example.org/world/story-1",
            "Explore",
            kind="html",
            selector="section.explore a",
        ),
    ]


def test_folders_use_the_configured_taxonomy() -> None:
    taxonomy = Taxonomy(regions=(*REGIONS, "South Asia"), topics=(*TOPICS, "space"))
    opml = b"""<opml version="2.0"><body>
      <outline text="south  ASIA"><outline text="Space">
        <outline text="Dawn" xmlUrl="https://www.dawn.com/feeds/world"/>
      </outline></outline></body></opml>"""
    [source] = read_opml(opml, file="x.opml", taxonomy=taxonomy)
    assert (source.region, source.topic) == ("South Asia", "space")
    # without that taxonomy the folders are just names
    [plain] = read_opml(opml, file="x.opml")
    assert (plain.region, plain.topic) == (None, None)


def test_an_empty_attribute_clears_the_folder_hint() -> None:
    opml = b"""<opml version="2.0"><body><outline text="Europe"><outline text="Sport">
        <outline text="X" xmlUrl="https://x.example/" aggregatorRegion="" aggregatorTopic=" "/>
        </outline></outline></body></opml>"""
    [source] = read_opml(opml, file="x.opml")
    assert (source.region, source.topic) == (None, None)


def test_match_name_ignores_case_and_spacing() -> None:
    assert match_name("  middle   EAST ", REGIONS) == "Middle East"
    assert match_name("Science-Tech", TOPICS) == "science-tech"
    assert match_name("Mars", REGIONS) is None
    assert match_name(None, REGIONS) is None


@pytest.mark.parametrize(
    ("interval", "text"),
    [
        (timedelta(days=2), "2d"),
        (timedelta(hours=36), "36h"),
        (timedelta(minutes=15), "15m"),
        (timedelta(seconds=90), "90s"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(microseconds=10), "0.00001s"),
    ],
)
def test_format_interval_reads_back_exactly(interval: timedelta, text: str) -> None:
    assert format_interval(interval) == text
    assert parse_config({"settings": {"interval": text}}).settings.interval == interval


# -- the round trip -----------------------------------------------------------------------------


def _without_comment(text: str) -> str:
    return re.sub(r"<!--.*?-->\n", "", text, flags=re.S)


def test_export_import_export_is_identical() -> None:
    expected = _without_comment((OPML_DIR / "exported.opml").read_text("utf-8"))
    sources = read_opml(expected.encode(), file="exported.opml")
    assert write_opml(sources) == expected
    assert sources == [
        Source(
            "https://feeds.bbci.co.uk/news/world/rss.xml",
            "BBC World",
            interval=timedelta(minutes=15),
        ),
        Source(
            "https://markets.example.com/feed?a=1&b=2",
            'Markets & "Money"',
            topic="economy",
            interval=timedelta(days=1),
        ),
        Source(
            "https://www.politico.eu/feed/", "Politico Europe", region="Europe", topic="politics"
        ),
        Source(
            "https://news.example.org/world/story-1",
            "Explore",
            kind="html",
            region="Middle East",
            interval=timedelta(seconds=90),
            selector="section.explore a",
        ),
    ]


def test_export_groups_by_region_then_topic_in_order_of_appearance() -> None:
    sources = [
        Source("https://a.example/", "A", region="Asia", topic="sport"),
        Source("https://b.example/", "B"),
        Source("https://c.example/", "C", region="Asia"),
        Source("https://d.example/", "D", region="Asia", topic="sport"),
        Source("https://e.example/", "E", region="Europe"),
    ]
    back = read_opml(write_opml(sources).encode(), file="x.opml")
    assert [s.name for s in back] == ["A", "D", "C", "B", "E"]
    assert sorted(back, key=lambda s: s.name) == sources


NAMES = (
    st.text(
        st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\ufffe"),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)
SOURCES = st.builds(
    Source,
    url=st.from_regex(
        r"https://[a-z]{1,8}\.example/[a-z0-9/]{0,10}(\?q=[a-z&=]{0,6})?", fullmatch=True
    ),
    name=NAMES,
    kind=st.sampled_from(["feed", "html"]),
    region=st.none() | st.sampled_from(REGIONS),
    topic=st.none() | st.sampled_from(TOPICS),
    interval=st.none() | st.integers(1, 10**6).map(lambda ms: timedelta(milliseconds=ms)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(SOURCES, max_size=6, unique_by=lambda s: s.url))
def test_round_trip_keeps_every_field(sources: list[Source]) -> None:
    sources = [
        Source(s.url, s.name, s.kind, s.region, s.topic, s.interval, "ul a")
        if s.kind == "html"
        else s
        for s in sources
    ]
    text = write_opml(sources)
    back = read_opml(text.encode(), file="x.opml")
    assert sorted(back, key=lambda s: s.url) == sorted(sources, key=lambda s: s.url)
    assert write_opml(back) == text


# -- invalid OPML ---------------------------------------------------------------------------------

LAUGHS = (
    '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
).encode()
INVALID = [
    ("not-xml", b"this is not XML", "not valid XML"),
    ("empty", b"", "not valid XML"),
    ("unclosed", b"<opml><body><outline text='x'></body></opml>", "not valid XML"),
    ("rss", b"<rss version='2.0'><channel/></rss>", "not OPML: the root element is <rss>"),
    ("no-body", b"<opml version='2.0'><head/></opml>", "not OPML: no <body>"),
    (
        "ftp-url",
        b"<opml><body>\n<outline text='Files' xmlUrl='ftp://files.example/feed'/></body></opml>",
        "outline 'Files' (line 2): xmlUrl: not an http(s) URL: 'ftp://files.example/feed'",
    ),
    (
        "file-url",
        b"<opml><body><outline xmlUrl='file:///etc/passwd'/></body></opml>",
        "outline 'file:///etc/passwd' (line 1): xmlUrl: not an http(s) URL",
    ),
    ("empty-url", b"<opml><body><outline text='E' xmlUrl=''/></body></opml>", "xmlUrl: expected"),
    (
        "internal-entity",
        b'<!DOCTYPE opml [<!ENTITY e "x">]><opml><body><outline text="&e;"/></body></opml>',
        "a DOCTYPE is not allowed",
    ),
    (
        "external-entity",
        b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<opml><body><outline text="&x;" xmlUrl="https://a.example/"/></body></opml>',
        "a DOCTYPE is not allowed",
    ),
    (
        "billion-laughs",
        b"<!DOCTYPE opml [" + LAUGHS + b"]><opml><body><outline text='&a9;'/></body></opml>",
        "a DOCTYPE is not allowed",
    ),
    (
        "utf16-doctype",
        '\ufeff<!DOCTYPE opml [<!ENTITY e "x">]><opml><body/></opml>'.encode("utf-16-le"),
        "a DOCTYPE is not allowed",
    ),
    (
        "undefined-entity",
        b"<opml><body><outline text='&nope;'/></body></opml>",
        "not valid XML: Entity 'nope' not defined",
    ),
    (
        "bad-region",
        b"<opml><body><outline text='X' xmlUrl='https://x.example/' aggregatorRegion='Mars'/>"
        b"</body></opml>",
        "outline 'X' (line 1): aggregatorRegion: expected one of Africa, Americas",
    ),
    (
        "bad-topic",
        b"<opml><body><outline text='X' xmlUrl='https://x.example/' aggregatorTopic='gossip'/>"
        b"</body></opml>",
        "aggregatorTopic: expected one of politics",
    ),
    (
        "bad-kind",
        b"<opml><body><outline text='X' xmlUrl='https://x.example/' aggregatorKind='podcast'/>"
        b"</body></opml>",
        "aggregatorKind: expected one of feed, html, got 'podcast'",
    ),
    (
        "bad-interval",
        b"<opml><body><outline text='X' xmlUrl='https://x.example/' aggregatorInterval='soon'/>"
        b"</body></opml>",
        "aggregatorInterval: expected a duration such as 30m, 2h or 600, got 'soon'",
    ),
    (
        "selector-on-a-feed",
        b"<opml><body><outline text='X' xmlUrl='https://x.example/' aggregatorSelector='a'/>"
        b"</body></opml>",
        "aggregatorSelector: only sources of kind html take a selector",
    ),
    (
        "bad-selector",
        b"<opml><body><outline text='X' url='https://x.example/' aggregatorKind='html'"
        b" aggregatorSelector='a[[['/></body></opml>",
        "aggregatorSelector: not a CSS selector",
    ),
    (
        "html-without-url",
        b"<opml><body><outline text='X' aggregatorKind='html'/></body></opml>",
        "outline 'X' (line 1): a source of kind html needs an xmlUrl or url",
    ),
    (
        "untitled-html",
        b"<opml><body>\n\n<outline aggregatorKind='html'/></body></opml>",
        "outline '(untitled)' (line 3): a source of kind html needs an xmlUrl or url",
    ),
    (
        "feed-kind-without-xmlurl",
        b"<opml><body><outline text='X' url='https://x.example/' aggregatorKind='feed'/>"
        b"</body></opml>",
        "a source of kind feed needs an xmlUrl or url",
    ),
]


@pytest.mark.parametrize(("case", "data", "message"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_opml_is_a_one_line_error_and_feeds_yaml_is_untouched(
    tmp_path: Path, case: str, data: bytes, message: str
) -> None:
    feeds = write_feeds(tmp_path)
    before = feeds.read_bytes()
    opml = tmp_path / f"{case}.opml"
    opml.write_bytes(data)
    with pytest.raises(ConfigError, match=re.escape(message)):
        read_opml(data, file=str(opml))
    code, output = invoke("-c", str(feeds), "feeds", "import", str(opml))
    assert code == 1
    [line] = output.splitlines()
    assert line.startswith(f"Error: {opml}: ")
    assert message in line
    assert feeds.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["feeds.yaml", opml.name])


def test_a_missing_opml_file_is_a_one_line_error(tmp_path: Path) -> None:
    feeds = write_feeds(tmp_path)
    code, output = invoke("-c", str(feeds), "feeds", "import", str(tmp_path / "nope.opml"))
    assert code == 1
    assert output == f"Error: {tmp_path / 'nope.opml'}: cannot read: No such file or directory\n"


# -- import into feeds.yaml ---------------------------------------------------------------------


def test_import_appends_new_sources_and_keeps_comments_and_order(tmp_path: Path) -> None:
    feeds = write_feeds(tmp_path)
    opml = OPML_DIR / "nested.opml"
    code, output = invoke("-c", str(feeds), "feeds", "import", str(opml))
    assert code == 0, output
    assert output.splitlines() == [
        "skipped https://rss.dw.com/xml/rss-en-world: already in feeds.yaml as 'rss.dw.com'",
        f"{opml}: 6 added to {feeds}, 1 skipped",
    ]
    text = feeds.read_text("utf-8")
    old = FEEDS_YAML.splitlines(keepends=True)
    # the old file is untouched around one inserted block, right after the last source
    cut = old.index("  - https://rss.dw.com/xml/rss-en-world\n") + 1
    assert text.startswith("".join(old[:cut]))
    assert text.endswith("".join(old[cut:]))
    inserted = text[len("".join(old[:cut])) : len(text) - len("".join(old[cut:]))]
    assert inserted.splitlines()[:4] == [
        "  - name: Politico Europe",
        "    url: https://www.politico.eu/feed/",
        "    region: Europe",
        "    topic: politics",
    ]
    config = load_config(feeds)
    assert [s.name for s in config.sources] == [
        "BBC World",
        "rss.dw.com",
        "Politico Europe",
        "Al-Monitor",
        "Moved desk",
        "Business Africa",
        "blog.example.net",
        "Explore",
    ]
    assert config.sources[3].interval == timedelta(hours=1)
    assert config.sources[-1].selector == "section.explore a"
    # importing again adds nothing and writes nothing
    before = feeds.read_bytes()
    code, output = invoke("-c", str(feeds), "feeds", "import", str(opml))
    assert code == 0
    assert output.splitlines()[-1] == f"{opml}: 0 added to {feeds}, 7 skipped"
    assert feeds.read_bytes() == before


def test_export_then_import_into_an_empty_file_round_trips(tmp_path: Path) -> None:
    feeds = write_feeds(tmp_path)
    out = tmp_path / "out.opml"
    code, output = invoke("-c", str(feeds), "feeds", "export", "-o", str(out))
    assert code == 0
    assert output == f"{out}: 2 sources\n"
    code, stdout = invoke("-c", str(feeds), "feeds", "export")
    assert stdout == out.read_text("utf-8")
    fresh = tmp_path / "fresh" / "feeds.yaml"
    fresh.parent.mkdir()
    fresh.write_text("# empty for now\nsources: []\n")
    code, output = invoke("-c", str(fresh), "feeds", "import", str(out))
    assert code == 0, output
    assert load_config(fresh).sources == load_config(feeds).sources
    assert fresh.read_text().startswith("# empty for now\nsources:\n  - name: BBC World\n")


def test_export_to_an_unwritable_place_is_one_line(tmp_path: Path) -> None:
    feeds = write_feeds(tmp_path)
    code, output = invoke("-c", str(feeds), "feeds", "export", "-o", str(tmp_path / "no/x.opml"))
    assert code == 1
    assert output == f"Error: {tmp_path / 'no/x.opml'}: cannot write: No such file or directory\n"


def test_partition_skips_configured_and_repeated_urls() -> None:
    existing = [Source("https://A.example:443/feed", "A")]
    candidates = [
        Source("https://a.example/feed#top", "A again"),
        Source("https://b.example/", "B"),
        Source("HTTPS://B.EXAMPLE", "B again"),
    ]
    new, skipped = partition(existing, candidates)
    assert new == [candidates[1]]
    assert [(s.name, why) for s, why in skipped] == [
        ("A again", "already in feeds.yaml as 'A'"),
        ("B again", "listed twice"),
    ]


# -- the feeds.yaml editor ----------------------------------------------------------------------

ITEM = {"name": "New: one", "url": "https://new.example/feed"}
WIDE = (
    "sources:\n    -   url: https://a.example/\n        name: |\n          two\n          lines\n"
)
BLOCK = "  - name: 'New: one'\n    url: https://new.example/feed\n"
SPLICES = [
    ("empty file", "", "sources:\n" + BLOCK),
    ("only a comment", "# nothing yet", "# nothing yet\nsources:\n" + BLOCK),
    (
        "no sources key",
        "settings:\n  interval: 1h\n",
        "settings:\n  interval: 1h\nsources:\n" + BLOCK,
    ),
    ("sources null", "sources:\n# later\n", "sources:\n" + BLOCK + "# later\n"),
    ("sources ~", "sources: ~   \nsettings: {}\n", "sources:\n" + BLOCK + "settings: {}\n"),
    ("empty flow list", "sources: []  # none\n", "sources: # none\n" + BLOCK),
    (
        "items at column 0",
        "sources:\n- https://a.example/\n# end\n",
        "sources:\n- https://a.example/\n"
        "- name: 'New: one'\n  url: https://new.example/feed\n# end\n",
    ),
    (
        "wide items",
        WIDE,
        WIDE + "    -   name: 'New: one'\n        url: https://new.example/feed\n",
    ),
    (
        "no final newline",
        "sources:\n  - url: https://a.example/  # last",
        "sources:\n  - url: https://a.example/  # last\n" + BLOCK,
    ),
    (
        "CRLF",
        "sources:\r\n  - {url: 'https://a.example/'}\r\nsettings: {}\r\n",
        "sources:\r\n  - {url: 'https://a.example/'}\r\n"
        + BLOCK.replace("\n", "\r\n")
        + "settings: {}\r\n",
    ),
]


@pytest.mark.parametrize(("case", "text", "expected"), SPLICES, ids=[c[0] for c in SPLICES])
def test_append_sources_text(case: str, text: str, expected: str) -> None:
    assert append_sources_text(text, [ITEM], file="f.yaml") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sources: [https://a.example/]\n", "f.yaml: sources: written in flow style"),
        ("{sources: []}\n", "f.yaml: the top level is not a block mapping"),
        ("sources: [\n", "f.yaml: invalid YAML"),
    ],
)
def test_append_sources_text_refuses_what_it_cannot_splice(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        append_sources_text(text, [ITEM], file="f.yaml")


def test_source_mapping_leaves_defaults_out() -> None:
    assert source_mapping(Source("https://a.example/x", "a.example")) == {
        "url": "https://a.example/x"
    }
    html = Source("https://a.example/", "A", "html", "Asia", "sport", timedelta(hours=2), "ul a")
    assert list(source_mapping(html).items()) == [
        ("name", "A"),
        ("url", "https://a.example/"),
        ("kind", "html"),
        ("selector", "ul a"),
        ("region", "Asia"),
        ("topic", "sport"),
        ("interval", "2h"),
    ]


def test_add_sources_keeps_a_bom_and_returns_the_new_config(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_bytes(b"\xef\xbb\xbfsources:\n  - https://a.example/\n")
    config = add_sources(feeds, [Source("https://b.example/", "B")])
    assert feeds.read_bytes() == (
        b"\xef\xbb\xbfsources:\n  - https://a.example/\n  - name: B\n    url: https://b.example/\n"
    )
    assert config.path == feeds
    assert [s.name for s in config.sources] == ["a.example", "B"]


def test_an_invalid_result_writes_nothing(tmp_path: Path) -> None:
    feeds = write_feeds(tmp_path)
    before = feeds.read_bytes()
    with pytest.raises(ConfigError) as e:
        add_sources(feeds, [Source("https://new.example/", "New", region="Mars")])
    assert str(e.value).startswith(f"{feeds}: sources[2].region: expected one of Africa")
    assert str(e.value).endswith("(nothing written)")
    assert feeds.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["feeds.yaml"]


def test_a_result_that_reads_back_differently_writes_nothing(tmp_path: Path) -> None:
    feeds = write_feeds(tmp_path)
    before = feeds.read_bytes()
    with pytest.raises(ConfigError, match="would not read back as intended"):
        add_sources(feeds, [Source("https://new.example/", "  spaced  ")])
    assert feeds.read_bytes() == before


def test_a_file_changed_meanwhile_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feeds = write_feeds(tmp_path)
    real = aggregator.feedsfile.load_config

    def load_and_meddle(path: Path) -> object:
        if path != feeds:  # the temporary file: someone edits feeds.yaml meanwhile
            feeds.write_text(FEEDS_YAML + "# edited by hand\n")
        return real(path)

    monkeypatch.setattr(aggregator.feedsfile, "load_config", load_and_meddle)
    with pytest.raises(ConfigError, match="changed while being edited; nothing written"):
        add_sources(feeds, [Source("https://new.example/", "New")])
    assert feeds.read_text().endswith("# edited by hand\n")


def test_add_sources_to_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"feeds\.yaml: cannot read: No such file"):
        add_sources(tmp_path / "feeds.yaml", [Source("https://new.example/", "New")])


def test_write_atomic_keeps_the_mode_and_follows_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "feeds.yaml"
    link.symlink_to(real)
    write_atomic(link, b"new")
    assert link.is_symlink()
    assert real.read_text() == "new"
    assert real.stat().st_mode & 0o777 == 0o640
