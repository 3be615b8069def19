"""The regression gate's verdict, put to the person promoting a model (a yes/no question
when it passed, a reason to log when they promote a blocked model anyway) and summed up in
the releases table."""

from __future__ import annotations

import html
from typing import Any

from core.workspace.releases import Release
from desktop.qt import QInputDialog, QMessageBox, QWidget


def gate_html(gate: dict[str, Any]) -> str:
    """The gate's verdict and the side-by-side answers, for the confirmation dialog."""
    if not gate.get("compared"):
        return f"<p>No comparison: {html.escape(str(gate.get('reason', '')))}.</p>"
    verdict = "passed" if gate["passed"] else "<b>blocked</b>"
    parts = [f"<p>Regression gate {verdict}: {html.escape(gate['reason'])}.</p>"]
    new = gate["perplexity"]["new"]
    if new.get("candidate") is not None and new.get("deployed") is not None:
        parts.append(f"<p>Held-out new data: {new['candidate']:.3f} (candidate) vs "
                     f"{new['deployed']:.3f} (deployed).</p>")
    for item in gate.get("prompts", []):
        parts.append(
            f"<h4>{html.escape(item['prompt'])}</h4><table width=100%><tr>"
            f"<td width=50% valign=top><i>deployed</i><br>{html.escape(item['deployed'])}</td>"
            f"<td width=50% valign=top><i>candidate</i><br>{html.escape(item['candidate'])}</td>"
            "</tr></table>")
    return "".join(parts)


def gate_summary(release: Release) -> str:
    """The Gate column: how the release compared with the one deployed before it."""
    gate = release.gate
    if not gate:
        text = "not run"
    elif not gate.get("compared"):
        text = "nothing to compare"
    else:
        text = "passed" if gate.get("passed") else "blocked"
    return f"{text} (overridden: {release.override})" if release.override else text


def gate_question(parent: QWidget, model_id: str, gate: dict[str, Any]) -> QMessageBox:
    """The dialog for a gate that passed: the comparison, and "Deploy it?"."""
    box = QMessageBox(parent)
    box.setObjectName("gateDialog")
    box.setWindowTitle("Promote a release")
    box.setText(gate_html(gate))
    box.setInformativeText(f"Deploy {model_id} as a new release?")
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    return box


def override_reason(parent: QWidget, gate: dict[str, Any]) -> tuple[str, bool]:
    """Ask why a blocked model should be promoted anyway; (reason, whether they said OK)."""
    return QInputDialog.getText(
        parent, "The regression gate blocked this model",
        f"{gate['reason']}.\nPromote anyway? Give the reason (it is logged):")
