"""Knowledge pane: re-index through the job monitor, search, open a passage, reference rows."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.ingest.model import Block
from core.ingest.store import DocumentStore
from core.workspace import Workspace
from desktop.jobs_monitor import JobMonitor
from desktop.panes.knowledge import KnowledgePane
from desktop.state import AppState

RATES = [("NAS-SE-03", "Senior Systems Engineer", "185.00"),
         ("NAS-PM-01", "Program Manager", "210.00")]


def _add(workspace: Workspace, path: Path, blocks: list[Block], title: str, kind: str) -> None:
    path.write_text("\n".join(b.text for b in blocks), encoding="utf-8")
    DocumentStore(workspace).add_version(
        source=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        format=path.suffix[1:], blocks=blocks, title=title, kind=kind)


def _corpus(workspace: Workspace, folder: Path) -> None:
    folder.mkdir()
    _add(workspace, folder / "rfp.md", [
        Block(kind="heading", text="Requirements", level=1),
        Block(kind="paragraph", text="The contractor shall migrate 40 databases to the cloud.",
              section=("Requirements",), page=2),
        Block(kind="heading", text="Operations", level=1),
        Block(kind="paragraph", text="The contractor shall provide 24x7 monitoring.",
              section=("Operations",), page=3),
    ], "Harbour RFP", "rfp")
    _add(workspace, folder / "rates.csv", [
        Block(kind="table_row", text=f"code: {c}; labor_category: {n}; rate: {r}",
              fields={"code": c, "labor_category": n, "rate": r}) for c, n, r in RATES
    ], "Labor rates", "reference")


@pytest.fixture(scope="module", autouse=True)
def process_wide_threads(qapp, tmp_path_factory) -> Iterator[None]:  # noqa: ANN001
    """Start, before the per-test thread check, the threads that live for the whole process
    by design: LanceDB's background event loop, and the thread pool's threads as Python
    sees them once engine code runs there (kept from expiring during this module)."""
    import threading

    import lancedb

    from desktop.qt import QRunnable, QThreadPool

    lancedb.connect(str(tmp_path_factory.mktemp("lancedb-warmup"))).list_tables()
    pool = QThreadPool.globalInstance()
    expiry = pool.expiryTimeout()
    pool.setExpiryTimeout(-1)
    barrier = threading.Barrier(pool.maxThreadCount())

    class Touch(QRunnable):
        def run(self) -> None:
            threading.current_thread()
            barrier.wait(10)

    for _ in range(pool.maxThreadCount()):
        pool.start(Touch())
    pool.waitForDone(10_000)
    yield
    pool.setExpiryTimeout(expiry)


@pytest.fixture
def pane(qtbot, app_state: AppState, workspace: Workspace,  # noqa: ANN001
         tmp_path: Path) -> Iterator[KnowledgePane]:
    _corpus(workspace, tmp_path / "corpus")
    monitor = JobMonitor()
    app_state.workspace_changed.connect(monitor.set_workspace)  # as the main window does
    app_state.set_workspace(workspace)
    widget = KnowledgePane(app_state, monitor)
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    monitor.cancel_all()
    for handle in list(monitor.handles.values()):
        handle.wait(30)


@pytest.mark.timeout(300)
def test_reindex_search_open_passage_and_reference_rows(qtbot, pane: KnowledgePane) -> None:  # noqa: ANN001
    qtbot.waitUntil(lambda: "Not indexed" in pane.status.text(), timeout=10_000)

    with qtbot.waitSignal(pane.monitor.finished, timeout=240_000) as finished:
        pane.reindex_button.click()
        assert not pane.reindex_button.isEnabled()
    assert finished.args[1].state == "succeeded", finished.args[1].error
    assert pane.progress.bar.value() == pane.progress.bar.maximum()
    qtbot.waitUntil(lambda: "2 documents" in pane.status.text(), timeout=10_000)
    assert pane.reindex_button.isEnabled()

    pane.query.setText("database migration")
    pane.search_button.click()
    qtbot.waitUntil(lambda: pane.results_list.count() > 0, timeout=60_000)
    top = pane.results[0]
    assert top.title == "Harbour RFP" and top.section == ("Requirements",) and top.page == 2
    html = pane.result_label(0).text()
    assert "<b>databases</b>" in html and "<b>migrate</b>" in html and "page 2" in html

    pane.open_button.click()
    qtbot.waitUntil(lambda: bool(pane.viewer.toPlainText()), timeout=10_000)
    assert "24x7 monitoring" in pane.viewer.toPlainText()  # the whole document
    assert pane.viewer.textCursor().selectedText() == top.text
    assert pane.viewer.isReadOnly()

    pane.kind.setCurrentText("reference")
    pane.query.setText("senior engineer")
    pane.search_button.click()
    qtbot.waitUntil(lambda: bool(pane.results) and pane.results[0].kind == "reference",
                    timeout=60_000)
    assert {r.kind for r in pane.results} == {"reference"}

    pane.kind.setCurrentText("all kinds")
    pane.tags.setText("no-such-tag")
    pane.search_button.click()
    qtbot.waitUntil(lambda: not pane.results and "Searching" not in pane.message.text(),
                    timeout=60_000)
    pane.tags.clear()
    pane.since.setText("yesterday")
    pane.search_button.click()
    qtbot.waitUntil(lambda: "YYYY-MM-DD" in pane.message.text(), timeout=60_000)
    pane.since.setText("2000-01-01")
    pane.until.setText("2999-12-31")
    pane.search_button.click()
    qtbot.waitUntil(lambda: len(pane.results) > 0, timeout=60_000)
    pane.since.setText("2999-01-01")
    pane.search_button.click()
    qtbot.waitUntil(lambda: not pane.results and "Searching" not in pane.message.text(),
                    timeout=60_000)

    pane.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: pane.references.table.rowCount() == 2, timeout=10_000)
    assert pane.references.table_choice.currentText() == "Labor rates"
    headers = [pane.references.table.horizontalHeaderItem(c).text()
               for c in range(pane.references.table.columnCount())]
    assert headers == ["code", "labor_category", "rate"]
    pane.references.lookup_box.setText("senior systems engineer")
    pane.references.lookup_button.click()
    qtbot.waitUntil(lambda: pane.references.table.rowCount() == 1, timeout=10_000)
    assert pane.references.table.item(0, 0).text() == "NAS-SE-03"


def test_search_before_indexing_explains_itself(qtbot, pane: KnowledgePane) -> None:  # noqa: ANN001
    pane.query.setText("anything")
    pane.search_button.click()
    qtbot.waitUntil(lambda: "not been indexed" in pane.message.text(), timeout=30_000)
    assert pane.results_list.count() == 0
