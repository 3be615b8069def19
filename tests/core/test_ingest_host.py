"""The parser host: warm parser workers shared by imports, as safe as per-import ones."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from ingest_corpus import rfp_pdf_pages, write_pdf, write_zip_bomb_docx

from core.ingest import host, hosted
from core.ingest.errors import ParserCrashed, ParseTimeout, ZipBomb
from core.ingest.hosted import HostedParser
from core.ingest.importer import import_paths, preview
from core.ingest.limits import IngestLimits
from core.workspace import Workspace


@pytest.fixture
def folder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A runtime folder, and so a host, of this test's own; stopped afterwards."""
    path = Path(tempfile.mkdtemp(prefix="h-"))  # short: a socket path holds ~100 bytes
    monkeypatch.setenv(host.RUNTIME_ENV, str(path))
    monkeypatch.delenv(host.SWITCH_ENV, raising=False)
    yield path
    host.stop_hosts(path)
    shutil.rmtree(path, ignore_errors=True)


def wait_for(predicate: Callable[[], object], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def alive(process: psutil.Process) -> bool:
    return process.is_running() and process.status() != psutil.STATUS_ZOMBIE


def the_host(folder: Path) -> psutil.Process:
    (lock,) = folder.glob("parsers-*.lock")
    return psutil.Process(int(lock.read_text()))


def worker_pids(folder: Path) -> set[int]:
    return {c.pid for c in the_host(folder).children() if alive(c)}


def documents(folder: Path) -> Path:
    folder.mkdir()
    for n in range(4):
        (folder / f"note{n}.md").write_text(f"# Note {n}\n\nThe contractor shall report {n}.\n")
    write_pdf(folder / "rfp.pdf", rfp_pdf_pages(2))
    return folder


def slow_markdown(path: Path) -> Path:
    path.write_text("\n\n".join(f"Paragraph {n} with some words in it." for n in range(400_000)))
    return path


def test_imports_share_warm_workers(folder: Path, tmp_path: Path) -> None:
    docs = documents(tmp_path / "docs")
    first = import_paths(Workspace.create(tmp_path / "a"), [docs], workers=2)
    assert first.ok and first.counts["imported"] == 5
    workers = worker_pids(folder)
    assert len(workers) == 2  # kept warm by the host after the import ended
    second = import_paths(Workspace.create(tmp_path / "b"), [docs], workers=2)
    assert second.ok and second.counts["imported"] == 5
    assert worker_pids(folder) == workers  # the same processes: nothing started again
    assert oct(os.stat(next(folder.glob("*.sock"))).st_mode & 0o777) == "0o600"


def test_failures_through_the_host_are_the_files_own(folder: Path, tmp_path: Path) -> None:
    fine = tmp_path / "fine.md"
    fine.write_text("# Title\n\nSome text.\n")
    bomb = write_zip_bomb_docx(tmp_path / "bomb.docx")
    with HostedParser(IngestLimits(timeout_s=0.5)) as parser:
        with pytest.raises(ParseTimeout, match="took longer than 0.5 s"):
            parser.parse(slow_markdown(tmp_path / "huge.md"), "md", then=(fine, "md"))
        with pytest.raises(ZipBomb):
            parser.parse(bomb, "docx")
        assert [b.text for b in parser.parse(fine, "md").blocks] == ["Title", "Some text."]
        assert parser.hosted


def test_a_cancel_stops_the_hosts_worker_at_once(folder: Path, tmp_path: Path) -> None:
    slow = slow_markdown(tmp_path / "huge.md")
    parser = HostedParser(IngestLimits(timeout_s=60))
    outcome: list[BaseException] = []

    def parse() -> None:
        try:
            parser.parse(slow, "md")
        except BaseException as error:  # noqa: BLE001 - checked below
            outcome.append(error)

    thread = threading.Thread(target=parse)
    thread.start()
    wait_for(lambda: list(folder.glob("*.lock")) and worker_pids(folder))
    (busy,) = worker_pids(folder)
    time.sleep(0.3)  # well into the file
    started = time.monotonic()
    parser.abort()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - started < 2
    assert isinstance(outcome[0], ParserCrashed)
    wait_for(lambda: not psutil.pid_exists(busy) or not alive(psutil.Process(busy)))
    fine = tmp_path / "fine.md"
    fine.write_text("# After\n\nStill serving.\n")
    with HostedParser() as again:
        assert again.parse(fine, "md").blocks[0].text == "After" and again.hosted


def test_an_import_survives_the_host_dying(folder: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "one.md", tmp_path / "two.md"
    one.write_text("# One\n\nFirst.\n")
    two.write_text("# Two\n\nSecond.\n")
    with HostedParser() as parser:
        assert parser.parse(one, "md").blocks[0].text == "One" and parser.hosted
        first_host = the_host(folder)
        first_host.send_signal(signal.SIGKILL)
        wait_for(lambda: not alive(first_host))
        assert parser.parse(two, "md").blocks[0].text == "Two"  # read here instead
        assert not parser.hosted
    docs = documents(tmp_path / "docs")  # the next import starts a new host
    assert import_paths(Workspace.create(tmp_path / "a"), [docs]).ok
    assert the_host(folder).pid != first_host.pid


def test_no_host_when_turned_off_or_the_folder_is_not_private(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = documents(tmp_path / "docs")
    monkeypatch.setenv(host.SWITCH_ENV, "0")
    assert host.host_address() is None
    assert import_paths(Workspace.create(tmp_path / "a"), [docs]).ok
    assert not list(folder.iterdir())
    monkeypatch.delenv(host.SWITCH_ENV)
    folder.chmod(0o755)  # others could reach a socket here: not used
    assert host.runtime_dir() is None and host.host_address() is None
    assert import_paths(Workspace.create(tmp_path / "b"), [docs]).ok
    assert not list(folder.iterdir())


def test_the_host_leaves_when_idle(folder: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(host.IDLE_ENV, "0.5")
    path = tmp_path / "one.md"
    path.write_text("# One\n\nFirst.\n")
    long = tmp_path / "long.md"  # about a second to read: longer than the idle time
    long.write_text("\n\n".join(f"Paragraph {n} with some words in it." for n in range(60_000)))
    with HostedParser() as parser:
        parser.parse(path, "md")
        time.sleep(0.2)
        assert len(parser.parse(long, "md").blocks) > 1000 and parser.hosted  # not cut off
        running = the_host(folder)
        assert host.running_hosts(folder) == [running.pid]
        workers = [psutil.Process(pid) for pid in worker_pids(folder)]
    wait_for(lambda: not list(folder.glob("*.sock")) and not alive(running))
    wait_for(lambda: not any(alive(w) for w in workers))


LOADED = """
import sys
import core.ingest.host, core.ingest.worker, core.ingest.dedup
import core.ingest.parsers.pdf, core.ingest.parsers.word
print(" ".join(m for m in sys.modules if m == "core" or m.startswith("core.")))
print(core.ingest.host.code_fingerprint())
"""


def test_a_changed_parser_gets_a_host_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    before = host.code_fingerprint()
    assert host.code_fingerprint() == before
    monkeypatch.setattr(host.core, "__version__", "0.0.0-other")
    assert host.code_fingerprint() != before
    monkeypatch.undo()
    loaded, fingerprint = subprocess.run([sys.executable, "-c", LOADED], capture_output=True,
                                         text=True, check=True).stdout.split("\n")[:2]
    assert fingerprint == before
    covered = {"core", "core.errors", "core.offline"}  # besides core.ingest, all fingerprinted
    assert {m for m in loaded.split() if not m.startswith("core.ingest")} <= covered
    other = subprocess.run(["unshare", "-rm", sys.executable, "-c", LOADED],
                           capture_output=True, text=True)
    if other.returncode == 0:  # another mount namespace sees other files: another host
        assert other.stdout.split("\n")[1] != before


def test_stop_hosts_never_signals_a_stale_pid(folder: Path) -> None:
    (folder / "parsers-0123456789abcdef.lock").write_text(f"{os.getpid()}\n")
    assert host.running_hosts(folder) == []  # no host holds the lock: that pid is not one
    assert host.stop_hosts(folder) == 0


def test_previews_warm_the_workers_the_import_then_uses(folder: Path, tmp_path: Path) -> None:
    docs = documents(tmp_path / "docs")
    shown = [preview(path) for path in sorted(docs.iterdir())]
    assert [p.error for p in shown] == [None] * 5 and shown[-1].pages == 2
    (warm,) = worker_pids(folder)  # one after another: one worker, kept
    assert import_paths(Workspace.create(tmp_path / "a"), [docs], workers=1).ok
    assert worker_pids(folder) == {warm}


def test_a_host_that_cannot_start_costs_one_try(folder: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hosted, "_failed_start", [-hosted.RETRY_START_S])
    address = host.host_address()
    assert address is not None
    address.mkdir()  # something in the socket's place: the host cannot listen
    starts: list[Path] = []
    start = hosted._start_host
    monkeypatch.setattr(hosted, "_start_host", lambda a: (starts.append(a), start(a)))
    docs = documents(tmp_path / "docs")
    assert import_paths(Workspace.create(tmp_path / "a"), [docs], workers=2).ok
    assert import_paths(Workspace.create(tmp_path / "b"), [docs], workers=2).ok
    assert starts == [address]  # then each import parses with its own workers a while
    assert "cannot listen" in address.with_suffix(".log").read_text()


def test_doctor_says_how_the_host_stands(folder: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from core.system.doctor import check_parser_host

    assert check_parser_host().detail.startswith("none running")
    path = tmp_path / "one.md"
    path.write_text("# One\n\nFirst.\n")
    with HostedParser() as parser:
        parser.parse(path, "md")
    check = check_parser_host()
    assert check.status == "ok" and f"process {the_host(folder).pid}" in check.detail
    assert check.detail.startswith("1 kept ready between imports")
    monkeypatch.setenv(host.SWITCH_ENV, "0")
    assert check_parser_host().detail.startswith("not kept between imports")
    monkeypatch.delenv(host.SWITCH_ENV)
    folder.chmod(0o755)
    check = check_parser_host()
    assert check.status == "warn" and "not a folder private to you" in check.detail
    assert f"chmod 700 {folder}" in check.fix
