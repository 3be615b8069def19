"""Benchmark: document import throughput against plain single-process parsing.

Generates a ~500-page corpus (PDFs with a text layer, DOCX files, Markdown/text) in a
temp folder, imports it into a fresh workspace through ``import_paths`` (isolated parser
processes, cleaning, near-duplicate signatures, atomic stores), and, as the baseline,
parses the same files directly in this process (pypdf / python-docx / reading text; no
isolation, no cleaning, no store). Prints pages/s, MB/s and the ratio.

    .venv/bin/python bench/bench_import.py [--pages 500] [--workers N] [--keep] [--json PATH]
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from result_json import add_json_argument, figure, write_result  # noqa: E402

from core.ingest.importer import default_workers, import_paths  # noqa: E402
from core.workspace import Workspace  # noqa: E402

WORDS = (
    "contractor shall provide engineering support services program office deliver "
    "monthly status reports agency requirements evaluation offeror proposal technical "
    "approach management staffing security transition quality assurance schedule risk "
    "labor category rate performance period option task order deliverable acceptance "
    "criteria compliance system integration testing training documentation"
).split()
LINES_PER_PAGE, WORDS_PER_PAGE = 46, 500


def sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 18))
    return " ".join(words).capitalize() + "."


def page_lines(rng: random.Random, number: int) -> list[str]:
    lines = [
        "Solicitation W91-26-R-0042 - Request for Proposal",
        f"{number}. Section {number} Overview",
    ]
    text = ""
    while len(lines) < LINES_PER_PAGE - 1:
        text += " " + sentence(rng)
        while len(text) > 90:
            cut = text.rfind(" ", 0, 90)
            lines.append(text[:cut].strip())
            text = text[cut:]
    lines.append(f"Page {number}")
    return lines


def make_pdf(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF with a Helvetica text layer (one list of lines per page)."""

    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    ids = [3 + 2 * i for i in range(len(pages))]
    font = 3 + 2 * len(pages)
    objects.append(
        f"<< /Type /Pages /Kids [{' '.join(f'{i} 0 R' for i in ids)}] "
        f"/Count {len(pages)} >>".encode()
    )
    for index, lines in enumerate(pages):
        stream = "\n".join(
            f"BT /F1 10 Tf 50 {770 - 16 * n} Td ({esc(line)}) Tj ET" for n, line in enumerate(lines)
        ).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents "
            f"{ids[index] + 1} 0 R /Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    out.write("".join(f"{o:010d} 00000 n \n" for o in offsets).encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def make_docx(path: Path, rng: random.Random, pages: int) -> None:
    import docx

    document = docx.Document()
    document.add_heading(f"Technical Volume {path.stem}", level=1)
    for number in range(1, pages + 1):
        document.add_heading(f"Section {number}", level=2)
        words = 0
        while words < WORDS_PER_PAGE - 60:
            text = " ".join(sentence(rng) for _ in range(4))
            document.add_paragraph(text)
            words += len(text.split())
        table = document.add_table(rows=4, cols=3)
        for row in table.rows:
            for cell in row.cells:
                cell.text = rng.choice(WORDS)
    document.save(str(path))


def make_corpus(folder: Path, total_pages: int, seed: int = 7) -> dict[Path, int]:
    """Files and their page counts: 60% of pages in PDFs, 20% DOCX, 20% text."""
    rng = random.Random(seed)
    pages: dict[Path, int] = {}
    pdf_pages, docx_pages = int(total_pages * 0.6), int(total_pages * 0.2)
    text_pages = total_pages - pdf_pages - docx_pages
    n = 0
    while pdf_pages > 0:
        count = min(pdf_pages, 10)
        path = folder / f"rfp-{n:03d}.pdf"
        path.write_bytes(make_pdf([page_lines(rng, p) for p in range(1, count + 1)]))
        pages[path], pdf_pages, n = count, pdf_pages - count, n + 1
    while docx_pages > 0:
        count = min(docx_pages, 5)
        path = folder / f"proposal-{n:03d}.docx"
        make_docx(path, rng, count)
        pages[path], docx_pages, n = count, docx_pages - count, n + 1
    while text_pages > 0:
        count = min(text_pages, 5)
        path = folder / f"notes-{n:03d}.{'md' if n % 2 else 'txt'}"
        body = []
        for p in range(1, count + 1):
            body.append(f"## {p}. Topic {p}\n" if path.suffix == ".md" else f"{p}. Topic {p}\n")
            body += [" ".join(sentence(rng) for _ in range(6)) + "\n" for _ in range(7)]
        path.write_text("\n".join(body))
        pages[path], text_pages, n = count, text_pages - count, n + 1
    return pages


def baseline_parse(path: Path) -> int:
    """Plain parsing in this process, no isolation or cleaning: characters extracted."""
    if path.suffix == ".pdf":
        from pypdf import PdfReader

        return sum(len(page.extract_text() or "") for page in PdfReader(path).pages)
    if path.suffix == ".docx":
        import docx

        document = docx.Document(str(path))
        chars = sum(len(p.text) for p in document.paragraphs)
        for table in document.tables:
            chars += sum(len(cell.text) for row in table.rows for cell in row.cells)
        return chars
    return len(path.read_text(encoding="utf-8"))


def write_json(path: Path | None, corpus: dict[str, int], base_s: float, chars: int,
               runs: list[dict[str, float]]) -> None:
    """The machine-readable result (``--json``): one set of figures per worker count."""
    pages, megabytes = corpus["pages"], corpus["bytes"] / 1e6
    figures = []
    for run in runs:
        suffix = f" (workers={run['workers']})"
        figures += [
            figure("throughput" + suffix, pages / run["seconds"], pages / base_s, "pages/s",
                   "higher", "baseline: plain single-process parsing"),
            figure("throughput MB/s" + suffix, megabytes / run["seconds"], megabytes / base_s,
                   "MB/s", "higher"),
            figure("wall time" + suffix, run["seconds"], base_s, "s", "lower"),
        ]
    raw = {"corpus": corpus, "baseline_seconds": base_s, "baseline_chars": chars,
           "imports": runs}
    write_result(path, "import", "Document import throughput vs plain parsing", figures,
                 raw=raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument(
        "--workers",
        type=int,
        action="append",
        help="parser processes (repeatable; default: the app's default)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    add_json_argument(parser)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        corpus = root / "corpus"
        corpus.mkdir()
        started = time.perf_counter()
        pages = make_corpus(corpus, args.pages)
        size = sum(p.stat().st_size for p in pages)
        total_pages = sum(pages.values())
        print(
            f"corpus: {len(pages)} files, {total_pages} pages, {size / 1e6:.1f} MB "
            f"(generated in {time.perf_counter() - started:.1f} s)"
        )

        import docx  # noqa: F401 - import cost is not parsing cost
        import pypdf  # noqa: F401

        started = time.perf_counter()
        chars = sum(baseline_parse(p) for p in pages)
        base_s = time.perf_counter() - started
        print(
            f"baseline (plain single-process parsing): {base_s:.2f} s, "
            f"{total_pages / base_s:.1f} pages/s, {size / 1e6 / base_s:.2f} MB/s, "
            f"{chars:,} chars"
        )

        runs: list[dict[str, float]] = []
        for workers in args.workers or [default_workers()]:
            workspace = Workspace.create(root / f"ws-{workers}", "bench")
            started = time.perf_counter()
            report = import_paths(workspace, [corpus], workers=workers)
            import_s = time.perf_counter() - started
            assert report.ok, [r.message for r in report.failed]
            stored = sum(r.characters for r in report.files)
            print(
                f"import_paths (workers={workers}): {import_s:.2f} s, "
                f"{total_pages / import_s:.1f} pages/s, {size / 1e6 / import_s:.2f} MB/s, "
                f"{stored:,} chars stored; {report.summary()}"
            )
            print(
                f"  ratio import/baseline time: {import_s / base_s:.2f}x "
                f"(throughput {base_s / import_s:.0%} of baseline)"
            )
            again = time.perf_counter()
            report = import_paths(workspace, [corpus], workers=workers)
            reimport_s = time.perf_counter() - again
            print(
                f"  re-import (all already imported): {reimport_s:.2f} s; "
                f"{report.summary()}"
            )
            runs.append({"workers": workers, "seconds": import_s, "reimport_seconds": reimport_s,
                         "chars_stored": stored})
        corpus_facts = {"files": len(pages), "pages": total_pages, "bytes": size}
        write_json(args.json, corpus_facts, base_s, chars, runs)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
