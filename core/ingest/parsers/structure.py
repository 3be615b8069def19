"""Shared text-structure rules: headings, list items, paragraphs and the section path.

Used by the plain-text, Markdown and PDF parsers, whose input is lines of text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.ingest.model import Block

_NUMBERED = re.compile(r"^(?P<num>\d{1,3}(?:\.\d{1,3})*)(?P<dot>\.?)\s+(?P<title>\S.*)$")
_SECTION_WORD = re.compile(
    r"^(?:section|part|chapter|article|appendix|attachment|annex)\s+"
    r"(?P<num>[0-9]{1,3}(?:\.[0-9]{1,3})*|[IVXLC]{1,6}|[A-Z])\b\s*[.:\-–—]?\s*(?P<title>.*)$",
    re.IGNORECASE,
)
BULLET = re.compile(r"^\s*(?:[-*+•‣◦▪●–]|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)])\s+(?P<text>\S.*)$")
_SENTENCE_END = (".", "!", "?", ":", ";", '"', "”", ")")


def _title_like(title: str, max_words: int = 12) -> bool:
    words = title.split()
    if not words or len(words) > max_words or title.rstrip().endswith((".", ",", ";")):
        return False
    if not title[0].isupper() and not title[0].isdigit():
        return False
    long_words = [w for w in words if len(w) > 3 and w[0].isalpha()]
    capitalised = sum(1 for w in long_words if w[0].isupper())
    return not long_words or capitalised / len(long_words) >= 0.6


def heading_level(line: str, *, allow_single_number: bool = True) -> int:
    """The heading level of ``line`` (0 when it is not a heading).

    ``3.1 Scope`` is level 2; ``3. Requirements`` is level 1 when single-number headings
    are allowed; ``SECTION C - STATEMENT OF WORK`` is level 1; a short ALL-CAPS line is 1.
    """
    line = line.strip()
    if not line or len(line) > 120:
        return 0
    match = _SECTION_WORD.match(line)
    if match and (not match["title"] or _title_like(match["title"]) or match["title"].isupper()):
        return match["num"].count(".") + 1
    match = _NUMBERED.match(line)
    if match:
        title, depth = match["title"], match["num"].count(".") + 1
        if depth == 1 and not (allow_single_number and match["dot"]):
            return 0
        if _title_like(title) or (title.isupper() and len(title.split()) <= 12):
            return depth
        return 0
    if len(line.split()) > 10 or line.endswith((".", ",", ";")):
        return 0  # the cheap tests first: most lines of body text fail them
    letters = [c for c in line if c.isalpha()]
    if (
        len(letters) >= 4
        and all(c.isupper() for c in letters)
        and sum(c.isdigit() for c in line) <= len(letters)  # not a table row ("TOTAL 10.0 18,800")
    ):
        return 1
    return 0


class SectionTracker:
    """The heading path above the current position."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(text for _, text in self._stack)

    def enter(self, level: int, text: str) -> tuple[str, ...]:
        """Record a heading; returns the path of its parents."""
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        parents = self.path
        self._stack.append((level, text))
        return parents


@dataclass
class BlockWriter:
    """Collects blocks in reading order with the current section and page."""

    sections: SectionTracker = field(default_factory=SectionTracker)
    blocks: list[Block] = field(default_factory=list)
    page: int | None = None

    def heading(self, text: str, level: int) -> None:
        text = " ".join(text.split())
        if text:
            parents = self.sections.enter(level, text)
            self.blocks.append(
                Block(kind="heading", text=text, section=parents, page=self.page, level=level)
            )

    def add(
        self, kind: str, text: str, *, level: int = 0, fields: dict[str, str] | None = None
    ) -> None:
        text = text.strip()
        if text:
            self.blocks.append(
                Block(
                    kind=kind,
                    text=text,
                    section=self.sections.path,  # type: ignore[arg-type]
                    page=self.page,
                    level=level,
                    fields=fields or {},
                )
            )

    def row(self, header: list[str], cells: list[str]) -> None:
        """A table row: ``fields`` column → value, text ``col: value; col: value``."""
        fields = row_fields(header, cells)
        text = "; ".join(f"{k}: {v}" for k, v in fields.items() if v)
        if text:
            self.add("table_row", text, fields=fields)


def unique_header(cells: list[str]) -> list[str]:
    """Column names, made non-empty and unique."""
    seen: dict[str, int] = {}
    names = []
    for index, cell in enumerate(cells, 1):
        name = " ".join(cell.split()) or f"column {index}"
        count = seen.get(name.lower(), 0)
        seen[name.lower()] = count + 1
        names.append(name if not count else f"{name} ({count + 1})")
    return names


def row_fields(header: list[str], cells: list[str]) -> dict[str, str]:
    fields = {}
    for index, cell in enumerate(cells):
        name = header[index] if index < len(header) else f"column {index + 1}"
        fields[name] = " ".join(cell.split())
    return fields


def join_line(buffer: str, line: str) -> str:
    """Join a wrapped line to a paragraph, undoing end-of-line hyphenation.

    A line that ends in a hyphen after a letter or digit continues on the next: before a
    lower-case letter the hyphen only broke the word ("engi-" "neering"); before a capital
    or a digit it is part of a name or code ("SSE-" "3", "W91-26-R-" "0042") and stays.
    """
    if not buffer:
        return line
    if buffer.endswith("-") and buffer[-2:-1].isalnum():
        if line[:1].islower():
            return buffer[:-1] + line
        if line[:1].isupper() or line[:1].isdigit():
            return buffer + line
    return f"{buffer} {line}"


def layout_lines_to_blocks(lines: list[str], writer: BlockWriter) -> None:
    """Lines from a laid-out page (no blank lines between paragraphs) to blocks.

    A paragraph ends at a short line that ends a sentence; headings and list items are
    recognised by their numbering or bullets.
    """
    lines = [" ".join(line.split()) for line in lines]
    lines = [line for line in lines if line]
    width = sorted(len(line) for line in lines)[int(len(lines) * 0.9)] if lines else 0
    paragraph, item = "", ""

    def flush() -> None:
        nonlocal paragraph, item
        writer.add("paragraph", paragraph)
        writer.add("list_item", item)
        paragraph, item = "", ""

    for line in lines:
        level = heading_level(line)
        bullet = BULLET.match(line)
        if level and not (paragraph and line[:1].islower()):
            flush()
            writer.heading(line, level)
            continue
        if bullet:
            flush()
            item = bullet["text"]
        elif item:
            item = join_line(item, line)
        else:
            paragraph = join_line(paragraph, line)
        short = len(line) < 0.75 * width
        if short and (item or line.endswith(_SENTENCE_END)):
            flush()
    flush()
