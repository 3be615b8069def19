"""Import a base model: choose a Hugging Face folder or a GGUF file, read its checks (off
the GUI thread, headers only), then import it as a job (``import-model``) with progress
and cancel. Nothing is copied until the checks have been shown and accepted."""

from __future__ import annotations

import html
from pathlib import Path

from core.jobs import JobStatus
from core.modelstore.check import BaseCheck, check_from_json
from desktop.jobs_monitor import JobMonitor
from desktop.qt import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)
from desktop.widgets.buttons import button
from desktop.widgets.icons import icon_html
from desktop.widgets.job_progress import JobProgress

INTRO = ("Bring a model your team already has — a Hugging Face folder (config.json with "
         ".safetensors files) or a .gguf file, e.g. from a USB stick. It is checked before "
         "anything is copied, stored once on this computer and shared by every workspace "
         "that imports it.")


def check_html(check: BaseCheck) -> str:
    """The checks as a short report: a verdict, then one line per fact."""
    verdict = ("<p style='color:#1a7f37'><b>Ready to import.</b></p>" if check.ok else
               "<p style='color:#b42318'><b>This model cannot be imported:</b> "
               + html.escape(" ".join(check.refusals)) + "</p>")
    rows = []
    for line in check.lines():
        if line.startswith("REFUSED"):
            continue
        mark, _, text = line.partition("  ")
        if mark in ("ok", "NO", "too big"):
            rows.append(f"<li>{icon_html('done' if mark == 'ok' else 'fail')} "
                        f"{html.escape(text)}</li>")
        else:
            rows.append(f"<li>{html.escape(line)}</li>")
    return verdict + "<ul>" + "".join(rows) + "</ul>"


class ImportModelDialog(QDialog):
    def __init__(self, monitor: JobMonitor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("importModelDialog")
        self.setWindowTitle("Import a base model")
        self.monitor = monitor
        self.check: BaseCheck | None = None
        self.check_job: str | None = None
        self.model_id: str | None = None
        monitor.finished.connect(self._check_ended)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        self.path = QLineEdit()
        self.path.setObjectName("importModelPath")
        self.path.setReadOnly(True)
        self.path.setPlaceholderText("Choose a folder or a .gguf file")
        choose = QHBoxLayout()
        choose.addWidget(self.path, 1)
        choose.addWidget(button("Folder…", "chooseModelFolder", self._choose_folder,
                                "A Hugging Face model folder (config.json + .safetensors)"))
        choose.addWidget(button("GGUF file…", "chooseModelFile", self._choose_file,
                                "A .gguf file; it is also de-quantised for training"))
        self.name = QLineEdit()
        self.name.setObjectName("importModelName")
        self.name.setPlaceholderText("shown in the model lists (default: the folder name)")
        form = QFormLayout()
        form.addRow("Model", choose)
        form.addRow("Name", self.name)
        self.report = QTextBrowser()
        self.report.setObjectName("importModelChecks")
        self.report.setHtml("<p>Choose a model to see what Scriptorium can do with it.</p>")
        self.progress = JobProgress(monitor, "importModelProgress")
        self.progress.ended.connect(self._ended)
        self.progress.setVisible(False)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setObjectName("importModelResult")
        self.import_button = button("Import", "importModelStart", self.start,
                                    "Copy it into this computer's model store and add it "
                                    "to this workspace (a background job)")
        self.stop_button = button("Stop", "importModelStop", self.progress.cancel,
                                  "Stop the import; nothing half-copied is kept")
        self.close_button = button("Close", "importModelClose", self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for widget in (self.import_button, self.stop_button, self.close_button):
            buttons.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.report, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.result)
        layout.addLayout(buttons)
        self.resize(720, 560)
        self._update()

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A Hugging Face model folder")
        if folder:
            self.choose(Path(folder))

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "A GGUF model file", "",
                                              "GGUF models (*.gguf)")
        if path:
            self.choose(Path(path))

    def choose(self, path: Path) -> None:
        """Check ``path`` in a child process (job ``check-model``: it imports torch,
        transformers, mergekit and the converter) and show the result."""
        self.check = None
        self.path.setText(str(path))
        self.result.clear()
        self.report.setHtml(f"<p>Checking {html.escape(path.name)} (reading its headers; "
                            "nothing is copied)…</p>")
        self.check_job = self.monitor.submit("check-model", {"path": str(path)},
                                             f"check {path.name}")
        self._update()

    def _check_ended(self, job_id: str, status: JobStatus) -> None:
        if job_id != self.check_job:
            return
        self.check_job = None
        if status.state == "succeeded" and status.result:
            self.check = check_from_json(status.result)
            self.report.setHtml(check_html(self.check))
        else:
            error = (status.error or status.state).splitlines()[-1]
            self.report.setHtml(f"<p style='color:#b42318'>{html.escape(error)}</p>")
        self._update()

    def _update(self) -> None:
        running = self.progress.running
        self.import_button.setEnabled(bool(self.check and self.check.ok) and not running)
        self.stop_button.setEnabled(running)

    def start(self) -> str | None:
        if self.check is None or not self.check.ok:
            return None
        config = {"path": str(self.check.path), "name": self.name.text().strip() or None}
        self.progress.setVisible(True)
        job_id = self.progress.start("import-model", config, f"import {self.check.path.name}")
        self._update()
        return job_id

    def _ended(self, status: JobStatus) -> None:
        self._update()
        result = status.result or {}
        if status.state == "succeeded":
            self.model_id = result.get("model_id")
            also = f" and its GGUF file as {result['gguf_id']}" if result.get("gguf_id") else ""
            self.result.setText(f"Imported as {self.model_id}{also}. Train it from the "
                                "Training pane.")
        elif status.state == "cancelled":
            self.result.setText("Stopped; nothing was kept.")
        else:
            self.result.setText(f"Not imported: {status.error or status.state}")
