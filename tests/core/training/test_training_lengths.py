"""max_length auto: a run's sequences hold its dataset's longest example."""

from __future__ import annotations

import json

import pytest
from training_fixtures import commit_dataset

from core.datasets.lengths import Lengths
from core.datasets.store import DatasetStore
from core.training.config import build_config
from core.training.lengths import AUTO_CEILING, FALLBACK, planned_steps, resolve_max_length
from core.workspace import Workspace


class Counting:
    """A tokenizer stand-in for commit_dataset: its length and EOS only."""

    eos_token_id = 1

    def __len__(self) -> int:
        return 100


def _sft(workspace: Workspace, sizes: list[tuple[int, int]], summary: bool = True) -> str:
    rows = [{"prompt": "p", "completion": "c", "prompt_tokens": p, "completion_tokens": c}
            for p, c in sizes]
    dataset = commit_dataset(workspace, "sft", rows[1:], rows[:1], Counting())
    if summary:  # as build_sft records it
        path = DatasetStore(workspace).path_of(dataset) / "dataset.json"
        record = json.loads(path.read_text())
        record["summary"]["lengths"] = Lengths.of(sizes).to_summary()
        record["summary"]["train"] = len(sizes) - 1
        path.write_text(json.dumps(record))
    return dataset


def test_auto_fits_the_longest_example(workspace: Workspace) -> None:
    dataset = _sft(workspace, [(300, 100), (120, 40), (369, 300)])  # longest 670 with EOS
    config, note = resolve_max_length(build_config("sft", dataset=dataset), workspace)
    assert config.max_length == 704  # rounded up to 64
    assert note == "max_length 704 (auto): holds the longest of its 3 examples, 670 tokens."
    _, shown = resolve_max_length(build_config("sft", dataset=dataset), workspace,
                                  named="Longest passage")  # as the app names it
    assert shown == ("Longest passage 704 tokens (automatic): holds the longest of its 3 "
                     "examples, 670 tokens.")


def test_a_length_set_by_hand_is_kept_and_says_what_it_cuts(workspace: Workspace) -> None:
    dataset = _sft(workspace, [(300, 100), (120, 40), (369, 300)])
    config, note = resolve_max_length(
        build_config("sft", dataset=dataset, overrides=["max_length=256"]), workspace)
    assert config.max_length == 256
    assert note == ("max_length 256: 2 of 3 examples are longer and lose the end of their "
                    "answer; 2 are left out (the prompt alone is longer); auto would pick "
                    "704, which holds them all.")
    fits, quiet = resolve_max_length(
        build_config("sft", dataset=dataset, overrides=["max_length=1024"]), workspace)
    assert (fits.max_length, quiet) == (1024, "")


def test_auto_stops_at_the_ceiling_and_says_so(workspace: Workspace) -> None:
    dataset = _sft(workspace, [(400, 3000), (100, 50)])
    config, note = resolve_max_length(build_config("dpo", dataset=dataset), workspace)
    assert config.max_length == AUTO_CEILING
    assert note == ("max_length 2048 (auto, the most it picks): 1 of 2 examples are longer "
                    "and lose the end of their answer; set it to 3456 to keep them whole, if "
                    "memory allows.")


def test_rows_are_counted_when_the_summary_has_no_lengths(workspace: Workspace) -> None:
    dataset = _sft(workspace, [(50, 20), (90, 30)], summary=False)
    config, _ = resolve_max_length(build_config("sft", dataset=dataset), workspace)
    assert config.max_length == 128
    # the wizard reads no rows on its thread: it says what it does not know
    quick, note = resolve_max_length(build_config("sft", dataset=dataset), workspace,
                                     read_rows=False)
    assert quick.max_length == FALLBACK and note == (
        "max_length 512 (auto): the dataset's lengths were not recorded; build it again to "
        "fit them.")


def test_cpt_auto_is_the_datasets_row_length(workspace: Workspace) -> None:
    rows = [{"input_ids": list(range(64))} for _ in range(3)]
    dataset = commit_dataset(workspace, "cpt", rows[1:], rows[:1], Counting())
    config, _ = resolve_max_length(build_config("cpt", dataset=dataset,
                                                overrides=["max_length=0"]), workspace)
    assert config.max_length == FALLBACK  # the dataset's config names no seq_len here


def test_auto_is_the_default_of_the_instruction_and_preference_recipes() -> None:
    for recipe in ("sft", "dpo", "orpo"):
        for preset in (None, "quick", "balanced", "thorough"):
            assert build_config(recipe, dataset="d", preset=preset).max_length == 0


def test_a_dataset_not_built_yet_leaves_a_probe_its_length(workspace: Workspace) -> None:
    """`train --probe` measures a base before its dataset exists (the run itself then
    fails on the missing dataset, by name)."""
    config, note = resolve_max_length(build_config("sft", dataset="sft-v9"), workspace)
    assert config.max_length == FALLBACK and note == (
        "max_length 512 (auto): no dataset 'sft-v9' in this workspace (datasets: none yet).")
    kept, quiet = resolve_max_length(build_config("cpt", dataset="cpt-v9"), workspace)
    assert (kept.max_length, quiet) == (256, "")
    auto, _ = resolve_max_length(build_config("cpt", dataset="cpt-v9",
                                              overrides=["max_length=0"]), workspace)
    assert auto.max_length == FALLBACK
    assert planned_steps(config, workspace) is None


def test_a_length_under_eight_is_refused() -> None:
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="max_length: at least 8 tokens, or 0 for auto"):
        build_config("sft", dataset="d", overrides=["max_length=4"])


def test_the_steps_of_a_run_by_epochs_come_from_its_packed_rows(workspace: Workspace) -> None:
    # 1 held out + 24 trained: 8 examples of ~1,000 tokens and 16 of ~100
    dataset = _sft(workspace, [(40, 59)] + [(600, 399)] * 8 + [(40, 59)] * 16)
    config, _ = resolve_max_length(build_config(
        "sft", dataset=dataset, overrides=["epochs=2", "batch_size=2"]), workspace)
    assert config.max_length == 1024
    # each long one fills most of a row (no two share one), the short ones pack ten a row:
    # 8 + 2 rows, 5 steps of 2 rows an epoch, 2 epochs
    assert planned_steps(config, workspace) == 10
    unpacked = config.model_copy(update={"packing": False})
    assert planned_steps(unpacked, workspace) == 24  # 24 rows, 12 steps, 2 epochs
    capped = config.model_copy(update={"max_steps": 3})
    assert planned_steps(capped, workspace) == 3
    unknown = _sft(workspace, [(50, 20), (90, 30)], summary=False)  # no train count
    assert planned_steps(build_config("sft", dataset=unknown, overrides=["max_length=64"]),
                         workspace) is None
