"""Remote endpoints: add, edit and remove the servers the Draft pane can use, and test one.

The list is part of the user settings (``AppState.update_settings``; the file is 0600, it
holds the tokens). "Test connection" asks the server for its models on a worker thread
(``CoreOp``) and shows the answer or the error in the dialog.
"""

from __future__ import annotations

from pydantic import ValidationError

from core.endpoints import RemoteEndpoint, with_endpoint, without_endpoint
from core.errors import ScriptoriumError, validation_message
from core.serving.client import RemoteModel
from desktop.errors import show_error
from desktop.ops import CoreOp
from desktop.qt import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from desktop.state import AppState

FORMATS = [("auto", "Automatic (chat)"), ("chat", "Chat: the server's template"),
           ("completion", "Plain completion (base models on a stock server)")]


class EndpointsDialog(QDialog):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("endpointsDialog")
        self.setWindowTitle("Remote endpoints")
        self.state = state
        self.editing: str | None = None  # the name of the endpoint being edited
        self.endpoints = QListWidget()
        self.endpoints.setObjectName("endpointList")
        self.endpoints.currentRowChanged.connect(self._show)
        self.name = QLineEdit()
        self.name.setObjectName("endpointName")
        self.url = QLineEdit()
        self.url.setObjectName("endpointUrl")
        self.url.setPlaceholderText("http://server:8765")
        self.token = QLineEdit()
        self.token.setObjectName("endpointToken")
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.n_ctx = QSpinBox()
        self.n_ctx.setRange(256, 1_048_576)
        self.n_ctx.setValue(2048)
        self.prompt_format = QComboBox()
        for value, label in FORMATS:
            self.prompt_format.addItem(label, value)
        self.status = QLabel()
        self.status.setObjectName("endpointStatus")
        self.status.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("URL", self.url)
        form.addRow("Token", self.token)
        form.addRow("Context window", self.n_ctx)
        form.addRow("Prompt format", self.prompt_format)
        self.new_button = QPushButton("New")
        self.new_button.clicked.connect(self.new)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("endpointSave")
        self.save_button.clicked.connect(self.save)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName("endpointRemove")
        self.remove_button.clicked.connect(self.remove)
        self.test_button = QPushButton("Test connection")
        self.test_button.setObjectName("endpointTest")
        self.test_button.clicked.connect(self.test_connection)
        row = QHBoxLayout()
        for button in (self.new_button, self.save_button, self.remove_button, self.test_button):
            row.addWidget(button)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.endpoints, 1)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(close)
        self._fill()

    def _fill(self, select: str | None = None) -> None:
        self.endpoints.blockSignals(True)
        self.endpoints.clear()
        names = [e.name for e in self.state.settings.remote_endpoints]
        for endpoint in self.state.settings.remote_endpoints:
            self.endpoints.addItem(f"{endpoint.name} — {endpoint.url}")
        self.endpoints.blockSignals(False)
        if select in names:
            self.endpoints.setCurrentRow(names.index(select))
        elif names:
            self.endpoints.setCurrentRow(0)
        else:
            self.new()

    def _show(self, row: int) -> None:
        endpoints = self.state.settings.remote_endpoints
        if not 0 <= row < len(endpoints):
            return
        endpoint = endpoints[row]
        self.editing = endpoint.name
        self.name.setText(endpoint.name)
        self.url.setText(endpoint.url)
        self.token.setText(endpoint.token)
        self.n_ctx.setValue(endpoint.n_ctx)
        self.prompt_format.setCurrentIndex(self.prompt_format.findData(endpoint.prompt_format))
        self.status.clear()

    def new(self) -> None:
        self.editing = None
        self.endpoints.clearSelection()
        for field in (self.name, self.url, self.token):
            field.clear()
        self.n_ctx.setValue(2048)
        self.prompt_format.setCurrentIndex(0)
        self.status.clear()

    def endpoint(self) -> RemoteEndpoint | None:
        """The endpoint the fields describe, or None (the reason is shown)."""
        try:
            return RemoteEndpoint(name=self.name.text(), url=self.url.text(),
                                  token=self.token.text().strip(), n_ctx=self.n_ctx.value(),
                                  prompt_format=self.prompt_format.currentData())
        except ValidationError as error:
            self.status.setText(f"Not saved: {validation_message(error, 'endpoint')}")
            return None

    def save(self) -> None:
        endpoint = self.endpoint()
        if endpoint is None:
            return
        settings = self.state.settings
        try:
            endpoints = with_endpoint(settings.remote_endpoints, endpoint, self.editing)
        except ScriptoriumError as error:
            self.status.setText(str(error))
            return
        self.state.update_settings(settings.model_copy(update={"remote_endpoints": endpoints}))
        self._fill(select=endpoint.name)
        self.status.setText(f"Saved {endpoint.name}.")

    def remove(self) -> None:
        if self.editing is None:
            return
        settings = self.state.settings
        self.state.update_settings(settings.model_copy(update={
            "remote_endpoints": without_endpoint(settings.remote_endpoints, self.editing)}))
        self._fill()

    def test_connection(self) -> None:
        endpoint = self.endpoint()
        if endpoint is None:
            return
        self.status.setText(f"Connecting to {endpoint.url}…")
        self.test_button.setEnabled(False)
        CoreOp(self, RemoteModel(endpoint).check).success(self._tested).failure(
            self._test_failed).run()

    def _tested(self, report: str) -> None:
        self.test_button.setEnabled(True)
        self.status.setText(report)

    def _test_failed(self, error: BaseException) -> None:
        self.test_button.setEnabled(True)
        if not isinstance(error, ScriptoriumError):  # a bug: the one error dialog shows it
            self.status.clear()
            show_error(self, error)
            return
        self.status.setText(f"Failed: {error}")
