"""Structure-following chunking of a document's blocks.

Consecutive paragraphs and list items of one section are merged up to a token budget
(counted with the embedding model's tokenizer), with a small overlap between the chunks
of a long section; a block longer than the budget is split at sentences, then words.
Every table row is a chunk of its own. Instruction/response pairs are skipped: they are
training data written from the sources, and a citation must point at the source. Headings are
not chunks: the document title and the heading path are prefixed to the chunk's
full-text ``content``, the nearest heading to the text that is embedded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice

from core.ingest.model import Block, DocumentRecord

TokenCounter = Callable[[str], int]
SECTION_SEPARATOR = " > "
_SENTENCE_END = re.compile(r"[.!?;:](?=\s)")
# A token is rarely longer than this many characters: the longest text ever handed to the
# token counter at once is the budget times this.
CHARS_PER_TOKEN = 8


def word_count(text: str) -> int:
    """A rough token counter (whitespace words), for tests and for estimates."""
    return len(text.split())


@dataclass(frozen=True)
class ChunkingOptions:
    max_tokens: int = 200
    overlap_tokens: int = 30

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ValueError("chunks need at least 16 tokens")
        if not 0 <= self.overlap_tokens < self.max_tokens // 2:
            raise ValueError("the overlap must be under half the chunk size")


@dataclass(frozen=True)
class Chunk:
    """One retrievable passage, with where it came from."""

    doc_id: str
    version: int
    ordinal: int
    text: str
    section: tuple[str, ...]
    page: int | None
    block_start: int
    block_end: int  # inclusive
    block_kind: str  # "text" | "table_row" | "pair"
    kind: str = "other"
    title: str = ""
    tags: tuple[str, ...] = ()
    imported: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def chunk_id(self) -> str:
        return f"{self.doc_id}:{self.version}:{self.ordinal}"

    @property
    def content(self) -> str:
        """What is full-text indexed: title and section path, then the text."""
        heading = SECTION_SEPARATOR.join(part for part in (self.title, *self.section) if part)
        return f"{heading}\n{self.text}" if heading else self.text

    @property
    def embedding_text(self) -> str:
        """What is embedded: the nearest heading, then the text.

        A small embedding model averages over every token, so the document title and a
        long heading path would drown a short passage (a table row, a one-line fact);
        the full path stays in ``content`` for BM25, where extra terms cost nothing.
        """
        heading = self.section[-1] if self.section else ""
        return f"{heading}\n{self.text}" if heading and heading != self.text else self.text


@dataclass
class _Piece:
    text: str
    section: tuple[str, ...]
    page: int | None
    start: int
    end: int
    block_kind: str = "text"
    fields: dict[str, str] = field(default_factory=dict)


def _windows(text: str, size: int, start: int = 0, end: int | None = None) -> Iterator[str]:
    """``text[start:end]`` cut into pieces of at most ``size`` characters, at a space where
    one is near the end of the window, else anywhere (a line with no spaces at all);
    lazily, without copying the span whole."""
    end = len(text) if end is None else end
    while start < end:
        stop = min(start + size, end)
        if stop < end:
            space = text.rfind(" ", start + size // 2, stop)
            stop = space if space > start else stop
        piece = text[start:stop].strip()
        if piece:
            yield piece
        start = stop


def _units(text: str, budget: int, count: TokenCounter) -> Iterator[tuple[str, int]]:
    """Sentences (or, for an over-long one, windows of it) of at most ``budget`` tokens,
    each with its count. Each piece is counted once, and no count ever sees more than
    ``budget * CHARS_PER_TOKEN`` characters: linear time and bounded memory however long
    the text (a 50 MB file on one line)."""
    window = budget * CHARS_PER_TOKEN
    for start, end in _sentences(text):
        for piece in _windows(text, window, start, end):
            yield from _fitted(piece, budget, count)


def _sentences(text: str) -> Iterator[tuple[int, int]]:
    """Spans of ``text`` that end at a sentence end (a stop, colon or semicolon before a
    space), the last one at the end of the text. A search for the next end, not a pattern
    that matches whole sentences: on a 50 MB line with none, that pattern took seconds
    before the first span."""
    start = 0
    while start < len(text):
        found = _SENTENCE_END.search(text, start)
        end = found.end() if found else len(text)
        yield start, end
        start = end


def _fitted(piece: str, budget: int, count: TokenCounter) -> Iterator[tuple[str, int]]:
    """``piece`` with its count, halved until each part fits (denser than
    CHARS_PER_TOKEN allows for)."""
    tokens = count(piece)
    if tokens <= budget or len(piece) < 2:
        yield piece, tokens
        return
    for half in _windows(piece, max(1, len(piece) // 2)):
        yield from _fitted(half, budget, count)


def _split_long(text: str, budget: int, count: TokenCounter) -> Iterator[str]:
    """Split one over-long text at sentence ends, then at words, into ≤ budget pieces
    (lazily: a caller that has enough stops the work)."""
    current: list[str] = []
    used = chars = 0
    for unit, tokens in _units(text, budget, count):
        # characters are capped too: a run with no spaces is one "unknown" token however
        # long, and would otherwise make a chunk of hundreds of kilobytes
        if current and (used + tokens > budget or chars + len(unit) > budget * CHARS_PER_TOKEN):
            yield " ".join(current)
            current, used, chars = [], 0, 0
        current.append(unit)
        used += tokens
        chars += len(unit) + 1
    if current:
        yield " ".join(current)


def _tail(text: str, budget: int, count: TokenCounter) -> str:
    """The last words of ``text`` that fit in ``budget`` tokens (the overlap)."""
    if budget <= 0:
        return ""
    window = budget * CHARS_PER_TOKEN
    words = text[-window:].split()
    if len(text) > window and not text[-window - 1].isspace():
        words = words[1:]  # the window began inside a word
    if count(" ".join(words)) <= budget:
        return " ".join(words)
    low, high = 1, len(words)  # the fewest words to drop: words[high:] fits, words[low-1:] not
    while low < high:  # binary search: as long an overlap as fits, in log(n) counts
        middle = (low + high) // 2
        if count(" ".join(words[middle:])) <= budget:
            high = middle
        else:
            low = middle + 1
    return " ".join(words[high:])


def _ready(buffer: _Piece | None) -> list[_Piece]:
    return [buffer] if buffer is not None and buffer.text.strip() else []


def _text_pieces(
    blocks: Sequence[Block], options: ChunkingOptions, count: TokenCounter
) -> Iterator[_Piece]:
    """The passages in reading order, lazily: a caller that has enough stops the work."""
    buffer: _Piece | None = None
    for index, block in enumerate(blocks):
        # headings end a passage; pairs are training data (prompt → response), not a
        # source to cite; a table row is a passage of its own
        if block.kind in ("heading", "pair", "table_row"):
            yield from _ready(buffer)
            buffer = None
            if block.kind == "table_row":
                yield _Piece(block.text, block.section, block.page, index, index,
                             block.kind, dict(block.fields))
            continue
        short = (len(block.text) <= options.max_tokens * CHARS_PER_TOKEN
                 and count(block.text) <= options.max_tokens)
        parts = ([block.text] if short
                 else _split_long(block.text, options.max_tokens - options.overlap_tokens, count))
        for part in parts:
            if buffer is not None and buffer.section != block.section:
                yield from _ready(buffer)
                buffer = None
            if buffer is None:
                buffer = _Piece(part, block.section, block.page, index, index)
                continue
            joined = f"{buffer.text}\n{part}"
            if (len(joined) <= options.max_tokens * CHARS_PER_TOKEN
                    and count(joined) <= options.max_tokens):
                buffer.text, buffer.end = joined, index
                continue
            overlap = _tail(buffer.text, options.overlap_tokens, count)
            yield from _ready(buffer)
            start_text = f"{overlap} {part}".strip() if overlap else part
            if count(start_text) > options.max_tokens:
                start_text = part
            buffer = _Piece(start_text, block.section, block.page, index, index)
    yield from _ready(buffer)


def chunk_blocks(
    blocks: Sequence[Block], *, doc_id: str, version: int,
    options: ChunkingOptions | None = None, count_tokens: TokenCounter = word_count,
    kind: str = "other", title: str = "", tags: Sequence[str] = (), imported: str = "",
    limit: int | None = None,
) -> list[Chunk]:
    """Chunks of one document version's blocks, in reading order (the first ``limit``)."""
    options = options or ChunkingOptions()
    pieces = islice(_text_pieces(blocks, options, count_tokens), limit)
    return [
        Chunk(doc_id=doc_id, version=version, ordinal=ordinal, text=piece.text,
              section=tuple(piece.section), page=piece.page, block_start=piece.start,
              block_end=piece.end, block_kind=piece.block_kind, kind=kind, title=title,
              tags=tuple(tags), imported=imported, fields=piece.fields)
        for ordinal, piece in enumerate(pieces)
    ]


def chunk_document(
    record: DocumentRecord, blocks: Sequence[Block], *, options: ChunkingOptions | None = None,
    count_tokens: TokenCounter = word_count, limit: int | None = None,
) -> list[Chunk]:
    """Chunks of the latest version of ``record`` (its ``blocks``), with its metadata."""
    latest = record.latest
    return chunk_blocks(
        blocks, doc_id=record.id, version=latest.version, options=options,
        count_tokens=count_tokens, kind=record.kind, title=record.title, tags=record.tags,
        imported=latest.imported, limit=limit,
    )
