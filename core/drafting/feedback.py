"""Analysts' feedback as preference pairs, the input of preference training.

``W/feedback/feedback.jsonl`` gets one ``{prompt, chosen, rejected, ...}`` object a line
(what ``core.datasets.prefs`` reads):

- an edited draft: the edit is chosen, the original rejected (with a thumbs-down or not);
- a thumbs-up and a thumbs-down on different answers to the same prompt make a pair,
  whichever came first.

Ratings themselves go to ``W/drafts/ratings.jsonl`` (not under ``feedback/``, whose every
line must be a pair). Lines are appended and fsynced; a pair already written is not
written again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from core.clock import now_iso
from core.errors import ScriptoriumError
from core.fsutil import append_line
from core.workspace import Workspace

FEEDBACK_FILE = "feedback.jsonl"
Rating = Literal["up", "down"]


class FeedbackError(ScriptoriumError):
    """Feedback that cannot be recorded (e.g. an edit equal to the original)."""


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    items = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                items.append(item)
    return items


def _pair_key(prompt: str, chosen: str, rejected: str) -> str:
    key = json.dumps([prompt, chosen.strip(), rejected.strip()])
    return hashlib.sha256(key.encode()).hexdigest()


class FeedbackLog:
    """Records ratings and edits of drafts of one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.pairs_path = workspace.feedback_dir / FEEDBACK_FILE
        self.ratings_path = workspace.root / "drafts" / "ratings.jsonl"

    def pairs(self) -> list[dict[str, Any]]:
        return _read(self.pairs_path)

    def ratings(self) -> list[dict[str, Any]]:
        return _read(self.ratings_path)

    def _write_pair(self, prompt: str, chosen: str, rejected: str,
                    **extra: Any) -> dict[str, Any] | None:
        if not prompt.strip() or not chosen.strip() or not rejected.strip():
            return None
        if chosen.strip() == rejected.strip():
            return None
        key = _pair_key(prompt, chosen, rejected)
        if any(p.get("key") == key for p in self.pairs()):
            return None
        pair = {"prompt": prompt, "chosen": chosen.strip(), "rejected": rejected.strip(),
                "key": key, "created": now_iso(), "source": "drafting", **extra}
        append_line(self.pairs_path, json.dumps(pair, ensure_ascii=False))
        self.workspace.audit.record("feedback.pair", kind=extra.get("kind", ""), key=key[:12])
        return pair

    def record_edit(self, prompt: str, original: str, edited: str, *, model: str = "",
                    draft_id: str = "", rating: Rating | None = None) -> dict[str, Any]:
        """The analyst's edit is preferred over the original draft; returns the pair."""
        if edited.strip() == original.strip():
            raise FeedbackError("The edited text is the same as the draft; nothing to save.")
        if not edited.strip():
            raise FeedbackError("The edited text is empty.")
        if rating is not None:
            self._append_rating(prompt, original, rating, model, draft_id)
        pair = self._write_pair(prompt, edited, original, kind="edit", model=model,
                                draft_id=draft_id)
        return pair or {"prompt": prompt, "chosen": edited.strip(), "rejected": original.strip()}

    def _append_rating(self, prompt: str, text: str, rating: Rating, model: str,
                       draft_id: str) -> None:
        append_line(self.ratings_path, json.dumps(
            {"prompt": prompt, "text": text, "rating": rating, "model": model,
             "draft_id": draft_id, "created": now_iso()}, ensure_ascii=False))

    def record_rating(self, prompt: str, text: str, rating: Rating, *, model: str = "",
                      draft_id: str = "") -> list[dict[str, Any]]:
        """Save a thumbs up or down; returns the pairs it completed (maybe none)."""
        if rating not in ("up", "down"):
            raise FeedbackError(f"A rating is 'up' or 'down', not {rating!r}.")
        earlier = [r for r in self.ratings() if r.get("prompt") == prompt
                   and r.get("text", "").strip() != text.strip()]
        self._append_rating(prompt, text, rating, model, draft_id)
        pairs = []
        opposite = "down" if rating == "up" else "up"
        for other in earlier:
            if other.get("rating") != opposite:
                continue
            chosen, rejected = (text, other["text"]) if rating == "up" else (other["text"], text)
            pair = self._write_pair(prompt, chosen, rejected, kind="rating", model=model,
                                    draft_id=draft_id)
            if pair:
                pairs.append(pair)
        return pairs
