"""Example lengths: recorded when a dataset is built, so training can fit them."""

from __future__ import annotations

from typing import Any

from dataset_fixtures import TINY, write_feedback

from core.datasets import BuildDatasetConfig, DatasetStore, build_dataset
from core.datasets.lengths import Lengths
from core.workspace import Workspace


def test_cut_and_left_out_are_counted_exactly_at_a_multiple_of_the_bucket() -> None:
    lengths = Lengths.of([(100, 155), (240, 15), (256, 40), (10, 5)])  # + EOS each
    assert (lengths.longest, lengths.longest_prompt, lengths.count) == (297, 256, 4)
    assert [lengths.cut(n) for n in (16, 256, 272, 288, 304)] == [3, 1, 1, 1, 0]
    assert [lengths.dropped(n) for n in (240, 256, 272)] == [2, 1, 0]  # prompt >= max_length
    assert Lengths.from_summary({"lengths": lengths.to_summary()}) == lengths
    assert Lengths.from_summary({}) is None
    assert Lengths.from_summary({"lengths": {"bucket": 16, "examples": "junk"}}) is None


def test_preference_rows_and_summary_carry_their_lengths(ds_workspace: Workspace,
                                                         tiny_tokenizer: Any) -> None:
    write_feedback(ds_workspace, "a.jsonl", [
        {"prompt": f"Draft summary {n}.", "chosen": "A long, specific answer. " * (n + 1),
         "rejected": "No."} for n in range(6)])
    record = build_dataset(ds_workspace, BuildDatasetConfig(kind="prefs", model=TINY)).record
    rows = [*DatasetStore(ds_workspace).rows(record.id, "train"),
            *DatasetStore(ds_workspace).rows(record.id, "heldout")]

    def count(text: str) -> int:
        return len(tiny_tokenizer(text, add_special_tokens=False)["input_ids"])

    for row in rows:
        assert (row["prompt_tokens"], row["chosen_tokens"], row["rejected_tokens"]) == (
            count(row["prompt"]), count(row["chosen"]), count(row["rejected"]))
    lengths = Lengths.from_summary(record.summary)
    assert lengths is not None and lengths.count == len(rows) == 6
    assert lengths.longest == max(r["prompt_tokens"] + r["chosen_tokens"] + 1 for r in rows)
