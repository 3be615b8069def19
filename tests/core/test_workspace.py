"""The workspace folder: create/open, manifest, refusals, path escapes, audit chain."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from datetime import datetime
from pathlib import Path

import pytest

from core.errors import WorkspaceError
from core.workspace import SCHEMA_VERSION, Workspace
from core.workspace.workspace import MANIFEST, SUBFOLDERS


def test_create_writes_manifest_and_private_layout(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "Proposals 2025", name="Proposals")
    raw = json.loads((ws.root / MANIFEST).read_text())
    assert set(raw) == {"id", "name", "created", "schema_version", "app"}
    assert re.fullmatch(r"[0-9a-f]{12}", raw["id"])
    assert raw["name"] == "Proposals" and raw["app"] == "scriptorium"
    assert raw["schema_version"] == SCHEMA_VERSION
    assert datetime.fromisoformat(raw["created"]).tzinfo is not None
    for name in SUBFOLDERS:
        folder = ws.root / name
        assert folder.is_dir() and stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((ws.root / MANIFEST).stat().st_mode) == 0o600
    assert ws.documents_dir == ws.root / "documents" and ws.models_dir == ws.root / "models"
    assert [e.action for e in ws.audit.entries()] == ["workspace.create"]


def test_default_name_is_the_folder_name_and_open_round_trips(tmp_path: Path) -> None:
    created = Workspace.create(tmp_path / "acme")
    opened = Workspace.open(tmp_path / "acme")
    assert created.name == "acme"
    assert opened.manifest == created.manifest
    assert opened.root == created.root and opened.root.is_absolute()
    assert Workspace.is_workspace(tmp_path / "acme")
    assert not Workspace.is_workspace(tmp_path)


def test_two_workspaces_get_different_ids(tmp_path: Path) -> None:
    first, second = Workspace.create(tmp_path / "a"), Workspace.create(tmp_path / "b")
    assert first.manifest.id != second.manifest.id


def test_create_accepts_an_empty_existing_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert Workspace.create(tmp_path / "empty").name == "empty"


def test_open_recreates_a_missing_subfolder(workspace: Workspace) -> None:
    (workspace.root / "feedback").rmdir()
    assert Workspace.open(workspace.root).feedback_dir.is_dir()


def test_create_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(WorkspaceError, match="not empty"):
        Workspace.create(folder)
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_create_refuses_an_existing_workspace_and_a_file(workspace: Workspace,
                                                         tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="already a workspace"):
        Workspace.create(workspace.root)
    (tmp_path / "file").write_text("x")
    with pytest.raises(WorkspaceError, match="is a file"):
        Workspace.create(tmp_path / "file")


def test_open_refuses_a_missing_folder_and_a_plain_folder(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="does not exist") as missing:
        Workspace.open(tmp_path / "nowhere")
    assert "scriptorium init" in str(missing.value)
    with pytest.raises(WorkspaceError, match="is not a Scriptorium workspace") as plain:
        Workspace.open(tmp_path)
    assert MANIFEST in str(plain.value)


def test_a_newer_schema_is_refused(workspace: Workspace) -> None:
    path = workspace.root / MANIFEST
    raw = json.loads(path.read_text())
    path.write_text(json.dumps({**raw, "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(WorkspaceError, match="newer Scriptorium") as caught:
        Workspace.open(workspace.root)
    assert "upgrade" in str(caught.value)


@pytest.mark.parametrize(
    "content",
    ['{"id": "abc", "name": "x"', '{"id": "abc", "name": "x", "created": "now"}',
     '["not", "an", "object"]', '{"id": 1, "name": "x", "created": "c", "schema_version": "v"}'],
    ids=["truncated", "missing-key", "not-an-object", "bad-version"],
)
def test_a_damaged_manifest_gets_a_clear_message(workspace: Workspace, content: str) -> None:
    (workspace.root / MANIFEST).write_text(content)
    with pytest.raises(WorkspaceError, match=r"manifest .* is damaged"):
        Workspace.open(workspace.root)


# -- paths inside the workspace ----------------------------------------------------------

def test_resolve_and_relative_inside_the_workspace(workspace: Workspace) -> None:
    path = workspace.resolve("documents/d1/text.txt")
    assert path == workspace.root.resolve() / "documents" / "d1" / "text.txt"
    text = workspace.documents_dir / "d1" / "text.txt"
    assert workspace.relative(text) == "documents/d1/text.txt"
    assert workspace.resolve("documents/../models") == workspace.root.resolve() / "models"


@pytest.mark.parametrize("escape", ["../other", "documents/../../other", "/etc/passwd",
                                    "models/../../ws-evil/x"])
def test_resolve_refuses_escapes(workspace: Workspace, escape: str) -> None:
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        workspace.resolve(escape)


def test_resolve_refuses_a_symlink_pointing_outside(workspace: Workspace, tmp_path: Path) -> None:
    (tmp_path / "secret").mkdir()
    (workspace.documents_dir / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        workspace.resolve("documents/link/key.pem")


# -- the audit log -----------------------------------------------------------------------

@pytest.fixture
def audited(workspace: Workspace) -> Workspace:
    """A workspace with five audit entries (create + four more)."""
    for number in range(4):
        workspace.audit.record("test.event", number=number)
    return workspace


def lines_of(ws: Workspace) -> list[str]:
    return ws.audit.path.read_text().splitlines()


def write_lines(ws: Workspace, lines: list[str]) -> None:
    ws.audit.path.write_text("\n".join(lines) + "\n")


def test_audit_entries_and_chain(audited: Workspace) -> None:
    entries = audited.audit.entries()
    assert [e.action for e in entries] == ["workspace.create"] + ["test.event"] * 4
    assert [e.details.get("number") for e in entries[1:]] == [0, 1, 2, 3]
    assert entries[1].actor == "user"
    check = audited.audit.verify()
    assert check.ok and check.entries == 5 and check.first_bad_line is None
    assert stat.S_IMODE(audited.audit.path.stat().st_mode) == 0o600


def test_reopening_continues_the_same_chain(audited: Workspace) -> None:
    reopened = Workspace.open(audited.root)
    reopened.audit.record("test.after-reopen", actor="job")
    check = reopened.audit.verify()
    assert check.ok and check.entries == 6


def test_an_edited_line_is_detected_at_the_next_line(audited: Workspace) -> None:
    lines = lines_of(audited)
    entry = json.loads(lines[1])
    entry["details"]["number"] = 99  # rewrite history: still valid JSON, still a "prev"
    lines[1] = json.dumps(entry, sort_keys=True)
    write_lines(audited, lines)
    check = audited.audit.verify()
    assert not check.ok
    assert check.first_bad_line == 3 and check.entries == 2
    assert "edited or removed" in check.reason


def test_a_deleted_line_is_detected(audited: Workspace) -> None:
    lines = lines_of(audited)
    del lines[2]
    write_lines(audited, lines)
    check = audited.audit.verify()
    assert not check.ok and check.first_bad_line == 3


def test_deleting_the_first_line_is_detected(audited: Workspace) -> None:
    write_lines(audited, lines_of(audited)[1:])
    check = audited.audit.verify()
    assert not check.ok and check.first_bad_line == 1


def test_a_garbage_line_is_reported(audited: Workspace) -> None:
    lines = lines_of(audited)
    lines.insert(3, "not json at all")
    write_lines(audited, lines)
    check = audited.audit.verify()
    assert not check.ok and check.first_bad_line == 4
    assert "not a valid audit entry" in check.reason


def test_an_empty_log_verifies(tmp_path: Path) -> None:
    from core.workspace.audit import AuditLog

    log = AuditLog(tmp_path / "audit.log")
    assert log.verify().ok and log.entries() == []
    log.record("first")
    assert log.verify().ok and log.verify().entries == 1


def test_a_truncated_log_is_caught_by_its_anchor(audited: Workspace) -> None:
    assert audited.audit.verify().anchored
    write_lines(audited, lines_of(audited)[:-2])  # the chain of what is left is whole
    check = audited.audit.verify()
    assert not check.ok and check.first_bad_line == 4
    assert "cut short: 5 entries were recorded, 3 remain" in check.reason


def test_a_log_rehashed_from_an_edit_is_caught(audited: Workspace) -> None:
    lines = lines_of(audited)
    entry = json.loads(lines[1])
    entry["details"]["number"] = 99
    lines[1] = json.dumps(entry, sort_keys=True)
    for index in range(2, len(lines)):  # recompute every later hash, as a forger would
        later = json.loads(lines[index])
        later["prev"] = hashlib.sha256(lines[index - 1].encode()).hexdigest()
        lines[index] = json.dumps(later, sort_keys=True)
    write_lines(audited, lines)
    check = audited.audit.verify()
    assert not check.ok and "hashes recomputed" in check.reason
    anchor = json.loads(audited.audit.anchor_path.read_text())
    anchor["last"] = hashlib.sha256(lines[-1].encode()).hexdigest()  # and forge the anchor
    audited.audit.anchor_path.write_text(json.dumps(anchor))
    check = audited.audit.verify()
    assert not check.ok and "not signed by this user's key" in check.reason


def test_the_anchor_is_private_and_the_cli_reports(audited: Workspace,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from core.cli.main import main

    assert stat.S_IMODE(audited.audit.anchor_path.stat().st_mode) == 0o600
    assert main(["audit", "verify", "-w", str(audited.root)]) == 0
    assert "intact: 5 entries, anchored" in capsys.readouterr().out
    write_lines(audited, lines_of(audited)[:-1])
    assert main(["audit", "verify", "-w", str(audited.root), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"] and report["first_bad_line"] == 5


def test_an_unanchored_log_passes_with_a_note_and_gets_anchored(audited: Workspace) -> None:
    audited.audit.anchor_path.unlink()  # a workspace from before anchors existed
    check = audited.audit.verify()
    assert check.ok and not check.anchored and "no anchor" in check.note
    audited.audit.record("test.after")
    check = audited.audit.verify()
    assert check.ok and check.anchored and check.entries == 6


def test_two_processes_making_the_audit_key_share_one(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    """The second of two processes that both found no key uses the first one's (it used to
    fail on the exclusive create, or read the first one's empty file as a key)."""
    import core.workspace.audit as audit
    from core.settings import config_dir

    monkeypatch.setenv("SCRIPTORIUM_CONFIG_DIR", str(tmp_path / "config"))
    path = config_dir() / audit.KEY_FILE
    theirs = bytes(range(32))
    real_link = os.link

    def link_after_the_other_process(src: str, dst: Path) -> None:
        Path(dst).write_text(theirs.hex(), encoding="ascii")  # the other process won
        real_link(src, dst)

    monkeypatch.setattr(audit.os, "link", link_after_the_other_process)
    assert audit._key(create=True) == theirs
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".audit")] == []
    monkeypatch.setattr(audit.os, "link", real_link)
    assert audit._key(create=True) == theirs
    path.write_text("", encoding="ascii")  # an empty key is no key
    assert audit._key(create=False) is None


@pytest.mark.parametrize("alteration", ["edited", "truncated", "garbage"])
def test_an_altered_log_takes_no_entry_until_acknowledged(
        audited: Workspace, alteration: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 21: finding the log altered stops appends (so nothing happens unrecorded)
    until someone acknowledges it, which is itself recorded."""
    from core.cli.main import main
    from core.workspace.audit import AuditHeld

    lines = lines_of(audited)
    if alteration == "edited":
        entry = json.loads(lines[1])
        entry["details"]["number"] = 99
        lines[1] = json.dumps(entry, sort_keys=True)
    elif alteration == "truncated":
        lines = lines[:-2]
    else:
        lines[2] = "not an audit entry"
    write_lines(audited, lines)
    audited.audit.record("test.before-anyone-looked")  # plain verify holds nothing
    root = str(audited.root)
    assert main(["audit", "verify", "-w", root]) == 1
    assert "until someone who has looked into it runs" in capsys.readouterr().out
    with pytest.raises(AuditHeld, match="nothing more is recorded"):
        audited.audit.record("test.while-held")
    assert main(["import", "-w", root, str(audited.root / "missing.txt")]) != 0
    assert "audit acknowledge" in capsys.readouterr().err
    assert main(["audit", "acknowledge", "-w", root]) == 0
    check = audited.audit.verify()
    assert check.ok and check.anchored, check
    assert alteration == "truncated" or "acknowledged alteration at line" in check.note
    audited.audit.record("test.after-acknowledging")
    assert audited.audit.verify().ok
    acknowledged = [e for e in audited.audit.entries() if e.action == "audit.acknowledged"]
    assert len(acknowledged) == 1 and acknowledged[0].details["reason"]
    assert main(["audit", "acknowledge", "-w", root]) != 0  # nothing left to acknowledge
