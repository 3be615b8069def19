"""Generated pairs and their review, kept per batch under ``W/datasets/synthetic/BATCH/``.

``batch.json``      the teacher, the tasks and the filter settings the batch was made with
``pairs.jsonl``     the pairs that passed every filter, each with its source passage
``filtered.jsonl``  the pairs a filter removed, with the check and the reason
``done.jsonl``      the (passage, task) items finished, so a rerun resumes after them
``reviews.jsonl``   the analysts' decisions: accepted, edited (with the new text), rejected

Every file is appended a line at a time and flushed, so a killed job or app loses at most
the line being written (a damaged last line is skipped on reading). A pair's state is its
latest review; only accepted (or edited) pairs go into SFT datasets
(``core.datasets.sft``), with the batch's teacher and filter settings as their lineage.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.clock import now_iso
from core.datasets.model import DatasetError
from core.fsutil import append_line, atomic_write_json, read_json
from core.workspace import Workspace
from core.workspace.locking import file_lock

SYNTHETIC = "synthetic"
Decision = Literal["accepted", "edited", "rejected"]
State = Literal["pending", "accepted", "edited", "rejected"]
STATES: tuple[str, ...] = ("pending", "accepted", "edited", "rejected")


class SynthPair(BaseModel):
    """One generated pair, its source passage and its review state."""

    model_config = ConfigDict(frozen=True)
    id: str
    batch: str
    task: str
    instruction: str
    response: str
    generated: str = ""  # the part the teacher wrote (what the grounding checks tested)
    doc_id: str
    version: int
    chunk_id: str
    where: str = ""
    source: str = ""
    figures: dict[str, float] = Field(default_factory=dict)
    created: str = ""
    state: State = "pending"
    reviewed: str = ""

    @property
    def accepted(self) -> bool:
        return self.state in ("accepted", "edited")


def synthetic_dir(workspace: Workspace) -> Path:
    return workspace.datasets_dir / SYNTHETIC


def batch_dir(workspace: Workspace, batch: str) -> Path:
    if not batch or "/" in batch or batch.startswith("."):
        raise DatasetError(f"{batch!r} is not a batch name.")
    return synthetic_dir(workspace) / batch


def batch_id(settings: dict[str, Any]) -> str:
    """The batch a set of generation settings writes to: the same settings, the same
    batch, so running them again resumes it."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    return f"synth-{digest[:10]}"


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                value = json.loads(line)
            except ValueError:
                continue  # the line a killed writer left half-written
            if isinstance(value, dict):
                yield value


def _append(workspace: Workspace, batch: str, name: str, value: dict[str, Any]) -> None:
    append_line(batch_dir(workspace, batch) / name, json.dumps(value, ensure_ascii=False))


def open_batch(workspace: Workspace, batch: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The batch's record, written on first use (its settings never change after)."""
    path = batch_dir(workspace, batch) / "batch.json"
    if path.exists():
        return dict(read_json(path))
    record = {"id": batch, "created": now_iso(), **settings}
    atomic_write_json(path, record)
    return record


def read_batch(workspace: Workspace, batch: str) -> dict[str, Any]:
    path = batch_dir(workspace, batch) / "batch.json"
    if not path.exists():
        raise DatasetError(f"No batch of generated pairs is called {batch!r}.",
                           hint="list them with `scriptorium datasets synthetic`")
    return dict(read_json(path))


def list_batches(workspace: Workspace) -> list[dict[str, Any]]:
    """Every batch, oldest first, with its counts by state and the filtered count."""
    out = []
    folder = synthetic_dir(workspace)
    for path in sorted(folder.glob("*/batch.json")) if folder.exists() else []:
        record = dict(read_json(path))
        states = {state: 0 for state in STATES}
        for pair in pairs(workspace, record["id"]):
            states[pair.state] += 1
        filtered = sum(1 for _ in _lines(path.parent / "filtered.jsonl"))
        out.append({**record, "states": states, "filtered": filtered})
    return sorted(out, key=lambda r: r.get("created", ""))


def done_items(workspace: Workspace, batch: str) -> set[tuple[str, str]]:
    """(chunk id, task) of every finished item of the batch."""
    return {(v["chunk_id"], v["task"]) for v in _lines(batch_dir(workspace, batch) /
                                                      "done.jsonl")
            if "chunk_id" in v and "task" in v}


def add_pair(workspace: Workspace, pair: SynthPair) -> None:
    _append(workspace, pair.batch, "pairs.jsonl",
            pair.model_dump(mode="json", exclude={"state", "reviewed"}))


def add_filtered(workspace: Workspace, batch: str, value: dict[str, Any]) -> None:
    _append(workspace, batch, "filtered.jsonl", value)


def finish_item(workspace: Workspace, batch: str, chunk_id: str, task: str) -> None:
    _append(workspace, batch, "done.jsonl", {"chunk_id": chunk_id, "task": task})


def filtered(workspace: Workspace, batch: str) -> list[dict[str, Any]]:
    return list(_lines(batch_dir(workspace, batch) / "filtered.jsonl"))


def pairs(workspace: Workspace, batch: str) -> list[SynthPair]:
    """The batch's pairs in the order they were made, each in its latest reviewed state."""
    folder = batch_dir(workspace, batch)
    reviews: dict[str, dict[str, Any]] = {}
    for review in _lines(folder / "reviews.jsonl"):
        if review.get("decision") in ("accepted", "edited", "rejected") and "pair" in review:
            reviews[review["pair"]] = review
    out: dict[str, SynthPair] = {}
    for raw in _lines(folder / "pairs.jsonl"):
        try:
            pair = SynthPair.model_validate(raw)
        except ValueError:
            continue
        review = reviews.get(pair.id)
        if review is not None:
            update: dict[str, Any] = {"state": review["decision"], "reviewed": review["at"]}
            if review["decision"] == "edited":
                update.update(instruction=review["instruction"], response=review["response"])
            pair = pair.model_copy(update=update)
        out.setdefault(pair.id, pair)
    return list(out.values())


def review(workspace: Workspace, batch: str, pair_id: str, decision: Decision, *,
           instruction: str | None = None, response: str | None = None) -> SynthPair:
    """Record an analyst's decision on one pair; an edit gives the pair's new text."""
    by_id = {p.id: p for p in pairs(workspace, batch)}
    if pair_id not in by_id:
        raise DatasetError(f"Batch {batch!r} has no pair {pair_id!r}.")
    record: dict[str, Any] = {"pair": pair_id, "decision": decision, "at": now_iso()}
    if decision == "edited":
        pair = by_id[pair_id]
        instruction = (instruction if instruction is not None else pair.instruction).strip()
        response = (response if response is not None else pair.response).strip()
        if not instruction or not response:
            raise DatasetError("An edited pair needs both an instruction and a response.")
        record.update(instruction=instruction, response=response)
    with file_lock(batch_dir(workspace, batch) / ".lock"):
        _append(workspace, batch, "reviews.jsonl", record)
    workspace.audit.record("dataset.synthetic_review", batch=batch, pair=pair_id,
                           decision=decision)
    return pairs_by_id(workspace, batch)[pair_id]


def pairs_by_id(workspace: Workspace, batch: str) -> dict[str, SynthPair]:
    return {p.id: p for p in pairs(workspace, batch)}


def accept_remaining(workspace: Workspace, batch: str, *, task: str | None = None,
                     contains: str | None = None, min_similarity: float | None = None
                     ) -> list[str]:
    """Accept every pending pair of the batch that matches the filter; returns their ids."""
    chosen = []
    needle = (contains or "").casefold()
    for pair in pairs(workspace, batch):
        if pair.state != "pending" or (task and pair.task != task):
            continue
        if needle and needle not in (pair.instruction + " " + pair.response).casefold():
            continue
        if min_similarity is not None and pair.figures.get("similarity", 1.0) < min_similarity:
            continue
        chosen.append(pair.id)
    stamp = now_iso()
    with file_lock(batch_dir(workspace, batch) / ".lock"):
        for pair_id in chosen:
            _append(workspace, batch, "reviews.jsonl",
                    {"pair": pair_id, "decision": "accepted", "at": stamp})
    if chosen:
        workspace.audit.record("dataset.synthetic_review", batch=batch, accepted=len(chosen),
                               filter={"task": task, "contains": contains,
                                       "min_similarity": min_similarity})
    return chosen


def accepted_pairs(workspace: Workspace) -> list[tuple[dict[str, Any], SynthPair]]:
    """Every accepted pair of every batch, with its batch's record."""
    out = []
    for record in list_batches(workspace):
        out.extend((record, pair) for pair in pairs(workspace, record["id"]) if pair.accepted)
    return out


def pending_pairs(workspace: Workspace) -> int:
    """How many generated pairs, over all batches, wait for an analyst's review."""
    return sum(1 for record in list_batches(workspace)
               for pair in pairs(workspace, record["id"]) if pair.state == "pending")


def accepted_digest(workspace: Workspace) -> str:
    """What the accepted pairs are, in a comparable form (for dataset fingerprints)."""
    digest = hashlib.sha256()
    for record, pair in accepted_pairs(workspace):
        digest.update(json.dumps([record["id"], pair.id, pair.instruction, pair.response])
                      .encode())
    return digest.hexdigest()
