"""Documents pane and Import wizard, driven like a user would."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.ingest.store import DocumentStore
from desktop.main_window import MainWindow
from desktop.qt import QCheckBox, QComboBox, QMessageBox, QWizard
from desktop.wizards.import_wizard import ImportWizard

RFP = """# Request for Proposal: Harbour Data Platform

Solicitation HDP-27-001. The agency requests proposals for a data platform.

## 3. Requirements

3.1 The contractor shall migrate 40 databases to the cloud.

3.2 The contractor shall provide 24x7 monitoring.
"""

PROPOSAL = """# Proposal: Harbour Data Platform

We are pleased to submit this proposal in response to solicitation HDP-27-001.

## Response to 3.1

We propose a phased migration of the 40 databases over nine months.

## Response to 3.2

Our operations centre monitors the platform around the clock.
"""


def _write_corpus(folder: Path) -> list[Path]:
    folder.mkdir()
    rfp = folder / "rfp-harbour-data-platform.md"
    rfp.write_text(RFP)
    proposal = folder / "proposal-harbour-data-platform.md"
    proposal.write_text(PROPOSAL)
    rates = folder / "labor-rates.csv"
    rates.write_text("code,labor_category,hourly_rate_usd\nNAS-SE-03,Senior Systems Engineer,"
                     "185.00\nNAS-PM-01,Program Manager,210.00\n")
    broken = folder / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj <<")
    return [rfp, proposal, rates, broken]


@pytest.mark.timeout(300)
def test_import_wizard_previews_tags_imports_and_pairs(
    qtbot, window: MainWindow, workspace, tmp_path  # noqa: ANN001
) -> None:
    files = _write_corpus(tmp_path / "inbox")
    wizard = ImportWizard(window.state, window.monitor, window)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.files.add_paths([tmp_path / "inbox"])
    assert {Path(p) for p in wizard.files.paths()} == set(files)

    wizard.next()  # review: previews are read in the background
    review = wizard.review
    qtbot.waitUntil(lambda: len(review.previews) == len(files), timeout=120_000)
    rows = {path.name: row for row, path in enumerate(review.paths)}
    kinds = {name: review.table.cellWidget(row, 2).currentText() for name, row in rows.items()}
    assert kinds["rfp-harbour-data-platform.md"] == "rfp"
    assert kinds["proposal-harbour-data-platform.md"] == "proposal"
    assert kinds["labor-rates.csv"] == "reference"
    broken_row = rows["broken.pdf"]
    include: QCheckBox = review.table.cellWidget(broken_row, 0)
    assert not include.isChecked() and not include.isEnabled()
    assert not review.table.item(broken_row, 3).icon().isNull()  # the "fail" icon
    review.table.selectRow(rows["rfp-harbour-data-platform.md"])
    assert "3.1 The contractor shall migrate" in review.text.toPlainText()
    other: QComboBox = review.table.cellWidget(rows["labor-rates.csv"], 2)
    other.setCurrentText("other")  # the user overrides a guess

    with qtbot.waitSignal(window.monitor.finished, timeout=180_000) as finished:
        wizard.next()  # import runs as a job
    assert finished.args[1].state == "succeeded", finished.args[1].error
    run = wizard.run_page
    qtbot.waitUntil(run.isComplete, timeout=10_000)
    assert run.bar.value() == run.bar.maximum()
    assert run.results.rowCount() == 3

    store = DocumentStore(workspace)
    by_name = {r.latest.source_name: r for r in store.list()}
    assert by_name["labor-rates.csv"].kind == "other"
    assert by_name["rfp-harbour-data-platform.md"].kind == "rfp"

    wizard.next()  # pairing suggestions
    pairs = wizard.pairs
    qtbot.waitUntil(lambda: pairs.table.rowCount() >= 1, timeout=30_000)
    assert pairs.table.cellWidget(0, 0).isChecked()
    wizard.button(QWizard.WizardButton.FinishButton).click()
    rfp = store.get(by_name["rfp-harbour-data-platform.md"].id)
    assert by_name["proposal-harbour-data-platform.md"].id in rfp.paired_with

    pane = window.panes["Documents"]
    qtbot.waitUntil(lambda: pane.table.rowCount() == 3, timeout=10_000)
    assert "1 RFPs" in pane.summary.text()


def test_documents_pane_changes_kind_and_shows_text(
    qtbot, window: MainWindow, workspace, tmp_path  # noqa: ANN001
) -> None:
    from core.ingest.importer import import_paths

    files = _write_corpus(tmp_path / "inbox")
    import_paths(workspace, files[:2])
    window.state.documents_changed.emit()
    window.show_section("Documents")
    pane = window.panes["Documents"]
    assert pane.table.rowCount() == 2
    pane.table.selectRow(0)
    qtbot.waitUntil(lambda: bool(pane.preview.toPlainText()), timeout=10_000)
    combo: QComboBox = pane.table.cellWidget(0, 1)
    doc_id = pane.records[0].id
    combo.setCurrentText("reference")
    qtbot.waitUntil(lambda: DocumentStore(workspace).get(doc_id).kind == "reference",
                    timeout=10_000)


def test_user_written_pairs_are_saved_for_sft(qtbot, window: MainWindow, workspace) -> None:  # noqa: ANN001
    from core.datasets.user_pairs import list_user_pairs
    from desktop.dialogs.user_pair import UserPairDialog

    dialog = UserPairDialog(workspace, window)
    qtbot.addWidget(dialog)
    dialog.save()
    assert "both" in dialog.count.text()
    dialog.instruction.setPlainText("What is the code for a Program Manager?")
    dialog.response.setPlainText("NAS-PM-01, at $212.00 per hour.")
    dialog.save()
    qtbot.waitUntil(lambda: len(list_user_pairs(workspace)) == 1, timeout=10_000)
    qtbot.waitUntil(lambda: dialog.instruction.toPlainText() == "", timeout=10_000)
    assert list_user_pairs(workspace)[0]["response"].startswith("NAS-PM-01")


def test_a_title_is_renamed_in_the_table_and_the_index_follows(
    qtbot, window: MainWindow, workspace, tmp_path  # noqa: ANN001
) -> None:
    from core.ingest.importer import import_paths
    from core.retrieval.store import index_paths

    rfp = tmp_path / "RFP_HDP-27-001_FINAL_v2.md"
    rfp.write_text(RFP.replace("# Request for Proposal: Harbour Data Platform\n", "FINAL\n"))
    doc_id = import_paths(workspace, [rfp]).files[0].doc_id
    store = DocumentStore(workspace)
    assert store.get(doc_id).title == "RFP HDP-27-001"  # the file name, tidied: not "FINAL"
    index_paths(workspace).manifest.parent.mkdir(parents=True, exist_ok=True)
    index_paths(workspace).manifest.write_text("{}")  # an index exists: it must follow
    pane = window.panes["Documents"]
    pane.refresh()
    pane.table.selectRow(0)
    assert pane.rename_button.isEnabled()
    with qtbot.waitSignal(window.monitor.finished, timeout=120_000) as finished:
        pane.table.item(0, 0).setText("Harbour Data Platform RFP")  # as the editor commits
        qtbot.waitUntil(lambda: store.get(doc_id).title == "Harbour Data Platform RFP",
                        timeout=10_000)
    assert finished.args[1].kind == "index-documents"
    assert pane.table.item(0, 0).text() == "Harbour Data Platform RFP"
    assert "Renamed to “Harbour Data Platform RFP”" in pane.notice.text()

    pane.table.item(0, 0).setText("   ")  # refused: the old title comes back
    qtbot.waitUntil(lambda: pane.table.item(0, 0).text() == "Harbour Data Platform RFP",
                    timeout=10_000)
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorBox") is not None, timeout=5_000)
    window.findChild(QMessageBox, "errorBox").close()
