"""The drafting session without Qt: models to choose from, streaming into the
conversation, side by side, and the feedback rules (ratings, edits, preferences)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core.drafting.conversations import ConversationStore
from core.drafting.draft import DraftResult, Retrying, SourcesFound
from core.drafting.feedback import FeedbackLog
from core.drafting.session import DraftOptions, DraftSession, model_options
from core.drafting.sources import Citation
from core.endpoints import RemoteEndpoint
from core.generation.model import Finished, GenerationStats, Token
from core.generation.runtime import ModelCache
from core.workspace import Workspace

STATS = GenerationStats(prompt_tokens=50, completion_tokens=5, time_to_first_token_s=0.1,
                        decode_s=0.2, total_s=0.3, finish="stop")
CITED = (Citation(doc_id="d1", title="Harbour RFP", text="24x7 monitoring.", number=1),)


def _fake_stream(texts: dict[str, list[str]], status: str = "ok") -> Any:
    def stream(model: str, request: str, **kwargs: Any) -> Iterator[object]:
        yield SourcesFound(CITED)
        for text in texts[model]:
            yield Token(text)
        result = DraftResult(prompt=request, text="".join(texts[model]), model=model,
                             citations=CITED, status=status,
                             problems=("echoed the request",) if status == "failed" else ())
        yield Finished(result.text, STATS, {"draft": result})
    return stream


@pytest.fixture
def session(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[DraftSession]:
    texts = {"a": ["We staff ", "the SOC [1]."], "b": ["Four shifts ", "cover it [1]."]}
    monkeypatch.setattr("core.drafting.session.stream_draft", _fake_stream(texts))
    cache = ModelCache()
    session = DraftSession(workspace, cache)
    session.loader = lambda model_id: lambda: model_id  # type: ignore[method-assign]
    yield session
    cache.close()


def _run(session: DraftSession, request: str, models: list[str]) -> list[Any]:
    writes = []
    for side, job in enumerate(session.start(request, models, DraftOptions(retrieval=False))):
        for event in job(lambda: False):
            writes.append(session.take(side, event))
    return [w for w in writes if w is not None]


def test_an_answer_streams_into_the_conversation_and_is_saved(session: DraftSession,
                                                             workspace: Workspace) -> None:
    jobs = session.start("Staffing plan", ["a"], DraftOptions(retrieval=False))
    events = iter(jobs[0](lambda: False))
    session.take(0, next(events))
    assert session.answers[0].citations == CITED
    session.take(0, next(events))
    assert session.answers[0].streaming == "We staff "
    assert [t.role for t in session.conversation.turns] == ["user"]  # not yet answered
    session.take(0, Retrying("echoed the request", kept="We"))
    assert session.answers[0].streaming == "We"
    writes = [session.take(0, e) for e in events]
    assert session.answers[0].streaming is None
    turns = session.conversation.turns
    assert [t.role for t in turns] == ["user", "assistant"]
    assert turns[1].content == "We staff the SOC [1]." and turns[1].citations == CITED
    assert ConversationStore(workspace).search("") == []  # nothing written yet
    saved = [w for w in writes if w is not None]
    assert len(saved) == 1
    saved[0]()
    (stored,) = ConversationStore(workspace).search("staffing")
    assert stored.turns == turns
    assert session.find("no such words") == []
    assert session.read(stored.id).turns == turns


def test_side_by_side_and_the_preferred_answer(session: DraftSession,
                                               workspace: Workspace) -> None:
    _run(session, "Staffing plan", ["a", "b"])
    assert [r.model for r in session.compared] == ["a", "b"]
    assert len(session.conversation.turns) == 2  # only the main answer joins it
    write = session.prefer(1)
    assert write is not None
    assert write() == "Saved 1 preference pair(s)."
    (pair,) = FeedbackLog(workspace).pairs()
    assert pair["chosen"] == "Four shifts cover it [1]."
    assert pair["rejected"] == "We staff the SOC [1]."
    with pytest.raises(ValueError):
        session.start("too many", ["a", "b", "a"], DraftOptions())


def test_rating_up_a_draft_with_marked_figures_says_it_will_not_train(
        workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = {"a": ["Travel is [unverified: $35] a day [1]."], "b": ["We staff the SOC [1]."]}
    monkeypatch.setattr("core.drafting.session.stream_draft", _fake_stream(texts))
    session = DraftSession(workspace, ModelCache())
    session.loader = lambda model_id: lambda: model_id  # type: ignore[method-assign]
    _run(session, "Travel", ["a", "b"])
    write = session.rate("up")
    assert write is not None and "training will not learn from it" in write()
    write = session.prefer(0)
    assert write is not None and "until you correct or delete them (Edit…)" in write()
    write = session.prefer(1)  # the unmarked one preferred: nothing to say
    assert write is not None and write() == "Saved 1 preference pair(s)."


def test_ratings_and_edits_become_feedback(session: DraftSession, workspace: Workspace) -> None:
    assert session.rate("up") is None  # nothing answered yet
    _run(session, "Staffing plan", ["a"])
    write = session.rate("down")
    assert write is not None and session.conversation.turns[1].rating == "down"
    assert write().startswith("Thanks: rated down")
    write = session.edit("Our SOC runs four shifts [1].")
    assert session.conversation.turns[1].content == "Our SOC runs four shifts [1]."
    assert write is not None and write() == "Saved your edit as the preferred answer."
    (pair,) = FeedbackLog(workspace).pairs()
    assert pair["chosen"] == "Our SOC runs four shifts [1]."
    assert pair["rejected"] == "We staff the SOC [1]."
    (stored,) = ConversationStore(workspace).search("")
    assert stored.turns[1].content == "Our SOC runs four shifts [1]."


def test_a_failed_answer_is_kept_out_of_the_models_history(
        workspace: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setattr("core.drafting.session.stream_draft",
                        _fake_stream({"a": ["Staffing plan"]}, status="failed"))
    session = DraftSession(workspace, ModelCache())
    session.loader = lambda model_id: lambda: model_id  # type: ignore[method-assign]
    _run(session, "Staffing plan", ["a"])
    assert session.conversation.turns[1].failed
    assert session.conversation.history() == []
    written = session.export(tmp_path / "chat.md")()
    text = written.read_text(encoding="utf-8")
    assert "failed the quality checks" in text and "Staffing plan\n\nStaffing plan" not in text


def test_model_options_list_endpoints_after_the_workspace_models(workspace: Workspace) -> None:
    lab = RemoteEndpoint(name="lab", url="http://lab:8080")
    assert model_options(workspace, [lab]) == [
        model_options(None, [lab])[0]]  # no GGUF here: the endpoint alone
    assert model_options(workspace, [lab])[0].id == "endpoint:lab"
    assert model_options(None) == []


def test_exported_sources_are_the_cited_ones(tmp_path: Any) -> None:
    from docx import Document

    from core.drafting.export import draft_markdown, export_draft

    two = (*CITED, Citation(doc_id="d2", title="Old proposal", text="Shifts.", number=2))
    result = DraftResult(prompt="Staffing plan", text="We staff the SOC around the clock [1].",
                         citations=two, cited=(1,))
    markdown = draft_markdown(result)
    sources = markdown.split("## Sources", 1)[1]
    assert "[1] Harbour RFP" in sources and "“Shifts.”" not in sources
    assert "Also retrieved, not cited: [2] Old proposal." in markdown
    none_cited = result.model_copy(update={"text": "We staff the SOC.", "cited": ()})
    assert "## Sources" not in draft_markdown(none_cited)
    docx = export_draft([result], tmp_path / "d.docx")
    paragraphs = [p.text for p in Document(str(docx)).paragraphs]
    assert sum(p.startswith("[") for p in paragraphs) == 1
    assert "Also retrieved, not cited: [2] Old proposal." in paragraphs
