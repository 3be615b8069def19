"""Instruction/response pairs written by users, kept in ``W/datasets/user-pairs.jsonl``."""

from __future__ import annotations

import json
import uuid
from typing import Any

from core.clock import now_iso
from core.datasets.model import DatasetError
from core.fsutil import append_line, sha256_file
from core.workspace import Workspace
from core.workspace.locking import file_lock

USER_PAIRS = "user-pairs.jsonl"


def add_user_pair(workspace: Workspace, instruction: str, response: str) -> dict[str, Any]:
    """Append one pair (both parts must be non-empty); returns the stored pair."""
    instruction, response = instruction.strip(), response.strip()
    if not instruction or not response:
        raise DatasetError("A pair needs both an instruction and a response.")
    pair = {"id": uuid.uuid4().hex[:12], "instruction": instruction, "response": response,
            "created": now_iso()}
    with file_lock(workspace.datasets_dir / ".lock"):
        append_line(workspace.datasets_dir / USER_PAIRS, json.dumps(pair, ensure_ascii=False))
    workspace.audit.record("dataset.user_pair", id=pair["id"])
    return pair


def list_user_pairs(workspace: Workspace) -> list[dict[str, Any]]:
    """Every well-formed user pair, oldest first (damaged lines are skipped)."""
    path = workspace.datasets_dir / USER_PAIRS
    if not path.exists():
        return []
    pairs = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                pair = json.loads(line)
            except ValueError:
                continue
            if (isinstance(pair, dict) and isinstance(pair.get("instruction"), str)
                    and isinstance(pair.get("response"), str)
                    and pair["instruction"].strip() and pair["response"].strip()):
                pairs.append(pair)
    return pairs


def user_pairs_digest(workspace: Workspace) -> str:
    path = workspace.datasets_dir / USER_PAIRS
    return sha256_file(path) if path.exists() else ""
