"""The installation report in the app: Help → Check this installation, and the first run."""

from __future__ import annotations

import re

import pytest

import desktop.dialogs.doctor as doctor_dialog
from core import __version__
from core.system.doctor import run_checks
from desktop.app import first_run_check
from desktop.main_window import MainWindow
from desktop.qt import QAction, QApplication, Qt


@pytest.fixture(autouse=True)
def quick_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    # The test generation is covered in tests/core/test_doctor.py.
    monkeypatch.setattr(doctor_dialog, "run_checks",
                        lambda workspace=None: run_checks(generate=False, workspace=workspace))


def test_help_menu_shows_the_report(qtbot, window: MainWindow, tmp_path) -> None:  # noqa: ANN001
    window.findChild(QAction, "doctorAction").trigger()
    dialog = window.doctor
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    qtbot.waitUntil(lambda: dialog.checks is not None, timeout=60_000)
    assert dialog.table.rowCount() == len(dialog.checks) >= 10
    names = [dialog.table.item(row, 1).text() for row in range(dialog.table.rowCount())]
    assert names[:4] == ["Python", "Scriptorium", "PyTorch", "llama.cpp"]
    readers = dialog.table.item(names.index("Document readers"), 2).text()
    assert re.match(r"(none running|\d+ kept ready between imports)", readers), readers
    qtbot.wait(100)
    dialog.grab().save(str(tmp_path / "doctor.png"))
    assert dialog.verdict.text().startswith("<b>Ready")
    # Run again: the button is disabled while the checks run, then comes back.
    dialog.rerun.click()
    assert not dialog.rerun.isEnabled()
    qtbot.waitUntil(dialog.rerun.isEnabled, timeout=60_000)
    dialog.close()


def test_a_failed_check_shows_its_fix(qtbot, window: MainWindow, monkeypatch) -> None:  # noqa: ANN001
    import core.fsutil

    monkeypatch.setattr(core.fsutil, "free_bytes", lambda path: 1 << 20)
    dialog = window.show_doctor()
    qtbot.waitUntil(lambda: dialog.checks is not None, timeout=60_000)
    assert "Not ready" in dialog.verdict.text()
    rows = {dialog.table.item(r, 1).text(): r for r in range(dialog.table.rowCount())}
    row = rows["Disk (workspaces)"]
    assert dialog.table.item(row, 0).data(Qt.ItemDataRole.UserRole) == "fail"
    assert dialog.table.item(row, 0).toolTip() == "Failed"
    assert not dialog.table.item(row, 0).icon().isNull()
    assert "free at least" in dialog.table.item(row, 3).text()
    dialog.close()


def test_first_run_of_a_version_shows_the_report_once(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    assert window.state.settings.checked_version == ""
    assert first_run_check(window)
    dialog = window.doctor
    assert dialog is not None and dialog.windowTitle().startswith("Welcome")
    qtbot.waitUntil(lambda: dialog.checks is not None, timeout=60_000)
    assert window.state.settings.checked_version == __version__
    assert not first_run_check(window)  # not again for this version
    dialog.close()


def test_loose_file_modes_are_fixed_with_a_button(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    """Issue 17: fixes were shell commands; the one the app can make itself is a button."""
    import os

    from desktop.qt import QPushButton

    root = window.state.workspace.root
    os.chmod(root / "documents", 0o755)  # as a copy with a loose umask leaves it
    dialog = window.show_doctor()
    qtbot.waitUntil(lambda: dialog.checks is not None, timeout=60_000)
    rows = {dialog.table.item(r, 1).text(): r for r in range(dialog.table.rowCount())}
    assert dialog.table.item(rows["file privacy"], 0).data(Qt.ItemDataRole.UserRole) == "warn"
    button = dialog.table.cellWidget(rows["file privacy"], 3).findChild(QPushButton)
    assert isinstance(button, QPushButton) and button.text() == "Fix it"
    checked = dialog.checks
    button.click()
    qtbot.waitUntil(lambda: dialog.checks is not checked, timeout=60_000)
    rows = {dialog.table.item(r, 1).text(): r for r in range(dialog.table.rowCount())}
    assert "every file 0600" in dialog.table.item(rows["file privacy"], 2).text()
    assert dialog.table.cellWidget(rows["file privacy"], 3) is None
    assert os.stat(root / "documents").st_mode & 0o077 == 0
    dialog.close()


def test_a_reinstall_is_offered_as_a_command_to_copy(qtbot, window: MainWindow,  # noqa: ANN001
                                                     monkeypatch) -> None:  # noqa: ANN001
    """Issue 17: reinstalling the app's own packages cannot run inside it; the fix is a
    sentence, the command on the clipboard and when to run it, not a bare shell command."""
    import core.system.doctor as doctor

    version = doctor._version
    monkeypatch.setattr(doctor, "_version",
                        lambda name: None if name == "llama-cpp-python" else version(name))
    dialog = window.show_doctor()
    qtbot.waitUntil(lambda: dialog.checks is not None, timeout=60_000)
    check = next(c for c in dialog.checks if c.name == "llama.cpp")
    assert check.status == "fail" and "build-llama-wheel.sh" in check.command
    rows = {dialog.table.item(r, 1).text(): r for r in range(dialog.table.rowCount())}
    fix = dialog.table.cellWidget(rows["llama.cpp"], 3)
    assert isinstance(fix, doctor_dialog.CommandFix)
    assert dialog.table.item(rows["llama.cpp"], 3).text() == ""  # no bare command shown
    assert fix.copy.text() == "Copy the command" and "Close Scriptorium" in fix.note.text()
    QApplication.clipboard().clear()
    fix.copy.click()
    assert QApplication.clipboard().text() == check.command
    assert fix.copy.text() == "Copied" and "start Scriptorium again" in fix.note.text()
    dialog.close()
