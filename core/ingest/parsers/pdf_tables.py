"""Tables on a PDF page, from where PDFium places its runs of text.

A PDF has no tables, only text placed on the page. A row of a table is a line whose text
sits in separate runs with wide gaps between them; a table is at least ``MIN_ROWS`` such
lines in a row, each with the same number of cells, the cells of a column aligned (by
their left or right edge, or their centre) and short, as cells are (prose set in two
columns has long ones). The first line is the header. A row whose cell wraps onto a second
line breaks the pattern: such a table stays text, as before.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MIN_ROWS = 3  # a header and two rows
MIN_GAP_PT = 6.0  # between cells, at least this and ``GAP_LINE_SHARE`` of the line height
GAP_LINE_SHARE = 0.8
ALIGN_PT = 8.0  # a column's cells line up within this
MAX_CELL_WORDS = 5  # the median cell of a table is at most this many words
# a list's bullet or number, set apart from its item: a list, not a table's first column
_MARKER = re.compile(r"^(?:[•●○◦▪■□‣∙·*–—-]|\(?[0-9]{1,3}[.)]|\(?[a-zA-Z][.)])$")


@dataclass(frozen=True)
class Run:
    """A run of text PDFium placed as one piece: its box (PDF points)."""

    left: float
    bottom: float
    right: float
    top: float


def page_runs(textpage: Any) -> list[Run]:
    """The boxes of the page's runs of text, as PDFium's text rectangles give them (their
    text is read only for the lines that may be a table: the common page costs no more)."""
    return [Run(*textpage.get_rect(index)) for index in range(textpage.count_rects())]


def run_text(textpage: Any) -> Callable[[Run], str]:
    def read(run: Run) -> str:
        return " ".join(textpage.get_text_bounded(run.left, run.bottom, run.right,
                                                  run.top).split())
    return read


def _same_line(a: Run, b: Run) -> bool:
    overlap = min(a.top, b.top) - max(a.bottom, b.bottom)
    return overlap > 0.5 * min(a.top - a.bottom, b.top - b.bottom)


def lines_of(runs: list[Run]) -> list[list[Run]]:
    """Runs grouped into lines (top of the page first), each line's cells left to right:
    runs closer than a cell gap (a bold word, a change of font) are one cell."""
    lines: list[list[Run]] = []
    for run in sorted(runs, key=lambda r: -r.top):
        if lines and _same_line(lines[-1][0], run):
            lines[-1].append(run)
        else:
            lines.append([run])
    return [_cells(sorted(line, key=lambda r: r.left)) for line in lines]


def _cells(line: list[Run]) -> list[Run]:
    height = max(r.top - r.bottom for r in line)
    gap = max(MIN_GAP_PT, GAP_LINE_SHARE * height)
    cells = [line[0]]
    for run in line[1:]:
        last = cells[-1]
        if run.left - last.right < gap:
            cells[-1] = Run(last.left, min(last.bottom, run.bottom), max(last.right, run.right),
                            max(last.top, run.top))
        else:
            cells.append(run)
    return cells


def _aligned(a: Run, b: Run) -> bool:
    return (abs(a.left - b.left) <= ALIGN_PT or abs(a.right - b.right) <= ALIGN_PT
            or abs((a.left + a.right) - (b.left + b.right)) / 2 <= ALIGN_PT)


def _continues(table: list[list[Run]], line: list[Run]) -> bool:
    """Whether ``line`` is one more row of ``table``: as many cells, each in the column of
    the row above."""
    return len(line) == len(table[-1]) and all(
        _aligned(cell, above) for cell, above in zip(line, table[-1], strict=True))


def find_tables(lines: list[list[Run]], read: Callable[[Run], str]
                ) -> list[list[list[str]]]:
    """Each table on the page as its rows of cell texts, the header first; ``read`` gives
    a cell's text."""
    tables: list[list[list[str]]] = []
    current: list[list[Run]] = []

    def close() -> None:
        if len(current) < MIN_ROWS:
            return
        rows = [[read(cell) for cell in row] for row in current]
        if any(_MARKER.match(row[0]) for row in rows):
            return  # a list with its bullets or numbers apart
        if statistics.median(len(cell.split()) for row in rows for cell in row) \
                <= MAX_CELL_WORDS:
            tables.append(rows)

    for line in lines:
        if len(line) >= 2 and (not current or _continues(current, line)):
            current.append(line)
            continue
        close()
        current = [line] if len(line) >= 2 else []
    close()
    return tables


_DATA = re.compile(r"\d.*\d|[$%€£]\s*\d|\d\s*%")  # two digits, an amount or a share


def header_and_rows(table: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """The column names and the rows of a table found on a page. A first line that holds
    data (an amount, a date, a code) is no header: a two-column table of them is a list of
    labels and values (a cover page's "Solicitation No.  W91-26-R-0042"), each row its own
    field; a wider one gets numbered columns. So is a two-column table whose labels end in
    a colon."""
    first = table[0]
    labelled = len(first) == 2 and all(row[0].endswith(":") for row in table)
    if labelled or any(_DATA.search(cell) for cell in first):
        if len(first) == 2:
            return [], table
        return [f"column {n}" for n in range(1, len(first) + 1)], table
    return first, table[1:]
