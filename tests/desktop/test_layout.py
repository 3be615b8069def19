"""Every pane fits a 1280×720 screen (issue 17: the window widened itself to 1654 px, and
2294 px with "Side by side"). Each pane is shown, rendered offscreen and its window's minimum
size checked; the Draft pane also side by side, and the Merge wizard's pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.ingest.importer import import_paths
from desktop.main_window import MainWindow
from desktop.wizards.merge_wizard import MergeWizard

SCREEN = (1280, 720)
USABLE = (1200, 680)  # what is left of that screen after window borders and a task bar
SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample" / "documents"


def _fits(widget, what: str) -> None:  # noqa: ANN001
    hint = widget.minimumSizeHint()
    assert hint.width() <= USABLE[0] and hint.height() <= USABLE[1], (what, hint)


@pytest.mark.timeout(300)
def test_every_pane_fits_a_1280_by_720_screen(qtbot, window: MainWindow, workspace,  # noqa: ANN001
                                              tmp_path: Path) -> None:
    import_paths(workspace, [SAMPLE])  # long titles, many rows: what makes panes wide
    window.state.documents_changed.emit()
    window.resize(*SCREEN)
    for name in window.panes:
        window.show_section(name)
        qtbot.wait(50)
        image = window.grab()
        assert not image.isNull() and image.width() == SCREEN[0], name
        image.save(str(tmp_path / f"{name}.png"))
        _fits(window, name)
    window.show_section("Draft")
    window.panes["Draft"].models.compare.setChecked(True)
    qtbot.wait(50)
    _fits(window, "Draft, side by side")
    wizard = MergeWizard(window.state, window.monitor, window)
    qtbot.addWidget(wizard)
    wizard.show()
    _fits(wizard, "Merge wizard: models")
    wizard.close()
