"""Benchmark: document import throughput against parsing in one process.

Generates a ~500-page corpus (PDFs with a text layer, DOCX files, Markdown/text) in a
temp folder and imports it into fresh workspaces through ``import_paths`` (isolated
parser workers, cleaning, near-duplicate signatures, atomic stores), on one CPU with one
worker and on all CPUs (up to 4) with one worker each. On each, twice, as a user would:

- first import: no parser host runs yet (each run has its own), so this import starts
  it and its workers, and pays their start-up;
- next import: into another fresh workspace, with the workers the first one left warm in
  the host (``core.ingest.host``). Issue 18's targets are on this one.

Each baseline and each import is timed ``--repeat`` times (default 3), the best kept.
Two baselines, measured in the same run on one CPU:

- in-process parsing: the same parsing the workers run (``analyse_file``: parse, clean,
  structure, signature), here, one file after another, no isolation and no store. This is
  the baseline of issue 18's targets (>= 0.8x on one core, >= 1.5x on two);
- plain library parsing: the text the libraries give (PDFium for PDFs, as the import reads
  them, and python-docx), with none of that work. Plain pypdf, the PDF library the import
  used before, is timed too and printed.

    .venv/bin/python bench/bench_import.py [--pages 500] [--cores N ...] [--repeat 3] [--keep]
                                           [--json PATH]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from result_json import add_json_argument, figure, write_result  # noqa: E402

from core.ingest import host  # noqa: E402
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


def baseline_parse(path: Path, pdf_library: str = "pdfium") -> int:
    """Plain parsing in this process, no isolation or cleaning: characters extracted."""
    if path.suffix == ".pdf" and pdf_library == "pypdf":
        from pypdf import PdfReader

        return sum(len(page.extract_text() or "") for page in PdfReader(path).pages)
    if path.suffix == ".pdf":
        import pypdfium2

        document = pypdfium2.PdfDocument(path)
        chars = sum(len(page.get_textpage().get_text_bounded()) for page in document)
        document.close()
        return chars
    if path.suffix == ".docx":
        import docx

        document = docx.Document(str(path))
        chars = sum(len(p.text) for p in document.paragraphs)
        for table in document.tables:
            chars += sum(len(cell.text) for row in table.rows for cell in row.cells)
        return chars
    return len(path.read_text(encoding="utf-8"))


def analyse_in_process(files: dict[Path, int]) -> int:
    """The import's own parsing (parse, clean, structure, signature: what each isolated
    worker runs) done here, one file after another: characters extracted."""
    from core.ingest.limits import IngestLimits
    from core.ingest.parsers import analyse_file
    from core.ingest.sniff import sniff

    limits = IngestLimits()
    return sum(sum(len(b.text) for b in analyse_file(p, sniff(p).format, limits).blocks)
               for p in files)


def pin(cores: int) -> int:
    """Run this process (and the parsers it starts) on its first ``cores`` CPUs; returns
    how many it got."""
    if not hasattr(os, "sched_setaffinity"):
        return os.cpu_count() or 1
    available = sorted(ALL_CPUS)
    os.sched_setaffinity(0, available[: max(1, cores)])
    return len(os.sched_getaffinity(0))


ALL_CPUS = set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set()
TARGETS = {1: 0.8, 2: 1.5}  # issue 18: throughput vs in-process parsing, by cores
COLD, WARM = "first import", "next import, workers warm"


def write_json(path: Path | None, corpus: dict[str, int], baselines: dict[str, float],
               runs: list[dict[str, Any]]) -> None:
    """The machine-readable result (``--json``): per run, against both baselines."""
    pages = corpus["pages"]
    figures = []
    for run in runs:
        suffix = f" ({run['cores']} core(s), {run['workers']} worker(s), {run['when']})"
        target = TARGETS.get(int(run["cores"])) if run["when"] == WARM else None
        figures += [
            figure("pages/s vs in-process parsing" + suffix, pages / run["seconds"],
                   pages / baselines["in_process"], "pages/s", "higher",
                   "baseline: the import's own parsing (clean, structure, signature) in "
                   "one process, no isolation", target=target),
            figure("pages/s vs plain library parsing" + suffix, pages / run["seconds"],
                   pages / baselines["libraries"], "pages/s", "higher",
                   "baseline: PDFium / python-docx text only (no cleaning, structure or "
                   "signature), one process"),
        ]
    raw = {"corpus": corpus, "baseline_seconds": baselines, "imports": runs}
    write_result(path, "import", "Document import throughput vs in-process parsing", figures,
                 raw=raw)


def timed(what: Callable[[], object], repeat: int = 1) -> float:
    """The best of ``repeat`` runs (the least disturbed by anything else on the machine)."""
    best = float("inf")
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        what()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--cores", type=int, action="append",
                        help="run the import on this many CPUs, as many parser workers "
                        "(repeatable; default: 1 and all of this machine's, up to 4)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="time each baseline and each import this many times and keep "
                        "the best (a first import each time with a host of its own)")
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
        import pypdfium2  # noqa: F401

        import core.ingest.parsers.pdf  # noqa: F401
        import core.ingest.parsers.word  # noqa: F401

        pin(1)
        baselines = {
            "libraries": timed(lambda: [baseline_parse(p) for p in pages], args.repeat),
            "pypdf": timed(lambda: [baseline_parse(p, "pypdf") for p in pages], args.repeat),
            "in_process": timed(lambda: analyse_in_process(pages), args.repeat),
        }
        for name, seconds in baselines.items():
            print(f"baseline {name.replace('_', '-')}: {seconds:.2f} s, "
                  f"{total_pages / seconds:.1f} pages/s, {size / 1e6 / seconds:.2f} MB/s")

        warm = root / "warm-up"  # the importing process's own first-use costs, as above
        warm.mkdir()
        (warm / "note.txt").write_text("A short note to warm up the import.\n")
        os.environ[host.RUNTIME_ENV] = str(root / "rtw")
        import_paths(Workspace.create(root / "ws-warm-up", "bench"), [warm], workers=1)

        runs: list[dict[str, Any]] = []
        default = default_workers()
        host.stop_hosts(root / "rtw")  # (the warm-up's host: its workers use every CPU)
        for number, cores in enumerate(args.cores or sorted({1, min(len(ALL_CPUS) or 1, 4)})):
            got = pin(cores)
            workers = min(got, default) if got > 1 else 1
            seconds: dict[str, list[float]] = {COLD: [], WARM: []}
            reimport_s = 0.0
            for attempt in range(max(1, args.repeat)):
                # A host of its own each time: started here, its workers keep these CPUs.
                runtime = root / f"rt{number}-{attempt}"
                os.environ[host.RUNTIME_ENV] = str(runtime)
                for when in (COLD, WARM):
                    workspace = Workspace.create(root / f"ws-{number}-{attempt}-{when[0]}",
                                                 "bench")
                    started = time.perf_counter()
                    first = import_paths(workspace, [corpus], workers=workers)
                    seconds[when].append(time.perf_counter() - started)
                    assert first.ok, [r.message for r in first.failed]
                report = import_paths(workspace, [corpus], workers=workers)  # all known now
                assert all(r.status == "already-imported" for r in report.files), \
                    report.summary()
                reimport_s = report.elapsed_s
                host.stop_hosts(runtime)
            for when, times in seconds.items():
                import_s = min(times)
                target = f" (target x{TARGETS[got]:.1f})" if when == WARM and got in TARGETS else ""
                print(f"import_paths on {got} core(s), {workers} worker(s), {when}: "
                      f"{import_s:.2f} s (best of {len(times)}; "
                      f"{', '.join(f'{t:.2f}' for t in times)}), "
                      f"{total_pages / import_s:.1f} pages/s; "
                      f"x{baselines['in_process'] / import_s:.2f} in-process parsing{target}, "
                      f"x{baselines['libraries'] / import_s:.2f} plain library parsing; "
                      f"re-import {reimport_s:.2f} s")
                runs.append({"cores": got, "workers": workers, "when": when,
                             "seconds": import_s, "all_seconds": times,
                             "reimport_seconds": reimport_s})
        pin(len(ALL_CPUS))
        corpus_facts = {"files": len(pages), "pages": total_pages, "bytes": size}
        write_json(args.json, corpus_facts, baselines, runs)
    finally:
        for folder in root.glob("rt*"):
            host.stop_hosts(folder)
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
