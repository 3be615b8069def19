"""An inter-process lock on a file: filelock's (fcntl on POSIX, msvcrt on Windows), the lock
file private (0600) like everything in a workspace and kept after use (a lock file that is
deleted on release can let a third process lock a new file while a second holds the old)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from core.fsutil import FILE_MODE, make_private_dir


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block."""
    make_private_dir(Path(path).parent)
    with FileLock(path, mode=FILE_MODE, thread_local=False, preserve_lock_file=True,
                  fallback_to_soft=False):
        yield
