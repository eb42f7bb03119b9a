"""One writer per run folder: an exclusive lock held for the run's life.

    lock = RunLock.acquire(run_dir)      # RunFolderBusy when another process holds it
    ...                                  # write the run
    lock.release()                       # or let the process end: the OS releases it

The lock is `fcntl.flock` on `<run_dir>/.lock`, which also records the holder (pid, host,
command, start time) for the message a second writer gets. The kernel drops a flock when
its process dies, however it dies, so a lock file left by a killed run is no lock: the next
run takes it over. `busy(run_dir)` asks without taking it (before moving an old run aside).
Locks are advisory and local to a machine's kernel (NFS and other network file systems may
not honour flock across machines).
"""

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Dict, Optional

LOCK_NAME = ".lock"


class RunFolderBusy(RuntimeError):
    """Another live process holds the run folder's lock."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another process"
    return (f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')} "
            f"({info.get('command', '?')[:200]})")


def _busy_error(run_dir: Path, path: Path) -> RunFolderBusy:
    return RunFolderBusy(
        f"run folder {run_dir} is in use by {_holder(path)}. Wait for that run to end (or "
        "end it), or give this run another --save_dir / --seed / --tag.")


class RunLock:
    """The held lock of one run folder (see the module docstring)."""

    def __init__(self, run_dir: Path, fd: int):
        self.run_dir, self._fd = run_dir, fd

    @classmethod
    def acquire(cls, run_dir) -> "RunLock":
        """Take `run_dir`'s lock (the folder is created if needed).

        Raises:
            RunFolderBusy: a live process holds it; the message names it and the fix.
        """
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _busy_error(run_dir, path) from None
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "since": time.strftime("%Y-%m-%d %H:%M:%S"), "command": " ".join(sys.argv)}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode())
        return cls(run_dir, fd)

    def release(self) -> None:
        """Let the folder go (the lock file stays, unlocked)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def busy(run_dir) -> Optional[str]:
    """Who else holds `run_dir`'s lock, or None when nobody (or this process) does."""
    path = Path(run_dir) / LOCK_NAME
    if not path.exists() or str(Path(run_dir).resolve()) in _HELD:
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(path)
    finally:
        os.close(fd)  # closing drops the probe's shared lock
    return None


def check_free(run_dir) -> None:
    """RunFolderBusy when a live process holds `run_dir`'s lock."""
    holder = busy(run_dir)
    if holder is not None:
        raise _busy_error(Path(run_dir), Path(run_dir) / LOCK_NAME)


_HELD: Dict[str, RunLock] = {}


def hold(run_dir) -> RunLock:
    """`RunLock.acquire`, remembered so `release_all` (or the process's end) lets it go."""
    key = str(Path(run_dir).resolve())
    if key in _HELD:
        return _HELD[key]
    lock = RunLock.acquire(run_dir)
    _HELD[key] = lock
    return lock


def release(run_dir) -> None:
    """Let go of `run_dir` if this process holds it."""
    lock = _HELD.pop(str(Path(run_dir).resolve()), None)
    if lock is not None:
        lock.release()
