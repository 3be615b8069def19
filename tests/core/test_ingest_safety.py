"""Hostile and broken files: each gets its specific error, in an isolated process."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from ingest_corpus import (
    PNG_BYTES,
    make_pdf,
    rfp_pdf_pages,
    write_docx,
    write_encrypted_pdf,
    write_pdf,
    write_zip_bomb_docx,
)
from ole_files import encrypted_ooxml, excel_workbook, word_document

from core.ingest.errors import (
    CorruptDocument,
    EmptyDocument,
    EncryptedDocument,
    FileTooLarge,
    IngestError,
    NoTextLayer,
    ParseMemoryError,
    ParserCrashed,
    ParseTimeout,
    UnsupportedFormat,
    ZipBomb,
)
from core.ingest.files import check_file
from core.ingest.isolation import IsolatedParser, ParserPool, parse_isolated
from core.ingest.limits import IngestLimits
from core.ingest.preview import preview

pytestmark = pytest.mark.timeout(120)


def _checked_parse(path: Path, limits: IngestLimits | None = None) -> object:
    limits = limits or IngestLimits()
    return parse_isolated(path, check_file(path, limits).format, limits)


def _truncated_pdf(tmp_path: Path) -> Path:
    data = make_pdf(rfp_pdf_pages(3))
    path = tmp_path / "truncated.pdf"
    path.write_bytes(data[: len(data) // 2])
    return path


def _corrupt_docx(tmp_path: Path) -> Path:
    data = write_docx(tmp_path / "whole.docx").read_bytes()
    path = tmp_path / "cut.docx"
    path.write_bytes(data[: len(data) // 3])
    return path


BROKEN = {
    "encrypted": (
        lambda d: write_encrypted_pdf(d / "locked.pdf"),
        EncryptedDocument,
        "password-protected",
    ),
    "image-only": (lambda d: write_pdf(d / "scan.pdf", [[], []]), NoTextLayer, "no text layer"),
    "truncated-pdf": (_truncated_pdf, CorruptDocument, "truncated"),
    "truncated-docx": (_corrupt_docx, CorruptDocument, "damaged or truncated"),
    "zip-bomb": (lambda d: write_zip_bomb_docx(d / "bomb.docx"), ZipBomb, "zip bomb"),
    "zip-bomb-xlsx": (
        lambda d: write_zip_bomb_docx(
            d / "rates.xlsx", member="xl/worksheets/sheet1.xml",
            others=(("[Content_Types].xml", "<Types/>"), ("xl/workbook.xml", "<workbook/>"))),
        ZipBomb, "zip bomb"),
    "png-as-pdf": (
        lambda d: (d / "photo.pdf").write_bytes(PNG_BYTES) and d / "photo.pdf",
        UnsupportedFormat,
        "really a PNG image",
    ),
    "empty": (
        lambda d: (d / "empty.txt").write_bytes(b"") or d / "empty.txt",
        EmptyDocument,
        "empty",
    ),
    "blank-text": (
        lambda d: (d / "blank.md").write_text(" \n\n\t\n") and d / "blank.md",
        EmptyDocument,
        "empty",
    ),
    "garbage-pdf": (
        lambda d: (
            (d / "junk.pdf").write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n")
            and d / "junk.pdf"
        ),
        CorruptDocument,
        "damaged",
    ),
    "doc-legacy": (
        lambda d: word_document(d / "old.doc", encrypted=False),
        UnsupportedFormat,
        "Word 97-2003 document .*save a copy as DOCX",
    ),
    "doc-encrypted": (
        lambda d: word_document(d / "locked.doc", encrypted=True),
        EncryptedDocument,
        "password-protected Word 97-2003 document",
    ),
    "xls-encrypted": (
        lambda d: excel_workbook(d / "rates.xls", encrypted=True),
        EncryptedDocument,
        "password-protected Excel 97-2003 workbook.*as XLSX",
    ),
    "encrypted-docx": (
        lambda d: encrypted_ooxml(d / "locked.docx"),
        EncryptedDocument,
        "password-protected Office document",
    ),
    "damaged-ole": (
        lambda d: (
            (d / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
            and d / "old.doc"
        ),
        UnsupportedFormat,
        "damaged legacy Office file",
    ),
    "bad-jsonl": (
        lambda d: (d / "bad.jsonl").write_text("{oops\n[1, 2]\n") and d / "bad.jsonl",
        CorruptDocument,
        "not JSON Lines",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_file_gets_its_specific_error(tmp_path: Path, case: str) -> None:
    make, error, words = BROKEN[case]
    path = make(tmp_path)
    with pytest.raises(error, match=words) as raised:
        _checked_parse(path)
    assert path.name in str(raised.value)


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-256"])
def test_pdf_with_only_an_owner_password_opens(tmp_path: Path, algorithm: str) -> None:
    path = write_encrypted_pdf(tmp_path / "restricted.pdf", password="", algorithm=algorithm)
    assert _checked_parse(path).blocks[0].text == "Top secret pricing"


def test_aes_encrypted_pdf_with_a_password_is_refused(tmp_path: Path) -> None:
    path = write_encrypted_pdf(tmp_path / "aes.pdf", algorithm="AES-256")
    with pytest.raises(EncryptedDocument, match="password-protected"):
        _checked_parse(path)


def test_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 5000)
    with pytest.raises(FileTooLarge, match="over the"):
        check_file(path, IngestLimits(max_file_bytes=10_000))


def test_timeout_kills_the_parser_and_the_next_file_works(tmp_path: Path) -> None:
    slow = tmp_path / "huge.md"
    slow.write_text("\n\n".join(f"Paragraph {n} with some words in it." for n in range(400_000)))
    fine = tmp_path / "fine.md"
    fine.write_text("# Title\n\nSome text.\n")
    with IsolatedParser(IngestLimits(timeout_s=0.5)) as parser:
        with pytest.raises(ParseTimeout, match="took longer than 0.5 s"):
            parser.parse(slow, "md")
        assert [b.text for b in parser.parse(fine, "md").blocks] == ["Title", "Some text."]


def test_memory_limit_stops_a_hungry_parse(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    with open(path, "w") as handle:
        handle.write("Name,Notes\n")
        for n in range(300_000):
            handle.write(f"row {n},{'lorem ipsum dolor sit amet ' * 8}\n")
    limits = IngestLimits(memory_bytes=400 * 1024 * 1024, timeout_s=60)
    with pytest.raises((ParseMemoryError, ParserCrashed), match="memory|crashed"):
        parse_isolated(path, "csv", limits)


def test_a_crashed_parser_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "ok.txt"
    path.write_text("Hello there.")
    with IsolatedParser() as parser:
        parser.parse(path, "txt")
        parser._process.kill()  # the worker dies between files (say, the OOM killer)
        assert parser.parse(path, "txt").blocks[0].text == "Hello there."


def test_the_next_file_is_sent_ahead_to_the_same_worker(tmp_path: Path) -> None:
    first, second = tmp_path / "one.md", tmp_path / "two.md"
    first.write_text("# One\n\nFirst.\n")
    second.write_text("# Two\n\nSecond.\n")
    with IsolatedParser() as parser:
        assert parser.parse(first, "md", then=(second, "md")).blocks[0].text == "One"
        assert list(parser._sent) == [(str(second.absolute()), "md")]
        pid = parser.start().pid
        assert parser.parse(second, "md").blocks[0].text == "Two"
        assert parser.start().pid == pid and not parser._sent


def test_what_was_sent_ahead_survives_a_timeout_and_a_crash(tmp_path: Path) -> None:
    slow = tmp_path / "huge.md"
    slow.write_text("\n\n".join(f"Paragraph {n} with some words in it." for n in range(400_000)))
    fine = tmp_path / "fine.md"
    fine.write_text("# Title\n\nSome text.\n")
    with IsolatedParser(IngestLimits(timeout_s=0.5)) as parser:
        with pytest.raises(ParseTimeout):
            parser.parse(slow, "md", then=(fine, "md"))
        assert parser.parse(fine, "md", then=(fine, "md")).blocks[0].text == "Title"
        parser._process.kill()  # dies with the file sent ahead unanswered
        assert parser.parse(fine, "md", then=(fine, "md")).blocks[0].text == "Title"
        with pytest.raises(ParseTimeout):  # not the file sent ahead: never its answer
            parser.parse(slow, "md")


def test_a_worker_is_recycled_after_its_share_of_files(tmp_path: Path) -> None:
    files = [tmp_path / f"doc{n}.md" for n in range(5)]
    for n, path in enumerate(files):
        path.write_text(f"# Doc {n}\n\nBody {n}.\n")
    pids = []
    with IsolatedParser(recycle_after=2) as parser:
        for n, path in enumerate(files):
            then = (files[n + 1], "md") if n + 1 < len(files) else None
            assert parser.parse(path, "md", then=then).blocks[0].text == f"Doc {n}"
            pids.append(parser._process.pid)
            assert len(parser._sent) <= 1
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]
    with ParserPool(workers=1, recycle_after=2) as pool:  # the pool passes it on
        outcomes = list(pool.map([(p, "md") for p in files]))
    assert [o.blocks[0].text for o in outcomes] == [f"Doc {n}" for n in range(5)]


def test_pool_keeps_order_and_isolates_failures(tmp_path: Path) -> None:
    good = [tmp_path / f"doc{n}.md" for n in range(5)]
    for n, path in enumerate(good):
        path.write_text(f"# Doc {n}\n\nBody {n}.\n")
    bomb = write_zip_bomb_docx(tmp_path / "bomb.docx")
    tasks = [(good[0], "md"), (bomb, "docx"), None, *[(p, "md") for p in good[1:]]]
    before = threading.active_count()
    with ParserPool(workers=2) as pool:
        results = list(pool.map(tasks))
    assert isinstance(results[1], ZipBomb) and results[2] is None
    assert [
        r.blocks[0].text for r in results if r is not None and not isinstance(r, IngestError)
    ] == [f"Doc {n}" for n in range(5)]
    assert threading.active_count() <= before


def test_preview_writes_nothing(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "RFP-atlas.pdf", rfp_pdf_pages(3))
    before = sorted(tmp_path.rglob("*"))
    shown = preview(path)
    assert shown.format == "pdf" and shown.pages == 3 and shown.kind == "rfp"
    assert shown.blocks[0].text == "1. Background Overview"
    assert sorted(tmp_path.rglob("*")) == before
    locked = preview(write_encrypted_pdf(tmp_path / "locked.pdf"))
    assert locked.reason == "encrypted" and "password-protected" in locked.error
    assert locked.blocks == [] and shown.error is None
    assert "The contractor shall provide" in shown.text()
    with IsolatedParser() as parser:  # the wizard reuses one parser process
        first = preview(path, parser=parser)
        pid = parser._process.pid
        assert preview(path, parser=parser).blocks == first.blocks
        assert parser._process.pid == pid
