"""Plain text and Markdown: headings (``#`` and numbered), paragraphs, lists, tables."""

from __future__ import annotations

import re
from pathlib import Path

from core.ingest.parsers.result import ParseResult
from core.ingest.parsers.structure import (
    BULLET,
    BlockWriter,
    heading_level,
    join_line,
    unique_header,
)
from core.ingest.sniff import decode_text

_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^(=+|-+)\s*$")
_RULE = re.compile(r"^([-=_*~#+])(\s*\1){2,}\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")


def strip_inline(text: str) -> str:
    """Markdown inline markup to plain text: links, emphasis, code spans."""
    text = _LINK.sub(r"\1", text)
    for _ in range(2):
        text = _EMPHASIS.sub(r"\2", text)
    return text


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [strip_inline(cell.strip()) for cell in re.split(r"(?<!\\)\|", line)]


class _TextReader:
    def __init__(self, lines: list[str], markdown: bool) -> None:
        self.lines = lines
        self.markdown = markdown
        self.writer = BlockWriter()
        self.paragraph: list[str] = []
        self.item = ""
        self.item_indent = 0

    def clean(self, text: str) -> str:
        return strip_inline(text) if self.markdown else text

    def flush(self) -> None:
        if self.paragraph:
            text = ""
            for line in self.paragraph:
                text = join_line(text, line.strip())
            self.writer.add("paragraph", self.clean(text))
        if self.item:
            self.writer.add("list_item", self.clean(self.item))
        self.paragraph, self.item = [], ""

    def is_list_line(self, index: int) -> bool:
        return 0 <= index < len(self.lines) and bool(BULLET.match(self.lines[index]))

    def table_at(self, index: int) -> int:
        """Rows consumed by a Markdown table starting at ``index`` (0 when none)."""
        if index + 1 >= len(self.lines) or "|" not in self.lines[index]:
            return 0
        if not _TABLE_SEPARATOR.match(self.lines[index + 1]) or "|" not in self.lines[index + 1]:
            return 0
        header = unique_header(_cells(self.lines[index]))
        end = index + 2
        while end < len(self.lines) and "|" in self.lines[end] and self.lines[end].strip():
            self.writer.row(header, _cells(self.lines[end]))
            end += 1
        return end - index

    def run(self) -> None:
        index = 0
        lines = self.lines
        while index < len(lines):
            raw = lines[index]
            line = raw.strip()
            if not line:
                self.flush()
                index += 1
                continue
            if self.markdown and _FENCE.match(raw):
                self.flush()
                end = index + 1
                while end < len(lines) and not _FENCE.match(lines[end]):
                    end += 1
                self.writer.add("paragraph", "\n".join(lines[index + 1 : end]))
                index = end + 1
                continue
            atx = _ATX.match(line) if self.markdown else None
            if atx:
                self.flush()
                self.writer.heading(self.clean(atx[2]), len(atx[1]))
                index += 1
                continue
            if self.markdown and len(self.paragraph) == 1 and not self.item and _SETEXT.match(line):
                title = self.paragraph[0]
                self.paragraph = []
                self.writer.heading(self.clean(title.strip()), 1 if line[0] == "=" else 2)
                index += 1
                continue
            if _RULE.match(line):  # a horizontal rule or a separator line: no text
                self.flush()
                index += 1
                continue
            if self.markdown and (consumed := self.table_at(index)):
                self.flush()
                index += consumed
                continue
            if not self.paragraph and not self.item:
                single_ok = not self.is_list_line(index + 1) and not self.is_list_line(index - 1)
                level = heading_level(self.clean(line), allow_single_number=single_ok)
                if level and (not self.markdown or not line.isupper()):
                    self.writer.heading(self.clean(line), level)
                    index += 1
                    continue
            bullet = BULLET.match(raw)
            indent = len(raw) - len(raw.lstrip())
            if bullet:
                self.flush()
                self.item, self.item_indent = bullet["text"], indent
            elif self.item and (indent > self.item_indent or not self.paragraph):
                self.item = join_line(self.item, line)
            else:
                self.paragraph.append(line)
            index += 1
        self.flush()


def parse_text(path: Path, *, markdown: bool) -> ParseResult:
    """Parse a ``.txt`` or ``.md`` file into blocks."""
    text, warnings = decode_text(Path(path).read_bytes(), Path(path).name)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    reader = _TextReader(text.split("\n"), markdown)
    reader.run()
    return ParseResult(blocks=reader.writer.blocks, warnings=warnings)
