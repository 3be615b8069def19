"""Preference datasets from analysts' feedback files."""

from __future__ import annotations

from typing import Any

import pytest
from dataset_fixtures import TINY, write_feedback

from core.datasets import BuildDatasetConfig, DatasetError, DatasetStore, build_dataset
from core.datasets.model import built_note
from core.workspace import Workspace


def prefs(**values: Any) -> BuildDatasetConfig:
    return BuildDatasetConfig(**{"kind": "prefs", "model": TINY, **values})


def good(number: int) -> dict[str, str]:
    return {"prompt": f"Draft the transition plan summary number {number}.",
            "chosen": f"The transition completes in 30 days with weekly reviews ({number}).",
            "rejected": f"We will figure it out later ({number})."}


def test_feedback_pairs_with_malformed_lines_skipped_and_counted(
        ds_workspace: Workspace, tiny_tokenizer: Any) -> None:
    write_feedback(ds_workspace, "2026-01.jsonl", [
        good(1), good(2), "{not json", {"prompt": "no answers"}, good(3),
        {"prompt": "Same?", "chosen": "yes", "rejected": "yes"}, ["a", "list"],
    ])
    write_feedback(ds_workspace, "2026-02.jsonl", [good(4), good(1), {"prompt": 3,
                                                                       "chosen": "a",
                                                                       "rejected": "b"}])
    (ds_workspace.feedback_dir / "notes.txt").write_text("not feedback", encoding="utf-8")
    record = build_dataset(ds_workspace, prefs(heldout_fraction=0.25)).record
    summary = record.summary
    assert summary["malformed_lines"] == 5
    assert summary["duplicates_dropped"] == 1  # good(1) twice
    assert summary["pairs"] == 4 and (summary["train"], summary["heldout"]) == (3, 1)
    assert record.sources["feedback"]["2026-01.jsonl"]["skipped_lines"] == [3, 4, 6, 7]
    assert record.sources["feedback"]["2026-02.jsonl"]["skipped_lines"] == [3]
    rows = DatasetStore(ds_workspace).rows(record.id, "train")
    for row in rows:
        assert set(row) >= {"prompt", "chosen", "rejected"}
        assert row["prompt"].startswith("<bos><start_of_turn>user\nDraft the transition")
        assert row["prompt"].endswith("<start_of_turn>model\n")
        assert row["chosen"].endswith("<end_of_turn>\n") and row["rejected"].endswith(
            "<end_of_turn>\n")
    assert record.documents == ()


def test_prefs_for_training_and_reuse(ds_workspace: Workspace) -> None:
    from core.training.data import load_training_data

    write_feedback(ds_workspace, "a.jsonl", [good(n) for n in range(10)])
    first = build_dataset(ds_workspace, prefs()).record
    data = load_training_data(ds_workspace, first.id, "prefs")
    assert data.train.column_names == ["prompt", "chosen", "rejected"]
    assert len(data.train) == 9 and len(data.heldout) == 1
    assert build_dataset(ds_workspace, prefs()).reused
    write_feedback(ds_workspace, "b.jsonl", [good(11)])
    assert build_dataset(ds_workspace, prefs()).record.id == "prefs-v2"


def test_no_feedback_is_a_clear_error(ds_workspace: Workspace) -> None:
    write_feedback(ds_workspace, "bad.jsonl", ["nope"])
    with pytest.raises(DatasetError, match="1 malformed lines"):
        build_dataset(ds_workspace, prefs())


def test_marked_figures_never_become_a_preferred_answer(ds_workspace: Workspace) -> None:
    from core.datasets.model import built_note
    from core.datasets.prefs import UNVERIFIED
    from core.drafting.facts import UNVERIFIED as WRITTEN

    assert UNVERIFIED.fullmatch(WRITTEN.format("$35"))  # the marker drafting writes
    marked = {"prompt": "Draft the travel section.", "chosen": "Travel is [unverified: $35].",
              "rejected": "Travel is cheap."}
    edited = {"prompt": "Draft the rates.", "chosen": "Analysts bill $131.00 per hour.",
              "rejected": "Analysts bill [unverified: $150.00] per hour."}
    write_feedback(ds_workspace, "a.jsonl", [marked, edited, good(1), good(2)])
    record = build_dataset(ds_workspace, prefs(heldout_fraction=0.0)).record
    assert record.summary["chosen_unverified"] == 1 and record.summary["pairs"] == 3
    rows = DatasetStore(ds_workspace).rows(record.id, "train")
    assert not any("unverified" in row["chosen"] + row["rejected"] for row in rows)
    assert any(row["rejected"].startswith("Analysts bill $150.00 per hour.") for row in rows)
    assert "1 feedback pair(s) were left out" in built_note("prefs", record.summary)


def test_only_marked_preferred_answers_is_a_clear_error(ds_workspace: Workspace) -> None:
    write_feedback(ds_workspace, "a.jsonl", [{"prompt": "Draft it.", "chosen": "[unverified: "
                                              "NAS-XX-1] leads.", "rejected": "Nobody leads."}])
    with pytest.raises(DatasetError, match=r"marked \[unverified"):
        build_dataset(ds_workspace, prefs())


def test_grounded_preference_prompts_show_the_sources_drafting_would(
        paired_workspace: Workspace, tiny_tokenizer: Any) -> None:
    from core.drafting.prompt import DOCUMENT_HEADER
    from core.retrieval.index import update_index

    request = "When is the monthly status report due?"
    write_feedback(paired_workspace, "a.jsonl", [
        {"prompt": request, "chosen": "Within 5 days of month end [1].",
         "rejected": "Whenever it is ready."},
        {"prompt": [{"role": "user", "content": "A chat given as messages."}],
         "chosen": "Kept as it is.", "rejected": "Changed."}])
    bare = build_dataset(paired_workspace, prefs(heldout_fraction=0.0)).record
    assert bare.summary["grounded"] == 0 and "no knowledge base" in bare.summary["not_grounded"]
    assert "bare requests" in built_note("prefs", bare.summary)
    update_index(paired_workspace)  # the index is an input: rebuilt
    record = build_dataset(paired_workspace, prefs(heldout_fraction=0.0)).record
    assert record.id != bare.id and record.summary["grounded"] == 1
    assert build_dataset(paired_workspace, prefs(heldout_fraction=0.0)).reused
    assert built_note("prefs", record.summary).startswith(
        "1 of its 2 prompts show the sources retrieval finds for them, as drafting does.")
    rows = DatasetStore(paired_workspace).rows(record.id, "train")
    grounded = next(r for r in rows if r.get("request") == request)
    before_request = grounded["prompt"].split(request)[0]
    assert DOCUMENT_HEADER in before_request and "within 5 days of month end" in before_request
    assert grounded["sources_shown"] and grounded["chosen"].startswith("Within 5 days")
    assert {d.document_id for d in record.documents} == {
        s.split("#")[0] for s in grounded["sources_shown"]}  # what its prompts show
    chat = next(r for r in rows if "request" not in r)
    assert DOCUMENT_HEADER not in chat["prompt"] and "A chat given as messages." in chat["prompt"]
    lengths = record.summary["lengths"]
    assert lengths["longest_prompt"] == grounded["prompt_tokens"] > 40
