"""Robustness figures (issue 10): what hostile input and faulty servers cost, and what breaks.

Four parts (choose with --only; each prints a table, --json FILE writes every figure):

corpus  each case of the generated hostile corpus (tests/hostile_corpus.py) through
        ``parse_feed`` and ``normalise_feed``: size, outcome (the error in one line, or the
        entries), whether that is the outcome the tests expect, wall time, peak RSS growth
        and tracemalloc peak; and the maximum of each over the corpus.
fetch   misbehaving servers on 127.0.0.1, started here, through ``aggregator.fetch.Fetcher``
        with the default settings (30 s deadline, 10 s connect, 15 MiB body cap): a gzip bomb
        (1 GiB of zeros in 1 MB), an endless chunked body, a slow drip, endless headers,
        dripped headers, a server that never answers and one that never accepts: the outcome,
        the time to give up and peak RSS growth.
real    the real news feeds of ``rss-feeds-2026-02`` (entries, and entries with a title and a
        link, per feed; failures), and every file of ``feed-test-corpus`` through
        ``parse_feed``, ``parse_json_feed`` and ``parse_html_page`` (then ``normalise_feed``):
        how many end in entries or a ParseError, what else was raised, and the time.
fuzz    a bounded-time fuzz of those entry points seeded from the same files and the small
        corpus cases: atheris (bench/fuzz_parse.py; pip-installed into this venv on first use
        unless --no-install, never a project dependency), else hypothesis: executions,
        executions/s and findings (any exception but ParseError, any call over 2 s), each
        re-run here without instrumentation.

    python bench/robustness.py [--only corpus|fetch|real|fuzz ...] [--fuzz-seconds 60]
        [--engine auto|atheris|hypothesis] [--timeout 30] [--no-tracemalloc] [--json FILE]
        [--data DIR]

The data parts skip with a message when ../shared/data is absent. Peak RSS growth is the
process's high-water mark (VmHWM, reset through /proc/self/clear_refs before each input)
minus its RSS before the input; it includes C allocations (lxml, expat) that tracemalloc
does not see, but memory that earlier inputs freed is reused without growing RSS, so run a
part alone (--only) for its RSS figures; the tracemalloc peak (Python allocations, bytes
buffers included) does not depend on what ran before.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import tracemalloc
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "tests"))  # the hostile corpus generator
sys.path.insert(0, str(Path(__file__).parent))  # fuzz_parse

import fuzz_parse  # noqa: E402
from hostile_corpus import SECRET, URL, Case, corpus  # noqa: E402

from aggregator.config import Settings  # noqa: E402
from aggregator.errors import ParseError  # noqa: E402
from aggregator.fetch import Fetcher  # noqa: E402
from aggregator.htmlsource import parse_html_page  # noqa: E402
from aggregator.jsonfeed import parse_json_feed  # noqa: E402
from aggregator.models import Entry, FeedState, ParsedFeed  # noqa: E402
from aggregator.normalise import normalise_feed  # noqa: E402
from aggregator.parse import fast_parse, fast_path_fits, parse_feed, repair_charset  # noqa: E402

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
SLOW = fuzz_parse.SLOW
MB = 1024 * 1024


# -- measuring -------------------------------------------------------------------------------


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak() -> int | None:
    """Reset the process's RSS high-water mark; returns the current RSS in bytes (None where
    /proc cannot do it)."""
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    rss = _status_kib("VmRSS")
    return None if rss is None else rss * 1024


def peak_growth(base: int | None) -> int | None:
    """How far RSS rose above ``base`` since :func:`reset_peak`."""
    hwm = _status_kib("VmHWM")
    return None if base is None or hwm is None else max(0, hwm * 1024 - base)


@dataclass
class Cost:
    seconds: float
    rss: int | None
    traced: int | None = None


def measure(
    fn: Callable[[], Any], *, trace: bool = False, same_run: bool = False
) -> tuple[Any, Cost]:
    """``fn()``'s result (or the exception it raised), wall time and peak RSS growth; with
    ``trace``, a second run under tracemalloc for its peak of Python allocations (with
    ``same_run``, the one run is traced: for I/O, where tracing costs little)."""
    base = reset_peak()
    if same_run:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        out = fn()
    except Exception as e:
        out = e
    cost = Cost(time.perf_counter() - started, peak_growth(base))
    if same_run:
        cost.traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    elif trace:
        gc.collect()
        tracemalloc.start()
        with suppress(Exception):
            fn()
        cost.traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return out, cost


def mb(n: int | None) -> str:
    return "-" if n is None else f"{n / MB:.1f}"


def table(headers: list[str], rows: list[list[Any]]) -> None:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [
        all(re.fullmatch(r"[-\d.,x%/ ]+", r[i]) for r in cells if r[i]) for i in range(len(headers))
    ]

    def line(values: list[str]) -> str:
        out = [
            v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(out).rstrip()

    print(line(headers))
    print(line(["-" * w for w in widths]))
    for r in cells:
        print(line(r))


def one_line(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def where(e: BaseException) -> str:
    frames = traceback.extract_tb(e.__traceback__)
    if not frames:
        return "?"
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}"


# -- (a) the hostile corpus ------------------------------------------------------------------


def _parse_and_normalise(case: Case) -> Callable[[], tuple[ParsedFeed, list[Entry]]]:
    def run() -> tuple[ParsedFeed, list[Entry]]:
        parsed = parse_feed(URL, case.body, case.headers)
        return parsed, normalise_feed(parsed, "Hostile", NOW)

    return run


def _judge(case: Case, out: Any) -> tuple[str, bool]:
    """(the outcome in one line, whether it is what tests/test_hostile_feeds.py expects)."""
    if isinstance(out, ParseError):
        return f"ParseError: {out.message}", case.expect in ("error", "any")
    if isinstance(out, Exception):
        return f"RAISED {type(out).__name__}: {out} ({where(out)})", False
    parsed, entries = out
    titles = [e.title for e in entries]
    text = " ".join(titles) + " ".join(e.summary or "" for e in entries)
    leaked = SECRET in text or "lollollol" in text
    outcome = f"{len(entries):,} entries" + (
        f"; bozo: {parsed.bozo_message}" if parsed.bozo else ""
    )
    if leaked:
        outcome += "; LEAKED a file or an entity expansion"
    if case.expect == "error":
        good = False
    elif case.expect == "entries":
        good = bool(titles)
    elif callable(case.expect):
        good = case.expect(titles)
    else:
        good = bool(titles) or bool(parsed.bozo_message)
    good = good and not leaked and all(len(t) <= 1_001 for t in titles)
    return outcome, good


def corpus_part(trace: bool) -> dict[str, Any]:
    print("\n## (a) hostile corpus: parse_feed + normalise_feed, one input at a time\n")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        secret = Path(tmp) / "secret.txt"
        secret.write_text(SECRET)
        for name, case in corpus(secret).items():
            out, cost = measure(_parse_and_normalise(case), trace=trace)
            outcome, good = _judge(case, out)
            rows.append(
                {
                    "input": name,
                    "bytes": len(case.body),
                    "outcome": outcome,
                    "as_expected": good,
                    "seconds": cost.seconds,
                    "peak_rss_growth": cost.rss,
                    "tracemalloc_peak": cost.traced,
                }
            )
    table(
        ["input", "bytes", "outcome", "ok", "ms", "RSS+ MB", "traced MB"],
        [
            [
                r["input"],
                f"{r['bytes']:,}",
                one_line(r["outcome"], 64),
                "yes" if r["as_expected"] else "NO",
                f"{r['seconds'] * 1000:.1f}",
                mb(r["peak_rss_growth"]),
                mb(r["tracemalloc_peak"]),
            ]
            for r in rows
        ],
    )
    top = {
        key: max(rows, key=lambda r: r[key] or 0)
        for key in ("seconds", "peak_rss_growth", "tracemalloc_peak")
    }
    print(
        f"\n{len(rows)} inputs, {sum(r['as_expected'] for r in rows)} as expected; max wall time "
        f"{top['seconds']['seconds']:.2f} s ({top['seconds']['input']}), max RSS growth "
        f"{mb(top['peak_rss_growth']['peak_rss_growth'])} MB ({top['peak_rss_growth']['input']})"
        + (
            f", max tracemalloc peak {mb(top['tracemalloc_peak']['tracemalloc_peak'])} MB "
            f"({top['tracemalloc_peak']['input']})"
            if trace
            else ""
        )
    )
    return {"rows": rows, "max": {k: {"input": v["input"], k: v[k]} for k, v in top.items()}}


# -- (b) fetch-level faults ------------------------------------------------------------------


def gzip_bomb(size: int) -> bytes:
    """``size`` bytes of zeros, gzip-compressed (about 1,000 times smaller)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * MB
    out = [z.compress(block) for _ in range(size // MB)]
    return b"".join([*out, z.flush()])


class FaultServer:
    """Misbehaving HTTP servers on 127.0.0.1 (one thread per connection), one per path."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.bomb = gzip_bomb(1024 * MB)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.base = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.faults: dict[str, Callable[[socket.socket], None]] = {
            "/gzip-bomb": self._bomb,
            "/endless-chunked": self._endless_chunked,
            "/slow-drip": self._slow_drip,
            "/endless-headers": self._endless_headers,
            "/header-drip": self._header_drip,
            "/never-answers": self._never_answers,
        }
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.stop.set()
        self._thread.join(5)
        self.listener.close()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                path = head.split(b" ", 2)[1].decode("ascii", "replace")
                conn.settimeout(None)
                self.faults[path](conn)
            except (OSError, KeyError, IndexError):
                pass  # the client gave up, as it should

    def _bomb(self, conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
            b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(self.bomb)
        )
        conn.sendall(self.bomb)

    def _endless_chunked(self, conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Endless</title>'
        items = b"<item><title>More and more</title><link>https://e.example/1</link></item>"
        chunk = items * (65536 // len(items))
        conn.sendall(b"%x\r\n%s\r\n" % (len(head), head))
        frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        while not self.stop.is_set():
            conn.sendall(frame)

    def _slow_drip(self, conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
            b"Content-Length: 1000000\r\n\r\n<rss>"
        )
        while not self.stop.wait(0.5):  # 10 bytes every half second: each read is quick
            conn.sendall(b"<x>..</x>\n")

    def _endless_headers(self, conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        n = 0
        while not self.stop.is_set():
            n += 1
            conn.sendall(b"X-Padding-%d: %s\r\n" % (n, b"a" * 1000))

    def _header_drip(self, conn: socket.socket) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
            if self.stop.wait(0.5):
                return
            conn.sendall(bytes([byte]))

    def _never_answers(self, conn: socket.socket) -> None:
        self.stop.wait()


@contextmanager
def never_accepts() -> Iterator[str]:
    """A listener whose accept queue is full: connecting never completes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            with suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        yield f"http://127.0.0.1:{port}/feed.xml"
    finally:
        for filler in fillers:
            filler.close()
        server.close()


def fetch_part(timeout: float, connect_timeout: float) -> dict[str, Any]:
    settings = Settings()
    print(
        f"\n## (b) fetch faults on 127.0.0.1 through Fetcher (timeout {timeout:g} s, connect "
        f"{connect_timeout:g} s, body cap {settings.max_body_bytes / MB:g} MiB)\n"
    )
    started = time.perf_counter()
    server = FaultServer()
    print(
        f"(gzip bomb built: 1 GiB of zeros in {len(server.bomb):,} bytes, "
        f"{time.perf_counter() - started:.1f} s)\n"
    )
    rows: list[dict[str, Any]] = []

    def run(name: str, url: str) -> None:
        fetcher = Fetcher(
            user_agent="aggregator-bench/robustness",
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_body_bytes=settings.max_body_bytes,
        )
        out, cost = measure(lambda: fetcher.fetch_all([FeedState(url)]), same_run=True)
        if isinstance(out, Exception):
            outcome = f"RAISED {type(out).__name__}: {out}"
        else:
            (result,) = out
            outcome = (
                f"{result.error_kind}: {result.error}"
                if result.error
                else f"HTTP {result.status}, {len(result.body or b''):,} bytes"
            )
        rows.append(
            {
                "fault": name,
                "outcome": outcome,
                "seconds": cost.seconds,
                "peak_rss_growth": cost.rss,
                "tracemalloc_peak": cost.traced,
            }
        )

    try:
        for path in server.faults:
            run(path.strip("/"), server.base + path)
        with never_accepts() as url:
            run("never-accepts", url)
    finally:
        server.close()
    table(
        ["fault", "outcome", "gave up after s", "RSS+ MB", "traced MB"],
        [
            [
                r["fault"],
                one_line(r["outcome"], 70),
                f"{r['seconds']:.2f}",
                mb(r["peak_rss_growth"]),
                mb(r["tracemalloc_peak"]),
            ]
            for r in rows
        ],
    )
    return {"timeout": timeout, "connect_timeout": connect_timeout, "rows": rows}


# -- (c) real feeds and the feed-test corpus ---------------------------------------------------


def _path_taken(body: bytes) -> str:
    """Which parser ``parse_feed`` uses for ``body`` (as parse_feed decides it)."""
    fixed, headers = repair_charset(body, {})
    fits = fast_path_fits(fixed, headers)
    return "fast" if fits and fast_parse(URL, fixed) is not None else "robust"


def _items(manifest: Path) -> dict[str, int]:
    if not manifest.is_file():
        return {}
    lines = manifest.read_text().splitlines()
    cols = lines[0].split("\t")
    return {
        row[cols.index("file")]: int(row[cols.index("items")])
        for row in (line.split("\t") for line in lines[1:] if line.strip())
    }


def real_feeds_part(data: Path) -> dict[str, Any] | None:
    folder = data / "rss-feeds-2026-02" / "feeds"
    paths = sorted(folder.glob("*.xml"))
    print("\n## (c) real news feeds (rss-feeds-2026-02): parse_feed + normalise_feed\n")
    if not paths:
        print(f"skipped: no feeds in {folder}")
        return None
    items = _items(folder.parent / "manifest.tsv")
    rows: list[dict[str, Any]] = []
    for path in paths:
        body = path.read_bytes()
        url = f"https://feeds.example/{path.name}"

        def run(body: bytes = body, url: str = url, name: str = path.stem) -> list[Entry]:
            return normalise_feed(parse_feed(url, body), name, NOW)

        out, cost = measure(run)
        row: dict[str, Any] = {
            "feed": path.name,
            "bytes": len(body),
            "items": items.get(path.name) or items.get(f"feeds/{path.name}"),
            "path": _path_taken(body),
            "seconds": cost.seconds,
        }
        if isinstance(out, Exception):
            row["error"] = f"{type(out).__name__}: {getattr(out, 'message', out)}"
        else:
            row["entries"] = len(out)
            row["with_title_and_link"] = sum(1 for e in out if e.title and e.url)
        rows.append(row)
    table(
        ["feed", "bytes", "items", "entries", "title+link", "parser", "ms", "error"],
        [
            [
                r["feed"],
                f"{r['bytes']:,}",
                r["items"] if r["items"] is not None else "-",
                r.get("entries", "-"),
                r.get("with_title_and_link", "-"),
                r["path"],
                f"{r['seconds'] * 1000:.1f}",
                one_line(r.get("error", ""), 50),
            ]
            for r in rows
        ],
    )
    failed = [r for r in rows if "error" in r]
    total = sum(r.get("with_title_and_link", 0) for r in rows)
    print(
        f"\n{len(rows)} feeds, {sum(r['bytes'] for r in rows) / MB:.1f} MiB: "
        f"{sum(r.get('entries', 0) for r in rows):,} entries ({total:,} with a title and a link), "
        f"{sum(r['items'] or 0 for r in rows):,} items in the manifest, {len(failed)} failures, "
        f"{sum(r['seconds'] for r in rows):.2f} s"
    )
    return {"rows": rows, "failures": len(failed)}


_HEADER_LINE = re.compile(rb"^Header:\s*([\w-]+):\s*(.*?)\s*$", re.M)


def fixture_headers(body: bytes) -> dict[str, str]:
    """The HTTP headers a feedparser fixture states in its ``Header:`` lines."""
    return {
        k.decode("latin-1").lower(): v.decode("latin-1")
        for k, v in _HEADER_LINE.findall(body[:4096])
    }


ENTRY_POINTS: dict[str, Callable[[str, bytes, dict[str, str]], ParsedFeed]] = {
    "parse_feed": lambda url, body, headers: parse_feed(url, body, headers),
    "parse_json_feed": lambda url, body, headers: parse_json_feed(url, body),
    "parse_html_page": lambda url, body, headers: parse_html_page(url, body, headers),
}


def corpus_files_part(data: Path) -> dict[str, Any] | None:
    folder = data / "feed-test-corpus"
    print("\n## (c) feed-test-corpus: every file through each entry point, then normalise_feed\n")
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "README.md")
    if not paths:
        print(f"skipped: no files in {folder}")
        return None
    groups: dict[str, Counter[str]] = {}
    findings: list[dict[str, Any]] = []
    slowest = (0.0, "")
    started = time.perf_counter()
    for path in paths:
        rel = path.relative_to(folder)
        parts = rel.parts
        group = "/".join(
            parts[:3]
            if parts[0] == "feedparser"
            else parts[:2]
            if parts[0] == "jsonfeed-spec"
            else parts[:4]
        )
        counts = groups.setdefault(group, Counter())
        counts["files"] += 1
        body = path.read_bytes()
        headers = fixture_headers(body)
        url = "http://127.0.0.1:8097/" + str(rel)
        for name, entry_point in ENTRY_POINTS.items():
            t = time.perf_counter()
            try:
                entries = normalise_feed(entry_point(url, body, headers), "Corpus", NOW)
                counts[f"{name} entries"] += 1 if entries else 0
                counts[f"{name} empty"] += 0 if entries else 1
            except ParseError:
                counts[f"{name} ParseError"] += 1
            except Exception as e:
                counts["other exceptions"] += 1
                findings.append(
                    {
                        "file": str(rel),
                        "entry_point": name,
                        "error": f"{type(e).__name__}: {e}",
                        "where": where(e),
                    }
                )
            seconds = time.perf_counter() - t
            if seconds > slowest[0]:
                slowest = (seconds, f"{rel} ({name})")
            if seconds > SLOW:
                counts["slow"] += 1
                findings.append(
                    {"file": str(rel), "entry_point": name, "error": f"took {seconds:.1f} s"}
                )
    elapsed = time.perf_counter() - started
    total: Counter[str] = Counter()
    for counts in groups.values():
        total.update(counts)
    headers = [
        "folder",
        "files",
        "parse_feed: entries/empty/ParseError",
        "json: entries/ParseError",
        "html: entries/ParseError",
        "other",
    ]

    def cells(name: str, c: Counter[str]) -> list[Any]:
        return [
            name,
            c["files"],
            f"{c['parse_feed entries']}/{c['parse_feed empty']}/{c['parse_feed ParseError']}",
            f"{c['parse_json_feed entries']}/{c['parse_json_feed ParseError']}",
            f"{c['parse_html_page entries']}/{c['parse_html_page ParseError']}",
            c["other exceptions"] + c["slow"],
        ]

    table(headers, [*(cells(g, c) for g, c in sorted(groups.items())), cells("all", total)])
    clean = total["files"] - len({f["file"] for f in findings})
    print(
        f"\n{total['files']:,} files x 3 entry points in {elapsed:.1f} s; {clean:,} files raise "
        f"nothing but ParseError anywhere; slowest call {slowest[0] * 1000:.0f} ms ({slowest[1]}); "
        f"findings: {len(findings)}"
    )
    for f in findings[:20]:
        print(
            f"  {f['file']} ({f['entry_point']}): {one_line(f['error'], 120)} {f.get('where', '')}"
        )
    return {
        "files": total["files"],
        "seconds": elapsed,
        "groups": {g: dict(c) for g, c in groups.items()},
        "findings": findings,
        "slowest": {"seconds": slowest[0], "call": slowest[1]},
    }


# -- (d) fuzzing -----------------------------------------------------------------------------

DICTIONARY = (
    '<?xml version="1.0" encoding="utf-8"?>', '<rss version="2.0">', "<channel>", "</channel>",
    "<item>", "</item>", "<title>", "</title>", "<link>", "</link>", "<guid>",
    '<guid isPermaLink="false">', "<description>", "<pubDate>", "<entry>", "</entry>",
    '<feed xmlns="http://www.w3.org/2005/Atom">', '<link rel="related" href="',
    '<content type="xhtml">',
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">', 'rdf:about="', "xml:base=",
    'mode="base64"', "<![CDATA[", "]]>", "<!DOCTYPE x [", '<!ENTITY e "', "&e;", "&#xD800;",
    "&#55296;", "&#0;", "&amp;", "&lt;", "&nbsp;", "<ul><li><a href=\"", "</a>", "<h2>Explore</h2>",
    "<base href=\"", "javascript:", "data:", '{"version":"https://jsonfeed.org/version/1.1",',
    '"items":[', '"title":', '"url":', '"id":', '"date_published":"', '"authors":[', '"tags":',
    "\xef\xbb\xbf", "\xff\xfe", "<ttl>", "encoding=\"koi8-r\"",
)  # fmt: skip


def seeds(data: Path) -> list[tuple[int, bytes]]:
    """(mode, body) seeds: the real feeds, the feed-test-corpus files and the small hostile
    corpus cases, each with the entry point its kind suggests, cut to 16 KiB."""
    out: list[tuple[int, bytes]] = []
    files = sorted((data / "rss-feeds-2026-02" / "feeds").glob("*.xml"))
    files += sorted(
        p for p in (data / "feed-test-corpus").rglob("*") if p.is_file() and p.name != "README.md"
    )
    for path in files:
        body = path.read_bytes()[: fuzz_parse.MAX_LEN]
        out.append((fuzz_parse.SEED_MODE.get(path.suffix, 0), body))
    out += [(0, c.body) for c in corpus().values() if len(c.body) < fuzz_parse.MAX_LEN]
    return out


def _install_atheris(allowed: bool) -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        pass
    else:
        return True
    if not allowed or Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        return False
    print("installing atheris into .venv (not a project dependency) ...", flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "atheris"], capture_output=True, text=True
    )
    return done.returncode == 0


def _replay(work: Path, finding: dict[str, Any]) -> str:
    """The finding's input run again here, without instrumentation."""
    data = (work / finding["input"]).read_bytes()
    call, _ = fuzz_parse.target()
    t = time.perf_counter()
    try:
        call(data[0] % len(fuzz_parse.MODES), data[1:])
        outcome = "no error"
    except ParseError as e:
        outcome = f"ParseError ({one_line(e.message, 60)})"
    except Exception as e:
        outcome = f"{type(e).__name__}: {one_line(str(e), 80)} at {where(e)}"
    return f"{outcome} in {time.perf_counter() - t:.2f} s"


def fuzz_atheris(seed_list: list[tuple[int, bytes]], seconds: int, work: Path) -> dict[str, Any]:
    seed_dir = work / "seeds"
    seed_dir.mkdir()
    for mode, body in seed_list:
        name = hashlib.sha1(bytes([mode]) + body).hexdigest()
        (seed_dir / name).write_bytes(bytes([mode]) + body)
    tokens = work / "xml.dict"
    tokens.write_text(
        "".join(
            '"' + "".join(f"\\x{b:02x}" for b in t.encode("latin-1")) + '"\n' for t in DICTIONARY
        )
    )
    executions = 0
    runs: list[str] = []
    deadline = time.monotonic() + seconds
    while (left := int(deadline - time.monotonic())) > 1 and len(runs) < 5:
        done = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).parent / "fuzz_parse.py"),
                str(work),
                str(left),
                f"-dict={tokens}",
                str(seed_dir),
            ],
            capture_output=True,
            text=True,
            errors="replace",
        )
        m = re.search(r"stat::number_of_executed_units:\s*(\d+)", done.stderr)
        if m:
            executions += int(m.group(1))
        else:  # killed before its final stats (a crash, a timeout, memory): our own count
            stats = work / "stats.json"
            executions += json.loads(stats.read_text())["executions"] if stats.exists() else 0
        crash = re.search(r"==\d+== ERROR: libFuzzer: (.*)", done.stderr)
        runs.append(crash.group(1) if crash else f"exit {done.returncode}")
        if crash:  # a crash of the interpreter, a timeout or memory: libFuzzer stopped
            kinds = ("crash-", "timeout-", "oom-", "slow-unit-")
            artifacts = sorted(p.name for p in work.iterdir() if p.name.startswith(kinds))
            finding = {"kind": "libFuzzer", "error": crash.group(1), "mode": "?"}
            finding["input"] = artifacts[-1] if artifacts else None
            with (work / "findings.jsonl").open("a") as f:
                f.write(json.dumps(finding) + "\n")
    return {"executions": executions, "runs": runs}


def fuzz_hypothesis(seed_list: list[tuple[int, bytes]], seconds: int, work: Path) -> dict[str, Any]:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    call, expected = fuzz_parse.target()
    recorder = fuzz_parse.Recorder(work, call, expected)
    tokens = [t.encode("latin-1") for t in DICTIONARY]
    mutation = st.tuples(
        st.sampled_from(["insert", "delete", "flip", "repeat", "truncate", "bytes"]),
        st.floats(0, 1),
        st.integers(1, 4096),
        st.one_of(st.sampled_from(tokens), st.binary(max_size=16)),
    )
    deadline = time.monotonic() + seconds

    def mutate(body: bytes, steps: list[tuple[str, float, int, bytes]]) -> bytes:
        for kind, where_, n, token in steps:
            i = int(where_ * len(body))
            if kind == "insert":
                body = body[:i] + token + body[i:]
            elif kind == "delete":
                body = body[:i] + body[i + n :]
            elif kind == "flip" and body:
                i = min(i, len(body) - 1)
                body = body[:i] + bytes([body[i] ^ (n & 0xFF or 1)]) + body[i + 1 :]
            elif kind == "repeat":
                body = body[:i] + body[i : i + n] * min(n, 64) + body[i:]
            elif kind == "truncate":
                body = body[:i]
            else:
                body = token * (n % 8 + 1)
        return body

    @settings(
        max_examples=100,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.integers(0, len(seed_list) - 1),
        st.integers(0, len(fuzz_parse.MODES) - 1),
        st.lists(mutation, max_size=6),
    )
    def one(index: int, mode: int, steps: list[tuple[str, float, int, bytes]]) -> None:
        if time.monotonic() < deadline:
            seed_mode, body = seed_list[index]
            chosen = seed_mode if steps and steps[0][2] % 2 else mode
            recorder.one(bytes([chosen]) + mutate(body, steps))

    rounds = 0
    while time.monotonic() < deadline:
        hypothesis_seed(rounds)(one)()
        rounds += 1
    return {"executions": recorder.executions, "runs": [f"{rounds} rounds of 100 examples"]}


def fuzz_part(data: Path, seconds: int, engine: str, install: bool) -> dict[str, Any]:
    seed_list = seeds(data)
    if engine == "auto":
        engine = "atheris" if _install_atheris(install) else "hypothesis"
    print(
        f"\n## (d) fuzzing the parse entry points for {seconds} s with {engine} "
        f"({len(seed_list):,} seeds)\n"
    )
    work = Path(tempfile.mkdtemp(prefix="aggregator-fuzz-"))
    try:
        started = time.monotonic()
        run = (fuzz_atheris if engine == "atheris" else fuzz_hypothesis)(seed_list, seconds, work)
        elapsed = time.monotonic() - started
        findings = []
        if (work / "findings.jsonl").exists():
            for line in (work / "findings.jsonl").read_text().splitlines():
                finding = json.loads(line)
                if finding.get("input") and finding["kind"] != "libFuzzer":
                    finding["replayed"] = _replay(work, finding)
                findings.append(finding)
        kept = ROOT / "test-artifacts" / "fuzz"
        if findings:
            kept.mkdir(parents=True, exist_ok=True)
            for f in findings:
                if f.get("input") and (work / f["input"]).exists():
                    shutil.copy(work / f["input"], kept / f["input"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rate = run["executions"] / elapsed if elapsed else 0.0
    table(
        ["engine", "seconds", "executions", "exec/s", "findings", "runs"],
        [
            [
                engine,
                f"{elapsed:.0f}",
                f"{run['executions']:,}",
                f"{rate:,.0f}",
                len(findings),
                "; ".join(run["runs"]),
            ]
        ],
    )
    for f in findings:
        print(
            f"  {f['kind']}: {f.get('mode')}: {one_line(f['error'], 100)} "
            f"({f.get('size', 0):,} bytes; here: {f.get('replayed', '-')}; "
            f"saved as {kept / str(f.get('input'))})"
        )
    return {
        "engine": engine,
        "seconds": elapsed,
        "executions": run["executions"],
        "executions_per_second": rate,
        "findings": findings,
        "runs": run["runs"],
    }


# -- main ------------------------------------------------------------------------------------

PARTS = ("corpus", "fetch", "real", "fuzz")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=PARTS, help="run only this part")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--fuzz-seconds", type=int, default=60)
    parser.add_argument("--engine", choices=("auto", "atheris", "hypothesis"), default="auto")
    parser.add_argument("--no-install", action="store_true", help="do not pip-install atheris")
    parser.add_argument("--timeout", type=float, default=Settings().timeout)
    parser.add_argument("--connect-timeout", type=float, default=Settings().connect_timeout)
    parser.add_argument("--no-tracemalloc", action="store_true")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    parts = args.only or list(PARTS)
    random.seed(0)
    print(
        f"# bench/robustness.py on {platform.node()}: Python {platform.python_version()}, "
        f"{platform.machine()}; parts: {', '.join(parts)}"
    )
    results: dict[str, Any] = {"argv": sys.argv[1:], "at": datetime.now(UTC).isoformat()}
    if "corpus" in parts:
        results["corpus"] = corpus_part(not args.no_tracemalloc)
    if "fetch" in parts:
        results["fetch"] = fetch_part(args.timeout, args.connect_timeout)
    if "real" in parts:
        results["real_feeds"] = real_feeds_part(args.data)
        results["feed_test_corpus"] = corpus_files_part(args.data)
    if "fuzz" in parts:
        if not (args.data / "rss-feeds-2026-02").is_dir():
            print(f"\n(d) fuzzing: no data under {args.data}: seeded from the hostile corpus only")
        results["fuzz"] = fuzz_part(args.data, args.fuzz_seconds, args.engine, not args.no_install)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
        print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
