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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core.ingest.model import Block, DocumentRecord

TokenCounter = Callable[[str], int]
SECTION_SEPARATOR = " > "
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


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


def _split_long(text: str, budget: int, count: TokenCounter) -> list[str]:
    """Split one over-long text at sentence ends, then at words, into ≤ budget pieces."""
    units: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        if count(sentence) <= budget:
            units.append(sentence)
            continue
        words, current = sentence.split(), []
        for word in words:
            if current and count(" ".join([*current, word])) > budget:
                units.append(" ".join(current))
                current = []
            current.append(word)
        if current:
            units.append(" ".join(current))
    pieces, current_text = [], ""
    for unit in units:
        joined = f"{current_text} {unit}".strip()
        if current_text and count(joined) > budget:
            pieces.append(current_text)
            current_text = unit
        else:
            current_text = joined
    if current_text:
        pieces.append(current_text)
    return pieces


def _tail(text: str, budget: int, count: TokenCounter) -> str:
    """The last words of ``text`` that fit in ``budget`` tokens (the overlap)."""
    if budget <= 0:
        return ""
    words = text.split()
    taken: list[str] = []
    for word in reversed(words):
        if count(" ".join([word, *taken])) > budget:
            break
        taken.insert(0, word)
    return " ".join(taken)


def _text_pieces(
    blocks: Sequence[Block], options: ChunkingOptions, count: TokenCounter
) -> list[_Piece]:
    pieces: list[_Piece] = []
    buffer: _Piece | None = None

    def flush() -> None:
        nonlocal buffer
        if buffer is not None and buffer.text.strip():
            pieces.append(buffer)
        buffer = None

    for index, block in enumerate(blocks):
        if block.kind == "heading":
            flush()
            continue
        if block.kind == "pair":  # training data (prompt → response), not a source to cite
            flush()
            continue
        if block.kind == "table_row":
            flush()
            pieces.append(_Piece(block.text, block.section, block.page, index, index,
                                 block.kind, dict(block.fields)))
            continue
        parts = ([block.text] if count(block.text) <= options.max_tokens
                 else _split_long(block.text, options.max_tokens - options.overlap_tokens, count))
        for part in parts:
            if buffer is not None and buffer.section != block.section:
                flush()
            if buffer is None:
                buffer = _Piece(part, block.section, block.page, index, index)
                continue
            joined = f"{buffer.text}\n{part}"
            if count(joined) <= options.max_tokens:
                buffer.text, buffer.end = joined, index
                continue
            overlap = _tail(buffer.text, options.overlap_tokens, count)
            flush()
            start_text = f"{overlap} {part}".strip() if overlap else part
            if count(start_text) > options.max_tokens:
                start_text = part
            buffer = _Piece(start_text, block.section, block.page, index, index)
    flush()
    return pieces


def chunk_blocks(
    blocks: Sequence[Block], *, doc_id: str, version: int,
    options: ChunkingOptions | None = None, count_tokens: TokenCounter = word_count,
    kind: str = "other", title: str = "", tags: Sequence[str] = (), imported: str = "",
) -> list[Chunk]:
    """Chunks of one document version's blocks, in reading order."""
    options = options or ChunkingOptions()
    return [
        Chunk(doc_id=doc_id, version=version, ordinal=ordinal, text=piece.text,
              section=tuple(piece.section), page=piece.page, block_start=piece.start,
              block_end=piece.end, block_kind=piece.block_kind, kind=kind, title=title,
              tags=tuple(tags), imported=imported, fields=piece.fields)
        for ordinal, piece in enumerate(_text_pieces(blocks, options, count_tokens))
    ]


def chunk_document(
    record: DocumentRecord, blocks: Sequence[Block], *, options: ChunkingOptions | None = None,
    count_tokens: TokenCounter = word_count,
) -> list[Chunk]:
    """Chunks of the latest version of ``record`` (its ``blocks``), with its metadata."""
    latest = record.latest
    return chunk_blocks(
        blocks, doc_id=record.id, version=latest.version, options=options,
        count_tokens=count_tokens, kind=record.kind, title=record.title, tags=record.tags,
        imported=latest.imported,
    )
