"""Drafting pane: streaming chat, stop, feedback, citations, export and the Proposal tab."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.drafting.conversations import Conversation, Turn
from core.drafting.sources import Citation
from core.fsutil import link_or_copy
from core.ingest.model import Block
from core.ingest.store import DocumentStore
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry
from desktop.jobs_monitor import JobMonitor
from desktop.panes.draft import DraftPane
from desktop.qt import QUrl
from desktop.state import AppState

pytestmark = pytest.mark.timeout(600)
GGUF_ID = "tiny-gguf"


def _register_gguf(workspace: Workspace) -> None:
    from core.models.bundled import assemble_gguf

    gguf = assemble_gguf()
    record = ModelRecord(id=GGUF_ID, name="Bundled GGUF", kind="gguf", architecture="gemma3",
                         format="gguf")
    with ModelRegistry(workspace).create(GGUF_ID, lambda folder: record) as folder:
        link_or_copy(gguf, folder / gguf.name)


def _add_rfp(workspace: Workspace, folder: Path) -> None:
    blocks = [
        Block(kind="heading", text="Harbour RFP", level=1),
        Block(kind="paragraph", text="3.1 The contractor shall provide 24x7 monitoring.",
              section=("Harbour RFP", "3. Requirements"), page=2),
        Block(kind="paragraph", text="3.2 Key personnel must hold a Secret clearance.",
              section=("Harbour RFP", "4. Staffing"), page=3),
    ]
    folder.mkdir()
    path = folder / "rfp.md"
    path.write_text("\n".join(b.text for b in blocks), encoding="utf-8")
    DocumentStore(workspace).add_version(
        source=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest(), format="md",
        blocks=blocks, title="Harbour RFP", kind="rfp")


@pytest.fixture
def pane(qtbot, app_state: AppState, workspace: Workspace,  # noqa: ANN001
         tmp_path: Path) -> Iterator[DraftPane]:
    _register_gguf(workspace)
    _add_rfp(workspace, tmp_path / "docs")
    app_state.set_workspace(workspace)
    widget = DraftPane(app_state, JobMonitor())
    qtbot.addWidget(widget)
    widget.options.retrieval.setChecked(False)
    widget.options.temperature.setValue(0.0)
    widget.options.max_tokens.setValue(4)
    widget.show()
    yield widget
    widget.shutdown()


def _send(qtbot, pane: DraftPane, text: str) -> None:  # noqa: ANN001
    pane.prompt.setPlainText(text)
    pane.actions.send_button.click()
    assert pane._busy()
    qtbot.waitUntil(lambda: not pane._busy() and pane.actions.send_button.isEnabled(),
                    timeout=300_000)


def test_chat_streams_saves_and_records_feedback(qtbot, pane: DraftPane,  # noqa: ANN001
                                                 workspace: Workspace, tmp_path: Path) -> None:
    assert pane.models.main.currentData() == GGUF_ID
    _send(qtbot, pane, "The contractor shall")
    turns = pane.session.conversation.turns
    assert [t.role for t in turns] == ["user", "assistant"] and turns[1].content
    assert "tokens/s" in pane.stats.text()
    qtbot.waitUntil(lambda: pane.conversations.list.count() == 1, timeout=60_000)
    assert pane.conversations.list.item(0).text() == "The contractor shall"

    pane.actions.down_button.click()
    pane.actions.begin_edit()
    assert pane.actions.edit_panel.isVisible()
    pane.actions.editor.setPlainText("The contractor shall staff four shift teams.")
    pane.actions.save_edit_button.click()
    feedback = workspace.feedback_dir / "feedback.jsonl"
    qtbot.waitUntil(lambda: feedback.exists() and not pane.actions.edit_panel.isVisible(),
                    timeout=60_000)
    pair = json.loads(feedback.read_text().splitlines()[0])
    assert pair["prompt"] == "The contractor shall"
    assert pair["chosen"] == "The contractor shall staff four shift teams."
    assert pair["rejected"] == turns[1].content.strip()
    assert pane.session.conversation.turns[1].content == pair["chosen"]

    out = tmp_path / "chat.md"
    pane.actions.export_to(out)
    qtbot.waitUntil(out.exists, timeout=60_000)
    assert "four shift teams" in out.read_text()
    pane.conversations.search.setText("no such words")
    qtbot.waitUntil(lambda: pane.conversations.list.count() == 0, timeout=10_000)
    pane.conversations.search.setText("contractor")
    qtbot.waitUntil(lambda: pane.conversations.list.count() == 1, timeout=10_000)


def test_stop_ends_generation_within_a_fraction_of_a_second(qtbot, pane: DraftPane) -> None:  # noqa: ANN001
    import time

    pane.options.max_tokens.setValue(400)
    pane.prompt.setPlainText("Once upon a time")
    pane.actions.send_button.click()
    qtbot.waitUntil(lambda: bool(pane.session.answers[0].streaming), timeout=300_000)
    asked = time.monotonic()
    pane.actions.stop_button.click()
    qtbot.waitUntil(lambda: not pane._busy(), timeout=2_000)
    assert time.monotonic() - asked < 1.0
    qtbot.waitUntil(lambda: pane.actions.send_button.isEnabled(), timeout=60_000)
    assert "stopped" in pane.stats.text()


def test_clicking_a_citation_shows_its_passage(pane: DraftPane) -> None:
    citations = tuple(Citation(number=n, doc_id="labor", title="Labor categories",
                               text=f"code: NAS-CY-0{n}", kind="reference_row", ref_id=f"r{n}")
                      for n in (1, 2))
    pane._show_conversation(Conversation().with_turn(Turn(role="user", content="Codes?"))
                            .with_turn(Turn(role="assistant", content="Use NAS-CY-02 [2].",
                                            citations=citations)))
    assert pane.sources.list.count() == 2
    assert 'href="cite:1:2"' in pane.main.view.toHtml()
    pane._on_citation_link(QUrl("cite:1:2"))
    assert "NAS-CY-02" in pane.sources.passage.toPlainText()
    assert pane.sources.list.currentRow() == 1


def test_side_by_side_compares_two_models(qtbot, pane: DraftPane,  # noqa: ANN001
                                          workspace: Workspace) -> None:
    pane.models.compare.setChecked(True)
    assert pane.other.view.isVisibleTo(pane)
    pane.models.other.setCurrentIndex(pane.models.other.findData(GGUF_ID))
    pane.options.max_tokens.setValue(3)
    _send(qtbot, pane, "Our company")
    assert len(pane.session.compared) == 2 and pane.actions.prefer_a.isEnabled()
    assert pane.other.view.toPlainText().strip()


def test_proposal_tab_outline_draft_edit_export(qtbot, pane: DraftPane,  # noqa: ANN001
                                               tmp_path: Path) -> None:
    tab = pane.proposal_tab
    assert tab.rfp_choice.count() == 1
    tab.build_button.click()
    qtbot.waitUntil(lambda: tab.proposal is not None, timeout=60_000)
    assert tab.matrix.rowCount() == 2
    assert tab.matrix.item(1, 2).text() == "Management and Staffing Plan"
    tab.sections.setCurrentRow(2)
    pane.options.max_tokens.setValue(3)
    tab.draft_button.click()
    qtbot.waitUntil(lambda: not tab.worker.running and tab.draft_button.isEnabled(),
                    timeout=300_000)
    assert tab.last_error is None
    section = tab.proposal.section("staffing-plan")  # 3 tokens are too short to be a section
    assert section.status == "failed" and section.text == "" and section.problems
    assert "failed the quality checks" in tab.notice.plain()
    tab.editor.setPlainText("Our cleared staff [1].")
    tab.save_button.click()
    qtbot.waitUntil(lambda: tab.proposal.section("staffing-plan").status == "edited",
                    timeout=60_000)
    out = tmp_path / "proposal.docx"
    tab.export_to(out)
    qtbot.waitUntil(out.exists, timeout=60_000)
    from docx import Document

    text = "\n".join(p.text for p in Document(str(out)).paragraphs)
    assert "Our cleared staff" in text and "Management and Staffing Plan" in text


def test_the_picked_model_is_loaded_before_the_first_send(qtbot, pane: DraftPane) -> None:  # noqa: ANN001
    """Issue 17: the first Send waited for the model load; the pane now loads it ahead,
    off the GUI thread, and the stats line measures the wait from Send."""
    from helpers.heartbeat import heartbeat

    with heartbeat() as beat:
        qtbot.waitUntil(lambda: pane.stats.text().startswith("Ready to draft"), timeout=120_000)
    assert len(pane.session.cache._models) == 1  # loaded into the cache the drafts use
    assert beat.worst_ms < 250, beat.gaps_ms  # the load ran on a worker thread
    pane.warm_up()  # the same model again: nothing to do
    assert pane.stats.text().startswith("Ready to draft")
    _send(qtbot, pane, "Our company")
    assert " s after Send" in pane.stats.text()
    assert pane.session.answers[0].first_token_s is not None
    assert pane.session.answers[0].first_token_s < 30
