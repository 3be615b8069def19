"""Atomic, private file writes and checksums.

Every write in a workspace goes through here: a temp file in the same folder, fsync,
rename over the target. A crash leaves either the old file or the new one, never half.
Files are created 0600 and folders 0700 whatever the process umask.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from core.errors import DiskSpaceError

FILE_MODE = 0o600
DIR_MODE = 0o700
_CHUNK = 1 << 20


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 for the folders it creates."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(folder, DIR_MODE)
    return path


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, with mode 0600."""
    path = Path(path)
    tmp = write_temp(path, data)
    try:
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException as error:  # also Ctrl-C: never leave the hidden temp file behind
        tmp.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno == 28:  # ENOSPC
            raise DiskSpaceError(f"The disk is full: could not write {path}.") from error
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, value: Any) -> None:
    atomic_write_text(path, json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def atomic_write_yaml(path: Path, value: Any) -> None:
    atomic_write_text(path, yaml.safe_dump(value, sort_keys=False, allow_unicode=True))


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def read_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def append_line(path: Path, line: str) -> None:
    """Append one line and flush it to disk (for logs that must survive a crash)."""
    append_lines(path, [line])


def append_lines(path: Path, lines: Sequence[str]) -> None:
    """Append lines in one write and flush them to disk with one sync."""
    path = Path(path)
    make_private_dir(path.parent)
    data = "".join(line.rstrip("\n") + "\n" for line in lines).encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        view = memoryview(data)
        while view:  # a short write (a signal, a pipe) must not cut a line
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def write_temp(path: Path, data: bytes) -> Path:
    """Write ``data`` to a hidden 0600 temp file next to ``path``, not yet synced (a group
    commit syncs many such files at once, then renames each over its target)."""
    path = Path(path)
    make_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, FILE_MODE)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno == 28:  # ENOSPC
            raise DiskSpaceError(f"The disk is full: could not write {path}.") from error
        raise
    return Path(tmp)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_SYNCFS: Callable[[int], int] | None | bool = False  # False: not looked up yet


def _syncfs() -> Callable[[int], int] | None:
    global _SYNCFS
    if _SYNCFS is False:
        _SYNCFS = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                _SYNCFS = getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
            except (OSError, AttributeError):
                _SYNCFS = None
    return _SYNCFS  # type: ignore[return-value]


def sync_filesystem(path: Path) -> bool:
    """Flush everything written to the filesystem that holds ``path`` (files, folders,
    renames) with one call: Linux's ``syncfs``. A group commit syncs many new files this
    way, one call in place of one per file and folder. False where the system has no such
    call or it failed: the caller then syncs file by file."""
    syncfs = _syncfs()
    if syncfs is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        return syncfs(fd) == 0
    finally:
        os.close(fd)


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """SHA-256 of a file, read in 1 MiB chunks; ``progress`` gets bytes read so far."""
    digest = hashlib.sha256()
    done = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done)
    return digest.hexdigest()


def free_bytes(path: Path) -> int:
    probe = Path(path)
    while not probe.exists():
        probe = probe.parent
    return shutil.disk_usage(probe).free


def _size(count: int) -> str:
    return f"{count / 1e9:.1f} GB" if count >= 1e9 else f"{max(count, 0) / 1e6:.0f} MB"


def require_free_space(path: Path, needed: int, what: str) -> None:
    """Raise a clear error before starting work that would fill the disk."""
    free = free_bytes(path)
    if free < needed:
        raise DiskSpaceError(
            f"Not enough free disk for {what}: it needs about {_size(needed)}, and "
            f"{_size(free)} is free at {path}.",
            hint=f"free about {_size(needed - free)}, or use a folder on another disk")


def sync_tree(folder: Path) -> None:
    """Flush every file under ``folder`` (and the folders holding them) to disk."""
    for parent, _folders, files in os.walk(folder):
        for name in files:
            path = os.path.join(parent, name)
            if not os.path.islink(path):
                fsync_file(Path(path))
        fsync_dir(Path(parent))


@contextmanager
def staging_dir(final: Path, *, sync: bool = True) -> Iterator[Path]:
    """Yield a private temp folder next to ``final``; rename it into place on success.

    What was written in the folder is flushed to disk before the rename, so a crash or a
    power cut leaves either no folder or a whole one, never one with empty files. On an
    exception the temp folder is removed and ``final`` is untouched. ``sync=False`` leaves
    flushing the rename itself to the caller (who syncs the same folder next).
    """
    final = Path(final)
    make_private_dir(final.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    os.chmod(tmp, DIR_MODE)
    try:
        yield tmp
        sync_tree(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        if sync:
            fsync_dir(final.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` when on one filesystem, else copy it."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    os.chmod(dst, FILE_MODE)
