"""Side-by-side speed of full feed-reading passes on a loopback feed farm (issue 5).

One invocation starts ``bench/farm.py`` as a separate process for each size N (default 200 and
1000 generated feeds) and times, for every tool, a first pass into an empty store and a second
pass with every feed unchanged (the farm answers 304 to a conditional request), as the median
wall time of ``--runs`` fresh runs, with the peak memory of the tool's process tree:

* ``ours``: ``aggregator run --once --all`` (fetch, parse, store, cluster, classify, render),
  concurrency 16 and ``per_host: 16`` (every farm feed is on the one host 127.0.0.1; the
  default of 2 would serialise the pass).
* ``ours-fps``: the same pass with clustering, labelling and rendering switched off (the CLI
  has no such switch: a driver stubs ``pipeline.update_stories`` and passes ``render=False``),
  i.e. fetch + parse + normalise + store, to compare with the reference.
* ``reader``: lemon24/reader, ``update_feeds(workers=8, scheduled=False)`` (feeds are added
  before the timed pass), installed with pip into its own venv.
* ``newsboat``: ``newsboat -x reload`` with ``reload-threads 8``, installed with apt-get.
* ``reference``: a minimal asyncio + httpx + fastfeedparser script, 16 at a time, inserting
  into SQLite (its own venv).

Every tool must store as many entries as the farm serves items, and the farm's request counts
show what each pass downloaded. A peer that cannot be installed is skipped with a message. The
only network use beyond 127.0.0.1 is pip and apt-get; the venvs are kept in ``--venvs``
(default /tmp/bench-venvs) for the next run; every other file lives in a temporary directory
that is removed at the end.

    .venv/bin/python bench/fetch.py                  # sizes 200,1000; 3 runs (several minutes)
    .venv/bin/python bench/fetch.py --quick          # N=50, 1 run: a smoke test
    .venv/bin/python bench/fetch.py --sizes 1000 --runs 5 --tools ours,reader
    .venv/bin/python bench/fetch.py --sizes 1000 --runs 1 --tools ours --profile /tmp/ours.prof
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import pstats
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from xml.etree import ElementTree

HERE = Path(__file__).resolve().parent
FARM = HERE / "farm.py"
TOOLS = ("ours", "ours-fps", "reader", "newsboat", "reference")
PAGE_KB = os.sysconf("SC_PAGESIZE") // 1024

# -- measuring a process ----------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out.extend(int(p) for p in f.read().split())
    except OSError:
        pass
    return out


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class TreeSampler(threading.Thread):
    """Samples the summed RSS of a process and its descendants (for multi-process tools;
    ``wait4`` gives the exact peak of the largest single process)."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak_kb = pid, every, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            pids, todo = [], [self.pid]
            while todo:
                pid = todo.pop()
                pids.append(pid)
                todo.extend(_children(pid))
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(p) for p in pids))
            self.done.wait(self.every)


@dataclass(frozen=True)
class Pass:
    wall: float  # seconds
    rss_mb: float  # peak RSS of the process tree
    rc: int
    requests: dict[str, int] = field(default_factory=dict)  # farm: status -> count
    farm_cpu: float = 0.0  # CPU seconds the farm spent during the pass

    @property
    def served(self) -> str:
        return " ".join(f"{k}x{v}" for k, v in sorted(self.requests.items()) if k != "bytes")


def measure(
    argv: Sequence[str], *, cwd: Path, env: dict[str, str], log: Path, timeout: float
) -> Pass:
    """Run ``argv`` to completion: wall time, peak RSS (wait4's ru_maxrss or the sampled
    tree sum, whichever is larger) and exit status; output goes to ``log``."""
    with open(log, "ab") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
        sampler = TreeSampler(proc.pid)
        sampler.start()
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        killer.cancel()
        sampler.done.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak_kb = max(usage.ru_maxrss, sampler.peak_kb)
    return Pass(wall=wall, rss_mb=peak_kb / 1024, rc=proc.returncode)


def _tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in text[-lines:])


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a tool: no proxies (the farm is on loopback), no venv leaking."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
        and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    env.update(NO_PROXY="*", no_proxy="*", LC_ALL="C.UTF-8", **extra)
    return env


# -- the farm ---------------------------------------------------------------------------------


class Farm:
    """``bench/farm.py`` in its own process; stops when its stdin is closed."""

    def __init__(self, n: int, seed: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(FARM), "--n", str(n), "--seed", str(seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=clean_env(),
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise RuntimeError("the feed farm did not start")
        self.info: dict[str, Any] = json.loads(line)
        self.url: str = self.info["url"]
        self._open = urllib.request.build_opener(urllib.request.ProxyHandler({})).open
        root = ElementTree.fromstring(self.get("/feeds.opml"))
        self.feeds = [(o.attrib["text"], o.attrib["xmlUrl"]) for o in root.iter("outline")]

    def get(self, path: str) -> bytes:
        with self._open(self.url + path, timeout=30) as r:
            body: bytes = r.read()
            return body

    def stats(self) -> dict[str, int]:
        """Requests served since the last call, by status (and bytes)."""
        stats: dict[str, int] = json.loads(self.get("/_stats?reset=1"))
        return stats

    def cpu(self) -> float:
        return _cpu_seconds(self.proc.pid)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


async def _hammer(port: int, paths: Sequence[str], headers: str, connections: int) -> int:
    """Fetch ``paths`` over ``connections`` keep-alive connections with a bare HTTP client
    (no decompression, no parsing): the farm's own speed. Returns bytes received."""
    queue = list(reversed(paths))
    received = 0

    async def worker() -> None:
        nonlocal received
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while queue:
            path = queue.pop()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: farm\r\n{headers}\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            received += len(await reader.readexactly(length))
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return received


def farm_floor(farm: Farm, connections: int = 16) -> tuple[float, float]:
    """Seconds the farm needs to serve every feed (gzip), then every feed as 304."""
    paths = [url.split(str(farm.info["port"]), 1)[1] for _, url in farm.feeds]
    started = time.perf_counter()
    asyncio.run(_hammer(farm.info["port"], paths, "Accept-Encoding: gzip\r\n", connections))
    full = time.perf_counter() - started
    future = "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n"
    started = time.perf_counter()
    asyncio.run(_hammer(farm.info["port"], paths, future, connections))
    unchanged = time.perf_counter() - started
    farm.stats()
    return full, unchanged


# -- the tools --------------------------------------------------------------------------------


class Tool(Protocol):
    name: str
    label: str

    def prepare(self, work: Path, farm: Farm) -> None:
        """Write the tool's configuration (and do untimed setup) in ``work``."""

    def argv(self, work: Path) -> list[str]:
        """The command of one pass (the same for the first and the second)."""

    def env(self, work: Path) -> dict[str, str]: ...

    def count(self, work: Path) -> int:
        """Entries stored after the passes."""


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        (n,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    conn.close()
    return int(n)


def _write_urls(work: Path, farm: Farm) -> Path:
    path = work / "urls.txt"
    path.write_text("".join(url + "\n" for _, url in farm.feeds))
    return path


def _yaml_str(text: str) -> str:
    return json.dumps(text)  # a JSON string is a YAML string


OURS_SETTINGS = """\
settings:
  database: {db}
  output_dir: {site}
  concurrency: 16
  per_host: 16       # every farm feed is on 127.0.0.1; the default (2) would serialise the pass
  timeout: 120
sources:
"""

FPS_DRIVER = """\
import sys
from aggregator import pipeline
from aggregator.config import load_config

# fetch + parse + normalise + store only: no clustering, labelling or rendering
pipeline.update_stories = lambda *args, **kwargs: set()
report = pipeline.run_pass(load_config(sys.argv[1]), all_feeds=True, render=False)
print(len(report.feeds), "feeds,", report.new_entries, "new entries,", report.errors, "errors")
"""


@dataclass
class Ours:
    name: str = "ours"
    label: str = "ours: aggregator run --once --all"
    python: str = sys.executable

    def prepare(self, work: Path, farm: Farm) -> None:
        lines = [OURS_SETTINGS.format(db=work / "aggregator.db", site=work / "site")]
        for name, url in farm.feeds:
            lines.append(f"  - url: {url}\n    name: {_yaml_str(name)}\n")
        (work / "feeds.yaml").write_text("".join(lines))

    def argv(self, work: Path) -> list[str]:
        config = str(work / "feeds.yaml")
        return [self.python, "-m", "aggregator", "-c", config, "run", "--once", "--all"]

    def env(self, work: Path) -> dict[str, str]:
        return clean_env()

    def count(self, work: Path) -> int:
        return _count(work / "aggregator.db", "entries")


@dataclass
class OursFetchParseStore(Ours):
    name: str = "ours-fps"
    label: str = "ours, fetch+parse+store only"

    def prepare(self, work: Path, farm: Farm) -> None:
        super().prepare(work, farm)
        (work / "fps.py").write_text(FPS_DRIVER)

    def argv(self, work: Path) -> list[str]:
        return [self.python, str(work / "fps.py"), str(work / "feeds.yaml")]


READER_DRIVER = """\
import inspect, sys
from reader import make_reader

db, urls, mode = sys.argv[1:4]
reader = make_reader(db)
if mode == "add":
    for url in open(urls).read().split():
        reader.add_feed(url, exist_ok=True)
elif mode == "update":
    kwargs = {"workers": 8}
    if "scheduled" in inspect.signature(reader.update_feeds).parameters:
        kwargs["scheduled"] = False  # else the second pass skips every feed (not yet due)
    reader.update_feeds(**kwargs)
else:
    print(reader.get_entry_counts().total)
reader.close()
"""


@dataclass
class Reader:
    python: str
    name: str = "reader"
    label: str = "lemon24/reader update_feeds(workers=8)"

    def prepare(self, work: Path, farm: Farm) -> None:
        urls = _write_urls(work, farm)
        (work / "driver.py").write_text(READER_DRIVER)
        add = [self.python, str(work / "driver.py"), str(work / "reader.db"), str(urls), "add"]
        subprocess.run(add, check=True, cwd=work, env=self.env(work), capture_output=True)

    def argv(self, work: Path) -> list[str]:
        driver, db = str(work / "driver.py"), str(work / "reader.db")
        return [self.python, driver, db, str(work / "urls.txt"), "update"]

    def env(self, work: Path) -> dict[str, str]:
        return clean_env()

    def count(self, work: Path) -> int:
        driver, db = str(work / "driver.py"), str(work / "reader.db")
        argv = [self.python, driver, db, str(work / "urls.txt"), "count"]
        done = subprocess.run(argv, check=True, cwd=work, env=self.env(work), capture_output=True)
        return int(done.stdout.split()[-1])


@dataclass
class Newsboat:
    binary: str
    name: str = "newsboat"
    label: str = "newsboat -x reload (reload-threads 8)"

    def prepare(self, work: Path, farm: Farm) -> None:
        _write_urls(work, farm)
        (work / "config").write_text("reload-threads 8\ndownload-timeout 120\n")

    def argv(self, work: Path) -> list[str]:
        files = ["-u", str(work / "urls.txt"), "-c", str(work / "cache.db")]
        return [self.binary, "-x", "reload", *files, "-C", str(work / "config")]

    def env(self, work: Path) -> dict[str, str]:
        # keep newsboat's own files (~/.newsboat, XDG dirs) in the temporary directory
        home = str(work)
        return clean_env(HOME=home, XDG_CONFIG_HOME=home, XDG_DATA_HOME=home, TERM="dumb")

    def count(self, work: Path) -> int:
        return _count(work / "cache.db", "rss_item")


REFERENCE_SCRIPT = """\
# The minimal fetch+parse+store reference: asyncio + httpx + fastfeedparser, 16 at a time,
# conditional GET, parsing on the event loop, one transaction per feed.
import asyncio, sqlite3, sys
import fastfeedparser, httpx

SCHEMA = '''
CREATE TABLE IF NOT EXISTS feeds (url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT);
CREATE TABLE IF NOT EXISTS entries (
    feed_url TEXT, id TEXT, title TEXT, link TEXT, published TEXT, summary TEXT,
    PRIMARY KEY (feed_url, id));
'''

async def main(db_path, urls_path):
    db = sqlite3.connect(db_path)
    db.executescript(SCHEMA)
    validators = {u: (e, m) for u, e, m in db.execute("SELECT * FROM feeds")}
    urls = open(urls_path).read().split()
    limit = asyncio.Semaphore(16)
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        async def one(url):
            etag, modified = validators.get(url, (None, None))
            headers = {}
            if etag:
                headers["If-None-Match"] = etag
            if modified:
                headers["If-Modified-Since"] = modified
            async with limit:
                response = await client.get(url, headers=headers)
            if response.status_code != 200:
                return response.status_code
            feed = fastfeedparser.parse(response.content)
            rows = [
                (url, e.get("id") or e.get("link") or e.get("title"), e.get("title"),
                 e.get("link"), e.get("published"), e.get("description"))
                for e in feed.entries
            ]
            with db:
                db.execute(
                    "INSERT OR REPLACE INTO feeds VALUES (?, ?, ?)",
                    (url, response.headers.get("etag"), response.headers.get("last-modified")),
                )
                db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?)", rows)
            return 200
        statuses = await asyncio.gather(*(one(u) for u in urls))
    print({s: statuses.count(s) for s in set(statuses)})
    db.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@dataclass
class Reference:
    python: str
    name: str = "reference"
    label: str = "asyncio + httpx + fastfeedparser + sqlite3"

    def prepare(self, work: Path, farm: Farm) -> None:
        _write_urls(work, farm)
        (work / "reference.py").write_text(REFERENCE_SCRIPT)

    def argv(self, work: Path) -> list[str]:
        script, db = str(work / "reference.py"), str(work / "reference.db")
        return [self.python, script, db, str(work / "urls.txt")]

    def env(self, work: Path) -> dict[str, str]:
        return clean_env()

    def count(self, work: Path) -> int:
        return _count(work / "reference.db", "entries")


# -- installing the peers ---------------------------------------------------------------------


def ensure_venv(path: Path, packages: Sequence[str], check: str, install: bool) -> str | None:
    """A venv at ``path`` in which ``check`` runs; created with pip when missing.
    Returns its python, or None (with a message) when it cannot be had."""
    python = path / "bin" / "python"

    def works() -> bool:
        if not python.exists():
            return False
        done = subprocess.run([str(python), "-c", check], capture_output=True, env=clean_env())
        return done.returncode == 0

    if works():
        return str(python)
    if not install:
        print(f"  skipped: no working venv at {path} (and --no-install)")
        return None
    print(f"  installing {' '.join(packages)} into {path} ...", flush=True)
    base = getattr(sys, "_base_executable", sys.executable)
    steps = [
        [base, "-m", "venv", "--clear", str(path)],
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *packages],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:]
            print(f"  skipped: {' '.join(step[:4])} failed: {' '.join(last)}")
            return None
    if not works():
        print(f"  skipped: installed, but `{check}` fails in {path}")
        return None
    return str(python)


def ensure_newsboat(install: bool) -> str | None:
    found = shutil.which("newsboat")
    if found or not install:
        if not found:
            print("  skipped: newsboat is not installed (and --no-install)")
        return found
    if not shutil.which("apt-get"):
        print("  skipped: newsboat is not installed and there is no apt-get")
        return None
    print("  installing newsboat with apt-get ...", flush=True)
    env = clean_env(DEBIAN_FRONTEND="noninteractive")
    install_it = ["apt-get", "install", "-y", "-q", "newsboat"]
    for steps in ([install_it], [["apt-get", "update", "-q"], install_it]):
        ok = all(subprocess.run(s, capture_output=True, env=env).returncode == 0 for s in steps)
        if ok and shutil.which("newsboat"):
            return shutil.which("newsboat")
    print("  skipped: `apt-get install newsboat` failed (not root, or no package index?)")
    return None


def make_tools(names: Sequence[str], venvs: Path, install: bool) -> list[Tool]:
    tools: list[Tool] = []
    for name in names:
        print(f"{name}:", flush=True)
        if name == "ours":
            tools.append(Ours())
        elif name == "ours-fps":
            tools.append(OursFetchParseStore())
        elif name == "reader":
            # reader vendors an old feedparser that imports `sgmllib` (from sgmllib3k);
            # feedparser 6.0.12+ depends on feedparser-sgmllib instead, so add it by hand.
            check = "from reader import make_reader; make_reader(':memory:').add_feed('http://a/')"
            if python := ensure_venv(venvs / "reader", ["reader", "sgmllib3k"], check, install):
                tools.append(Reader(python))
        elif name == "newsboat":
            if binary := ensure_newsboat(install):
                tools.append(Newsboat(binary))
        elif name == "reference":
            check = "import fastfeedparser, httpx"
            pkgs = ["httpx", "fastfeedparser"]
            if python := ensure_venv(venvs / "reference", pkgs, check, install):
                tools.append(Reference(python))
        else:
            raise SystemExit(f"unknown tool {name!r} (known: {', '.join(TOOLS)})")
        if tools and tools[-1].name == name:
            print(f"  ok: {tools[-1].label}")
    return tools


def package_digest() -> str:
    """A digest of the aggregator package's files as ours will run them. The checkout may be
    edited while the benchmark runs; a change makes the figures a mix of versions."""
    import aggregator

    root = Path(aggregator.__file__).parent
    digest = hashlib.sha1(usedforsecurity=False)
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:10]


def describe_ours() -> str:
    import aggregator

    root = Path(aggregator.__file__).parent.parent
    git = ["git", "-C", str(root)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "aggregator", "pyproject.toml"],
        capture_output=True,
        text=True,
    )
    changed = [line[3:] for line in dirty.stdout.splitlines()]
    where = head.stdout.strip() or "no git"
    if changed:
        where += f" + uncommitted {', '.join(changed)}"
    return f"aggregator {aggregator.__version__} at {where} (package digest {package_digest()})"


# -- running ----------------------------------------------------------------------------------


@dataclass
class Run:
    first: Pass
    second: Pass
    entries: int
    version: str = ""  # package_digest() when the run started


@dataclass
class Row:
    tool: str
    n: int
    expected: int
    runs: list[Run] = field(default_factory=list)
    failed: str | None = None

    @property
    def first(self) -> float:
        return statistics.median(r.first.wall for r in self.runs)

    @property
    def second(self) -> float:
        return statistics.median(r.second.wall for r in self.runs)

    @property
    def rss(self) -> float:
        return max(max(r.first.rss_mb, r.second.rss_mb) for r in self.runs)

    @property
    def entries(self) -> str:
        counts = sorted({r.entries for r in self.runs})
        text = "/".join(f"{c:,}" for c in counts)
        return text if counts == [self.expected] else f"{text} MISMATCH"


def one_run(tool: Tool, farm: Farm, tmp: Path, timeout: float) -> Run:
    work = Path(tempfile.mkdtemp(prefix=f"{tool.name}-", dir=tmp))
    version = package_digest() if tool.name.startswith("ours") else ""
    try:
        tool.prepare(work, farm)
        farm.stats()
        passes = []
        for which in ("first", "second"):
            log = work / f"{which}.log"
            cpu = farm.cpu()
            done = measure(tool.argv(work), cwd=work, env=tool.env(work), log=log, timeout=timeout)
            cpu = farm.cpu() - cpu
            if done.rc != 0:
                raise RuntimeError(f"{which} pass exited with {done.rc}:\n{_tail(log)}")
            passes.append(Pass(done.wall, done.rss_mb, done.rc, farm.stats(), cpu))
        return Run(passes[0], passes[1], tool.count(work), version)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_size(
    n: int, tools: Sequence[Tool], runs: int, seed: int, tmp: Path, timeout: float
) -> list[Row]:
    farm = Farm(n, seed)
    try:
        info = farm.info
        print(
            f"\nN={n}: farm at {farm.url}: {info['feeds']} feeds ({info['atom']} Atom), "
            f"{info['items']:,} items, {info['bytes'] / 1e6:.1f} MB "
            f"({info['gzip_bytes'] / 1e6:.1f} MB gzipped)",
            flush=True,
        )
        full, unchanged = farm_floor(farm)
        print(
            f"  farm alone (bare client, 16 connections): all feeds in {full * 1000:.0f} ms, "
            f"all 304 in {unchanged * 1000:.0f} ms"
        )
        rows = [Row(t.name, n, info["items"]) for t in tools]
        for i in range(runs):
            for tool, row in zip(tools, rows, strict=True):
                if row.failed:
                    continue
                try:
                    run = one_run(tool, farm, tmp, timeout)
                except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
                    row.failed = str(e)
                    print(f"  {tool.name} run {i + 1}: FAILED: {e}", flush=True)
                    continue
                row.runs.append(run)
                print(
                    f"  {tool.name:<10} run {i + 1}: first {run.first.wall:6.2f} s "
                    f"[{run.first.served}; farm CPU {run.first.farm_cpu:.2f} s], "
                    f"second {run.second.wall:6.2f} s [{run.second.served}], "
                    f"{run.entries:,} entries, "
                    f"{max(run.first.rss_mb, run.second.rss_mb):.0f} MB",
                    flush=True,
                )
        return rows
    finally:
        farm.close()


def profile_ours(n: int, seed: int, tmp: Path, out: Path, timeout: float) -> None:
    farm = Farm(n, seed)
    work = Path(tempfile.mkdtemp(prefix="profile-", dir=tmp))
    try:
        tool = Ours()
        tool.prepare(work, farm)
        argv = tool.argv(work)
        argv[1:1] = ["-m", "cProfile", "-o", str(out)]
        done = measure(argv, cwd=work, env=tool.env(work), log=work / "log", timeout=timeout)
        print(f"\nProfile of ours, first pass at N={n} ({done.wall:.1f} s under cProfile): {out}")
        stats = pstats.Stats(str(out))
        stats.sort_stats("cumulative").print_stats(25)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        farm.close()


LEGEND = """\
Median wall time of {runs} run(s) per tool: a first pass into an empty store, then an unchanged
pass (the farm answers 304 to a conditional request). Peak RSS: the largest of the tool's process
tree over all passes. Served: the farm's responses to the last run's passes, by status."""

# -- reporting --------------------------------------------------------------------------------


def table(rows: Sequence[Row]) -> str:
    head = ("tool", "N", "first pass", "unchanged pass", "entries", "peak RSS", "served 1st / 2nd")
    lines = [head]
    for row in rows:
        if not row.runs:
            lines.append((row.tool, str(row.n), "failed", "", "", "", ""))
            continue
        last = row.runs[-1]
        lines.append(
            (
                row.tool,
                str(row.n),
                f"{row.first:.2f} s",
                f"{row.second:.2f} s",
                row.entries,
                f"{row.rss:.0f} MB",
                f"{last.first.served} / {last.second.served}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = []
    for j, line in enumerate(lines):
        cells = [
            c.ljust(w) if i in (0, 4, 6) else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def notes(rows: Sequence[Row]) -> list[str]:
    out = []
    versions = sorted({r.version for row in rows for r in row.runs if r.version})
    if len(versions) > 1:
        out.append(
            f"WARNING: the aggregator package changed during the benchmark ({', '.join(versions)}):"
            " ours' figures mix versions; run it again"
        )
    for row in rows:
        if row.failed:
            out.append(f"{row.tool} at N={row.n} failed: {row.failed}")
        again = max((r.second.requests.get("200", 0) for r in row.runs), default=0)
        if again:
            out.append(
                f"{row.tool} at N={row.n}: the unchanged pass downloaded {again} feeds again "
                "(it sent no validators the farm could match)"
            )
        farm_share = max((r.first.farm_cpu / r.first.wall for r in row.runs), default=0)
        if farm_share > 0.25:
            out.append(f"{row.tool} at N={row.n}: the farm used {farm_share:.0%} of a core")
    return ["", *out] if out else []


@dataclass(frozen=True)
class Target:
    what: str
    value: Callable[[dict[str, Row]], float | None]
    text: Callable[[float], str]
    ok: Callable[[float], bool]


def _ratio(a: str, b: str, attr: str) -> Callable[[dict[str, Row]], float | None]:
    def value(rows: dict[str, Row]) -> float | None:
        if a not in rows or b not in rows or not rows[a].runs or not rows[b].runs:
            return None
        ours = getattr(rows[a], attr)
        return float(getattr(rows[b], attr) / ours) if ours else None

    return value


TARGETS = (
    Target(
        "ours full first pass >= 2x faster than newsboat",
        _ratio("ours", "newsboat", "first"),
        lambda r: f"{r:.2f}x",
        lambda r: r >= 2,
    ),
    Target(
        "ours full first pass >= 5x faster than reader",
        _ratio("ours", "reader", "first"),
        lambda r: f"{r:.2f}x",
        lambda r: r >= 5,
    ),
    Target(
        "ours unchanged pass >= 1.5x faster than reader",
        _ratio("ours", "reader", "second"),
        lambda r: f"{r:.2f}x",
        lambda r: r >= 1.5,
    ),
    Target(
        "ours fetch+parse+store within 1.5x of the reference (first pass)",
        lambda rows: (lambda r: 1 / r if r else None)(
            _ratio("ours-fps", "reference", "first")(rows)
        ),
        lambda r: f"{r:.2f}x the reference's time",
        lambda r: r <= 1.5,
    ),
    Target(
        "ours peak memory < 200 MB",
        lambda rows: rows["ours"].rss if "ours" in rows and rows["ours"].runs else None,
        lambda r: f"{r:.0f} MB",
        lambda r: r < 200,
    ),
)


def verdicts(rows: Sequence[Row], n: int) -> str:
    at = {r.tool: r for r in rows if r.n == n}
    lines = [
        f"Targets of issue 5 at N={n}" + ("" if n == 1000 else " (the targets are for N=1000)")
    ]
    for target in TARGETS:
        value = target.value(at)
        if value is None:
            lines.append(f"  SKIP  {target.what}: a tool is missing")
        else:
            verdict = "PASS" if target.ok(value) else "FAIL"
            lines.append(f"  {verdict}  {target.what}: {target.text(value)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="200,1000", help="feed counts (default 200,1000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per tool and size (default 3)")
    parser.add_argument("--quick", action="store_true", help="smoke test: N=50, 1 run")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"default {','.join(TOOLS)}")
    parser.add_argument("--seed", type=int, default=1, help="farm seed (default 1)")
    parser.add_argument("--venvs", type=Path, default=Path("/tmp/bench-venvs"))
    parser.add_argument("--no-install", action="store_true", help="never pip or apt-get")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per pass")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--profile", type=Path, metavar="FILE", help="then cProfile ours at the largest N"
    )
    args = parser.parse_args(argv)
    sizes = [50] if args.quick else [int(s) for s in args.sizes.split(",")]
    runs = 1 if args.quick else args.runs
    try:
        import aggregator  # noqa: F401 - ours runs with this interpreter
    except ImportError:
        print("run this with the dev venv's python (.venv/bin/python bench/fetch.py)")
        return 2
    print(f"ours: {describe_ours()}")
    tools = make_tools(
        [t.strip() for t in args.tools.split(",") if t.strip()], args.venvs, not args.no_install
    )
    if not tools:
        print("no tool to run")
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-fetch-") as tmp:
        rows: list[Row] = []
        for n in sizes:
            rows += bench_size(n, tools, runs, args.seed, Path(tmp), args.timeout)
        print(f"\n{LEGEND.format(runs=runs)}\n")
        print(table(rows))
        for note in notes(rows):
            print(note)
        print()
        print(verdicts(rows, max(sizes)))
        if args.json:
            args.json.write_text(json.dumps([_as_json(r) for r in rows], indent=1))
        if args.profile:
            profile_ours(max(sizes), args.seed, Path(tmp), args.profile, args.timeout)
    return 0


def _as_json(row: Row) -> dict[str, Any]:
    def one(p: Pass) -> dict[str, Any]:
        return {"wall": p.wall, "rss_mb": p.rss_mb, "served": p.requests, "farm_cpu": p.farm_cpu}

    return {
        "tool": row.tool,
        "versions": sorted({r.version for r in row.runs if r.version}),
        "n": row.n,
        "expected": row.expected,
        "failed": row.failed,
        "runs": [
            {
                "first": one(r.first),
                "second": one(r.second),
                "entries": r.entries,
                "version": r.version,
            }
            for r in row.runs
        ],
    }


if __name__ == "__main__":
    sys.exit(main())
