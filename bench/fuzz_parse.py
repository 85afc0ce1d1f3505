"""The parse entry points as one fuzz target, for atheris (run by bench/robustness.py).

An input's first byte picks an entry point (and the response headers it gets), the rest is
the body: ``parse_feed`` (RSS, Atom, JSON Feed dispatch) with no headers, an RSS or a KOI8-R
Content-Type; ``parse_json_feed``; ``parse_html_page`` in automatic mode and with a selector.
Whatever parses is also normalised. A finding is any exception but ``ParseError``, or a call
that takes longer than ``SLOW`` seconds: each new one (by exception type and the line that
raised it) is appended to ``WORKDIR/findings.jsonl`` with its input saved beside it, and the
fuzzing goes on.

    python bench/fuzz_parse.py WORKDIR SECONDS [SEEDS_DIR]

The imports of the code under test happen inside :func:`target`, so that atheris can
instrument them as they load (instrumenting everything already loaded takes 40 s).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

SLOW = 2.0
MAX_LEN = 16384  # longer inputs are cut (seeds too): small inputs make many more executions
URL = "https://fuzz.example/feed"
HEADERS: tuple[dict[str, str], ...] = (
    {},
    {"content-type": "application/rss+xml; charset=utf-8"},
    {"content-type": "text/xml; charset=koi8-r"},
)
MODES = (
    "parse_feed",
    "parse_feed (RSS, UTF-8 header)",
    "parse_feed (KOI8-R header)",
    "parse_json_feed",
    "parse_html_page (automatic)",
    "parse_html_page (selector)",
)
# the mode byte each kind of seed file starts with
SEED_MODE = {".json": 3, ".html": 4, ".htm": 4}


def target() -> tuple[Callable[[int, bytes], int], type[Exception]]:
    """(call, ParseError): ``call(mode, body)`` runs one entry point and normalise on ``body``
    and returns how many entries came out."""
    from datetime import UTC, datetime

    from aggregator.errors import ParseError
    from aggregator.htmlsource import parse_html_page
    from aggregator.jsonfeed import parse_json_feed
    from aggregator.normalise import normalise_feed
    from aggregator.parse import parse_feed

    now = datetime(2026, 11, 20, 12, tzinfo=UTC)

    def call(mode: int, body: bytes) -> int:
        if mode < 3:
            parsed = parse_feed(URL, body, HEADERS[mode])
        elif mode == 3:
            parsed = parse_json_feed(URL, body)
        elif mode == 4:
            parsed = parse_html_page(URL, body, {"content-type": "text/html"})
        else:
            parsed = parse_html_page(URL, body, selector="ul a, .headline")
        return len(normalise_feed(parsed, "Fuzz", now))

    return call, ParseError


class Recorder:
    """Runs inputs through ``call`` and records findings in ``work``."""

    def __init__(self, work: Path, call: Callable[[int, bytes], int], expected: type[Exception]):
        self.work = work
        self.call = call
        self.expected = expected
        self.seen: set[tuple[str, str]] = set()
        self.executions = 0
        self._stats_at = 0.0

    def one(self, data: bytes) -> None:
        if not data:
            return
        mode, body = data[0] % len(MODES), data[1:]
        self.executions += 1
        started = time.perf_counter()
        try:
            self.call(mode, body)
        except self.expected:
            pass
        except Exception as e:  # a finding: record it and go on fuzzing
            frame = traceback.extract_tb(e.__traceback__)[-1]
            where = f"{Path(frame.filename).name}:{frame.lineno}"
            self.record((type(e).__name__, where), mode, body, f"{type(e).__name__}: {e}")
        seconds = time.perf_counter() - started
        if seconds > SLOW:
            self.record(("slow", MODES[mode]), mode, body, f"took {seconds:.1f} s", seconds)
        now = time.monotonic()
        if now - self._stats_at > 1:
            self._stats_at = now
            (self.work / "stats.json").write_text(json.dumps({"executions": self.executions}))

    def record(
        self, signature: tuple[str, str], mode: int, body: bytes, error: str, seconds: float = 0
    ) -> None:
        if signature in self.seen:
            return
        self.seen.add(signature)
        name = "finding-" + hashlib.sha1(bytes([mode]) + body).hexdigest()[:12] + ".bin"
        (self.work / name).write_bytes(bytes([mode]) + body)
        line = {
            "kind": "slow" if signature[0] == "slow" else "exception",
            "signature": list(signature),
            "mode": MODES[mode],
            "error": error[:300],
            "seconds": round(seconds, 2),
            "input": name,
            "size": len(body),
        }
        with (self.work / "findings.jsonl").open("a") as f:
            f.write(json.dumps(line) + "\n")


def main(argv: list[str]) -> int:
    import atheris

    work, seconds = Path(argv[1]), int(argv[2])
    seeds = argv[3:]
    with atheris.instrument_imports(include=["aggregator", "feedparser", "fastfeedparser"]):
        call, parse_error = target()
    recorder = Recorder(work, call, parse_error)
    options = [
        f"-max_total_time={seconds}",
        f"-max_len={MAX_LEN}",
        "-timeout=120",  # per input; slow ones are findings from 2 s on
        "-rss_limit_mb=2048",
        f"-artifact_prefix={work}/",
        "-print_final_stats=1",
    ]
    atheris.Setup([argv[0], *options, *seeds], recorder.one)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
