"""Saved conversations of the drafting pane: ``W/drafts/conversations/<id>.json``.

Each save rewrites the whole file atomically (a conversation is small).
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.clock import now_iso
from core.drafting.sources import Citation
from core.errors import ScriptoriumError
from core.generation.model import Message
from core.workspace import Workspace
from core.workspace.records import RecordStore


class ConversationError(ScriptoriumError):
    """A conversation is missing or damaged."""


class Turn(BaseModel):
    model_config = ConfigDict(frozen=True)
    role: Literal["user", "assistant"]
    content: str
    citations: tuple[Citation, ...] = ()
    model: str = ""
    stats: dict[str, Any] = Field(default_factory=dict)
    rating: Literal["up", "down"] | None = None
    draft_id: str = ""
    created: str = Field(default_factory=now_iso)
    status: Literal["ok", "failed"] = "ok"  # a draft that failed the quality checks
    problems: tuple[str, ...] = ()
    prompt_format: str = ""

    @property
    def failed(self) -> bool:
        return self.role == "assistant" and self.status == "failed"

    def edited(self, text: str) -> Turn:
        """The turn with the analyst's text: theirs now, so no longer a failed draft."""
        return self.model_copy(update={"content": text, "status": "ok", "problems": ()})


class Conversation(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    title: str = "New conversation"
    model: str = ""
    retrieval: bool = True
    turns: tuple[Turn, ...] = ()
    created: str = Field(default_factory=now_iso)
    updated: str = Field(default_factory=now_iso)

    def history(self) -> list[Message]:
        """The turns as chat messages (without their sources), leaving out failed drafts
        and the requests that led to them (a model shown its own failed draft tends to
        repeat it)."""
        turns = self.turns
        dropped = {i for i, t in enumerate(turns) if t.failed}
        dropped |= {i - 1 for i in dropped if i > 0 and turns[i - 1].role == "user"}
        return [Message(role=t.role, content=t.content)
                for i, t in enumerate(turns) if i not in dropped]

    def with_turn(self, turn: Turn) -> Conversation:
        title = self.title
        if not self.turns and turn.role == "user":
            title = " ".join(turn.content.split())[:60] or title
        return self.model_copy(update={"turns": self.turns + (turn,), "title": title,
                                       "updated": now_iso()})

    def replace_turn(self, index: int, turn: Turn) -> Conversation:
        turns = list(self.turns)
        turns[index] = turn
        return self.model_copy(update={"turns": tuple(turns), "updated": now_iso()})


class ConversationStore(RecordStore[Conversation]):
    def __init__(self, workspace: Workspace) -> None:
        super().__init__(workspace.root / "drafts" / "conversations", Conversation,
                         "conversation", ConversationError)

    def search(self, query: str) -> list[Conversation]:
        """Conversations whose title or any turn contains every word of ``query``."""
        words = query.casefold().split()
        if not words:
            return self.list()
        hits = []
        for conversation in self.list():
            text = " ".join([conversation.title, *(t.content for t in conversation.turns)])
            if all(w in text.casefold() for w in words):
                hits.append(conversation)
        return hits

