"""Checkpoints that are either complete or ignored.

The Trainer writes ``checkpoint-<step>/`` folders in place; once a save has finished we
write a ``.complete`` marker into it (atomically). Resuming takes the newest folder
with a marker and deletes the incomplete ones (a crash or power loss mid-save).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from core.fsutil import atomic_write_text

MARKER = ".complete"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def checkpoint_step(path: Path) -> int | None:
    match = _CHECKPOINT.match(Path(path).name)
    return int(match.group(1)) if match else None


def mark_complete(folder: Path, step: int) -> None:
    atomic_write_text(Path(folder) / MARKER, f"{step}\n")


def is_complete(folder: Path) -> bool:
    return (Path(folder) / MARKER).is_file()


def checkpoints(output_dir: Path) -> list[Path]:
    """Every checkpoint folder (complete or not), oldest first."""
    found = [p for p in Path(output_dir).glob("checkpoint-*") if checkpoint_step(p) is not None]
    return sorted(found, key=lambda p: checkpoint_step(p) or 0)


def latest_complete(output_dir: Path) -> Path | None:
    complete = [p for p in checkpoints(output_dir) if is_complete(p)]
    return complete[-1] if complete else None


def discard_incomplete(output_dir: Path) -> list[Path]:
    """Remove checkpoint folders without a marker; returns what was removed."""
    removed = []
    for folder in checkpoints(output_dir):
        if not is_complete(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
