"""Append-only audit log with a hash chain, anchored in a second place.

Each line is a JSON object holding the SHA-256 of the previous line, so editing or
deleting an earlier entry breaks the chain and ``verify`` names the first bad line. The
chain alone cannot show a log cut short at its end or one rewritten with every hash
recomputed, so every append also writes ``audit.anchor``: the number of entries and the
last line's hash, signed (HMAC-SHA-256) with a key kept in the user's settings folder
(``audit.key``, 0600), outside the workspace. ``verify`` checks the chain, then the anchor:
fewer lines than it counts is a truncated log; another last hash, a re-hashed or edited
end; a signature by this user's key that does not match, an altered anchor. When the last
entry was written by another user (a shared workspace) or on another machine, the counts
and the hash are still compared and the report says the signature was not checked here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.clock import now_iso
from core.errors import WorkspaceError
from core.fsutil import (
    FILE_MODE,
    append_line,
    append_lines,
    atomic_write_json,
    make_private_dir,
    read_json,
)
from core.workspace.locking import file_lock

GENESIS = "0" * 64
ANCHOR_SUFFIX = ".anchor"
HOLD_SUFFIX = ".hold"  # the log was found altered: nothing is appended until acknowledged
ACKNOWLEDGED_SUFFIX = ".acknowledged"  # the breaks a user has acknowledged
KEY_FILE = "audit.key"
KEY_BYTES = 32


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
    anchored: bool = False  # the anchor matched (counts, last hash and, with the key, its MAC)
    note: str = ""  # what could not be checked, for a log that is otherwise fine


def _read_key(path: Path) -> bytes | None:
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None
    return key if len(key) == KEY_BYTES else None


def _key(create: bool) -> bytes | None:
    """This user's audit key (made on first use), or None when there is none.

    A new key is written to a temp file and linked into place, so it appears whole or not
    at all; when two processes make one at once, the first link wins and both use it."""
    from core.settings import config_dir

    path = config_dir() / KEY_FILE
    key = _read_key(path)
    if key is not None or not create:
        return key
    make_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{KEY_FILE}.", dir=path.parent)
    try:
        key = secrets.token_bytes(KEY_BYTES)
        os.write(fd, key.hex().encode("ascii"))
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.chmod(tmp, FILE_MODE)
        try:
            os.link(tmp, path)
        except FileExistsError:
            key = _read_key(path)  # another process made it first: theirs
            if key is None:
                raise WorkspaceError(f"The audit key {path} is damaged.",
                                     hint="move it aside; a new key is made, and the logs it "
                                          "signed show as unanchored") from None
    finally:
        if fd >= 0:
            os.close(fd)
        os.unlink(tmp)
    return key


def _mac(key: bytes, entries: int, last: str) -> str:
    return hmac.new(key, f"{entries}:{last}".encode(), hashlib.sha256).hexdigest()


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


class AuditHeld(WorkspaceError):
    """The log was found altered; it takes no entry until a user acknowledges that."""


class AuditLog:
    """The workspace's audit trail: who did what, when; never rewritten.

    ``check`` verifies it and, when it was altered, holds it: every later ``record``
    raises ``AuditHeld`` (so nothing happens unrecorded) until ``acknowledge``, which
    records who acknowledged which break and re-anchors the log as it now stands; the
    acknowledged break is then reported as a note, not a failure."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = self.path.with_name(self.path.name + ".lock")
        self.anchor_path = self.path.with_name(self.path.name + ANCHOR_SUFFIX)
        self.hold_path = self.path.with_name(self.path.name + HOLD_SUFFIX)
        self.acknowledged_path = self.path.with_name(self.path.name + ACKNOWLEDGED_SUFFIX)

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
        """Append one entry (atomic per line, serialised across processes); ``AuditHeld``
        while the log is held."""
        self.record_many([(action, details)], actor)

    def record_many(self, entries: Sequence[tuple[str, dict[str, Any]]],
                    actor: str = "user") -> None:
        """Append several entries (action, details) in order, chained as one ``record``
        each would chain them, with one write, one sync and one anchor: an import of many
        documents records them together."""
        if not entries:
            return
        with file_lock(self._lock):
            if self.hold_path.exists():
                raise self._held()
            previous, lines = self._last_hash(), []
            for action, details in entries:
                line = json.dumps({"time": now_iso(), "actor": actor, "action": action,
                                   "details": details, "prev": previous},
                                  sort_keys=True, default=str)
                lines.append(line)
                previous = _digest(line)
            append_lines(self.path, lines)
            self._anchor(previous, added=len(lines))

    def _anchor(self, last: str, recount: bool = False, added: int = 1) -> None:
        """Count the ``added`` entries in the anchor and sign it (a missing or unreadable
        anchor is rebuilt by counting the lines, as is every anchor when ``recount``)."""
        anchor = self._read_anchor()
        if recount or anchor is None or anchor.get("last") == last:
            entries = self._line_count()
        else:
            entries = int(anchor.get("entries", 0)) + added
        try:
            key = _key(create=True)
        except OSError:  # no settings folder to keep the key in: counts only
            key = None
        atomic_write_json(self.anchor_path, {
            "entries": entries, "last": last, "key": _key_id(key) if key else "",
            "mac": _mac(key, entries, last) if key else ""})

    def _read_anchor(self) -> dict[str, Any] | None:
        raw = _read_quietly(self.anchor_path)
        return raw if isinstance(raw, dict) else None

    # -- holding an altered log ----------------------------------------------------------
    def held(self) -> dict[str, Any] | None:
        """Why the log is held (line, reason, when found), or None."""
        raw = _read_quietly(self.hold_path)
        return raw if isinstance(raw, dict) else None

    def _held(self) -> AuditHeld:
        hold = self.held() or {}
        return AuditHeld(
            f"The audit log was found altered at line {hold.get('line')} "
            f"({hold.get('reason', 'see scriptorium audit verify')}); nothing more is "
            "recorded, so nothing can be done in this workspace, until that is acknowledged.",
            hint=f"scriptorium audit acknowledge -w {self.path.parent}, or Acknowledge in "
                 "the app's status bar")

    def check(self) -> ChainCheck:
        """``verify``, and hold the log when it was altered."""
        result = self.verify()
        if not result.ok and not self.hold_path.exists():
            atomic_write_json(self.hold_path, {"line": result.first_bad_line,
                                               "reason": result.reason, "found": now_iso()})
        return result

    def acknowledge(self, by: str = "user") -> ChainCheck:
        """Record that ``by`` has seen the alteration; appending resumes from here."""
        with file_lock(self._lock):
            found = self.verify()
            hold = self.held() or {"line": found.first_bad_line, "reason": found.reason}
            if found.ok and not self.hold_path.exists():
                raise WorkspaceError("The audit log is intact: there is nothing to acknowledge.")
            lines = self._lines()
            breaks = self._acknowledged()
            check = found
            while (not check.ok and check.first_bad_line is not None
                   and 0 < check.first_bad_line <= len(lines)
                   and (key := (check.first_bad_line, _digest(lines[check.first_bad_line - 1])))
                   not in breaks):  # every break of the chain, one after the other
                breaks.add(key)
                check = self.verify(breaks)
            atomic_write_json(self.acknowledged_path,
                              [{"line": n, "digest": d} for n, d in sorted(breaks)])
            line = json.dumps({"time": now_iso(), "actor": by, "action": "audit.acknowledged",
                               "details": hold, "prev": self._last_hash()}, sort_keys=True)
            append_line(self.path, line)
            self._anchor(_digest(line), recount=True)
            self.hold_path.unlink(missing_ok=True)
        return self.verify()

    def _lines(self) -> list[str]:
        return self.path.read_text(encoding="utf-8").splitlines() if self.path.exists() else []

    def _acknowledged(self) -> set[tuple[int, str]]:
        raw = _read_quietly(self.acknowledged_path)
        return {(int(b["line"]), str(b["digest"])) for b in raw or [] if isinstance(b, dict)}

    def _line_count(self) -> int:
        with open(self.path, "rb") as handle:
            return sum(1 for line in handle if line.strip())

    def entries(self) -> list[AuditEntry]:
        if not self.path.exists():
            return []
        result = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                raw = json.loads(line)
                result.append(AuditEntry(raw["time"], raw["actor"], raw["action"],
                                         raw["details"]))
            except (ValueError, KeyError, TypeError):
                continue  # not an entry (``verify`` names it)
        return result

    def verify(self, acknowledged: set[tuple[int, str]] | None = None) -> ChainCheck:
        """Check the hash chain; report the first line that was altered or removed (a
        break the user acknowledged is a note)."""
        if not self.path.exists():
            return ChainCheck(ok=True, entries=0)
        expected = GENESIS
        lines = self._lines()
        acknowledged = self._acknowledged() if acknowledged is None else acknowledged
        noted = []
        for number, line in enumerate(lines, start=1):
            try:
                prev = json.loads(line)["prev"]
            except (ValueError, KeyError, TypeError):
                prev, problem = None, "line is not a valid audit entry"
            else:
                problem = "the chain breaks here: an entry was edited or removed"
            if prev != expected:
                if (number, _digest(line)) not in acknowledged:
                    return ChainCheck(False, number - 1, number, problem)
                noted.append(number)
            expected = _digest(line)
        result = self._check_anchor(len(lines), expected)
        if noted and result.ok:
            where = ", ".join(str(n) for n in noted)
            return replace(result, note=f"an acknowledged alteration at line(s) {where}"
                           + (f"; {result.note}" if result.note else ""))
        return result

    def _check_anchor(self, entries: int, last: str) -> ChainCheck:
        """The chain is whole: does its end match the anchor?"""
        anchor = self._read_anchor()
        if anchor is None:
            return ChainCheck(True, entries, note="the log has no anchor (it was written before "
                              "anchors existed); its end cannot be checked until the next entry")
        counted, anchored_last = int(anchor.get("entries", -1)), str(anchor.get("last", ""))
        if entries < counted:
            return ChainCheck(False, entries, entries + 1,
                              f"the log was cut short: {counted} entries were recorded, "
                              f"{entries} remain")
        if entries > counted:
            return ChainCheck(False, counted, counted + 1,
                              f"{entries - counted} entries were added without Scriptorium")
        if last != anchored_last:
            return ChainCheck(False, entries - 1, entries,
                              "the log's end does not match its anchor: entries were edited "
                              "and their hashes recomputed")
        key = _key(create=False)
        if key is None or not anchor.get("mac") or anchor.get("key") != _key_id(key):
            return ChainCheck(True, entries, anchored=True,
                              note="the last entry was signed with another user's key (or on "
                                   "another machine): its signature is not checked here")
        if not hmac.compare_digest(str(anchor["mac"]), _mac(key, counted, anchored_last)):
            return ChainCheck(False, entries, entries,
                              "the anchor was altered: it is not signed by this user's key")
        return ChainCheck(True, entries, anchored=True)


def _read_quietly(path: Path) -> Any:
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None
