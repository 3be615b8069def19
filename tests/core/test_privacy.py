"""Issue 21: every file and folder a workspace holds is private whatever the umask, and a
full disk gives a clear message and leaves no half-made workspace."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import DiskSpaceError, disk_full, is_disk_full
from core.privacy import loose_entries
from core.system.doctor import check_privacy
from core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "resources" / "sample" / "documents"


def _cli(umask: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from core.cli.main import main; "
         "sys.exit(main(sys.argv[1:]))", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        preexec_fn=lambda: os.umask(umask), env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.timeout(900)
@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_nothing_is_open_to_others_at_any_umask(tmp_path: Path, umask: int) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    os.chmod(root, 0o777)  # a folder the user made, open to all: init adopts it
    docs = tmp_path / "docs"
    docs.mkdir()
    for folder in ("rfps", "reference"):
        for path in sorted((SAMPLE / folder).iterdir())[:2]:
            (docs / path.name).write_bytes(path.read_bytes())
    for args in (("init", "-w", str(root), "--no-base-model"),
                 ("import", "-w", str(root), str(docs)),
                 ("index", "-w", str(root))):
        done = _cli(umask, *args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    count, first = loose_entries(root)
    assert count == 0, first
    assert any((root / "index").rglob("*.lance")) or any((root / "index").iterdir())

    assert check_privacy(root).status == "ok"
    os.chmod(root / "documents", 0o755)
    loose = check_privacy(root)
    assert loose.status == "warn" and "1 entry others" in loose.detail
    assert "documents" in loose.detail
    assert loose.fix == f"chmod -R go-rwx {root}"


def test_a_full_disk_is_named_and_leaves_no_partial_workspace(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.workspace.workspace as module

    calls = {"n": 0}
    real = module.atomic_write_json

    def full(path: Path, data: object) -> None:
        calls["n"] += 1
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(module, "atomic_write_json", full)
    with pytest.raises(DiskSpaceError, match="The disk is full while creating the workspace"):
        Workspace.create(tmp_path / "new")
    assert calls["n"] == 1 and not (tmp_path / "new").exists()
    adopted = tmp_path / "made-by-user"
    adopted.mkdir()
    with pytest.raises(DiskSpaceError):
        Workspace.create(adopted)
    assert adopted.exists() and not any(adopted.iterdir())  # emptied, not removed
    monkeypatch.setattr(module, "atomic_write_json", real)
    assert Workspace.create(adopted).root == adopted  # usable afterwards


def test_disk_full_errors_are_recognised() -> None:
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(OSError("1310720 requested and 448 written"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(ValueError("requested and written"))
    error = disk_full(OSError(errno.ENOSPC, "No space left on device", "/w/models/x.gguf"))
    assert "writing /w/models/x.gguf failed" in str(error) and "free some space" in str(error)


def test_the_cli_names_a_full_disk(monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from core.cli import main as cli

    def full(args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))

    parser, _ = cli.build_parser(), None
    monkeypatch.setattr(cli, "build_parser", lambda: _Parser(parser, full))
    assert cli.main(["init", "-w", str(tmp_path / "w")]) == DiskSpaceError.exit_code
    assert "The disk is full" in capsys.readouterr().err


class _Parser:
    def __init__(self, parser: object, handler: object) -> None:
        self.parser, self.handler = parser, handler

    def parse_args(self, argv: object) -> object:
        args = self.parser.parse_args(argv)  # type: ignore[attr-defined]
        args.handler = self.handler
        return args

    def parse_known_args(self, argv: object) -> tuple[object, list[str]]:
        return self.parse_args(argv), []


@pytest.mark.timeout(600)
def test_two_imports_at_once_store_each_file_once(tmp_path: Path) -> None:
    """Issue 21: two concurrent imports of a folder each reported every file "imported" and
    the audit log recorded each twice; now the later one says "already imported"."""
    import json

    root = tmp_path / "ws"
    assert _cli(0o022, "init", "-w", str(root), "--no-base-model").returncode == 0
    docs = tmp_path / "docs"
    docs.mkdir()
    for number in range(12):
        (docs / f"note-{number}.txt").write_text(
            f"Note {number}. " + "The contractor shall staff the SOC. " * 40, encoding="utf-8")
    command = [sys.executable, "-c", "import sys; from core.cli.main import main; "
               "sys.exit(main(sys.argv[1:]))", "import", "-w", str(root), str(docs), "--json"]
    runs = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}) for _ in range(2)]
    outputs = [json.loads(run.communicate(timeout=300)[0]) for run in runs]
    statuses = [f["status"] for out in outputs for f in out["files"]]
    assert statuses.count("imported") == 12
    assert statuses.count("already-imported") == 12
    audit = (root / "audit.log").read_text(encoding="utf-8")
    assert audit.count('"document.import"') == 12


def test_doctor_fix_makes_a_loose_workspace_private(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from core.cli.main import main
    from core.privacy import loose_entries

    root = Workspace.create(tmp_path / "w").root
    os.chmod(root / "documents", 0o755)
    (root / "documents" / "copy.txt").write_text("x")
    os.chmod(root / "documents" / "copy.txt", 0o644)
    assert loose_entries(root)[0] == 2
    assert main(["doctor", "-w", str(root), "--quick", "--fix"]) in (0, 1)
    assert "fixing file privacy: made 2 entries private to you" in capsys.readouterr().err
    assert loose_entries(root)[0] == 0
