"""Shared test setup: private config and cache folders, Qt offscreen, model fixtures.

The environment is set at import time, before any test module imports ``core``:

- ``SCRIPTORIUM_CONFIG_DIR`` and ``SCRIPTORIUM_CACHE_DIR`` point under
  ``$SCRIPTORIUM_TEST_HOME`` (default ``<repo>/.test-home``), so the tests never touch the
  user's folders and the converted bundled model is cached from one run to the next;
- ``QT_QPA_PLATFORM`` defaults to ``offscreen``;
- ``SCRIPTORIUM_RUNTIME_DIR`` is a fresh folder, so imports use a parser host of this
  session's own (``core.ingest.host``), stopped when the session ends.

Each test additionally gets its own empty config folder (``private_config``), so settings a
test saves never leak into another test.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_HOME = Path(os.environ.get("SCRIPTORIUM_TEST_HOME") or REPO_ROOT / ".test-home").absolute()
os.environ["SCRIPTORIUM_TEST_HOME"] = str(TEST_HOME)
os.environ["SCRIPTORIUM_CONFIG_DIR"] = str(TEST_HOME / "config")
os.environ["SCRIPTORIUM_CACHE_DIR"] = str(TEST_HOME / "cache")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
RUNTIME_DIR = Path(tempfile.mkdtemp(prefix="scr-run-"))  # short: a socket's path is
os.environ["SCRIPTORIUM_RUNTIME_DIR"] = str(RUNTIME_DIR)  # at most about 100 bytes

from core.workspace import Workspace  # noqa: E402  (after the environment is set)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop this session's parser host (it would exit on its own after its idle time)."""
    from core.ingest.host import stop_hosts

    stop_hosts(RUNTIME_DIR)
    shutil.rmtree(RUNTIME_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def private_config(tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty settings folder for every test (child processes inherit it)."""
    folder = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("SCRIPTORIUM_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A new, empty workspace."""
    return Workspace.create(tmp_path / "ws")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Gemma-3-shaped causal LM with its tokenizer, saved as safetensors.

    Shared by the whole session: tests must copy it before changing anything in it.
    """
    from helpers.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-gemma3"))


@pytest.fixture(scope="session")
def base_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A workspace with the real bundled Gemma 3 270M imported (tests using it are slow).

    The GGUF → safetensors conversion is cached under ``$SCRIPTORIUM_TEST_HOME/cache``, so
    only the first run on a machine pays for it. Workspace files may be hard links into that
    cache: tests must never modify them.
    """
    from core.models.bundled import import_base_model

    workspace = Workspace.create(tmp_path_factory.mktemp("base") / "ws")
    import_base_model(workspace)
    yield workspace


@pytest.fixture(scope="session")
def sample_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The bundled sample workspace: documents imported and indexed, the real base model.

    Shared by the slow tests that need the real corpus; tests must not remove documents."""
    from core.ingest.sample import populate_sample
    from core.models.bundled import import_base_model
    from core.retrieval.index import update_index

    workspace = Workspace.create(tmp_path_factory.mktemp("sample") / "ws")
    populate_sample(workspace)
    import_base_model(workspace)
    update_index(workspace)
    return workspace
