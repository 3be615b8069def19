"""The Overview pane (issue 17): the workspace's stages with their state, the next step with
a button that does it, kept current when the data changes."""

from __future__ import annotations

from pathlib import Path

from helpers.workspaces import add_text_document

from desktop.main_window import MainWindow
from desktop.wizards.import_wizard import ImportWizard


def test_the_overview_offers_the_next_step_and_follows_the_data(
        qtbot, window: MainWindow, workspace, tmp_path: Path) -> None:  # noqa: ANN001
    assert window.current_section() == "Overview"  # what an opened workspace shows first
    pane = window.panes["Overview"]
    qtbot.waitUntil(lambda: pane.overview is not None, timeout=10_000)
    assert "Documents:" in pane.next_label.text()
    assert pane.next_button.text() == "Import documents…"
    assert pane.rows["release"][2].toolTip().startswith("On the command line:")

    pane.next_button.click()  # opens the Import wizard on the Documents pane
    assert window.current_section() == "Documents"
    wizard = window.findChild(ImportWizard)
    assert wizard is not None and wizard.isVisible()
    wizard.reject()

    add_text_document(workspace, tmp_path / "d", "rfp.md", "The contractor shall report.\n")
    window.state.documents_changed.emit()  # what an import job's end sends
    qtbot.waitUntil(lambda: "Knowledge base:" in pane.next_label.text(), timeout=10_000)
    assert pane.next_button.text() == "Update the knowledge base"
    assert "1 document (1 proposal)" in pane.rows["documents"][1].text()
