"""feeds.yaml edited in place: new sources appended to ``sources:``, nothing else touched.

The new items are spliced into the file's text after the last line of the ``sources:`` list
(positions from PyYAML's node marks), indented like the items already there; every other
byte (comments, blank lines, key order, quoting, indentation) stays as it was. A YAML
round-trip dumper re-indents whole files and files new items after the list's trailing
comments, so text is spliced instead. The result is checked before it replaces the file: it
must pass the normal validation (:func:`~aggregator.config.load_config`, on a temporary file
beside it) and read back as the old sources followed by exactly the new ones, with the same
settings. Only then is it renamed over the original (atomic), and only if the original did
not change meanwhile. Any problem is a one-line :class:`~aggregator.errors.ConfigError`, and
the file is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from aggregator.config import Config, load_config
from aggregator.errors import ConfigError
from aggregator.models import Source
from aggregator.opml import format_interval

_BOM = b"\xef\xbb\xbf"
_NULL = "tag:yaml.org,2002:null"


def default_name(url: str) -> str:
    """The name feeds.yaml gives a source without one: its host."""
    return urlsplit(url).hostname or url


def url_key(url: str) -> str:
    """Two URLs with the same key are the same source (the rule feeds.yaml's duplicate check
    uses): scheme and host in lower case, default port and fragment dropped."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme.lower()}://{host}{port}{parts.path or '/'}?{parts.query}"


def source_mapping(source: Source) -> dict[str, str]:
    """A source as a feeds.yaml item, keys in the shipped file's order, defaults left out."""
    item: dict[str, str] = {}
    if source.name != default_name(source.url):
        item["name"] = source.name
    item["url"] = source.url
    if source.kind != "feed":
        item["kind"] = source.kind
    if source.selector:
        item["selector"] = source.selector
    if source.region:
        item["region"] = source.region
    if source.topic:
        item["topic"] = source.topic
    if source.interval is not None:
        item["interval"] = format_interval(source.interval)
    return item


def partition(
    existing: Sequence[Source], candidates: Sequence[Source]
) -> tuple[list[Source], list[tuple[Source, str]]]:
    """The candidates that are new, and the others with the reason they are skipped
    (already configured, or given twice)."""
    configured = {url_key(s.url): s for s in existing}
    new: dict[str, Source] = {}
    skipped: list[tuple[Source, str]] = []
    for source in candidates:
        key = url_key(source.url)
        if key in configured:
            skipped.append((source, f"already in feeds.yaml as {configured[key].name!r}"))
        elif key in new:
            skipped.append((source, "listed twice"))
        else:
            new[key] = source
    return list(new.values()), skipped


# -- the text splice --------------------------------------------------------------------------


def _render(items: Sequence[dict[str, str]], dash: int, gap: int, nl: str) -> str:
    """Block-style YAML items whose ``-`` is at column ``dash`` and content ``gap`` further."""
    dumped = yaml.safe_dump(
        list(items), sort_keys=False, allow_unicode=True, default_flow_style=False, width=10**9
    )
    out = []
    for line in dumped.splitlines():
        if line.startswith("- "):
            out.append(" " * dash + "-" + " " * (gap - 1) + line[2:])
        else:  # a key of the same item, or a continuation line (deeper)
            out.append(" " * (dash + gap) + line[2:])
    return "".join(line + nl for line in out)


def _last_node(node: Any) -> Any:
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    return node


def _line_end(text: str, index: int) -> int:
    """The offset just after the line break ending the line that holds ``index``."""
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


def _insert(text: str, at: int, block: str, nl: str) -> str:
    if at == len(text) and text and not text.endswith("\n"):
        block = nl + block
    return text[:at] + block + text[at:]


def append_sources_text(text: str, items: Sequence[dict[str, str]], *, file: str) -> str:
    """``text`` (a valid feeds.yaml) with ``items`` appended to its ``sources:`` list, every
    other character unchanged. A ``sources:`` written in flow style (``[a, b]``) cannot be
    extended this way and is refused; an empty one (``sources:``, ``sources: []``) or a
    missing one is turned into a block list."""
    nl = "\r\n" if "\r\n" in text else "\n"
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        raise ConfigError(f"{file}: invalid YAML: {str(e).splitlines()[0]}") from e
    if root is None:  # empty, or only comments
        return _insert(text, len(text), "sources:" + nl + _render(items, 2, 2, nl), nl)
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        raise ConfigError(f"{file}: the top level is not a block mapping; add sources by hand")
    column = root.value[0][0].start_mark.column if root.value else 0
    found = [(key, value) for key, value in root.value if key.value == "sources"]
    if not found:
        block = " " * column + "sources:" + nl + _render(items, column + 2, 2, nl)
        return _insert(text, len(text), block, nl)
    key, value = found[0]
    if isinstance(value, yaml.SequenceNode) and value.value and not value.flow_style:
        first = value.value[0].start_mark
        dash = text.rfind("-", 0, first.index)
        dash_column = dash - (text.rfind("\n", 0, dash) + 1)
        gap = first.column - dash_column if text.find("\n", dash, first.index) < 0 else 2
        end = _last_node(value).end_mark
        at = _line_end(text, end.index) if end.column > 0 else end.index
        return _insert(text, at, _render(items, dash_column, max(gap, 2), nl), nl)
    empty_flow = isinstance(value, yaml.SequenceNode) and not value.value
    if not (empty_flow or (isinstance(value, yaml.ScalarNode) and value.tag == _NULL)):
        raise ConfigError(
            f"{file}: sources: written in flow style ([...]); make it a block list "
            "(one '- ' item per line) to add sources"
        )
    # drop the empty value's text ("[]", "~", "null"), then start the list on the next line
    start, stop = value.start_mark.index, value.end_mark.index
    if start < stop:  # with the blanks after it, and before it when the line ends there
        stop = len(text) - len(text[stop:].lstrip(" \t"))
        if text[stop : stop + 1] in ("", "\n", "\r"):
            start = len(text[:start].rstrip(" \t"))
    text = text[:start] + text[stop:]
    at = _line_end(text, start)
    return _insert(text, at, _render(items, key.start_mark.column + 2, 2, nl), nl)


# -- writing the file ---------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes, check: Callable[[Path], None] | None = None) -> None:
    """Write ``data`` to a temporary file beside ``path``, call ``check`` on it (which may
    raise: then nothing is written), and rename it over ``path``."""
    target = Path(os.path.realpath(path))
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temp = Path(name)
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temp, stat.S_IMODE(target.stat().st_mode))
        if check is not None:
            check(temp)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def add_sources(path: Path, sources: Sequence[Source]) -> Config:
    """Append ``sources`` to the feeds.yaml at ``path``, keeping the rest of the file as it
    is; returns the configuration as now written. Validated before anything is written."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from e
    old = load_config(path)
    text = raw.removeprefix(_BOM).decode("utf-8")
    edited = append_sources_text(text, [source_mapping(s) for s in sources], file=str(path))
    data = (_BOM if raw.startswith(_BOM) else b"") + edited.encode("utf-8")
    written: list[Config] = []

    def check(temp: Path) -> None:
        try:
            new = load_config(temp)
        except ConfigError as e:
            problem = str(e).removeprefix(f"{temp}: ")
            raise ConfigError(f"{path}: {problem} (nothing written)") from None
        expected = (*old.sources, *sources)
        if (new.sources, new.settings, new.taxonomy) != (expected, old.settings, old.taxonomy):
            raise ConfigError(
                f"{path}: the edited file would not read back as intended; nothing written "
                "(add the sources by hand)"
            )
        if path.read_bytes() != raw:
            raise ConfigError(f"{path}: changed while being edited; nothing written, try again")
        written.append(replace(new, path=path))

    write_atomic(path, data, check)
    return written[0]
