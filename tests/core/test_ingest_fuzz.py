"""Fuzzing the importer: damaged PDF, DOCX, XLSX, HTML and CSV files, made deterministically.

Small valid seed files are mutated with ``random.Random(seed)`` (byte flips, truncation,
inserted garbage, duplicated chunks; for the ZIP formats corrupted, dropped or malformed
XML members; odd encodings and huge fields for CSV; deep nesting and unterminated markup
for HTML) and imported in one batch. Whatever the bytes, the importer must answer every
file with a clear outcome, in bounded time, and leave a consistent store behind.
"""

from __future__ import annotations

import hashlib
import io
import random
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from ingest_corpus import CSV, HTML, make_pdf, rfp_pdf_pages, write_docx, write_pdf

from core.fsutil import read_json
from core.ingest.errors import ERRORS
from core.ingest.importer import import_paths
from core.ingest.limits import IngestLimits
from core.ingest.parsers import parse_file
from core.ingest.parsers.webpage import parse_html
from core.ingest.report import FileResult, ImportReport
from core.ingest.store import RECORD, DocumentStore
from core.workspace import Workspace

Mutator = Callable[[bytes, random.Random], bytes]

SEED = 20_260_101
# Generous for files of a few kilobytes even on a loaded machine; a parse that needs it
# is a hang, and the test says so instead of waiting for the default two minutes.
LIMITS = IngestLimits(timeout_s=60)
# Reasons a failure may give. Timeouts, crashes and memory errors are not among them:
# on these small files each would be a parser bug.
ACCEPTED_REASONS = {cls.reason for cls in ERRORS.values()} - {"timeout", "crashed", "memory"}
CSV_FIELD_LIMIT = 10_000_000  # core.ingest.parsers.tables._MAX_FIELD


# -- seeds ---------------------------------------------------------------------------------
def _docx_seed(folder: Path) -> bytes:
    return write_docx(folder / "seed.docx").read_bytes()


def _xlsx_seed(_folder: Path) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Rates"
    sheet.append(["Code", "Labor Category", "Rate"])
    sheet.append(["PM-1", "Program Manager", 185.0])
    sheet.append(["SE-2", "Systems Engineer", 142.5])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def seeds(folder: Path) -> dict[str, bytes]:
    """One small valid file per format, by extension."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "pdf": make_pdf(rfp_pdf_pages(2)),
        "docx": _docx_seed(folder),
        "xlsx": _xlsx_seed(folder),
        "html": HTML.encode("utf-8"),
        "csv": CSV.encode("utf-8"),
    }


# -- byte-level mutators (every format) ----------------------------------------------------
def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(1, len(data))]


def insert_garbage(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data))
    return data[:at] + rng.randbytes(rng.randint(1, 512)) + data[at:]


def duplicate_chunk(data: bytes, rng: random.Random) -> bytes:
    start = rng.randrange(len(data))
    chunk = data[start : start + rng.randint(1, 2048)]
    at = rng.randrange(len(data))
    return data[:at] + chunk * rng.randint(1, 4) + data[at:]


BYTE_MUTATORS: tuple[Mutator, ...] = (flip_bytes, truncate, insert_garbage, duplicate_chunk)


# -- ZIP members (DOCX, XLSX) --------------------------------------------------------------
def _members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(name, archive.read(name)) for name in archive.namelist()]


def _rezip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in members:
            archive.writestr(name, body)
    return buffer.getvalue()


def corrupt_member(data: bytes, rng: random.Random) -> bytes:
    members = _members(data)
    index = rng.randrange(len(members))
    name, body = members[index]
    members[index] = (name, flip_bytes(body or b"x", rng))
    return _rezip(members)


def drop_member(data: bytes, rng: random.Random) -> bytes:
    members = _members(data)
    del members[rng.randrange(len(members))]
    return _rezip(members)


def malformed_xml_member(data: bytes, rng: random.Random) -> bytes:
    members = _members(data)
    xml = [i for i, (name, _) in enumerate(members) if name.endswith((".xml", ".rels"))]
    index = rng.choice(xml)
    name, body = members[index]
    breakage = rng.choice(
        (
            body[: rng.randrange(1, len(body))],  # cut mid-element
            body.replace(b">", b"", 1 + rng.randrange(3)),  # tags run together
            body + b"<unclosed attr='",  # junk after the root element
            b'<?xml version="1.0"?><a><b></a>',  # mismatched tags
            b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>',
        )
    )
    members[index] = (name, breakage)
    return _rezip(members)


def _drop_named(name: str) -> Mutator:
    def drop(data: bytes, _rng: random.Random) -> bytes:
        return _rezip([m for m in _members(data) if m[0] != name])

    drop.__name__ = "drop_" + name.replace("/", "_").replace(".", "_")
    return drop


def _replace_member(name: str, body: bytes, label: str) -> Mutator:
    def replace(data: bytes, _rng: random.Random) -> bytes:
        return _rezip([(n, body if n == name else b) for n, b in _members(data)])

    replace.__name__ = label
    return replace


ZIP_MUTATORS: tuple[Mutator, ...] = (corrupt_member, drop_member, malformed_xml_member)


# -- CSV -----------------------------------------------------------------------------------
def _text_variant(build: Callable[[str], bytes], label: str) -> Mutator:
    def variant(data: bytes, _rng: random.Random) -> bytes:
        return build(data.decode("utf-8"))

    variant.__name__ = label
    return variant


def csv_nul_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 5)):
        out.insert(rng.randrange(len(out)), 0)
    return bytes(out)


def csv_nul_after_head(data: bytes, _rng: random.Random) -> bytes:
    """NUL bytes past the 8 KiB the format sniffer reads, so the CSV parser meets them."""
    rows = b"".join(b"Filler %d,F-%d,1.00\n" % (n, n) for n in range(600))
    return data + rows + b"Bad\x00Row,X\x00,\x00\n"


def csv_huge_field(data: bytes, rng: random.Random) -> bytes:
    return data + b"Huge," + b"A" * rng.randint(200_000, 400_000) + b",1.00\n"


def csv_field_over_limit(data: bytes, _rng: random.Random) -> bytes:
    return data + b'Huge,"' + b"B" * (CSV_FIELD_LIMIT + 1000) + b'",1.00\n'


def csv_unterminated_quote(data: bytes, _rng: random.Random) -> bytes:
    return data + b'Open,"never closed,\n' + data


def csv_wide_header(_data: bytes, _rng: random.Random) -> bytes:
    header = ",".join(f"Column {n}" for n in range(5000))
    return (header + "\n" + ",".join("v" for _ in range(5000)) + "\n").encode()


CSV_MUTATORS: tuple[Mutator, ...] = (
    _text_variant(lambda t: t.encode("utf-16"), "utf16_bom"),
    _text_variant(lambda t: t.encode("utf-16-le"), "utf16_no_bom"),
    _text_variant(lambda t: t.replace("Manager", "Gérant").encode("cp1252"), "cp1252"),
    _text_variant(lambda t: b"\xef\xbb\xbf" + t.encode() + b"\xff\xfe\xc3(\n", "bad_utf8"),
    _text_variant(lambda t: t.replace("\n", "\r").encode(), "cr_only"),
    csv_nul_bytes,
    csv_nul_after_head,
    csv_huge_field,
    csv_field_over_limit,
    csv_unterminated_quote,
    csv_wide_header,
)


# -- HTML ----------------------------------------------------------------------------------
def _html(body: str) -> Mutator:
    def page(_data: bytes, _rng: random.Random) -> bytes:
        return ("<!doctype html><html><body><h1>Fuzzed page</h1>" + body).encode()

    return page


def _named(mutator: Mutator, label: str) -> Mutator:
    mutator.__name__ = label
    return mutator


HTML_MUTATORS: tuple[Mutator, ...] = (
    _named(_html("<div>" * 60_000 + "deep text" + "</div>" * 60_000), "deep_divs"),
    _named(_html("<div><span><b>" * 30_000 + "deep unclosed text"), "deep_unclosed"),
    _named(_html("<div hidden>" + "<section>" * 30_000 + "hidden words"), "deep_hidden"),
    _named(_html("<table><tr><td>" * 5_000 + "cell"), "deep_tables"),
    _named(_html("<head>" * 2_000 + "<body>" * 2_000 + "<p>body text"), "heads_and_bodies"),
    _named(_html("<p>Some text<!-- a comment that never ends <p>more"), "open_comment"),
    _named(_html("<p>Start <a href=\"never closed>text <b class='x"), "open_attribute"),
    _named(_html("<p>Visible</p><script>var s = '<p>not text</p>';"), "open_script"),
    _named(_html("<p>Data <![CDATA[ never closed &#99999999999; &bogus; &#x110000;"), "open_cdata"),
    _named(_html("<p>" + "<" * 20_000 + "&" * 20_000), "lone_brackets"),
)


# -- PDF -----------------------------------------------------------------------------------
def pdf_deep_arrays(data: bytes, _rng: random.Random) -> bytes:
    return data.replace(b"/MediaBox [0 0 612 792]", b"/MediaBox " + b"[" * 5_000 + b"]" * 5_000)


def pdf_cyclic_page_tree(data: bytes, _rng: random.Random) -> bytes:
    return data.replace(b"/Kids [", b"/Kids [2 0 R ", 1)


def pdf_bad_xref(data: bytes, _rng: random.Random) -> bytes:
    head, _, tail = data.rpartition(b"startxref\n")
    return head + b"startxref\n999999999" + tail[tail.index(b"\n") :]


def pdf_huge_count(data: bytes, _rng: random.Random) -> bytes:
    return data.replace(b"/Count 2", b"/Count 2000000000", 1)


PDF_MUTATORS: tuple[Mutator, ...] = (
    pdf_deep_arrays,
    pdf_cyclic_page_tree,
    pdf_bad_xref,
    pdf_huge_count,
)


# -- the mutants -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """How many mutants of one seed: random picks from ``random_pool``, then each fixed one."""

    random_count: int
    random_pool: tuple[Mutator, ...]
    fixed: tuple[Mutator, ...]


PLANS: dict[str, Plan] = {
    "pdf": Plan(10, BYTE_MUTATORS, PDF_MUTATORS),
    "docx": Plan(
        12,
        BYTE_MUTATORS + ZIP_MUTATORS * 2,
        (_drop_named("word/document.xml"), _drop_named("[Content_Types].xml")),
    ),
    "xlsx": Plan(
        10,
        BYTE_MUTATORS + ZIP_MUTATORS * 2,
        (
            _drop_named("xl/workbook.xml"),
            _drop_named("xl/worksheets/sheet1.xml"),
            _replace_member(
                "xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row>", "truncated_sheet"
            ),
        ),
    ),
    "html": Plan(4, BYTE_MUTATORS, HTML_MUTATORS),
    "csv": Plan(4, BYTE_MUTATORS, CSV_MUTATORS),
}


def make_mutants(folder: Path, seed_folder: Path) -> list[Path]:
    """Write the mutants (all different bytes, none the seed itself); same seed, same files."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    seen: set[str] = set()
    for offset, (ext, seed_bytes) in enumerate(sorted(seeds(seed_folder).items())):
        rng = random.Random(SEED + offset)
        plan = PLANS[ext]
        seen.add(hashlib.sha256(seed_bytes).hexdigest())
        chosen = [rng.choice(plan.random_pool) for _ in range(plan.random_count)]
        for number, mutator in enumerate([*chosen, *plan.fixed]):
            data = mutator(seed_bytes, rng)
            while hashlib.sha256(data).hexdigest() in seen:  # a no-op or repeated mutation
                data = flip_bytes(data, rng)
            seen.add(hashlib.sha256(data).hexdigest())
            path = folder / f"{ext}-{number:02d}-{mutator.__name__}.{ext}"
            path.write_bytes(data)
            paths.append(path)
    return paths


# -- checks --------------------------------------------------------------------------------
def check_outcome(result: FileResult) -> None:
    """An imported file has its document; a failed one says specifically what is wrong."""
    assert result.status in ("imported", "skipped", "failed"), result
    if result.status == "imported":
        assert result.doc_id and result.blocks > 0, result
        return
    message = result.message
    assert message.strip(), f"{result.name}: empty message"
    assert result.name in message, f"{result.name}: message does not name the file: {message}"
    assert "Traceback" not in message and 'File "' not in message, message
    assert "internal error" not in message.lower(), message
    assert len(message) < 600, message
    if result.status == "failed":
        assert result.reason in ACCEPTED_REASONS, (result.name, result.reason, message)


def check_store(workspace: Workspace, expected_ids: set[str]) -> None:
    """The store lists exactly ``expected_ids``, each readable, with no leftovers on disk."""
    store = DocumentStore(workspace)
    records = store.list(include_deleted=True)
    assert {r.id for r in records} == expected_ids
    for record in records:
        version = record.latest
        blocks = store.blocks(record.id)
        assert len(blocks) == version.blocks > 0
        assert len(store.text(record.id)) >= version.characters > 0
        source = store.source_file(record.id)
        assert hashlib.sha256(source.read_bytes()).hexdigest() == version.sha256
        folders = {p.name for p in (store.root / record.id).iterdir() if p.is_dir()}
        assert folders == {f"v{v.version}" for v in record.versions}
    root = workspace.documents_dir
    # Atomic writes use hidden ``.<name>.<random>.tmp`` files and ``.<name>.<random>.partial``
    # folders (core.fsutil); none may be left, nor a document folder without its record.
    leftovers = [p for p in root.rglob(".*") if p.name not in (".lock", ".signatures.json")]
    assert leftovers == []
    orphans = [p for p in root.iterdir() if p.is_dir() and not (p / RECORD).is_file()]
    assert orphans == []
    if (root / ".signatures.json").exists():
        assert isinstance(read_json(root / ".signatures.json"), dict)


def outcomes(report: ImportReport) -> dict[str, tuple[str, str]]:
    return {Path(r.path).name: (r.status, r.reason) for r in report.files}


# -- the tests -----------------------------------------------------------------------------
@pytest.mark.timeout(180)
def test_fuzzed_files_fail_cleanly_and_leave_a_consistent_store(tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path / "ws")
    folder = tmp_path / "mutants"
    paths = make_mutants(folder, tmp_path / "seeds")
    assert 40 <= len(paths) <= 80
    assert make_mutants(tmp_path / "again", tmp_path / "seeds-again") and all(
        (tmp_path / "again" / p.name).read_bytes() == p.read_bytes()
        for p in paths
        if not p.name.startswith(("docx", "xlsx"))  # ZIP timestamps differ between builds
    )

    started = time.monotonic()
    report = import_paths(workspace, [folder], limits=LIMITS)
    elapsed = time.monotonic() - started
    assert elapsed < 150, f"the batch took {elapsed:.0f} s"

    assert not report.cancelled
    assert sorted(r.path for r in report.files) == sorted(str(p) for p in paths)
    for result in report.files:
        check_outcome(result)
    imported = {r.doc_id for r in report.files if r.status == "imported"}
    assert report.failed and imported  # the mutations both break files and spare some
    check_store(workspace, {i for i in imported if i})

    # Importing the same folder again adds nothing.
    again = import_paths(workspace, [folder], limits=LIMITS)
    assert len(again.files) == len(paths)
    for first, second in zip(
        sorted(report.files, key=lambda r: r.path), sorted(again.files, key=lambda r: r.path)
    ):
        if first.status == "imported":
            assert (second.status, second.doc_id) == ("already-imported", first.doc_id)
        else:
            assert (second.status, second.reason) == (first.status, first.reason)
    check_store(workspace, {i for i in imported if i})

    # Each file alone, in a fresh workspace, gets the outcome it got in the batch.
    solo_workspace = Workspace.create(tmp_path / "solo-ws")
    batch = outcomes(report)
    handful = [p for p in paths if "-00-" in p.name or "deep" in p.name][:8]
    solo_ids: set[str] = set()
    for path in handful:
        solo = import_paths(solo_workspace, [path], limits=LIMITS)
        assert len(solo.files) == 1
        check_outcome(solo.files[0])
        assert outcomes(solo)[path.name] == batch[path.name]
        solo_ids.update(r.doc_id for r in solo.files if r.doc_id)
    check_store(solo_workspace, solo_ids)

    # And the importer still takes a good file afterwards.
    good = write_pdf(tmp_path / "after-the-fuzz.pdf", rfp_pdf_pages(3))
    after = import_paths(workspace, [good], limits=LIMITS)
    assert [r.status for r in after.files] == ["imported"]
    assert DocumentStore(workspace).text(after.files[0].doc_id or "")
    check_store(workspace, {*(i for i in imported if i), after.files[0].doc_id or ""})


# -- regressions found by the fuzzer -------------------------------------------------------
@pytest.mark.timeout(60)
def test_deeply_nested_html_parses_in_linear_time(tmp_path: Path) -> None:
    """60,000 nested tags (a 700 KB page) took minutes: each tag scanned the open-tag stack."""
    path = tmp_path / "deep.html"
    depth = 60_000
    path.write_text(
        "<html><body><div hidden><p>secret</p></div>"
        + "<div><span>" * depth
        + "deep text"
        + "</span></div>" * depth
        + "<p>after</p>"
    )
    started = time.monotonic()
    result = parse_html(path)
    assert time.monotonic() - started < 10
    assert [b.text for b in result.blocks] == ["deep text", "after"]
    assert any("dropped 6 character(s) of hidden text" in w for w in result.warnings)


@pytest.mark.timeout(60)
def test_csv_with_carriage_return_line_ends_is_read(tmp_path: Path) -> None:
    """Old Mac line ends (CR only) were refused with csv's "universal-newline mode" hint."""
    path = tmp_path / "mac.csv"
    path.write_bytes(CSV.replace("\n", "\r").encode())
    rows = [b.fields for b in parse_file(path, "csv").blocks]
    assert rows == [
        {"Labor Category": "Program Manager", "Code": "PM-1", "Rate": "185.00"},
        {"Labor Category": "Systems Engineer", "Code": "SE-2", "Rate": "142.50"},
    ]
