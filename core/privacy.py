"""Files Scriptorium writes are the user's alone: 0600 files, 0700 folders.

The atomic writers of ``core.fsutil`` set those modes themselves; everything else a
process writes (document copies, LanceDB tables, Trainer checkpoints, logs, llama.cpp
files) follows the process umask. ``keep_private()`` sets it to 077 at every entry point
(the CLI, the app, job children and workers), so no file is created readable by others
whatever the umask the user's shell had. ``tighten`` makes an existing folder private
(``init`` of a folder the user made); ``loose_entries`` lists what is not (``doctor``).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
SHARED_BITS = stat.S_IRWXG | stat.S_IRWXO


def keep_private() -> int:
    """Make every file and folder this process creates private; returns the old umask."""
    return os.umask(PRIVATE_UMASK)


def tighten(folder: Path) -> None:
    """Take group and other permissions off ``folder`` itself (not its contents)."""
    mode = folder.stat().st_mode
    if mode & SHARED_BITS:
        os.chmod(folder, stat.S_IMODE(mode) & ~SHARED_BITS)


def loose_entries(root: Path, limit: int = 20) -> tuple[int, list[Path]]:
    """How many entries under ``root`` (itself included) others may read, write or enter,
    and the first ``limit`` of them. Links are not followed."""
    count, first = 0, []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        for path in (here, *(here / name for name in files)):
            try:
                mode = path.lstat().st_mode
            except OSError:
                continue
            if stat.S_ISLNK(mode) or not mode & SHARED_BITS:
                continue
            count += 1
            if len(first) < limit:
                first.append(path)
        dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
    return count, first


def tighten_tree(root: Path) -> int:
    """Take group and other permissions off every entry under ``root`` (itself included);
    links are not followed. Returns how many entries were changed."""
    changed = 0
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        for path in (here, *(here / name for name in files)):
            try:
                mode = path.lstat().st_mode
                if stat.S_ISLNK(mode) or not mode & SHARED_BITS:
                    continue
                os.chmod(path, stat.S_IMODE(mode) & ~SHARED_BITS)
            except OSError:
                continue
            changed += 1
        dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
    return changed
