"""An inter-process lock on a file: ``flock`` on POSIX (filelock's on Windows), the lock
file private (0600) like everything in a workspace and kept after use (a lock file that is
deleted on release can let a third process lock a new file while a second holds the old).

Another thread of the same process waits for the lock as another process does; taking a
lock the calling thread already holds raises instead of waiting forever.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.fsutil import FILE_MODE, make_private_dir

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_held = threading.local()  # the lock files this thread holds


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block."""
    path = Path(path)
    make_private_dir(path.parent)
    if fcntl is None:  # pragma: no cover - Windows
        from filelock import FileLock

        with FileLock(path, mode=FILE_MODE, thread_local=False, preserve_lock_file=True,
                      fallback_to_soft=False):
            yield
        return
    key = os.path.abspath(path)
    held: set[str] = _held.__dict__.setdefault("paths", set())
    if key in held:
        raise RuntimeError(f"Deadlock: this thread already holds the lock {path}.")
    fd = os.open(key, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
    finally:
        os.close(fd)  # closing the file releases the lock
