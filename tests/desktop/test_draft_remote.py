"""Drafting pane with a remote endpoint: the picker lists it, a prompt is answered through
it (off the GUI thread), and the Endpoints dialog adds one and tests the connection."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.serving import TOKEN, loopback_server

from core.endpoints import RemoteEndpoint
from core.fsutil import link_or_copy
from core.serving.process import RunningServer
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry
from desktop.jobs_monitor import JobMonitor
from desktop.panes.draft import DraftPane
from desktop.state import AppState

pytestmark = pytest.mark.timeout(600)
GGUF_ID = "served-gguf"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    from core.models.bundled import assemble_gguf

    workspace = Workspace.create(tmp_path_factory.mktemp("served") / "ws")
    gguf = assemble_gguf()
    record = ModelRecord(id=GGUF_ID, name="Served", kind="gguf", architecture="gemma3",
                         format="gguf")
    with ModelRegistry(workspace).create(GGUF_ID, lambda folder: record) as folder:
        link_or_copy(gguf, folder / gguf.name)
    with loopback_server(workspace, GGUF_ID) as running:
        yield running


@pytest.fixture
def pane(qtbot, app_state: AppState, workspace: Workspace) -> Iterator[DraftPane]:  # noqa: ANN001
    app_state.set_workspace(workspace)  # no local model in it: only the endpoint
    widget = DraftPane(app_state, JobMonitor())
    qtbot.addWidget(widget)
    widget.options.retrieval.setChecked(False)
    widget.options.temperature.setValue(0.0)
    widget.options.max_tokens.setValue(6)
    widget.show()
    yield widget
    widget.shutdown()


def test_a_prompt_is_answered_through_a_configured_endpoint(
        qtbot, pane: DraftPane, app_state: AppState, server: RunningServer) -> None:  # noqa: ANN001
    endpoint = server.plan.endpoint("office")
    app_state.update_settings(app_state.settings.model_copy(
        update={"remote_endpoints": (endpoint,)}))
    picker = pane.models.main
    index = picker.findData(endpoint.key)
    assert index >= 0 and "remote: office" in picker.itemText(index)
    picker.setCurrentIndex(index)
    pane.prompt.setPlainText("The contractor shall")
    pane.actions.send_button.click()
    assert pane._busy()  # generating on the worker thread; the GUI thread is free
    qtbot.waitUntil(lambda: not pane._busy() and pane.actions.send_button.isEnabled(),
                    timeout=120_000)
    assert pane.last_error is None
    turns = pane.session.conversation.turns
    assert [t.role for t in turns] == ["user", "assistant"] and turns[1].content
    assert turns[1].model == "office"
    assert turns[1].content[:20] in pane.main.view.toPlainText()
    assert pane.stats.text().startswith("office:")


def test_the_endpoints_dialog_saves_and_tests_an_endpoint(
        qtbot, pane: DraftPane, app_state: AppState, server: RunningServer) -> None:  # noqa: ANN001
    dialog = pane.edit_endpoints()
    dialog.name.setText("lab")
    dialog.url.setText("not a url")
    dialog.save_button.click()
    assert "Not saved" in dialog.status.text() and not app_state.settings.remote_endpoints
    dialog.url.setText(server.plan.url)
    dialog.token.setText("wrong-token-wrong-token")
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=30_000)
    assert "refused the token" in dialog.status.text()
    dialog.token.setText(TOKEN)
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=30_000)
    assert f"serving {GGUF_ID}" in dialog.status.text()
    dialog.save_button.click()
    assert app_state.settings.remote_endpoints == (
        RemoteEndpoint(name="lab", url=server.plan.url, token=TOKEN),)
    assert pane.models.main.findData("endpoint:lab") >= 0
    dialog.remove_button.click()
    assert app_state.settings.remote_endpoints == ()
    assert pane.models.main.findData("endpoint:lab") < 0
    dialog.close()
