"""The console script's dispatch: a CLI verb, or the desktop app (which needs a display)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.launcher import NO_DISPLAY, app_arguments, has_display

REPO_ROOT = Path(__file__).resolve().parents[2]
DISPLAY_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")


@pytest.mark.parametrize(
    "argv",
    [["models"], ["jobs", "--json"], ["-w", "ws", "models"], ["--help"], ["-h"], ["--version"],
     ["demo"], ["--bogus-option"]],
)
def test_verbs_help_and_unknown_options_go_to_the_cli(argv: list[str]) -> None:
    assert app_arguments(argv) is None


def test_no_verb_opens_the_app_with_its_options() -> None:
    plain = app_arguments([])
    assert plain is not None and plain.workspace is None and not plain.sample
    chosen = app_arguments(["--workspace", "/data/ws", "--sample"])
    assert chosen is not None and chosen.workspace == "/data/ws" and chosen.sample
    assert app_arguments(["-w", "/data/ws"]).workspace == "/data/ws"


def test_has_display(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in DISPLAY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert has_display() is (not sys.platform.startswith("linux"))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert has_display()
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert has_display()


def launch(*argv: str) -> subprocess.CompletedProcess[str]:
    """``python -m desktop.launcher ARGV`` with no display variables at all."""
    env = {k: v for k, v in os.environ.items() if k not in DISPLAY_VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "desktop.launcher", *argv],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.timeout(120)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="display check is Linux-only")
@pytest.mark.parametrize("argv", [[], ["--sample"], ["-w", "/tmp/some-workspace"]])
def test_the_app_without_a_display_says_so(argv: list[str]) -> None:
    result = launch(*argv)
    assert result.returncode == 2
    assert result.stderr.strip() == NO_DISPLAY
    assert "No display found" in result.stderr and "scriptorium demo" in result.stderr
    assert result.stdout == ""


@pytest.mark.timeout(120)
def test_cli_verbs_work_without_a_display(tmp_path: Path) -> None:
    result = launch("init", str(tmp_path / "ws"), "--no-base-model")
    assert result.returncode == 0, result.stderr
    assert "created workspace 'ws'" in result.stdout
    failed = launch("models", "-w", str(tmp_path / "missing"))
    assert failed.returncode == 1
    assert failed.stderr.strip().startswith("error: No workspace at")
    assert "Traceback" not in failed.stderr
