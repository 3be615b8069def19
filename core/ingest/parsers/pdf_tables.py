"""Tables on a PDF page, from where PDFium places its runs of text.

A PDF has no tables, only text placed on the page. A row of a table is a line whose text
sits in separate runs with wide gaps between them; a table is at least ``MIN_ROWS`` such
rows one under the other, each with the same number of cells, the cells of a column aligned
(by their left or right edge, or their centre) and short, as cells are (prose set in two
columns has long ones). A line under a row whose runs sit inside the columns carries on
that row's cells (a wrapped description). Whether the first row is a header is for
``header_and_rows`` to say. Only the boxes of the runs are read for every page; their text
is read for the lines that may be a table.
"""

from __future__ import annotations

import functools
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
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
    """The boxes of the page's runs of text, as PDFium's text rectangles give them."""
    return [Run(*textpage.get_rect(index)) for index in range(textpage.count_rects())]


def run_text(textpage: Any) -> Callable[[Run], str]:
    """A run's text (each run read once)."""
    @functools.cache
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


def _continues(columns: list[Run], line: list[Run]) -> bool:
    """Whether ``line`` is a new row under ``columns`` (the cells of the last row's first
    line): as many cells, each in its column."""
    return len(line) == len(columns) and all(
        _aligned(cell, column) for cell, column in zip(line, columns, strict=True))


def _wrapped(columns: list[Run], above: list[Run], line: list[Run]) -> list[int] | None:
    """The columns of ``line``'s cells when it carries on the row above (its cells wrapped
    onto a second line): fewer cells, right under the line above, each starting in a column
    and ending before the next one begins (a line of prose crosses them)."""
    if len(line) >= len(columns):
        return None
    height = max(r.top - r.bottom for r in above)
    if min(r.bottom for r in above) - max(r.top for r in line) > height:
        return None
    found = []
    for cell in line:
        index = next((i for i, column in enumerate(columns)
                      if column.left - ALIGN_PT <= cell.left
                      and (i + 1 == len(columns) or cell.right < columns[i + 1].left)), None)
        if index is None or (found and index <= found[-1]):
            return None
        found.append(index)
    return found


@dataclass
class Table:
    """A table found on a page: its rows of cell texts (the first may be a header) and the
    text of each line it covers, top to bottom, as the page's text has them."""

    rows: list[list[str]]
    lines: list[str]
    first_row_lines: int = 1  # the lines the first row (a header, often) spans


@dataclass
class _Rows:
    """A table being read: per row, per column, the runs of text in it."""

    columns: list[Run] = field(default_factory=list)
    cells: list[list[list[Run]]] = field(default_factory=list)
    lines: list[list[Run]] = field(default_factory=list)
    row_of_line: list[int] = field(default_factory=list)

    def start_row(self, line: list[Run]) -> None:
        self.columns = line
        self.cells.append([[cell] for cell in line])
        self.lines.append(line)
        self.row_of_line.append(len(self.cells) - 1)

    def carry_on(self, line: list[Run], columns: list[int]) -> None:
        for cell, index in zip(line, columns, strict=True):
            self.cells[-1][index].append(cell)
        self.lines.append(line)
        self.row_of_line.append(len(self.cells) - 1)


def _join_cell(parts: list[str]) -> str:
    """A cell's lines as one text. A line ending in a hyphen was broken where the word
    had one (word processors do not hyphenate in tables): "infrastructure-" "as-code"."""
    text = ""
    for part in parts:
        glue = "" if not text or (text.endswith("-") and text[-2:-1].isalnum()) else " "
        text += glue + part
    return text


def find_tables(lines: list[list[Run]], read: Callable[[Run], str]) -> list[Table]:
    """The tables on a page (lines from ``lines_of``); ``read`` gives a run's text."""
    tables: list[Table] = []
    current = _Rows()

    def close() -> None:
        if len(current.cells) < MIN_ROWS:
            return
        rows = [[_join_cell([read(run) for run in cell]) for cell in row]
                for row in current.cells]
        if any(_MARKER.match(row[0]) for row in rows):
            return  # a list with its bullets or numbers apart
        if statistics.median(len(cell.split()) for row in rows for cell in row) \
                <= MAX_CELL_WORDS:
            tables.append(Table(rows, [" ".join(read(c) for c in line)
                                       for line in current.lines],
                                current.row_of_line.count(0)))

    for line in lines:
        if current.cells and (wrapped := _wrapped(current.columns, current.lines[-1], line)):
            current.carry_on(line, wrapped)
            continue
        if len(line) >= 2 and (not current.cells or _continues(current.columns, line)):
            current.start_row(line)
            continue
        close()
        current = _Rows()
        if len(line) >= 2:
            current.start_row(line)
    close()
    return tables


_DATA = re.compile(r"\d.*\d|[$%€£]\s*\d|\d\s*%")  # two digits, an amount or a share


def header_and_rows(table: list[list[str]], carried: list[str] | None = None
                    ) -> tuple[list[str], list[list[str]]]:
    """The column names and the rows of a table found on a page. A first line that holds
    data (an amount, a date, a code) is no header: the table goes on from the page before
    when that one's had as many columns (``carried``); else a two-column table of them is a
    list of labels and values (a cover page's "Solicitation No.  W91-26-R-0042"), each row
    its own field, and a wider one gets numbered columns. So is a two-column table whose
    labels end in a colon."""
    first = table[0]
    labelled = len(first) == 2 and all(row[0].endswith(":") for row in table)
    if labelled or any(_DATA.search(cell) for cell in first):
        if carried and len(carried) == len(first) and not labelled:
            return carried, table
        if len(first) == 2:
            return [], table
        return [f"column {n}" for n in range(1, len(first) + 1)], table
    return first, table[1:]
