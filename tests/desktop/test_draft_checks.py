"""The drafting pane and the draft checks: a second attempt clears the first one's text, a
failed draft is marked and exported as a note, warnings show, and the prompt format
choice reaches the engine. Events are fed to the handlers directly (no model runs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.drafting.budget import FIRST_TOKEN_S
from core.drafting.conversations import Conversation, Turn
from core.drafting.draft import DraftResult, Retrying, SourcesFound
from core.drafting.proposal import Proposal, ProposalSection
from core.drafting.sources import Citation
from core.generation.model import Finished, GenerationStats, Token
from core.workspace import Workspace
from desktop.jobs_monitor import JobMonitor
from desktop.panes.draft import DraftPane
from desktop.state import AppState

PROBLEM = "it repeats the prompt (\"write the staffing plan section\")"


def _stats(finish: str = "stop") -> GenerationStats:
    return GenerationStats(prompt_tokens=200, completion_tokens=30, time_to_first_token_s=0.3,
                           decode_s=1.0, total_s=1.3, finish=finish)


def _result(**update: Any) -> DraftResult:
    fields: dict[str, Any] = dict(
        prompt="Staffing plan", text="Write the staffing plan section of our proposal.",
        model="base-q4km", prompt_format="document",
        format_reason="continued pre-training only; no instruction stage in its lineage",
        stats=_stats().to_json())
    return DraftResult(**{**fields, **update})


@pytest.fixture
def pane(qtbot, app_state: AppState, workspace: Workspace) -> Iterator[DraftPane]:  # noqa: ANN001
    app_state.set_workspace(workspace)
    widget = DraftPane(app_state, JobMonitor())
    qtbot.addWidget(widget)
    widget.show()
    widget.session.conversation = Conversation().with_turn(
        Turn(role="user", content="Staffing plan"))
    widget.session.answers[0].streaming = ""
    yield widget
    widget.shutdown()


def test_a_second_attempt_clears_the_first_ones_text(pane: DraftPane) -> None:
    pane._on_event(pane.main, SourcesFound(()))
    pane._on_event(pane.main, Token("Write the staffing plan section"))
    assert "Write the staffing plan section" in pane.main.view.toPlainText()
    pane._on_event(pane.main, Retrying(PROBLEM))
    assert pane.session.answers[0].streaming == ""
    assert "Write the staffing plan section" not in pane.main.view.toPlainText()
    assert pane.notice.isVisibleTo(pane)
    assert f"first attempt failed the checks: {PROBLEM}; trying again" in pane.notice.plain()
    pane._on_event(pane.main, Token("Four shift teams"))
    assert "Four shift teams" in pane.main.view.toPlainText()


def test_a_failed_draft_is_marked_and_exported_as_a_note(qtbot, pane: DraftPane,  # noqa: ANN001
                                                         tmp_path: Path) -> None:
    result = _result(status="failed", problems=(PROBLEM,), attempts=2,
                     cleaned=("3 repeated line(s)",))
    pane._on_event(pane.main, Finished(result.text, _stats(), {"draft": result}))
    shown = pane.main.view.toPlainText()
    assert f"This draft failed the quality checks: {PROBLEM}" in shown
    assert "left out of exported documents" in shown
    assert "document prompt — base model (continued pre-training only" in pane.stats.text()
    assert "second attempt" in pane.stats.text()
    assert "Removed from the model's text: 3 repeated line(s)" in pane.notice.plain()
    assert pane.session.conversation.history() == []  # the model is not shown its failure

    out = tmp_path / "chat.md"
    pane.actions.export_to(out)
    qtbot.waitUntil(out.exists, timeout=10_000)
    exported = out.read_text(encoding="utf-8")
    assert "failed the quality checks" in exported and result.text not in exported


def test_warnings_of_a_good_draft_are_shown(pane: DraftPane) -> None:
    result = _result(text="The Cyber Analyst II is billed at $152.00 per hour.",
                     prompt_format="chat", format_reason="SFT stage in its lineage",
                     warnings=("Codes, rates or dates that match no source shown: $152.00",))
    pane._on_event(pane.main, Finished(result.text, _stats(), {"draft": result}))
    assert "match no source shown: $152.00" in pane.notice.plain()
    assert "chat prompt — instruction-following model (SFT stage" in pane.stats.text()
    assert "failed the quality checks" not in pane.main.view.toPlainText()


def test_figures_put_right_or_marked_unverified_are_shown(qtbot, pane: DraftPane,  # noqa: ANN001
                                                          tmp_path: Path) -> None:
    from core.drafting.facts import Settled, fact_warnings

    settled = [Settled("$150.00", "$131.00", "Cyber Analyst II, [1]", 1),
               Settled("$35", "[unverified: $35]"),
               Settled("NAS-DS-02", "[unverified: NAS-DS-02]", belongs="Data Scientist",
                       beside="Software Developer"),
               Settled("$6,276,380.00", "[unverified: $6,276,380.00]", misread=True)]
    row = Citation(kind="reference_row", doc_id="labor", title="Labor categories",
                   text="code: NAS-CY-02 | labor_category: Cyber Analyst II | rate: 131.00",
                   fields={"code": "NAS-CY-02", "labor_category": "Cyber Analyst II",
                           "rate": "131.00"}, number=1)
    result = _result(text="Our Cyber Analyst II bills $131.00 per hour [1]. Travel is "
                          "[unverified: $35] a day. Our Software Developer "
                          "([unverified: NAS-DS-02]) builds the pipeline. The hourly rate "
                          "for each category: [unverified: $6,276,380.00].", prompt_format="chat",
                     format_reason="SFT stage in its lineage", warnings=tuple(
                         fact_warnings(settled)), citations=(row,))
    pane.resize(1100, 700)
    pane._on_event(pane.main, SourcesFound(()))  # the model was shown no row
    pane._on_event(pane.main, Finished(result.text, _stats(), {"draft": result}))
    assert pane.sources.citations == (row,)  # the row looked up to put $150.00 right
    notice = pane.notice.plain()
    assert "Put right from the reference tables" in notice and "$150.00 → $131.00" in notice
    assert "Marked [unverified: …] in the text" in notice and "$35" in notice
    assert "NAS-DS-02 is Data Scientist's, not Software Developer's" in notice
    assert "(called an hourly rate, but too large, or per year, month or day, to be one): "\
           "$6,276,380.00." in notice
    assert "background-color:#ffe98a" in pane.main.view.toHtml()  # the figure stands out
    assert "[unverified: $35]" in pane.main.view.toPlainText()
    pane.actions.begin_edit()  # editing it, the marked figure stays in sight
    block = pane.actions.editor.document().firstBlock()
    marked = [(r.start, r.length) for r in block.layout().formats()
              if r.format.background().color().name() == "#ffe98a"]
    assert marked == [(block.text().index(m), len(m))
                      for m in ("[unverified: $35]", "[unverified: NAS-DS-02]",
                                "[unverified: $6,276,380.00]")]
    pane.actions.editor.resize(600, 120)
    pane.actions.editor.grab().save(str(tmp_path / "draft-edit.png"))
    pane.actions.end_edit()
    proposal = pane.proposal_tab  # a proposal section's editor highlights them too
    assert proposal.highlighter.document() is proposal.editor.document()
    pane.rate("up")  # the analyst is told why this one will not train the model
    qtbot.waitUntil(lambda: "training will not learn from it" in pane.stats.text(),
                    timeout=10_000)
    qtbot.wait(100)  # the wrapped notice is laid out on the next turn of the event loop
    pane.grab().save(str(tmp_path / "draft-figures.png"))


def test_the_prompt_format_choice_reaches_the_engine(qtbot, pane: DraftPane,  # noqa: ANN001
                                                     monkeypatch) -> None:  # noqa: ANN001
    seen: dict[str, Any] = {}

    def fake_stream(model, request, **kwargs):  # noqa: ANN001, ANN003, ANN202
        seen.update(kwargs)
        result = _result(prompt=request, prompt_format="document",
                         format_reason="chosen explicitly")
        yield SourcesFound(())
        yield Finished(result.text, _stats(), {"draft": result})

    monkeypatch.setattr("core.drafting.session.stream_draft", fake_stream)
    monkeypatch.setattr(pane.session, "loader", lambda model_id: lambda: object())
    pane.models.main.addItem("a model", "some-q4km")
    pane.options.format.setCurrentIndex(pane.options.format.findData("document"))
    assert pane._engine().options.format == "document"
    pane.prompt.setPlainText("Staffing plan")
    pane.actions.send_button.click()
    qtbot.waitUntil(lambda: not pane._busy(), timeout=10_000)
    assert seen["format"] == "document"
    assert "document prompt — chosen in Prompt format" in pane.stats.text()


def test_quick_start_reaches_the_engine_and_the_stats_line(qtbot, pane: DraftPane,  # noqa: ANN001
                                                          monkeypatch) -> None:  # noqa: ANN001
    seen: list[Any] = []

    def fake_stream(model, request, **kwargs):  # noqa: ANN001, ANN003, ANN202
        seen.append(kwargs["first_token_s"])
        result = _result(prompt=request, checks={
            "first_token_with_retrieval_s": 1.31,
            "prompt_budget": {"tokens": 300, "limited": True, "reason": "x"}},
            citations=(Citation(doc_id="d", title="RFP", text="Shifts.", number=1),))
        yield SourcesFound(())
        yield Finished(result.text, _stats(), {"draft": result})

    monkeypatch.setattr("core.drafting.session.stream_draft", fake_stream)
    monkeypatch.setattr(pane.session, "loader", lambda model_id: lambda: object())
    pane.models.main.addItem("a model", "some-q4km")
    for quick in (True, False):
        pane.options.quick.setChecked(quick)
        pane.prompt.setPlainText("Staffing plan")
        pane.actions.send_button.click()
        qtbot.waitUntil(lambda: not pane._busy(), timeout=10_000)
    assert seen == [FIRST_TOKEN_S, None]
    assert "first words 1.31 s after Send" in pane.stats.text()  # retrieval included
    assert "1 source(s), shortened" in pane.stats.text()
    pane.options.retrieval.setChecked(False)
    assert not pane.options.quick.isEnabled()  # nothing to shorten without sources


def test_a_failed_proposal_section_shows_why(pane: DraftPane) -> None:
    tab = pane.proposal_tab
    proposal = Proposal(title="Response to Harbour RFP", rfp_id="rfp1", rfp_title="Harbour RFP",
                        sections=(
        ProposalSection(key="summary", title="Executive Summary", guidance="",
                        text="We will staff it.", status="drafted"),
        ProposalSection(key="staffing", title="Staffing Plan", guidance="", status="failed",
                        problems=(PROBLEM,), rejected_text="Write the staffing plan section")))
    tab._loaded(proposal)
    tab.sections.setCurrentRow(1)
    assert tab.sections.item(1).text() == "Staffing Plan (failed)"
    assert PROBLEM in tab.notice.plain() and tab.notice.isVisibleTo(tab)
    assert tab.editor.toPlainText() == "" and tab.review_button.isVisibleTo(tab)
    tab.review_button.click()
    assert tab.editor.toPlainText() == "Write the staffing plan section"
    tab.sections.setCurrentRow(0)
    assert not tab.notice.isVisibleTo(tab) and not tab.review_button.isVisibleTo(tab)

    tab._on_event(Token("Write the staffing"))
    tab._on_event(Retrying(PROBLEM))
    assert tab.editor.toPlainText() == "" and "trying again" in tab.notice.plain()
