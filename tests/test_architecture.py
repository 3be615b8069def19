"""The code style of [tool.ruff] on everything we wrote, and the import contracts of
pyproject.toml ([tool.importlinter]): every import in ``core`` points down its layers,
the engine never imports the app, the app's windows never import the command line. A
new upward import fails here with the offending line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold(capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    from importlinter import cli

    monkeypatch.chdir(ROOT)
    code = cli.lint_imports(config_filename=os.fspath(ROOT / "pyproject.toml"), no_cache=True)
    report = capsys.readouterr().out
    assert code == 0, report
    assert "3 kept, 0 broken" in report


def test_the_code_passes_ruff() -> None:
    """The same check a developer runs (``.venv/bin/ruff check``): a style slip fails here
    with the offending line, not in review."""
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run([os.fspath(ruff), "check", "--output-format", "concise", "core",
                           "desktop", "tests", "bench", "installers", "resources"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
