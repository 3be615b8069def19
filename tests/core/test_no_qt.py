"""The engine never imports Qt, nor the desktop app (DESIGN: "engine and GUI apart")."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# Imports every module of core, plus the launcher and resources, then lists what got loaded
# that the engine must not load. Extra module names to import come as arguments.
PROBE = r"""
import importlib, json, pkgutil, sys
import core, desktop.launcher, resources
failed = {}
for info in pkgutil.walk_packages(core.__path__, "core."):
    try:
        importlib.import_module(info.name)
    except Exception as error:
        failed[info.name] = repr(error)
for extra in sys.argv[1:]:
    importlib.import_module(extra)
forbidden = sorted(
    name for name in sys.modules
    if name.split(".")[0] in ("PySide6", "shiboken6")
    or (name.startswith("desktop.") and name != "desktop.launcher")
)
print(json.dumps({"failed": failed, "forbidden": forbidden,
                  "core_modules": sorted(m for m in sys.modules if m.startswith("core."))}))
"""


def run_probe(*extra: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *extra],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(300)
def test_importing_all_of_core_loads_no_qt_and_no_desktop_module() -> None:
    report = run_probe()
    assert report["failed"] == {}, "some core modules do not even import"
    assert report["forbidden"] == []
    # The walk really reached the packages (a broken walk would pass vacuously).
    for name in ("core.jobs.child", "core.workspace.registry", "core.models.bundled",
                 "core.cli.main", "core.settings"):
        assert name in report["core_modules"]


@pytest.mark.timeout(300)
@pytest.mark.skipif(importlib.util.find_spec("PySide6") is None, reason="PySide6 not installed")
def test_the_probe_would_catch_a_qt_import() -> None:
    """Self-check of the probe: a Qt module imported along the way is reported."""
    report = run_probe("desktop.qt")
    assert "desktop.qt" in report["forbidden"]
    assert any(name.startswith("PySide6") for name in report["forbidden"])


FORBIDDEN_IMPORT = re.compile(
    r"^\s*(?:from|import)\s+(?:PySide6|shiboken6|PyQt\d|desktop)\b"
    r"|import_module\(\s*['\"](?:PySide6|shiboken6|desktop)",
    re.MULTILINE,
)


def test_no_file_under_core_imports_qt_or_desktop() -> None:
    files = sorted((REPO_ROOT / "core").rglob("*.py"))
    assert len(files) > 20
    offenders = [
        f"{path.relative_to(REPO_ROOT)}: {match.group(0).strip()}"
        for path in files
        for match in FORBIDDEN_IMPORT.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_static_pattern_matches_the_imports_it_must_catch() -> None:
    for line in ("from PySide6.QtCore import QObject", "    import desktop.qt",
                 "import shiboken6", "importlib.import_module('desktop.app')"):
        assert FORBIDDEN_IMPORT.search(line), line
    for line in ("from core.desktop_like import x", "# the desktop app shows it",
                 "import desktopish"):
        assert not FORBIDDEN_IMPORT.search(line), line
