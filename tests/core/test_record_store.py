"""The JSON-file record store under conversations and proposals: atomic saves, newest
first, a damaged file skipped by list and reported by get, hostile ids refused."""

from __future__ import annotations

import pytest

from core.drafting.conversations import Conversation, ConversationError, ConversationStore, Turn
from core.drafting.proposal import ProposalError, ProposalStore
from core.workspace import Workspace


def test_damaged_files_and_hostile_ids(workspace: Workspace) -> None:
    store = ConversationStore(workspace)
    first = store.save(Conversation().with_turn(Turn(role="user", content="Staffing plan")))
    second = store.save(Conversation().with_turn(Turn(role="user", content="Transition")))
    assert [c.id for c in store.list()][0] in {first.id, second.id}
    assert {c.id for c in store.list()} == {first.id, second.id}
    (store.root / f"{first.id}.json").write_text("{not json", encoding="utf-8")
    assert [c.id for c in store.list()] == [second.id]  # the bad file does not hide others
    with pytest.raises(ConversationError, match="is damaged"):
        store.get(first.id)
    with pytest.raises(ConversationError, match="not a conversation id"):
        store.get("../../etc/passwd")
    with pytest.raises(ConversationError, match="No conversation"):
        store.get("abcdef123")
    store.delete(second.id)
    assert store.list() == []
    with pytest.raises(ProposalError, match="No proposal 'abcdef123' in this workspace"):
        ProposalStore(workspace).get("abcdef123")
