"""The run lock next to the database: one writer at a time, no stale lock after a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FeedServer
from test_pipeline import rss, write_config

from aggregator.cli import cli
from aggregator.lock import LockBusy, LockError, RunLock, lock_path, read_pid

HOLDER = """
import sys, time
from pathlib import Path
from aggregator.lock import RunLock
lock = RunLock.acquire(Path(sys.argv[1]))
print("held", flush=True)
time.sleep(60)
"""


@contextmanager
def holder(path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock at ``path`` until the block ends (or it is killed)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=5)
        if proc.stdout:
            proc.stdout.close()


def test_lock_path_is_next_to_the_database(tmp_path: Path) -> None:
    assert lock_path(tmp_path / "agg.db") == tmp_path / "agg.db.lock"


def test_a_lock_is_held_once_and_says_who_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "agg.db.lock"
    first = RunLock.acquire(path)  # creates the folder and the file
    assert first.held
    assert read_pid(path) == os.getpid()
    with pytest.raises(LockBusy) as busy:
        RunLock.acquire(path)  # another open file: flock says no, even in one process
    assert busy.value.pid == os.getpid()
    assert str(busy.value) == f"another run (pid {os.getpid()}) is in progress"
    first.release()
    first.release()  # twice is harmless
    assert not first.held
    assert path.exists()
    assert read_pid(path) is None
    with RunLock.acquire(path) as again:
        assert again.held
    assert not again.held


def test_a_busy_lock_without_a_readable_pid_still_says_so(tmp_path: Path) -> None:
    path = tmp_path / "agg.db.lock"
    with RunLock.acquire(path):
        path.write_text("garbage")
        with pytest.raises(LockBusy) as busy:
            RunLock.acquire(path)
    assert busy.value.pid is None
    assert str(busy.value) == "another run is in progress"


def test_an_unusable_lock_file_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "agg.db.lock"
    path.mkdir()  # a folder where the file should be
    with pytest.raises(LockError, match=r"agg\.db\.lock: cannot open the lock file: "):
        RunLock.acquire(path)


def test_run_once_skips_while_another_process_holds_the_lock(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.add("/a.xml", rss("Alpha", [("urn:a:1", "Volcano erupts", "https://a/1", 1)]))
    config = write_config(tmp_path, {"alpha": url})
    lock = lock_path(tmp_path / "data" / "agg.db")
    with holder(lock) as proc:
        result = CliRunner().invoke(cli, ["-c", str(config), "run", "--once"])
        assert result.exit_code == 0, result.output
        assert result.output == f"another run (pid {proc.pid}) is in progress; skipping\n"
        assert feed_server.requests == []  # nothing fetched, nothing written
        quiet = CliRunner().invoke(cli, ["-c", str(config), "-q", "run", "--once"])
        assert (quiet.exit_code, quiet.output) == (0, "")


def test_a_holder_killed_with_sigkill_leaves_no_stale_lock(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.add("/a.xml", rss("Alpha", [("urn:a:1", "Volcano erupts", "https://a/1", 1)]))
    config = write_config(tmp_path, {"alpha": url})
    lock = lock_path(tmp_path / "data" / "agg.db")
    with holder(lock) as proc:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=5)
        assert read_pid(lock) == proc.pid  # the file still names the dead holder...
        started = time.monotonic()
        result = CliRunner().invoke(cli, ["-c", str(config), "run", "--once"])
    # ...but the kernel released its lock: the next run takes it at once
    assert result.exit_code == 0, result.output
    assert "1 feeds fetched (1 updated" in result.output
    assert time.monotonic() - started < 5
    assert read_pid(lock) is None  # released (and emptied) at the end of the run
