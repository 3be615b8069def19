"""Releases pane, "Publish on the network…": the deployed release is served (off the GUI
thread), answers a client with the token shown, and "Stop publishing" ends it."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from helpers.serving import ensure_loopback

from core.endpoints import RemoteEndpoint
from core.fsutil import link_or_copy
from core.serving.client import RemoteModel
from core.serving.engines import llama_server_binary
from core.serving.publish import published
from core.serving.transport import TokenRefused
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry
from core.workspace.releases import promote
from desktop.jobs_monitor import JobMonitor
from desktop.panes.releases import ReleasesPane
from desktop.state import AppState

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def pane(qtbot, app_state: AppState, workspace: Workspace) -> Iterator[ReleasesPane]:  # noqa: ANN001
    from core.models.bundled import assemble_gguf

    gguf = assemble_gguf()
    record = ModelRecord(id="release-gguf", name="Release", kind="gguf", architecture="gemma3",
                         format="gguf")
    with ModelRegistry(workspace).create("release-gguf", lambda folder: record) as folder:
        link_or_copy(gguf, folder / gguf.name)
    promote(workspace, "release-gguf", notes="first")
    monitor = JobMonitor()
    app_state.workspace_changed.connect(monitor.set_workspace)
    app_state.set_workspace(workspace)
    widget = ReleasesPane(app_state, monitor)
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    if published(workspace) is not None:  # never leave a server behind
        from core.serving.publish import unpublish

        unpublish(workspace)
    monitor.cancel_all()
    for handle in list(monitor.handles.values()):
        handle.wait(30)


def test_publish_and_stop_the_deployed_release(qtbot, pane: ReleasesPane,  # noqa: ANN001
                                               app_state: AppState,
                                               workspace: Workspace) -> None:
    ensure_loopback()
    box = pane.publish
    assert box.status.text() == "Not published." and box.publish_button.isEnabled()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app_state.update_settings(app_state.settings.model_copy(update={"threads": 2}))
    box.host.setCurrentIndex(box.host.findData("127.0.0.1"))
    box.port.setValue(port)
    box.parallel.setValue(2)
    box.publish_button.click()
    assert box.busy  # starting on a worker thread
    qtbot.waitUntil(lambda: not box.busy, timeout=120_000)
    running = published(workspace)
    assert running is not None and running.model == "release-gguf"
    assert running.url in box.status.text() and running.token in box.status.text()
    if llama_server_binary() is not None:  # the setup builds it: 2 analysts at once
        assert running.engine == "llama-server" and running.parallel == 2
        assert "up to 2 analysts at once" in box.status.text()
    else:
        assert "one analyst at a time" in box.status.text()
    model = RemoteModel(RemoteEndpoint(name="team", url=running.url, token=running.token))
    assert "release-gguf" in model.check()
    with pytest.raises(TokenRefused):
        RemoteModel(RemoteEndpoint(name="x", url=running.url)).check()
    box.stop_button.click()
    qtbot.waitUntil(lambda: not box.busy, timeout=60_000)
    assert box.status.text() == "Not published." and published(workspace) is None
