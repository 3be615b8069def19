"""Atomic, private writes: old content survives a failed write; modes ignore the umask."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import fsutil
from core.errors import DiskSpaceError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(folder: Path) -> list[str]:
    """Hidden temp files or staging folders left next to the targets."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Run the test with umask 0, the worst case for private files."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


# -- atomic writes -------------------------------------------------------------------

def test_atomic_write_replaces_the_content(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    fsutil.atomic_write_json(target, {"b": 2, "a": [1]})
    fsutil.atomic_write_json(target, {"c": 3})
    assert fsutil.read_json(target) == {"c": 3}
    fsutil.atomic_write_yaml(tmp_path / "c.yaml", {"name": "Ünïcode", "steps": 3})
    assert fsutil.read_yaml(tmp_path / "c.yaml") == {"name": "Ünïcode", "steps": 3}
    assert leftovers(tmp_path) == []


def test_a_failed_rename_keeps_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "manifest.json"
    target.write_text("old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(fsutil.os, "replace", broken_replace)
    with pytest.raises(OSError):
        fsutil.atomic_write_text(target, "new content")
    assert target.read_text() == "old"
    assert leftovers(tmp_path) == []


def test_a_write_failing_midway_keeps_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "status.json"
    target.write_text("old")
    real_fdopen = os.fdopen

    class HalfWriter:
        """Writes the first half of the data, then the disk 'fails'."""

        def __init__(self, handle):  # noqa: ANN001
            self.handle = handle

        def __enter__(self):  # noqa: ANN204
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, data: bytes) -> None:
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(fsutil.os, "fdopen", lambda fd, m: HalfWriter(real_fdopen(fd, m)))
    with pytest.raises(OSError):
        fsutil.atomic_write_bytes(target, b"x" * 1000)
    assert target.read_text() == "old"
    assert leftovers(tmp_path) == []


def test_an_interrupted_write_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (or any non-OS error) during the write must not leave a hidden temp file."""
    target = tmp_path / "status.json"
    target.write_text("old")

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(fsutil.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fsutil.atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert leftovers(tmp_path) == []


def test_a_full_disk_becomes_disk_space_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "big.bin"
    target.write_bytes(b"old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fsutil.os, "fsync", full)
    with pytest.raises(DiskSpaceError, match="disk is full") as caught:
        fsutil.atomic_write_bytes(target, b"new" * 100)
    assert str(target) in str(caught.value)
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


# -- private modes -------------------------------------------------------------------

def test_files_are_0600_and_folders_0700_even_with_umask_0(
    tmp_path: Path, open_umask: None
) -> None:
    nested = tmp_path / "a" / "b" / "c"
    fsutil.atomic_write_text(nested / "file.txt", "secret")
    assert mode(nested / "file.txt") == 0o600
    for folder in (tmp_path / "a", tmp_path / "a" / "b", nested):
        assert mode(folder) == 0o700, folder

    fsutil.make_private_dir(tmp_path / "x" / "y")
    assert mode(tmp_path / "x") == 0o700 and mode(tmp_path / "x" / "y") == 0o700

    fsutil.append_line(tmp_path / "log" / "audit.log", "one")
    assert mode(tmp_path / "log" / "audit.log") == 0o600

    with fsutil.staging_dir(tmp_path / "model") as staging:
        (staging / "w.bin").write_bytes(b"w")
    assert mode(tmp_path / "model") == 0o700


def test_rewriting_a_public_file_makes_it_private(tmp_path: Path, open_umask: None) -> None:
    target = tmp_path / "settings.json"
    target.write_text("{}")
    os.chmod(target, 0o644)
    fsutil.atomic_write_json(target, {"threads": 2})
    assert mode(target) == 0o600


def test_make_private_dir_leaves_existing_folders_alone(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    fsutil.make_private_dir(tmp_path / "new")
    assert mode(tmp_path) == 0o755
    assert mode(tmp_path / "new") == 0o700


# -- staging folders -----------------------------------------------------------------

def test_staging_dir_moves_into_place_on_success(tmp_path: Path) -> None:
    final = tmp_path / "models" / "m1"
    with fsutil.staging_dir(final) as staging:
        assert staging.parent == final.parent and not final.exists()
        (staging / "weights.safetensors").write_bytes(b"w")
    assert (final / "weights.safetensors").read_bytes() == b"w"
    assert leftovers(final.parent) == []


def test_staging_dir_removes_its_temp_folder_on_exception(tmp_path: Path) -> None:
    final = tmp_path / "models" / "m1"
    with pytest.raises(RuntimeError), fsutil.staging_dir(final) as staging:
        (staging / "half.bin").write_bytes(b"half")
        raise RuntimeError("crash while writing")
    assert not final.exists()
    assert list(final.parent.iterdir()) == []


def test_staging_dir_replaces_an_old_folder_only_on_success(tmp_path: Path) -> None:
    final = tmp_path / "m"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt), fsutil.staging_dir(final) as staging:
        (staging / "new.txt").write_text("new")
        raise KeyboardInterrupt
    assert [p.name for p in final.iterdir()] == ["old.txt"]

    with fsutil.staging_dir(final) as staging:
        (staging / "new.txt").write_text("new")
    assert [p.name for p in final.iterdir()] == ["new.txt"]
    assert leftovers(tmp_path) == []


# -- free space, checksums, lines, links ---------------------------------------------

def test_require_free_space(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(fsutil.shutil, "disk_usage",
                        lambda path: usage._replace(free=2_000_000_000))
    target = tmp_path / "not" / "yet" / "created"  # walks up to an existing folder
    fsutil.require_free_space(target, 1_000_000_000, "converting the model")
    with pytest.raises(DiskSpaceError) as caught:
        fsutil.require_free_space(target, 5_000_000_000, "converting the model")
    message = str(caught.value)
    assert "converting the model" in message
    assert "needs about 5.0 GB, and 2.0 GB is free" in message
    assert "free about 3.0 GB" in message


def test_require_free_space_on_the_real_disk(tmp_path: Path) -> None:
    fsutil.require_free_space(tmp_path, 1, "a tiny file")
    with pytest.raises(DiskSpaceError):
        fsutil.require_free_space(tmp_path, 1 << 62, "an exabyte")


def test_sha256_file_matches_hashlib_and_reports_progress(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)  # more than one 1 MiB chunk
    path = tmp_path / "blob"
    path.write_bytes(data)
    seen: list[int] = []
    assert fsutil.sha256_file(path, seen.append) == hashlib.sha256(data).hexdigest()
    assert seen == sorted(seen) and seen[-1] == len(data) and len(seen) == 4


def test_append_line_adds_exactly_one_newline(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    fsutil.append_line(path, "first")
    fsutil.append_line(path, "second\n")
    assert path.read_text() == "first\nsecond\n"


def test_link_or_copy_falls_back_to_a_private_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"weights")

    def cross_device(a: Path, b: Path) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(fsutil.os, "link", cross_device)
    fsutil.link_or_copy(src, tmp_path / "dst.bin")
    assert (tmp_path / "dst.bin").read_bytes() == b"weights"
    assert (tmp_path / "dst.bin").stat().st_ino != src.stat().st_ino
    assert mode(tmp_path / "dst.bin") == 0o600


@pytest.mark.parametrize("sync", [True, False])
def test_staging_dir_flushes_its_files_to_disk_before_the_rename(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sync: bool) -> None:
    """A power cut after the rename must not leave a whole-looking folder of empty files:
    every file in it (and its folders) is synced before the folder is moved into place."""
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("sync " + Path(os.readlink(f"/proc/self/fd/{fd}")).name)
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append("rename " + Path(dst).name)
        real_replace(src, dst)

    monkeypatch.setattr(fsutil.os, "fsync", fsync)
    monkeypatch.setattr(fsutil.os, "replace", replace)
    final = tmp_path / "docs" / "v1"
    with fsutil.staging_dir(final, sync=sync) as staging:
        (staging / "source.pdf").write_bytes(b"%PDF")
        (staging / "pages").mkdir()
        (staging / "pages" / "blocks.jsonl").write_text("{}\n")
    renamed = events.index("rename v1")
    before = events[:renamed]
    assert {"sync source.pdf", "sync blocks.jsonl", "sync pages"} <= set(before)
    assert any(e.startswith("sync .v1.") for e in before)  # the staging folder itself
    assert ("sync docs" in events[renamed:]) is sync


def test_append_lines_writes_every_line_with_one_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "log.jsonl"
    fsutil.append_line(path, "first")
    syncs: list[int] = []
    real = os.fsync
    monkeypatch.setattr(fsutil.os, "fsync", lambda fd: syncs.append(fd) or real(fd))
    fsutil.append_lines(path, ["second", "third\n"])
    assert path.read_text() == "first\nsecond\nthird\n" and len(syncs) == 1


def test_sync_filesystem_flushes_with_one_call_where_the_system_has_one(tmp_path: Path) -> None:
    temp = fsutil.write_temp(tmp_path / "record.json", b"{}")
    assert temp.read_bytes() == b"{}" and temp.name.startswith(".record.json.")
    assert stat.S_IMODE(temp.stat().st_mode) == fsutil.FILE_MODE
    expected = sys.platform.startswith("linux")
    assert fsutil.sync_filesystem(tmp_path) is expected
    assert fsutil.sync_filesystem(tmp_path / "missing") is False
