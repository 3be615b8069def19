"""The document store's group commit: files synced before their renames, records last,
one audit append per batch, one version's failure costing only that version."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

import core.ingest.store as store_module
from core.errors import DiskSpaceError
from core.ingest.model import Block
from core.ingest.store import RECORD, AlreadyStored, DocumentStore, NewVersion
from core.workspace import Workspace


def _source(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def _item(source: Path, doc_id: str | None = None, kind: str | None = None) -> NewVersion:
    text = source.read_text()
    return NewVersion(source=source, sha256=(text.encode().hex() * 64)[:64], format="txt",
                      blocks=[Block(kind="paragraph", text=text)], title=source.stem,
                      kind=kind, doc_id=doc_id)


def _events(monkeypatch: pytest.MonkeyPatch, store: DocumentStore, *,
            syncfs: bool) -> list[tuple[str, str]]:
    """Every sync and rename of the store's commit, in order: ("sync", what), ("rename",
    the name renamed into place)."""
    events: list[tuple[str, str]] = []
    real_replace = os.replace

    def replace(src: str | Path, dst: str | Path) -> None:
        real_replace(src, dst)
        if str(dst).startswith(str(store.root)):
            events.append(("rename", Path(dst).name))

    monkeypatch.setattr(store_module.os, "replace", replace)
    monkeypatch.setattr(store_module, "sync_filesystem",
                        lambda root: events.append(("sync", "filesystem")) or syncfs)
    for name in ("fsync_file", "fsync_dir", "sync_tree"):
        monkeypatch.setattr(store_module, name,
                            lambda path, name=name: events.append(("sync", name)))
    return events


@pytest.mark.parametrize("syncfs", [True, False], ids=["syncfs", "file-by-file"])
def test_a_batch_syncs_its_files_before_any_rename_and_its_records_last(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, syncfs: bool
) -> None:
    store = DocumentStore(workspace)
    batch = store.batch()
    for name in ("a.txt", "b.txt", "c.txt"):
        batch.stage(_item(_source(tmp_path, name, f"Text of {name}.")))
    events = _events(monkeypatch, store, syncfs=syncfs)
    outcomes = batch.commit()
    assert [o.latest.version for o in outcomes] == [1, 1, 1]  # type: ignore[union-attr]
    renames = [i for i, e in enumerate(events) if e[0] == "rename"]
    folders = [i for i in renames if events[i][1] == "v1"]
    records = [i for i in renames if events[i][1] == RECORD]
    assert len(folders) == 3 and len(records) == 3
    syncs = [i for i, e in enumerate(events) if e[0] == "sync"]
    # the staged files, then the temp records, are durable before anything is renamed
    # over them; the record renames (the commit point) are synced after
    assert any(i < min(folders) for i in syncs)
    assert any(max(folders) < i < min(records) for i in syncs)
    assert max(syncs) > max(records)
    if syncfs:
        assert [e for e in events if e[0] == "sync"] == [("sync", "filesystem")] * 3
    else:
        assert events.count(("sync", "sync_tree")) == 3
        assert events.count(("sync", "fsync_file")) == 3  # each temp record
    assert [store.text(o.id) for o in outcomes] == [  # type: ignore[union-attr]
        "Text of a.txt.", "Text of b.txt.", "Text of c.txt."]


def test_one_batch_numbers_versions_and_records_one_audit_append(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DocumentStore(workspace)
    old = store.add_version(source=_source(tmp_path / "old", "scope.txt", "Scope v1."),
                            sha256="1" * 64, format="txt", title="Scope", kind="rfp",
                            blocks=[Block(kind="paragraph", text="Scope v1.")])
    appends: list[int] = []
    real = workspace.audit.record_many
    monkeypatch.setattr(workspace.audit, "record_many",
                        lambda entries, actor="user": appends.append(len(entries))
                        or real(entries, actor))
    batch = store.batch()
    pending = batch.stage(_item(_source(tmp_path / "v2", "scope.txt", "Scope v2."), old.id))
    assert pending.latest.version == 2 and batch.pending(old.id) == pending
    batch.stage(_item(_source(tmp_path / "v3", "scope.txt", "Scope v3."), old.id, "proposal"))
    new = batch.stage(_item(_source(tmp_path / "new", "rates.txt", "Rates.")))
    assert store.list() == [old]  # nothing visible before the commit
    outcomes = batch.commit()
    assert appends == [3]
    assert [(o.id, o.latest.version) for o in outcomes] == [  # type: ignore[union-attr]
        (old.id, 2), (old.id, 3), (new.id, 1)]
    record = store.get(old.id)
    assert [v.version for v in record.versions] == [1, 2, 3] and record.kind == "proposal"
    assert [store.text(old.id, n) for n in (1, 2, 3)] == ["Scope v1.", "Scope v2.", "Scope v3."]
    check = workspace.audit.verify()
    assert check.ok and check.anchored and check.entries == len(workspace.audit.entries())
    imports = [e.details for e in workspace.audit.entries() if e.action == "document.import"]
    assert [(d["id"], d["version"]) for d in imports] == [
        (old.id, 1), (old.id, 2), (old.id, 3), (new.id, 1)]


def test_bytes_stored_elsewhere_since_staging_cost_only_their_version(
    workspace: Workspace, tmp_path: Path
) -> None:
    store = DocumentStore(workspace)
    first, second = _source(tmp_path, "a.txt", "Alpha."), _source(tmp_path, "b.txt", "Beta.")
    batch = store.batch()
    batch.stage(_item(first))
    batch.stage(_item(second))
    other = store.add_version(**{  # another import commits the same file meanwhile
        k: v for k, v in vars(_item(first)).items() if k != "kind"})
    outcomes = batch.commit()
    assert isinstance(outcomes[0], AlreadyStored) and outcomes[0].record.id == other.id
    assert outcomes[1].latest.version == 1  # type: ignore[union-attr]
    assert [v.version for v in store.get(other.id).versions] == [1]
    assert not list(store.root.rglob("*.partial"))


def test_a_record_that_cannot_be_written_fails_its_document_alone(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DocumentStore(workspace)
    batch = store.batch()
    batch.stage(_item(_source(tmp_path, "full.txt", "No room.")))
    batch.stage(_item(_source(tmp_path, "fits.txt", "Room.")))
    real = store_module.write_temp

    def write_temp(path: Path, data: bytes) -> Path:
        if b"full.txt" in data:
            raise DiskSpaceError(f"The disk is full: could not write {path}.")
        return real(path, data)

    monkeypatch.setattr(store_module, "write_temp", write_temp)
    outcomes = batch.commit()
    assert isinstance(outcomes[0], DiskSpaceError)
    assert [r.title for r in store.list()] == ["fits"]


def test_discard_and_a_failed_stage_leave_nothing(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DocumentStore(workspace)
    batch = store.batch()
    batch.stage(_item(_source(tmp_path, "a.txt", "Alpha.")))
    batch.discard()
    assert batch.commit() == [] and not list(store.root.rglob("*.partial"))

    def no_space(src: Path, dst: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module.shutil, "copyfile", no_space)
    with pytest.raises(DiskSpaceError, match="disk is full: a.txt"):
        batch.stage(_item(tmp_path / "a.txt"))
    assert len(batch) == 0 and not list(store.root.rglob("*.partial"))


def test_sweep_removes_what_killed_imports_left_and_keeps_fresh_staging(
    workspace: Workspace, tmp_path: Path
) -> None:
    store = DocumentStore(workspace)
    batch = store.batch()
    batch.stage(_item(_source(tmp_path, "live.txt", "Being imported.")))
    stale = store.root / "gone-abc123" / ".v.x1.partial"
    stale.mkdir(parents=True)
    (stale / "blocks.jsonl").write_text("")
    temp = store.root / "gone-abc123" / f".{RECORD}.x2.tmp"
    temp.write_text("{")
    hour_ago = time.time() - 2 * store_module.STALE_STAGING_S
    for path in (stale, temp):
        os.utime(path, (hour_ago, hour_ago))
    assert store.sweep_staging() == 2
    assert not stale.exists() and not temp.exists()
    assert len(list(store.root.rglob("*.partial"))) == 1  # the live batch's
    assert batch.commit()[0].title == "live"  # type: ignore[union-attr]
