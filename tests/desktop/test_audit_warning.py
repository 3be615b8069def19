"""Opening a workspace whose audit log was altered says so in the status bar (issue 21)."""

from __future__ import annotations

from helpers.qt_jobs import settle_jobs

from core.workspace import Workspace
from desktop.main_window import MainWindow
from desktop.ops import wait_for_ops


def test_an_altered_audit_log_is_shown_on_open(qtbot, window: MainWindow,  # noqa: ANN001
                                               workspace: Workspace) -> None:
    assert wait_for_ops(10_000)
    assert not window.audit_warning.isVisible()  # a healthy log says nothing
    for number in range(3):
        workspace.audit.record("test.event", number=number)
    lines = workspace.audit.path.read_text().splitlines()
    workspace.audit.path.write_text("\n".join(lines[:-1]) + "\n")  # the last entry removed
    window.state.set_workspace(Workspace.open(workspace.root))
    qtbot.waitUntil(window.audit_warning.isVisible, timeout=10_000)
    assert "Audit log altered at entry 4" in window.audit_warning.text()
    assert "cut short" in window.audit_warning.toolTip()
    assert window.acknowledge_button.isVisible()
    assert workspace.audit.held() is not None  # nothing is recorded until acknowledged
    window.grab().save(str(workspace.root.parent / "audit-held.png"))

    window.ask_acknowledge = lambda: True  # type: ignore[method-assign]
    window.acknowledge_button.click()
    qtbot.waitUntil(lambda: not window.acknowledge_button.isVisible(), timeout=10_000)
    assert workspace.audit.held() is None and workspace.audit.verify().ok
    assert workspace.audit.entries()[-1].action == "audit.acknowledged"
    settle_jobs(qtbot, window.monitor)
