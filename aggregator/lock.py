"""One writer at a time: the run lock next to the database (``<database>.lock``).

``aggregator run --once`` takes it for its pass and the daemon for its whole life, so a cron
job and a daemon (or two overlapping cron jobs) never run passes over the same database at
once. The lock is ``flock(LOCK_EX | LOCK_NB)`` on the file, whose content is the holder's
PID, written for humans (``cat aggregator.db.lock``) and for the "another run (pid N)"
message; the PID is never used to decide anything.

A stale lock cannot happen: an flock belongs to the open file, and the kernel releases it when
the holder's process ends in any way (exit, crash, ``kill -9``). The file itself stays (it is
never deleted: deleting a lock file while another process waits on it lets two processes hold
"the" lock on two different files), and its old PID is simply overwritten by the next holder.
flock needs a local filesystem (on NFS it is emulated with byte-range locks, which is fine
on Linux but not everywhere).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from aggregator.errors import AggregatorError


class LockError(AggregatorError):
    """The lock file cannot be opened or written (permissions, missing folder, ...)."""


class LockBusy(AggregatorError):
    """Another process holds the lock; ``pid`` is what its lock file says (None if unread)."""

    def __init__(self, path: Path, pid: int | None) -> None:
        self.path = path
        self.pid = pid
        who = f"another run (pid {pid})" if pid is not None else "another run"
        super().__init__(f"{who} is in progress")


def lock_path(database: str | Path) -> Path:
    """Where the lock of ``database`` lives: the same path with ``.lock`` added."""
    return Path(f"{database}.lock")


def read_pid(path: Path) -> int | None:
    """The PID written in the lock file at ``path`` (None when absent, empty or garbled)."""
    try:
        text = path.read_text("ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


class RunLock:
    """A held run lock; release it with :meth:`release` or by leaving a ``with`` block."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, path: Path) -> RunLock:
        """Take the lock at ``path`` without waiting; raises :class:`LockBusy` when another
        process holds it, :class:`LockError` when the file cannot be used."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by children
        except OSError as e:
            raise LockError(f"{path}: cannot open the lock file: {e.strerror or e}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockBusy(path, read_pid(path)) from None
        except OSError as e:
            os.close(fd)
            raise LockError(f"{path}: cannot lock: {e.strerror or e}") from e
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        except OSError as e:
            os.close(fd)  # closing releases the lock
            raise LockError(f"{path}: cannot write the lock file: {e.strerror or e}") from e
        return cls(path, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Empty the file (no PID of a finished run lingers) and release the lock."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass  # the lock is released by the close below all the same
        finally:
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
