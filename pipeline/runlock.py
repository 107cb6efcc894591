"""The run lock: one run at a time writes a checkpoint and its output.

    with RunLock(checkpoint_path):      # LockedError at once if another run holds it
        ...send, record, write...

An exclusive ``flock`` on ``PATH.lock``, a small file that says who holds it
(pid, host, start time).  The kernel drops the lock when its process dies,
``kill -9`` included, so nothing stale blocks the next run.  The file is
removed on release; a run that took the lock on a file another run had just
removed sees that its path now names another inode and takes it again, so
two runs never both believe they hold it.  The lock is separate from the
result store: a run takes it only once it is about to send, so a run refused
earlier leaves no file behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from pathlib import Path

from .errors import LockedError

__all__ = ["RunLock", "lock_path"]


def lock_path(path: Path) -> Path:
    """The lock file of the checkpoint at ``path``."""
    return path.with_name(path.name + ".lock")


class RunLock:
    """An exclusive, non-blocking lock on ``lock_path(path)``; a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = lock_path(path)
        self._what = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 4096).decode("utf-8", "replace")
                os.close(fd)
                raise LockedError(
                    f"{self._what}: in use by {_holder(holder)}; "
                    "wait for that run to finish (it exits on its own)"
                ) from None
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the holder removed it between our open and flock: again
        os.ftruncate(fd, 0)
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": started}
        os.write(fd, json.dumps(info).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()  # while still held: nobody can take the old inode
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _holder(raw: str) -> str:
    try:
        info = json.loads(raw)
        return f"pid {info['pid']} on {info['host']} since {info['started']}"
    except (ValueError, KeyError, TypeError):
        return "another process"
