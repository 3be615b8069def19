"""Chunking follows the document's structure and respects the token budget."""

from __future__ import annotations

import pytest

from core.ingest.model import Block
from core.retrieval.chunking import ChunkingOptions, chunk_blocks, word_count


def para(text: str, *section: str, page: int | None = 1) -> Block:
    return Block(kind="paragraph", text=text, section=tuple(section), page=page)


def test_paragraphs_of_a_section_merge_and_sections_split() -> None:
    blocks = [
        Block(kind="heading", text="Scope", level=1),
        para("First paragraph of scope.", "Scope"),
        Block(kind="list_item", text="- a listed duty", section=("Scope",)),
        Block(kind="heading", text="Staff", section=("Scope",), level=2),
        para("Staff paragraph.", "Scope", "Staff", page=2),
    ]
    chunks = chunk_blocks(blocks, doc_id="d", version=3, kind="rfp", title="T",
                          tags=("navy",), imported="2026-01-02T00:00:00+00:00")
    assert [c.text for c in chunks] == ["First paragraph of scope.\n- a listed duty",
                                        "Staff paragraph."]
    first, second = chunks
    assert (first.block_start, first.block_end) == (1, 2)
    assert second.section == ("Scope", "Staff") and second.page == 2
    assert second.content == "T > Scope > Staff\nStaff paragraph."
    assert first.chunk_id == "d:3:0" and second.chunk_id == "d:3:1"
    assert all(c.kind == "rfp" and c.tags == ("navy",) and c.title == "T"
               and c.imported.startswith("2026-01-02") and c.version == 3 for c in chunks)


def test_table_rows_are_chunks_of_their_own() -> None:
    blocks = [
        para("Intro text.", "Rates"),
        Block(kind="table_row", text="code: A; name: Alpha", fields={"code": "A", "name": "Alpha"},
              section=("Rates",)),
        Block(kind="table_row", text="code: B; name: Beta", fields={"code": "B", "name": "Beta"},
              section=("Rates",)),
        para("Outro text.", "Rates"),
    ]
    chunks = chunk_blocks(blocks, doc_id="d", version=1)
    assert [c.block_kind for c in chunks] == ["text", "table_row", "table_row", "text"]
    assert chunks[1].fields == {"code": "A", "name": "Alpha"}
    assert chunks[2].text == "code: B; name: Beta"


def test_instruction_pairs_are_not_indexed() -> None:
    blocks = [
        para("Before.", "Notes"),
        Block(kind="pair", text="What is A?\n\nA is alpha.", section=("Notes",),
              fields={"prompt": "What is A?", "response": "A is alpha."}),
        para("After.", "Notes"),
    ]
    chunks = chunk_blocks(blocks, doc_id="d", version=1)
    assert [c.text for c in chunks] == ["Before.", "After."]
    assert [(c.block_start, c.block_end) for c in chunks] == [(0, 0), (2, 2)]


def test_budget_and_overlap() -> None:
    sentences = [f"Sentence number {i} talks about topic {i} in detail." for i in range(60)]
    blocks = [para(s, "Long") for s in sentences]
    options = ChunkingOptions(max_tokens=40, overlap_tokens=8)
    chunks = chunk_blocks(blocks, doc_id="d", version=1, options=options)
    assert len(chunks) > 5
    assert all(word_count(c.text) <= 40 for c in chunks)
    for before, after in zip(chunks, chunks[1:]):
        tail = " ".join(before.text.split()[-3:])
        assert tail in after.text  # the next chunk starts with the previous one's tail
    joined = " ".join(c.text for c in chunks)
    assert all(s in joined for s in sentences)  # nothing is lost


def test_a_block_longer_than_the_budget_is_split() -> None:
    text = " ".join(f"word{i}." if i % 10 == 9 else f"word{i}" for i in range(500))
    chunks = chunk_blocks([para(text, "S")], doc_id="d", version=1,
                          options=ChunkingOptions(max_tokens=64, overlap_tokens=8))
    assert len(chunks) >= 8
    assert all(word_count(c.text) <= 64 for c in chunks)
    assert "word0" in chunks[0].text and "word499" in chunks[-1].text


def test_options_are_checked() -> None:
    with pytest.raises(ValueError):
        ChunkingOptions(max_tokens=40, overlap_tokens=30)


def test_real_tokenizer_budget() -> None:
    from core.retrieval.embedder import load_embedder

    embedder = load_embedder(None)
    blocks = [para("Interoperability of heterogeneous subsystems requires "
                   "well-documented interfaces. " * 6, "S") for _ in range(8)]
    chunks = chunk_blocks(blocks, doc_id="d", version=1, count_tokens=embedder.count_tokens,
                          options=ChunkingOptions(max_tokens=120, overlap_tokens=20))
    assert len(chunks) > 1
    assert all(embedder.count_tokens(c.text) <= 120 for c in chunks)
    assert all(embedder.count_tokens(c.content) <= embedder.max_tokens for c in chunks)
