"""Append-only audit log with a hash chain.

Each line is a JSON object holding the SHA-256 of the previous line, so editing or
deleting an earlier entry breaks the chain and ``verify`` names the first bad line.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.clock import now_iso
from core.fsutil import append_line
from core.workspace.locking import file_lock

GENESIS = "0" * 64


def _digest(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    time: str
    actor: str
    action: str
    details: dict[str, Any]


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    entries: int
    first_bad_line: int | None = None
    reason: str = ""


class AuditLog:
    """The workspace's audit trail: who did what, when; never rewritten."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = self.path.with_name(self.path.name + ".lock")

    def _last_hash(self) -> str:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return GENESIS
        with open(self.path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 65536))
            tail = handle.read().decode("utf-8", errors="replace").rstrip("\n")
        return _digest(tail.rsplit("\n", 1)[-1])

    def record(self, action: str, actor: str = "user", **details: Any) -> None:
        """Append one entry (atomic per line, serialised across processes)."""
        with file_lock(self._lock):
            entry = {
                "time": now_iso(),
                "actor": actor,
                "action": action,
                "details": details,
                "prev": self._last_hash(),
            }
            append_line(self.path, json.dumps(entry, sort_keys=True, default=str))

    def entries(self) -> list[AuditEntry]:
        if not self.path.exists():
            return []
        result = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            raw = json.loads(line)
            result.append(AuditEntry(raw["time"], raw["actor"], raw["action"], raw["details"]))
        return result

    def verify(self) -> ChainCheck:
        """Check the hash chain; report the first line that was altered or removed."""
        if not self.path.exists():
            return ChainCheck(ok=True, entries=0)
        expected = GENESIS
        lines = self.path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            try:
                prev = json.loads(line)["prev"]
            except (ValueError, KeyError, TypeError):
                return ChainCheck(False, number - 1, number, "line is not a valid audit entry")
            if prev != expected:
                return ChainCheck(
                    False, number - 1, number, "the chain breaks here: an entry was edited or removed"
                )
            expected = _digest(line)
        return ChainCheck(ok=True, entries=len(lines))
