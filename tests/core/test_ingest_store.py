"""The document store's commit: every rename reaches the disk, each folder synced once."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import fsutil
from core.ingest.model import Block
from core.ingest.store import RECORD, DocumentStore
from core.workspace import Workspace


def test_a_new_version_syncs_its_folder_once_after_the_record(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "scope.txt"
    source.write_text("Scope of work.")
    store = DocumentStore(workspace)
    synced: list[tuple[Path, bool, bool]] = []  # folder, version there, record there

    def record_sync(folder: Path) -> None:
        synced.append((folder, (folder / "v1").is_dir(), (folder / RECORD).is_file()))

    monkeypatch.setattr(fsutil, "_fsync_dir", record_sync)
    record = store.add_version(source=source, sha256="ab" * 32, format="txt",
                               blocks=[Block(kind="paragraph", text="Scope of work.")],
                               title="Scope")
    folder = store.root / record.id
    assert [s for s in synced if s[0] == folder] == [(folder, True, True)]
    assert store.text(record.id) == "Scope of work."
