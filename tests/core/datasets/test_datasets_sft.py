"""SFT datasets: requirement ↔ response matching, imported and user pairs, chat rendering."""

from __future__ import annotations

from typing import Any

import pytest
from dataset_fixtures import JSONL_PAIRS, PROPOSAL_BLOCKS, RFP_BLOCKS, TINY

from core.datasets import (
    BuildDatasetConfig,
    DatasetError,
    DatasetStore,
    add_user_pair,
    build_dataset,
    list_user_pairs,
)
from core.datasets.chat import render_pair
from core.datasets.matching import leading_number, match, requirements, sections
from core.ingest.model import Block
from core.workspace import Workspace


def sft(**values: Any) -> BuildDatasetConfig:
    return BuildDatasetConfig(**{"kind": "sft", "model": TINY, **values})


def test_requirement_numbers() -> None:
    assert leading_number("3.2 The contractor shall") == "3.2"
    assert leading_number("Section C.4.1: The offeror must") == "C.4.1"
    assert leading_number("3. The contractor shall") is None  # a list number, not a section
    found = requirements(RFP_BLOCKS)
    assert [r.number for r in found] == ["3.2", None]  # the help-desk line obliges nobody


def test_requirement_32_matches_the_response_to_32() -> None:
    matches, unmatched = match(RFP_BLOCKS, PROPOSAL_BLOCKS, threshold=0.15)
    assert unmatched == 0
    by_number = {m.requirement.number: m for m in matches}
    assert by_number["3.2"].section.title == "Response to 3.2"
    assert by_number["3.2"].method == "heading"
    assert "monthly status report" in by_number["3.2"].section.text
    lexical = by_number[None]
    assert lexical.method == "similarity" and lexical.section.title == "Protecting your data"
    assert lexical.score >= 0.15
    # Above any similarity the lexical match disappears, the numbered one stays.
    strict, unmatched = match(RFP_BLOCKS, PROPOSAL_BLOCKS, threshold=0.99)
    assert [m.requirement.number for m in strict] == ["3.2"] and unmatched == 1


def test_number_cited_in_a_section_body_and_unsectioned_proposals() -> None:
    proposal = [
        Block(kind="paragraph", text="Atlas Corp is a small business."),
        Block(kind="paragraph", text="As required by 3.2, reports arrive by day five."),
        Block(kind="paragraph", text="Version 3.21 of the tool is unrelated."),
    ]
    assert len(sections(proposal)) == 3  # no headings: one candidate per paragraph
    matches, _ = match(RFP_BLOCKS[:5], proposal, threshold=0.99)
    assert [(m.method, m.section.text) for m in matches] == [
        ("body", "As required by 3.2, reports arrive by day five.")]


def test_sft_dataset_from_pairs_jsonl_and_user_pairs(paired_workspace: Workspace,
                                                     tiny_tokenizer: Any) -> None:
    add_user_pair(paired_workspace, "Summarise our past performance on hydro surveys.",
                  "We surveyed three dams for the Bureau between 2019 and 2023.")
    assert len(list_user_pairs(paired_workspace)) == 1
    record = build_dataset(paired_workspace, sft(heldout_fraction=0.2)).record
    assert record.summary["by_source"] == {"rfp-proposal": 2, "imported": 2, "user": 1}
    assert record.summary["examples"] == 5
    assert record.summary["train"] + record.summary["heldout"] == 5
    assert record.summary["heldout"] == 1
    store = DatasetStore(paired_workspace)
    rows = store.rows(record.id, "train") + store.rows(record.id, "heldout")
    from_rfp = next(r for r in rows if r["source"] == "rfp-proposal" and r["requirement"] == "3.2")
    assert "3.2 The contractor shall deliver" in from_rfp["instruction"]
    assert from_rfp["response"].startswith("Our team will provide the monthly status report")
    assert len(from_rfp["documents"]) == 2
    imported = {r["instruction"]: r["response"] for r in rows if r["source"] == "imported"}
    assert imported == {p["instruction"]: p["response"] for p in JSONL_PAIRS}
    # Lineage: the RFP, the proposal and the JSONL document, each with its version.
    assert len(record.documents) == 3 and all(ref.version == 1 for ref in record.documents)


def test_prompt_and_completion_are_split_at_the_reply(paired_workspace: Workspace,
                                                      tiny_tokenizer: Any) -> None:
    record = build_dataset(paired_workspace, sft()).record
    rows = DatasetStore(paired_workspace).rows(record.id, "train")
    assert rows
    for row in rows:
        full = tiny_tokenizer.apply_chat_template(
            [{"role": "user", "content": row["instruction"]},
             {"role": "assistant", "content": row["response"]}], tokenize=False)
        assert row["prompt"] + row["completion"] == full
        assert row["instruction"] in row["prompt"] and row["instruction"] not in row["completion"]
        assert row["completion"].startswith(row["response"])
        assert row["prompt"].endswith("<start_of_turn>model\n")
        completion_ids = tiny_tokenizer(row["completion"], add_special_tokens=False)["input_ids"]
        assert len(completion_ids) == row["completion_tokens"] > 0
    prompt, completion = render_pair(tiny_tokenizer, "Q?", "A.")
    assert completion == "A.<end_of_turn>\n" and prompt.startswith("<bos><start_of_turn>user")


def test_sft_training_columns_and_new_version_on_new_pair(paired_workspace: Workspace) -> None:
    from core.training.data import load_training_data

    first = build_dataset(paired_workspace, sft()).record
    data = load_training_data(paired_workspace, first.id, "sft")
    assert data.train.column_names == ["prompt", "completion"]
    assert build_dataset(paired_workspace, sft()).reused
    add_user_pair(paired_workspace, "Name our quality manager.", "Dana Ruiz leads quality.")
    second = build_dataset(paired_workspace, sft()).record
    assert (second.id, second.summary["by_source"]["user"]) == ("sft-v2", 1)


def test_no_pairs_is_a_clear_error(ds_workspace: Workspace) -> None:
    with pytest.raises(DatasetError, match="No instruction/response pairs"):
        build_dataset(ds_workspace, sft())
    with pytest.raises(DatasetError, match="needs both"):
        add_user_pair(ds_workspace, "  ", "x")


def test_grounded_prompts_show_retrieved_sources_and_never_the_answer(
    paired_workspace: Workspace, tiny_tokenizer: Any
) -> None:
    from core.drafting.prompt import DOCUMENT_HEADER, SHORT_INSTRUCTION
    from core.ingest.store import DocumentStore
    from core.retrieval.index import update_index

    bare = build_dataset(paired_workspace, sft()).record
    assert bare.summary["grounded"] == 0 and "no knowledge base" in bare.summary["not_grounded"]
    update_index(paired_workspace)
    record = build_dataset(paired_workspace, sft()).record  # the index is an input: rebuilt
    assert record.id != bare.id and record.summary["grounded"] == record.summary["examples"]
    store = DatasetStore(paired_workspace)
    rows = store.rows(record.id, "train") + store.rows(record.id, "heldout")
    ids = {r.title: r.id for r in DocumentStore(paired_workspace).list()}
    for row in rows:
        # the user turn drafting sends a model tuned here: sources, request, how to cite
        where = [row["prompt"].index(part) for part in (
            DOCUMENT_HEADER, "[1] ", row["instruction"], SHORT_INSTRUCTION)]
        assert where == sorted(where)
        assert row["response"] not in row["prompt"]
        shown = {source.split("#")[0] for source in row["sources_shown"]}
        answer = row["documents"][1:] if row["source"] == "rfp-proposal" else row["documents"]
        assert shown and not shown & set(answer)
    from_rfp = next(r for r in rows if r.get("requirement") == "3.2")
    assert ids["rfp-atlas"] in {s.split("#")[0] for s in from_rfp["sources_shown"]}
    assert "within 5 days of month end" in from_rfp["prompt"].split(from_rfp["instruction"])[0]
    assert "3.2 The contractor shall deliver" in from_rfp["instruction"]  # kept bare: eval-drafts
    # reads it
    assert build_dataset(paired_workspace, sft()).reused
    plain = build_dataset(paired_workspace, sft(grounded=False)).record
    assert plain.summary["grounded"] == 0 and plain.summary["not_grounded"] == "grounded=false"
    assert DOCUMENT_HEADER not in store.rows(plain.id, "train")[0]["prompt"]


def test_grounded_sources_stay_within_their_token_budget(
    paired_workspace: Workspace, tiny_tokenizer: Any
) -> None:
    from core.datasets.chat import count_tokens, render_pair
    from core.retrieval.index import update_index

    update_index(paired_workspace)
    for budget in (24, 400):
        record = build_dataset(paired_workspace, sft(source_tokens=budget)).record
        for row in DatasetStore(paired_workspace).rows(record.id, "train"):
            bare, _ = render_pair(tiny_tokenizer, row["instruction"], row["response"])
            extra = count_tokens(tiny_tokenizer, row["prompt"]) - count_tokens(tiny_tokenizer, bare)
            # the header and the citing line are part of the budget once a source is shown
            assert extra <= budget or not row["sources_shown"]
            assert budget == 24 or row["sources_shown"]
