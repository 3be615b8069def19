"""The workspace's dataset store.

``W/datasets/<kind>-v<N>/``::

    train.jsonl          one training row per line (columns depend on the kind)
    heldout.jsonl        the held-out rows, same columns
    heldout_text.jsonl   CPT only: the held-out documents' raw text
    dataset.json         the DatasetRecord (written last: the commit point)

The whole folder is staged next to its final place and renamed in, so a crash never
leaves a half dataset. Version numbers are per kind and never reused, even after a
dataset is removed (``versions.json`` keeps the last one handed out).
"""

from __future__ import annotations

import builtins
import json
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.datasets.model import DATASET_KINDS, TRAINING_COLUMNS, DatasetError, DatasetRecord
from core.fsutil import atomic_write_json, read_json, sha256_file, staging_dir
from core.workspace import Workspace
from core.workspace.locking import file_lock

RECORD = "dataset.json"
COUNTERS = "versions.json"
_ID = re.compile(r"^(cpt|sft|prefs)-v[0-9]+$")


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The rows of a JSONL file (the first ``limit`` when given)."""
    if not path.exists():
        return []
    rows: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if limit is not None and len(rows) >= limit:
                break
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as error:
                    raise DatasetError(
                        f"{path} line {number} is not valid JSON: {error}") from error
    return rows


class DatasetStore:
    """Reads, adds and removes the datasets of one workspace (safe across processes)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.root = workspace.datasets_dir
        self._lock = self.root / ".lock"

    # -- reading -----------------------------------------------------------------------
    def list(self, kind: str | None = None) -> list[DatasetRecord]:
        """Every committed dataset (optionally of one kind), oldest version first."""
        records = []
        for path in self.root.glob(f"*/{RECORD}"):
            if path.parent.name.startswith("."):
                continue  # a build still being staged
            try:
                record = DatasetRecord.model_validate(read_json(path))
            except (ValueError, ValidationError):
                continue
            if kind is None or record.kind == kind:
                records.append(record)
        return sorted(records, key=lambda r: (DATASET_KINDS.index(r.kind), r.version))

    def get(self, dataset_id: str) -> DatasetRecord:
        path = self.root / dataset_id / RECORD
        if not _ID.match(dataset_id) or not path.exists():
            known = ", ".join(r.id for r in self.list()) or "none yet"
            raise DatasetError(f"No dataset {dataset_id!r} in this workspace (datasets: {known}).",
                               hint="build one with `scriptorium dataset cpt|sft|prefs`")
        try:
            return DatasetRecord.model_validate(read_json(path))
        except (ValueError, ValidationError) as error:
            raise DatasetError(
                f"The record of dataset {dataset_id!r} is damaged: {error}") from error

    def latest(self, kind: str) -> DatasetRecord | None:
        records = self.list(kind)
        return records[-1] if records else None

    def path_of(self, dataset_id: str) -> Path:
        return self.root / self.get(dataset_id).id

    def rows(self, dataset_id: str, split: str = "train",
             limit: int | None = None) -> builtins.list[dict[str, Any]]:
        """The rows of one split (``train``, ``heldout`` or ``heldout_text``; the first
        ``limit`` when given)."""
        if split not in ("train", "heldout", "heldout_text"):
            raise DatasetError(f"Unknown split {split!r} (use train, heldout or heldout_text).")
        return read_jsonl(self.path_of(dataset_id) / f"{split}.jsonl", limit)

    def load_training_data(self, dataset_id: str) -> tuple[Any, Any]:
        """(train, heldout) as ``datasets.Dataset`` with only the columns training reads."""
        from datasets import Dataset

        record = self.get(dataset_id)
        columns = TRAINING_COLUMNS[record.kind]
        splits = []
        for split in ("train", "heldout"):
            rows = self.rows(dataset_id, split)
            splits.append(Dataset.from_dict({c: [row.get(c) for row in rows] for c in columns}))
        return splits[0], splits[1]

    # -- writing ------------------------------------------------------------------------
    def _next_version(self, kind: str) -> int:
        counters_path = self.root / COUNTERS
        counters = read_json(counters_path) if counters_path.exists() else {}
        existing = max((r.version for r in self.list(kind)), default=0)
        number = max(int(counters.get(kind, 0)), existing) + 1
        atomic_write_json(counters_path, {**counters, kind: number})
        return number

    def commit(self, kind: str, files: dict[str, builtins.list[dict[str, Any]]],
               record_fields: dict[str, Any]) -> DatasetRecord:
        """Write a new version of ``kind``: data files first, ``dataset.json`` last."""
        if kind not in DATASET_KINDS:
            raise DatasetError(f"Unknown dataset kind {kind!r} (use {', '.join(DATASET_KINDS)}).")
        with file_lock(self._lock):
            version = self._next_version(kind)
            dataset_id = f"{kind}-v{version}"
            with staging_dir(self.root / dataset_id) as folder:
                checksums = {}
                for name, rows in files.items():
                    write_jsonl(folder / name, rows)
                    checksums[name] = sha256_file(folder / name)
                record = DatasetRecord.model_validate(
                    {**record_fields, "id": dataset_id, "kind": kind, "version": version,
                     "files": checksums})
                atomic_write_json(folder / RECORD, record.model_dump(mode="json"))
        self.workspace.audit.record("dataset.build", id=dataset_id, kind=kind,
                                    documents=len(record.documents))
        return record

    def remove(self, dataset_id: str) -> DatasetRecord:
        """Delete a dataset's folder (its version number is not handed out again)."""
        record = self.get(dataset_id)
        with file_lock(self._lock):
            shutil.rmtree(self.root / record.id)
        self.workspace.audit.record("dataset.remove", id=dataset_id)
        return record
