"""The import operation end to end: store, versions, duplicates, failures, consistency."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from ingest_corpus import (
    CSV,
    CSV_NO_HEADER,
    HTML,
    JSONL,
    MARKDOWN,
    PNG_BYTES,
    TEXT,
    make_pdf,
    rfp_pdf_pages,
    write_docx,
    write_encrypted_pdf,
    write_pdf,
    write_zip_bomb_docx,
)

from core.errors import DiskSpaceError
from core.ingest.importer import import_paths
from core.ingest.limits import IngestLimits
from core.ingest.store import DocumentStore
from core.workspace import Workspace

pytestmark = pytest.mark.timeout(180)


def valid_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_pdf(folder / "rfp-atlas.pdf", rfp_pdf_pages(4))
    write_docx(folder / "atlas-proposal.docx")
    (folder / "rfp-data-platform.md").write_text(MARKDOWN)
    (folder / "sow.txt").write_text(TEXT)
    (folder / "past-performance.html").write_text(HTML)
    (folder / "labor-rates.csv").write_text(CSV)
    (folder / "pairs.jsonl").write_text(JSONL)
    return folder


def broken_corpus(folder: Path) -> dict[str, str]:
    """Broken files, each with the failure reason it must produce."""
    folder.mkdir(parents=True, exist_ok=True)
    write_encrypted_pdf(folder / "locked.pdf")
    write_pdf(folder / "scan.pdf", [[], []])
    data = make_pdf(rfp_pdf_pages(2))
    (folder / "truncated.pdf").write_bytes(data[: len(data) // 2])
    write_zip_bomb_docx(folder / "bomb.docx")
    (folder / "photo.pdf").write_bytes(PNG_BYTES)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "numbers.csv").write_text(CSV_NO_HEADER)
    (folder / "junk.jsonl").write_text("{oops\n")
    return {
        "locked.pdf": "encrypted",
        "scan.pdf": "no-text",
        "truncated.pdf": "corrupt",
        "bomb.docx": "zip-bomb",
        "photo.pdf": "unsupported",
        "empty.txt": "empty",
        "numbers.csv": "no-header",
        "junk.jsonl": "corrupt",
    }


def assert_consistent(workspace: Workspace) -> None:
    """Every listed document's files are complete and match its record."""
    store = DocumentStore(workspace)
    for record in store.list(include_deleted=True):
        for version in record.versions:
            blocks = store.blocks(record.id, version.version)
            assert len(blocks) == version.blocks
            assert sum(len(b.text) for b in blocks) == version.characters
            assert (
                store.source_file(record.id, version.version).stat().st_size == version.size_bytes
            )


def test_every_valid_file_imports_with_text_and_structure(
    workspace: Workspace, tmp_path: Path
) -> None:
    report = import_paths(workspace, [valid_corpus(tmp_path / "in")])
    assert report.ok, [r.message for r in report.failed]
    by_name = {r.name: r for r in report.files}
    assert all(r.status == "imported" for r in report.files) and len(by_name) == 7
    assert by_name["rfp-atlas.pdf"].kind == "rfp" and by_name["rfp-atlas.pdf"].pages == 4
    assert by_name["atlas-proposal.docx"].kind == "proposal"
    assert by_name["labor-rates.csv"].kind == "reference"
    assert by_name["pairs.jsonl"].kind == "other"
    assert any("hidden text" in w for w in by_name["past-performance.html"].warnings)
    store = DocumentStore(workspace)
    docx_id = by_name["atlas-proposal.docx"].doc_id
    rows = [b for b in store.blocks(docx_id) if b.kind == "table_row"]
    assert rows[0].fields["Code"] == "PM-1"
    assert "We propose a lean team" in store.text(docx_id)
    pdf_blocks = store.blocks(by_name["rfp-atlas.pdf"].doc_id)
    assert {b.page for b in pdf_blocks} == {1, 2, 3, 4}
    assert (
        store.get(by_name["rfp-data-platform.md"].doc_id).title
        == "Request for Proposal: Data Platform"
    )
    assert_consistent(workspace)


def test_broken_files_fail_specifically_and_the_batch_goes_on(
    workspace: Workspace, tmp_path: Path
) -> None:
    expected = broken_corpus(tmp_path / "in")
    (tmp_path / "in" / "good.md").write_text("# Good\n\nThis one is fine.\n")
    report = import_paths(workspace, [tmp_path / "in"])
    reasons = {r.name: r.reason for r in report.failed}
    assert reasons == expected
    assert all(r.message and r.name in r.message for r in report.failed)
    good = next(r for r in report.files if r.name == "good.md")
    assert good.status == "imported"
    assert [d.id for d in DocumentStore(workspace).list()] == [good.doc_id]


def test_missing_and_special_paths_are_reported(workspace: Workspace, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    report = import_paths(workspace, [tmp_path / "nope.pdf", fifo])
    assert [(r.status, r.reason) for r in report.files] == [
        ("failed", "missing"),
        ("failed", "unsupported"),
    ]
    assert "does not exist" in report.files[0].message


def test_size_limit_is_configurable(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_text("All work and no play. " * 2000)
    report = import_paths(workspace, [path], limits=IngestLimits(max_file_bytes=1000))
    assert report.failed[0].reason == "too-large" and "over the" in report.failed[0].message


def test_reimport_is_detected_and_a_changed_file_is_version_2(
    workspace: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "rfp-atlas.md"
    source.write_text(MARKDOWN)
    first = import_paths(workspace, [source]).files[0]
    again = import_paths(workspace, [source]).files[0]
    assert again.status == "already-imported" and again.doc_id == first.doc_id
    copy = tmp_path / "copy" / "renamed.md"
    copy.parent.mkdir()
    copy.write_bytes(source.read_bytes())
    assert import_paths(workspace, [copy]).files[0].status == "already-imported"
    source.write_text(MARKDOWN + "\n## 3. Evaluation\n\nBest value.\n")
    changed = import_paths(workspace, [source]).files[0]
    assert changed.status == "new-version" and changed.doc_id == first.doc_id
    assert changed.version == 2
    store = DocumentStore(workspace)
    record = store.get(first.doc_id)
    assert [v.version for v in record.versions] == [1, 2] and len(store.list()) == 1
    assert "Best value." in store.text(first.doc_id)
    assert "Best value." not in store.text(first.doc_id, 1)
    assert_consistent(workspace)


def test_same_name_but_another_kind_is_a_new_document(workspace: Workspace, tmp_path: Path) -> None:
    for folder, text in (("rfps", MARKDOWN), ("proposals", "# Answer\n\nWe propose a team.\n")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "atlas.md").write_text(text)
    first = import_paths(workspace, [tmp_path / "rfps"], kind="rfp").files[0]
    second = import_paths(workspace, [tmp_path / "proposals"], kind="proposal").files[0]
    assert (first.status, second.status) == ("imported", "imported")
    assert first.doc_id != second.doc_id


def test_kinds_per_file_and_expand_paths(workspace: Workspace, tmp_path: Path) -> None:
    from core.ingest.importer import expand_paths

    folder = valid_corpus(tmp_path / "in")
    (folder / "photo.png").write_bytes(PNG_BYTES)
    (folder / ".hidden.md").write_text("# secret")
    files = expand_paths([folder])
    assert len(files) == 7 and all(p.suffix != ".png" and p.name[0] != "." for p in files)
    rates = str(folder / "labor-rates.csv")
    report = import_paths(workspace, files[:3] + [rates], kinds={rates: "other"})
    kinds = {r.name: r.kind for r in report.files}
    assert kinds["labor-rates.csv"] == "other" and kinds["atlas-proposal.docx"] == "proposal"


def test_same_bytes_twice_in_one_batch(workspace: Workspace, tmp_path: Path) -> None:
    for name in ("a/notes.md", "b/notes-copy.md"):
        (tmp_path / name).parent.mkdir(parents=True)
        (tmp_path / name).write_text(TEXT)
    results = import_paths(workspace, [tmp_path]).files
    assert [r.status for r in results] == ["imported", "already-imported"]
    assert results[0].doc_id == results[1].doc_id


def test_near_duplicate_is_flagged(workspace: Workspace, tmp_path: Path) -> None:
    words = " ".join(f"term{n}" for n in range(400))
    (tmp_path / "one.txt").write_text(f"Proposal text. {words} closing one.")
    import_paths(workspace, [tmp_path / "one.txt"])
    (tmp_path / "two.txt").write_text(f"Proposal text. {words} closing two.")
    result = import_paths(workspace, [tmp_path / "two.txt"]).files[0]
    assert result.status == "imported"
    assert any("Nearly the same text as" in w and "one" in w for w in result.warnings)
    (tmp_path / "three.txt").write_text("Something else entirely about rates and staffing.")
    assert not import_paths(workspace, [tmp_path / "three.txt"]).files[0].warnings


def test_kind_given_wins_over_the_guess(workspace: Workspace, tmp_path: Path) -> None:
    (tmp_path / "rfp-x.md").write_text(MARKDOWN)
    result = import_paths(workspace, [tmp_path / "rfp-x.md"], kind="reference").files[0]
    assert result.kind == "reference"
    assert DocumentStore(workspace).get(result.doc_id).kind == "reference"


def test_cancel_stops_between_files(workspace: Workspace, tmp_path: Path) -> None:
    for n in range(6):
        (tmp_path / f"d{n}.md").write_text(f"# Doc {n}\n\nText {n}.\n")
    seen = []
    report = import_paths(
        workspace,
        [tmp_path],
        progress=lambda s, t, m: seen.append(s),
        cancelled=lambda: len(seen) >= 2,
    )
    assert report.cancelled
    assert [r.status for r in report.files].count("imported") == 2
    assert [r.status for r in report.files].count("skipped") == 4
    assert len(DocumentStore(workspace).list()) == 2


def test_files_are_committed_in_groups_with_one_audit_append_each(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.ingest.importer as importer_module

    monkeypatch.setattr(importer_module, "BATCH_FILES", 2)
    for n in range(5):
        (tmp_path / f"d{n}.md").write_text(f"# Doc {n}\n\nText {n}.\n")
    appends: list[int] = []
    real = type(workspace.audit).record_many

    def record_many(log: object, entries: list[object], actor: str = "user") -> None:
        appends.append(len(entries))
        real(log, entries, actor)  # type: ignore[arg-type]

    monkeypatch.setattr(type(workspace.audit), "record_many", record_many)
    seen: list[tuple[int, str]] = []
    report = import_paths(workspace, [tmp_path], workers=1,
                          progress=lambda step, total, message: seen.append((step, message)))
    assert [r.status for r in report.files] == ["imported"] * 5
    assert appends == [2, 2, 1]
    assert seen == [(n + 1, f"d{n}.md: imported") for n in range(5)]
    assert workspace.audit.verify().ok
    assert_consistent(workspace)


def test_a_stored_file_is_committed_while_a_slow_one_parses(
    workspace: Workspace, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a-quick.md").write_text("# Quick\n\nA short note.\n")
    (folder / "b-slow.md").write_text(
        "\n\n".join(f"Paragraph {n} of a long file." for n in range(60_000)))
    visible: list[int] = []
    store = DocumentStore(workspace)

    def watch() -> bool:  # polled while the import waits for the slow file
        visible.append(len(store.list()))
        return False

    report = import_paths(workspace, [folder], cancelled=watch, workers=1,
                          limits=IngestLimits(timeout_s=60))
    assert [r.status for r in report.files] == ["imported", "imported"]
    assert 1 in visible  # the quick file was stored before the slow one was done


def test_cancel_does_not_wait_for_a_slow_file(workspace: Workspace, tmp_path: Path) -> None:
    slow = tmp_path / "in" / "huge.md"
    slow.parent.mkdir()
    slow.write_text("\n\n".join(f"Paragraph {n} of a very long file." for n in range(600_000)))
    started = time.monotonic()
    report = import_paths(
        workspace,
        [slow],
        cancelled=lambda: time.monotonic() - started > 1.0,
        limits=IngestLimits(timeout_s=60),
        workers=1,
    )
    assert report.cancelled and time.monotonic() - started < 10
    assert report.files[0].status == "skipped" and DocumentStore(workspace).list() == []


def test_a_failure_while_storing_leaves_no_half_document(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.md").write_text("# A\n\nFirst.\n")
    (tmp_path / "b.md").write_text("# B\n\nSecond.\n")
    import core.ingest.store as store_module

    real = store_module.shutil.copyfile

    def copy_then_fail(src: Path, dst: Path) -> None:
        real(src, dst)
        if Path(src).name == "a.md":
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(store_module.shutil, "copyfile", copy_then_fail)
    report = import_paths(workspace, [tmp_path])
    assert [r.status for r in report.files] == ["failed", "imported"]
    assert "could not be stored" in report.files[0].message
    assert [d.title for d in DocumentStore(workspace).list()] == ["B"]
    assert not list(workspace.documents_dir.rglob("*.partial"))
    assert_consistent(workspace)


def test_disk_full_while_storing_stops_the_batch(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a.md", "b.md", "c.md"):
        (tmp_path / name).write_text(f"# {name}\n\nText of {name}.\n")
    import core.ingest.store as store_module

    def no_space(src: Path, dst: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module.shutil, "copyfile", no_space)
    report = import_paths(workspace, [tmp_path])
    assert [(r.status, r.reason) for r in report.files] == [
        ("failed", "disk-full"),
        ("skipped", ""),
        ("skipped", ""),
    ]
    assert "disk is full" in report.files[0].message
    assert DocumentStore(workspace).list() == []


def test_unknown_kind_is_refused_up_front(workspace: Workspace, tmp_path: Path) -> None:
    from core.ingest.store import DocumentError

    (tmp_path / "a.md").write_text("# A\n")
    with pytest.raises(DocumentError, match="Unknown document kind 'rfq'"):
        import_paths(workspace, [tmp_path], kinds={str(tmp_path / "a.md"): "rfq"})


def test_not_enough_disk_refuses_the_batch(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.md").write_text("# A\n")
    monkeypatch.setattr("core.fsutil.free_bytes", lambda _path: 1000)
    with pytest.raises(DiskSpaceError, match="Not enough free disk"):
        import_paths(workspace, [tmp_path])
    assert DocumentStore(workspace).list() == []


def test_killed_import_job_leaves_a_consistent_workspace(
    workspace: Workspace, tmp_path: Path
) -> None:
    from core.jobs import JobRunner

    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(40):
        pages = rfp_pdf_pages(6 + n % 3)
        pages[0].insert(1, f"Amendment {n} To The Solicitation")
        write_pdf(folder / f"doc{n:02d}.pdf", pages)
    handle = JobRunner(workspace).submit("import-documents", {"paths": [str(folder)]})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        events, final = handle.poll()
        if any(e.type == "progress" and e.step >= 20 for e in events) or final:
            # (files are committed 16 at a time: the first group is stored by now)
            break
        time.sleep(0.02)
    os.killpg(os.getpgid(handle._process.pid), signal.SIGKILL)
    assert handle.wait(30).state == "failed"
    stored = len(DocumentStore(workspace).list())
    assert 0 < stored < 40
    assert_consistent(workspace)
    report = import_paths(workspace, [folder])
    assert report.counts == {"already-imported": stored, "imported": 40 - stored}
    assert len(DocumentStore(workspace).list()) == 40
    assert_consistent(workspace)


def test_cli_import_and_documents(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.cli.main import main

    valid_corpus(tmp_path / "in")
    write_encrypted_pdf(tmp_path / "in" / "locked.pdf")
    ws = str(workspace.root)
    assert main(["import", "-w", ws, str(tmp_path / "in"), "--json"]) == 1
    output = json.loads(capsys.readouterr().out)
    assert output["counts"] == {"imported": 7, "failed": 1}
    locked = next(r for r in output["files"] if r["name"] == "locked.pdf")
    assert locked["reason"] == "encrypted"
    assert main(["import", "-w", ws, str(tmp_path / "in" / "sow.txt")]) == 0
    assert "already-imported" in capsys.readouterr().out

    assert main(["documents", "-w", ws, "--json"]) == 0
    records = {r["versions"][-1]["source_name"]: r for r in json.loads(capsys.readouterr().out)}
    rfp, proposal = records["rfp-atlas.pdf"]["id"], records["atlas-proposal.docx"]["id"]
    assert main(["documents", "-w", ws, "text", rfp]) == 0
    assert "The contractor shall provide" in capsys.readouterr().out
    assert main(["documents", "-w", ws, "pair", rfp, proposal]) == 0
    assert main(["documents", "-w", ws, "show", proposal, "--json"]) == 0
    capsys.readouterr()
    assert DocumentStore(workspace).get(proposal).paired_with == (rfp,)
    sow = records["sow.txt"]["id"]
    assert main(["documents", "-w", ws, "tag", sow, "--kind", "reference"]) == 0
    assert DocumentStore(workspace).get(sow).kind == "reference"
    assert main(["documents", "-w", ws, "pair", sow, proposal]) == 1
    assert "Pairing needs an RFP and a proposal" in capsys.readouterr().err
    assert main(["documents", "-w", ws, "remove", sow]) == 0
    assert main(["documents", "-w", ws, "show", "nope"]) == 1
    assert len(DocumentStore(workspace).list()) == 6


def test_suggest_pairs(workspace: Workspace, tmp_path: Path) -> None:
    from core.ingest.guess import best_pairs, suggest_pairs

    body = "The agency needs hydrographic survey vessels with sonar and crew training."
    (tmp_path / "RFP-hydro-survey.md").write_text(
        f"# Hydro Survey RFP\n\nSolicitation N00024-26-R-1234. {body}"
    )
    (tmp_path / "hydro-survey-proposal.md").write_text(
        f"# Proposal\n\nIn response to N00024-26-R-1234, we propose vessels. {body}"
    )
    (tmp_path / "RFP-cafeteria.md").write_text(
        "# Cafeteria RFP\n\nFood service for the base kitchen."
    )
    (tmp_path / "payroll-proposal.md").write_text("# Payroll\n\nWe propose a payroll system.")
    import_paths(workspace, [tmp_path])
    store = DocumentStore(workspace)
    kinds = {r.latest.source_name: r.kind for r in store.list()}
    assert kinds["RFP-hydro-survey.md"] == "rfp" and kinds["hydro-survey-proposal.md"] == "proposal"
    suggestions = suggest_pairs(store)
    top = suggestions[0]
    assert store.get(top.rfp_id).latest.source_name == "RFP-hydro-survey.md"
    assert store.get(top.proposal_id).latest.source_name == "hydro-survey-proposal.md"
    assert top.shared_identifiers == ("N00024-26-R-1234",) and top.score > 0.6
    assert len(best_pairs(suggestions)) <= 2
    store.pair(top.rfp_id, top.proposal_id)
    assert all(
        s.proposal_id != top.proposal_id or s.rfp_id != top.rfp_id for s in suggest_pairs(store)
    )
