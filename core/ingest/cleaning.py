"""Text cleaning: Unicode and whitespace normalisation, invisible characters, page furniture.

``clean_blocks`` runs on every parsed document; ``strip_page_furniture`` runs on the
lines of each PDF page before they become blocks.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from core.ingest.model import Block

# Zero-width characters, bidi embeddings/overrides/isolates and marks, and the BOM.
INVISIBLE = re.compile(
    "[\u200b\u200c\u200d\u2060\ufeff\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u180e]"
)
_SOFT_HYPHEN = "\u00ad"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A run of spaces becomes one plain space. Only runs that would change are matched (two or
# more, or one that is not a plain space), so ordinary text costs a scan, not a
# substitution per word.
_SPACES = re.compile(
    r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]{2,}|[\t\u00a0\u2000-\u200a\u202f\u205f\u3000]"
)
_PAGE_NUMBER = re.compile(
    r"^(?:page\s+\d+(?:\s*(?:of|/)\s*\d+)?|\d+\s*(?:of|/)\s*\d+|[-–—]\s*\d+\s*[-–—]|\d{1,4}"
    r"|[ivxlc]{1,6})$",
    re.IGNORECASE,
)
# Outside PDFs only the unmistakable forms count ("Page 3 of 12", "- 3 -"), not bare digits.
_PAGE_LABEL = re.compile(
    r"^(?:page\s+\d+(?:\s*(?:of|/)\s*\d+)?|[-–—]\s*\d+\s*[-–—])$", re.IGNORECASE
)
_DIGITS = re.compile(r"\d+")
_EDGE_LINES = 2


def _collapse_spaces(line: str) -> str:
    """Runs of spaces to one plain space, and the ends stripped."""
    if line.isascii() and "  " not in line and "\t" not in line:
        return line.strip()  # the common case: nothing to collapse
    return _SPACES.sub(" ", line).strip()


def normalise_text(text: str, *, keep_newlines: bool = False) -> tuple[str, int]:
    """NFKC, invisible characters removed, whitespace collapsed; returns (text, removed)."""
    removed = 0
    if not text.isascii():  # ASCII text has no invisible characters and is NFKC already
        removed = len(INVISIBLE.findall(text))
        if removed:
            text = INVISIBLE.sub("", text)
        text = unicodedata.normalize("NFKC", text.replace(_SOFT_HYPHEN, ""))
    if _CONTROL.search(text):
        text = _CONTROL.sub(" ", text)
    if keep_newlines:
        lines = [_collapse_spaces(line) for line in text.split("\n")]
        text = "\n".join(lines).strip()
        if "\n\n\n" in text:
            text = re.sub(r"\n{3,}", "\n\n", text)
    else:
        text = " ".join(text.split())
    return text, removed


def clean_blocks(blocks: list[Block]) -> tuple[list[Block], list[str]]:
    """Normalise every block's text and fields; drop empty blocks and page-number lines;
    warn about invisible characters."""
    cleaned: list[Block] = []
    invisible = page_labels = 0
    for block in blocks:
        text, removed = normalise_text(
            block.text, keep_newlines=block.kind in ("paragraph", "pair")
        )
        invisible += removed
        fields = {}
        for key, value in block.fields.items():
            key, removed_key = normalise_text(key)
            value, removed_value = normalise_text(value, keep_newlines=block.kind == "pair")
            invisible += removed_key + removed_value
            fields[key] = value
        section = tuple(normalise_text(s)[0] for s in block.section)
        if block.kind == "paragraph" and _PAGE_LABEL.match(text):
            page_labels += 1
        elif text == block.text and fields == block.fields and section == block.section:
            cleaned.append(block)  # already clean (blocks are immutable: share it)
        elif text:
            cleaned.append(
                block.model_copy(update={"text": text, "fields": fields, "section": section})
            )
    warnings = []
    if page_labels:
        warnings.append(f"Removed {page_labels} page-number line(s).")
    if invisible:
        warnings.append(
            f"Removed {invisible} invisible character(s) (zero-width or "
            "bidirectional controls) that could hide or reorder text."
        )
    return cleaned, warnings


def is_page_number(line: str) -> bool:
    return bool(_PAGE_NUMBER.match(line.strip()))


def strip_page_furniture(pages: list[list[str]]) -> tuple[list[list[str]], int]:
    """Remove running headers/footers and bare page numbers from the lines of each page.

    A header or footer is a line near the top or bottom of a page that repeats (digits
    ignored, so "Page 3" matches "Page 4") on at least half the pages, when there are
    three pages or more. A page whose every line would go keeps them (a document of
    identical pages is text, not furniture). Returns the pages and how many lines were
    removed.
    """

    def key(line: str) -> str:
        return _DIGITS.sub("#", " ".join(line.split()).lower())

    counts: Counter[str] = Counter()
    for lines in pages:
        edges = {key(x) for x in lines[:_EDGE_LINES] + lines[-_EDGE_LINES:] if x.strip()}
        counts.update(edges)
    with_text = sum(1 for lines in pages if any(x.strip() for x in lines))
    repeated = {k for k, n in counts.items() if with_text >= 3 and n >= max(2, with_text / 2)}
    removed = 0
    result = []
    for lines in pages:
        kept = []
        last = len(lines) - 1
        for index, line in enumerate(lines):
            at_edge = index < _EDGE_LINES or index > last - _EDGE_LINES
            if at_edge and line.strip() and (key(line) in repeated or is_page_number(line)):
                continue
            kept.append(line)
        if not any(x.strip() for x in kept):  # never a page's only text: it is the content
            kept = [x for x in lines if not is_page_number(x)]
        removed += sum(1 for x in lines if x.strip()) - sum(1 for x in kept if x.strip())
        result.append(kept)
    return result, removed
