"""Reference tables (CSV, XLSX) and records (JSON Lines).

A CSV row, or a row of a workbook's sheet, becomes a ``table_row`` block with ``fields``
column → value; the header row is required (in a workbook, the first non-empty row of
each sheet; each sheet's rows sit under a heading with the sheet's name). A JSON Lines
record with instruction/response (or prompt/completion, question/answer, or chat
``messages``) becomes a ``pair`` block; any other object a row.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from core.ingest.errors import CorruptDocument, EmptyDocument, MissingHeader
from core.ingest.limits import IngestLimits
from core.ingest.parsers.result import ParseResult
from core.ingest.parsers.structure import BlockWriter, unique_header
from core.ingest.sniff import decode_text

PAIR_KEYS = (
    ("instruction", "response"),
    ("instruction", "output"),
    ("prompt", "completion"),
    ("prompt", "response"),
    ("question", "answer"),
    ("input", "output"),
)
_VALUE_LIKE = re.compile(r"^[\s$€£¥%+\-.,:/()\d]*$")
_MAX_FIELD = 10_000_000


def _header_problem(row: list[str]) -> str | None:
    cells = [c.strip() for c in row]
    if not cells or any(not c for c in cells):
        return "a column has no name"
    if len({c.lower() for c in cells}) != len(cells):
        return "two columns have the same name"
    if any(_VALUE_LIKE.match(c) for c in cells):
        return "it holds numbers, not column names"
    return None


def parse_csv(path: Path) -> ParseResult:
    """Parse a CSV/TSV reference table; its first row must name the columns."""
    path = Path(path)
    text, warnings = decode_text(path.read_bytes(), path.name)
    sample = text[:64_000]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    csv.field_size_limit(_MAX_FIELD)
    try:
        rows = [
            row
            for row in csv.reader(io.StringIO(text, newline=""), dialect)
            if any(c.strip() for c in row)
        ]
    except csv.Error as error:
        raise CorruptDocument(f"{path.name} is not a readable CSV table ({error}).") from error
    if not rows:
        raise EmptyDocument(f"{path.name} has no rows.")
    problem = _header_problem(rows[0])
    if problem:
        shown = ", ".join(rows[0][:4])
        raise MissingHeader(
            f"{path.name} has no header row ({problem}: {shown!r}); add a first row that "
            "names the columns."
        )
    header = unique_header(rows[0])
    writer = BlockWriter()
    ragged = 0
    for cells in rows[1:]:
        if len(cells) != len(header):
            ragged += 1
        writer.row(header, cells)
    if ragged:
        warnings.append(f"{path.name}: {ragged} row(s) do not have {len(header)} cells.")
    return ParseResult(blocks=writer.blocks, warnings=warnings)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def pair_fields(record: dict[str, Any]) -> dict[str, str] | None:
    """Normalised ``instruction``/``response`` (and ``input``) of a pair record, if it is one."""
    lowered = {str(k).lower(): v for k, v in record.items()}
    messages = lowered.get("messages")
    if isinstance(messages, list):
        user = next(
            (m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"),
            None,
        )
        reply = next(
            (
                m.get("content")
                for m in messages
                if isinstance(m, dict) and m.get("role") == "assistant"
            ),
            None,
        )
        if isinstance(user, str) and isinstance(reply, str):
            return {"instruction": user, "response": reply}
    for ask, answer in PAIR_KEYS:
        if ask in lowered and answer in lowered:
            fields = {"instruction": _as_text(lowered[ask]), "response": _as_text(lowered[answer])}
            if ask != "input" and lowered.get("input"):
                fields["input"] = _as_text(lowered["input"])
            return fields
    return None


def parse_jsonl(path: Path) -> ParseResult:
    """Parse JSON Lines; malformed lines are skipped with a warning."""
    path = Path(path)
    text, warnings = decode_text(path.read_bytes(), path.name)
    writer = BlockWriter()
    bad: list[int] = []
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    for number, line in lines:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            bad.append(number)
            continue
        if not isinstance(record, dict):
            bad.append(number)
            continue
        pair = pair_fields(record)
        if pair:
            body = pair["instruction"] + (f"\n\n{pair['input']}" if "input" in pair else "")
            writer.add("pair", f"{body}\n\n{pair['response']}", fields=pair)
        else:
            writer.row(
                unique_header([str(k) for k in record]), [_as_text(v) for v in record.values()]
            )
    if lines and len(bad) == len(lines):
        raise CorruptDocument(f"{path.name} is not JSON Lines: no line holds a JSON object.")
    if bad:
        shown = ", ".join(str(n) for n in bad[:10])
        warnings.append(
            f"{path.name}: skipped {len(bad)} line(s) that are not JSON objects "
            f"(line {shown}{'…' if len(bad) > 10 else ''})."
        )
    return ParseResult(blocks=writer.blocks, warnings=warnings)


def _cell_text(value: Any) -> str:
    """A cell's value as the table shows it: whole numbers without ``.0``, dates ISO."""
    import datetime as dt

    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.10g}"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def parse_xlsx(path: Path, max_rows: int = 1_000_000,
               limits: IngestLimits | None = None) -> ParseResult:
    """Parse an XLSX workbook's sheets as reference tables (values, not formulas).

    Like a DOCX, the ZIP is checked first (declared sizes, compression ratio, member
    count), so a zip bomb is refused before anything is decompressed."""
    from openpyxl import load_workbook

    from core.ingest.parsers.word import check_zip

    path = Path(path)
    check_zip(path, limits or IngestLimits())
    workbook = load_workbook(path, read_only=True, data_only=True)
    writer = BlockWriter()
    warnings: list[str] = []
    sheets = 0
    try:
        for sheet in workbook.worksheets:
            rows = ([_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True))
            rows = (row for row in rows if any(row))
            first = next(rows, None)
            if first is None:
                continue
            while first and not first[-1]:
                first.pop()  # trailing empty columns
            problem = _header_problem(first)
            if problem:
                warnings.append(f"{path.name}: sheet {sheet.title!r} skipped: no header row "
                                f"({problem}: {', '.join(first[:4])!r}).")
                continue
            header = unique_header(first)
            writer.heading(sheet.title, 1)
            count = 0
            for cells in rows:
                count += 1
                if count > max_rows:
                    warnings.append(f"{path.name}: sheet {sheet.title!r} has over {max_rows:,} "
                                    "rows; the rest were not imported.")
                    break
                writer.row(header, cells[: len(header)])
            sheets += 1
    finally:
        workbook.close()
    if not sheets:
        raise MissingHeader(f"{path.name} has no sheet with a header row; add a first row "
                            "that names the columns.")
    return ParseResult(blocks=writer.blocks, warnings=warnings)
