"""A folder of records of one kind, one JSON file each (``<id>.json``), written atomically.

The drafting pane's conversations and proposals are kept this way. A damaged file is
reported by ``get`` and skipped by ``list``, so one bad file never hides the others.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from core.errors import ScriptoriumError
from core.fsutil import atomic_write_json, read_json

RECORD_ID = re.compile(r"^[a-z0-9]{6,32}$")


class _Record(Protocol):
    id: str
    updated: str


R = TypeVar("R", bound=BaseModel)


class RecordStore(Generic[R]):
    def __init__(self, root: Path, model: type[R], noun: str,
                 error: type[ScriptoriumError]) -> None:
        self.root = root
        self.model = model
        self.noun = noun  # "conversation", "proposal": for messages
        self.error = error

    def _path(self, record_id: str) -> Path:
        if not RECORD_ID.match(record_id):
            raise self.error(f"{record_id!r} is not a {self.noun} id.")
        return self.root / f"{record_id}.json"

    def save(self, record: R) -> R:
        atomic_write_json(self._path(record.id), record.model_dump(mode="json"))  # type: ignore[attr-defined]
        return record

    def get(self, record_id: str) -> R:
        path = self._path(record_id)
        if not path.exists():
            raise self.error(f"No {self.noun} {record_id!r} in this workspace.")
        try:
            return self.model.model_validate(read_json(path))
        except (ValueError, ValidationError) as error:
            raise self.error(f"The {self.noun} {record_id} is damaged: {error}") from error

    def list(self) -> list[R]:
        """Every readable record, most recently updated first."""
        found = []
        for path in self.root.glob("*.json"):
            try:
                found.append(self.model.model_validate(read_json(path)))
            except (ValueError, ValidationError):
                continue
        return sorted(found, key=lambda r: (r.updated, r.id), reverse=True)  # type: ignore[attr-defined]

    def delete(self, record_id: str) -> None:
        self._path(record_id).unlink(missing_ok=True)
