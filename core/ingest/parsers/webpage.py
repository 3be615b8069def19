"""HTML through the standard library's parser: headings, paragraphs, list items, tables.

Scripts and styles are ignored; hidden text (``display:none``, ``visibility:hidden``,
the ``hidden`` attribute) is dropped with a warning, since nobody reading the page saw it.
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

from core.ingest.parsers.result import ParseResult
from core.ingest.parsers.structure import BlockWriter, unique_header
from core.ingest.sniff import decode_text

_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "param",
    "source",
    "track",
    "wbr",
}
_SKIP = {"script", "style", "noscript", "template", "head", "svg", "math", "iframe", "object"}
_BLOCKS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "aside",
    "nav",
    "blockquote",
    "pre",
    "figure",
    "figcaption",
    "form",
    "fieldset",
    "address",
    "dd",
    "dt",
    "dl",
    "ul",
    "ol",
    "table",
    "caption",
    "body",
    "html",
    "center",
}
_HIDDEN_CLASSES = {"hidden", "d-none", "invisible", "sr-only", "visually-hidden"}
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d])", re.IGNORECASE
)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.writer = BlockWriter()
        self.stack: list[tuple[str, bool]] = []  # (tag, hides its content)
        # Counts over ``stack``, kept in step with it so that each tag costs O(1), not
        # O(depth): a page of many thousands of unclosed tags must not take quadratic time.
        self.open_tags: Counter[str] = Counter()
        self.hiding = 0  # entries that hide their content
        self.skipping = 0  # entries whose tag is in _SKIP
        self.text: list[str] = []
        self.kind = "paragraph"
        self.heading_level = 0
        self.hidden_chars = 0
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.header: list[str] | None = None
        self.title: list[str] = []  # the <title> text, kept apart from the page's

    @property
    def hidden(self) -> bool:
        return self.hiding > 0

    def _push(self, tag: str, hides: bool) -> None:
        self.stack.append((tag, hides))
        self.open_tags[tag] += 1
        self.hiding += hides
        self.skipping += tag in _SKIP

    def _pop(self) -> str:
        tag, hides = self.stack.pop()
        self.open_tags[tag] -= 1
        self.hiding -= hides
        self.skipping -= tag in _SKIP
        return tag

    def flush(self) -> None:
        text = " ".join("".join(self.text).split())
        self.text = []
        if not text:
            return
        if self.kind == "heading":
            self.writer.heading(text, self.heading_level)
        else:
            self.writer.add(self.kind, text)
        self.kind, self.heading_level = "paragraph", 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if tag == "br":
                self.handle_data("\n")
            return
        if tag == "body" and self.open_tags["head"]:  # an unclosed <head> ends at the body
            kept = [entry for entry in self.stack if entry[0] != "head"]
            while self.stack:
                self._pop()
            for entry in kept:
                self._push(*entry)
        values = dict(attrs)
        hides = (
            tag in _SKIP
            or "hidden" in values
            or bool(_HIDDEN_CLASSES & set((values.get("class") or "").lower().split()))
            or bool(_HIDDEN_STYLE.search(values.get("style") or ""))
            or (values.get("aria-hidden") == "true" and tag not in ("span", "i"))
        )
        if tag in ("p", "li") and self.stack and self.stack[-1][0] == tag:
            self.handle_endtag(tag)  # an unclosed <p> or <li> ends at the next one
        self._push(tag, hides)
        if self.hidden:
            return
        if re.fullmatch(r"h[1-6]", tag):
            self.flush()
            self.kind, self.heading_level = "heading", int(tag[1])
        elif tag == "li":
            self.flush()
            self.kind = "list_item"
        elif tag == "tr":
            self.flush()
            self._end_row()  # the previous row's </tr> is optional
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self._end_cell()  # so is </td>
            self.cell = []
        elif tag in _BLOCKS:
            self.flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID or not self.open_tags[tag]:
            return
        was_hidden = self.hidden
        while self.stack and self._pop() != tag:
            pass
        if was_hidden:
            return
        if tag in ("td", "th"):
            self._end_cell()
        elif tag == "tr":
            self._end_row()
        elif tag == "table":
            self._end_row()
            self.header = None
        elif re.fullmatch(r"h[1-6]", tag) or tag == "li" or tag in _BLOCKS:
            self.flush()

    def _end_cell(self) -> None:
        if self.row is not None and self.cell is not None:
            self.row.append(" ".join("".join(self.cell).split()))
        self.cell = None

    def _end_row(self) -> None:
        self._end_cell()
        if self.row is not None:
            if self.header is None:
                self.header = unique_header(self.row)
            elif any(self.row):
                self.writer.row(self.header, self.row)
        self.row = None

    def handle_data(self, data: str) -> None:
        if self.open_tags["title"] and not self.open_tags["svg"] and len(self.title) < 64:
            self.title.append(data)
        if self.hidden:
            if not self.skipping:
                self.hidden_chars += len(data.strip())
            return
        if self.cell is not None:
            self.cell.append(data)
        elif self.row is None:
            self.text.append(data)


def parse_html(path: Path) -> ParseResult:
    """Parse an HTML page into blocks."""
    path = Path(path)
    text, warnings = decode_text(path.read_bytes(), path.name)
    reader = _Reader()
    reader.feed(text)
    reader.close()
    reader.flush()
    if reader.hidden_chars:
        warnings.append(
            f"{path.name}: dropped {reader.hidden_chars} character(s) of hidden text "
            "(display:none, visibility:hidden or the hidden attribute)."
        )
    title = " ".join("".join(reader.title).split())[:300] or None
    return ParseResult(blocks=reader.writer.blocks, warnings=warnings, title=title)
