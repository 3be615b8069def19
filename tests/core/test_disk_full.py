"""Issue 21: a full disk, for real: a 300 MB tmpfs in a private mount namespace
(``unshare -rm``; skipped where the kernel does not allow one). Import and index stop with
the disk-full message, so does export (the tiny model: the 270M would not fit), `jobs list`
still works, and the workspace is usable once there is room again."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = r'''
set -u
D="$1"; S="$2"; TINY="$3"
export_tiny() { "$S" export -w "$D/ws" tiny-base --quant q8_0 --gain-tokens 0 "$@" 2>&1; }
mount -t tmpfs -o size=300m tmpfs "$D" || exit 77
say() { echo "== $1"; }
"$S" init -w "$D/ws" --no-base-model > /dev/null; say "init $?"
mkdir -p "$D/docs"
python3 -c "
import random; random.seed(1)
words = 'the contractor shall staff the security operations center with analysts'.split()
open('$D/docs/plan.txt', 'w').write(' '.join(random.choice(words) for _ in range(60000)))
open('$D/docs/later.txt', 'w').write(' '.join(random.choice(words) for _ in range(300000)))
"
mv "$D/docs/later.txt" "$D/later.txt"
"$S" import -w "$D/ws" "$D/docs" > /dev/null 2>&1; say "import $?"
"$(dirname "$S")/python" -c "
import sys; from pathlib import Path; sys.path[:0] = ['$R', '$R/tests']
from core.workspace import Workspace
from helpers.workspaces import register_tiny_base
register_tiny_base(Workspace.open(Path('$D/ws')), Path('$TINY'))
"; say "register $?"
fallocate -l $(( $(df --output=avail -B1 "$D" | tail -1) - 512 * 1024 )) "$D/filler"
"$S" index -w "$D/ws" 2>&1 | tail -1; say "index ${PIPESTATUS[0]}"
cp "$D/later.txt" "$D/docs/" 2>/dev/null
"$S" import -w "$D/ws" "$D/later.txt" 2>&1 | tail -1; say "import-full ${PIPESTATUS[0]}"
export_tiny | tail -1; say "export-full ${PIPESTATUS[0]}"
"$S" jobs list -w "$D/ws" > /dev/null 2>&1; say "jobs $?"
rm "$D/filler"
fallocate -l $(( $(df --output=avail -B1 "$D" | tail -1) - 8 * 1024 * 1024 )) "$D/filler"
export_tiny | tail -1; say "export ${PIPESTATUS[0]}"
rm "$D/filler"
export_tiny --pre-tokenizer gpt-2 | tail -3; say "export-again ${PIPESTATUS[0]}"
for run in "$D"/ws/runs/*/; do [ -f "$run/job.yaml" ] || say "orphan $run"; done
"$S" index -w "$D/ws" 2>&1 | tail -1; say "index-again $?"
"$S" search -w "$D/ws" "security operations" > /dev/null 2>&1; say "search $?"
'''


@pytest.mark.timeout(600)
def test_a_full_disk_is_named_and_the_workspace_survives(tmp_path: Path,
                                                         tiny_model_dir: Path) -> None:
    if shutil.which("unshare") is None or shutil.which("fallocate") is None:
        pytest.skip("needs unshare and fallocate")
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("no private mount namespace here")
    mount = tmp_path / "mnt"
    mount.mkdir()
    done = subprocess.run(
        ["unshare", "-rm", "bash", "-c", SCRIPT.replace("$R", str(ROOT)), "probe", str(mount),
         str(ROOT / ".venv" / "bin" / "scriptorium"), str(tiny_model_dir)],
        capture_output=True, text=True, timeout=540)
    if done.returncode == 77:
        pytest.skip("tmpfs cannot be mounted here")
    out = done.stdout
    status = dict(line[3:].rsplit(" ", 1) for line in out.splitlines() if line.startswith("== "))
    assert status["init"] == "0" and status["import"] == "0", out + done.stderr
    assert "Not enough free disk for indexing" in out and "free about" in out, out
    assert "The disk is full" in out or "Not enough free disk for importing" in out, out
    assert status["index"] != "0" and status["import-full"] != "0", out
    assert status["register"] == "0", out + done.stderr
    assert "Not enough free disk for the GGUF export" in out, out
    assert status["export"] != "0" and status["export-full"] != "0", out
    assert status["jobs"] == "0", out  # listing works on a full disk
    assert "the index holds 1 documents" in out, out  # usable once there is room
    assert status["search"] == "0", out
    assert status["export-again"] == "0", out
    assert "orphan" not in status, out  # a job the full disk refused leaves no folder
