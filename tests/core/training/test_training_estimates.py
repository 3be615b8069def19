"""Honest estimates (issue 16, item 4): the memory formula against the peak RSS a real probe
measures, on the tiny and the bundled model; the probe's step time and the ETA at step 3
against the real run's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from training_fixtures import Recorder

from core.cli.main import main
from core.jobs.progress import JobContext
from core.system.hardware import detect_hardware
from core.training.config import build_config
from core.training.estimate import estimate, model_shape
from core.training.job import run_training
from core.training.probe import probe_length, probe_training
from core.workspace import Workspace


def _probe(workspace: Workspace, base: str, capsys: pytest.CaptureFixture[str],
           *overrides: str) -> tuple[dict, int]:
    argv = ["train", "-w", str(workspace.root), "--recipe", "cpt", "--base", base,
            "--dataset", "cpt-v1", "--probe", "--json"]
    for override in overrides:
        argv += ["--set", override]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    config = build_config("cpt", base=base, dataset="cpt-v1", overrides=list(overrides))
    assert result["length"] == probe_length(workspace, config)
    guess = estimate(config, detect_hardware(), model_shape(workspace, base),
                     length=result["length"])
    assert result["formula_memory_bytes"] == guess.memory_bytes
    return result, guess.memory_bytes


def test_the_memory_estimate_is_within_a_quarter_of_the_measured_peak_tiny(
        train_workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    for overrides in (("batch_size=4", "max_length=64"), ("batch_size=1", "max_length=256")):
        measured, guessed = _probe(train_workspace, "tiny-base", capsys, *overrides)
        assert measured["steps"] == 3 and measured["step_s"] > 0
        assert measured["device"] == "cpu" and measured["dtype"] == "float32"
        assert abs(guessed - measured["peak_rss"]) <= 0.25 * measured["peak_rss"], measured
        assert "s a step on cpu (float32) → about" in measured["summary"]


@pytest.mark.slow
def test_the_memory_estimate_is_within_a_quarter_of_the_measured_peak_270m(
        base_workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    measured, guessed = _probe(base_workspace, "gemma3-270m", capsys, "batch_size=1",
                               "max_length=256")
    assert abs(guessed - measured["peak_rss"]) <= 0.25 * measured["peak_rss"], measured


@pytest.mark.slow
def test_the_eta_at_step_three_is_within_thirty_percent(tmp_path: Path) -> None:
    """On the bundled model (steps of about a second here; the tiny model's steps are too
    short for a rate to mean anything)."""
    from helpers.tiny_model import training_lines
    from helpers.workspaces import build_datasets
    from transformers import AutoTokenizer

    from core.models.bundled import import_base_model
    from core.workspace.registry import ModelRegistry

    workspace = Workspace.create(tmp_path / "ws")
    import_base_model(workspace)  # linked from the machine's converted copy: seconds
    registry = ModelRegistry(workspace)
    tokenizer = AutoTokenizer.from_pretrained(str(registry.path_of(registry.get("gemma3-270m"))))
    datasets = build_datasets(workspace, tokenizer, training_lines(200))
    config = build_config("cpt", base="gemma3-270m", dataset=datasets["cpt"], overrides=[
        "max_steps=12", "save_every=1000", "eval_every=1000", "batch_size=4", "eval_samples=2",
        "warmup_ratio=0"])
    probe = probe_training(workspace, config)  # what the wizard shows before the run
    recorder = Recorder()
    job_dir = workspace.root / "runs" / "eta"
    job_dir.mkdir(parents=True)
    run_training(config, JobContext(job_dir, sink=recorder))
    steps = [e for e in recorder.events if e.type == "progress" and e.total == 12]
    start = next(e for e in steps if e.step == 0).time
    third = next(e for e in steps if e.step >= 3 and e.eta_s is not None)
    end = next(e for e in steps if e.step == 12).time
    predicted = third.time - start + third.eta_s
    assert abs(predicted - (end - start)) <= 0.3 * (end - start), (predicted, end - start)
    # the probe's step time against the run's own (steps 1-12: the first carries warm-up)
    first = next(e for e in steps if e.step >= 1)
    measured = (end - first.time) / (12 - first.step)
    assert abs(probe.step_s - measured) <= 0.3 * measured, (probe.step_s, measured)


def test_the_probe_uses_the_length_of_the_runs_sequences(train_workspace: Workspace) -> None:
    from core.datasets.store import DatasetStore

    blocks = {len(row["input_ids"]) for row in DatasetStore(train_workspace).rows("cpt-v1")}
    config = build_config("cpt", base="tiny-base", dataset="cpt-v1",
                          overrides=["max_length=4096"])
    assert probe_length(train_workspace, config) == max(blocks) < 4096
    short = build_config("cpt", base="tiny-base", dataset="cpt-v1", overrides=["max_length=8"])
    assert probe_length(train_workspace, short) == 8
    sft = build_config("sft", base="tiny-base", dataset="cpt-v1", overrides=["max_length=64"])
    assert probe_length(train_workspace, sft) == 64


def test_an_sft_probe_counts_only_the_completions_as_the_run_does(
        train_workspace: Workspace) -> None:
    """SFT rows mask their prompts: the run projects only the completion positions through
    the LM head, so the probe measures the same share (over-estimating it made the SFT
    estimate too long)."""
    from core.training.modeling import load_tokenizer, resolve_base
    from core.training.probe import sft_shape

    tokenizer = load_tokenizer(resolve_base(train_workspace, "tiny-base"))
    packed = build_config("sft", base="tiny-base", dataset="sft-v1",
                          overrides=["max_length=256", "batch_size=2"])
    shape = sft_shape(train_workspace, packed, tokenizer)
    assert shape is not None
    assert 0.05 < shape.counted_share < 0.9  # prompts ("Complete: …" in a chat turn) masked
    assert 2 <= shape.length <= 256
    unpacked = build_config("sft", base="tiny-base", dataset="sft-v1",
                            overrides=["max_length=256", "batch_size=2", "packing=false"])
    single = sft_shape(train_workspace, unpacked, tokenizer)
    assert single is not None and single.length < shape.length  # one example per row
    assert single.counted_share == shape.counted_share
    cpt = build_config("cpt", base="tiny-base", dataset="cpt-v1")
    assert sft_shape(train_workspace, cpt, tokenizer) is None  # token blocks, no pairs
    probe = probe_training(train_workspace, packed, steps=1)
    assert probe.counted_share == round(shape.counted_share, 4)
    assert probe.length == shape.length and probe.step_s > 0


def test_a_dpo_probe_measures_the_runs_batches_and_reference(
        train_workspace: Workspace) -> None:
    """DPO's probe: answers-only positions (prompts masked, as the plain head projects),
    short steps of a small pair set, and the reference pass by what the run spends on it
    per step (all of it, or 1/epochs when it is computed once before training). It used to
    run the reference over every position's full logits, about 6x the run's step."""
    from core.training.modeling import load_tokenizer, resolve_base
    from core.training.probe import batch_fill, preference_shape, reference_share

    assert batch_fill(16, 4, 2) == 1.0 and batch_fill(13, 4, 2) == 13 / 16
    assert batch_fill(3, 4, 2) == 3 / 8 and batch_fill(0, 4, 2) == 1.0
    config = build_config("dpo", base="tiny-base", dataset="prefs-v1",
                          overrides=["max_length=128", "batch_size=2", "max_steps=2"])
    assert reference_share(config) == 1.0  # max_steps: a reference pass in every step
    once = build_config("dpo", base="tiny-base", dataset="prefs-v1",
                        overrides=["epochs=4", "reference_once=auto"])
    assert reference_share(once) == 0.25
    assert reference_share(build_config("sft", base="tiny-base", dataset="sft-v1")) == 0.0
    shape = preference_shape(train_workspace, config,
                             load_tokenizer(resolve_base(train_workspace, "tiny-base")))
    assert shape is not None and 0.05 < shape.counted_share < 0.95
    assert 2 <= shape.length <= 128 and 0 < shape.batch_fill <= 1
    probe = probe_training(train_workspace, config, steps=1)
    assert probe.counted_share == round(shape.counted_share, 4)
    assert probe.length == shape.length and probe.batch_fill == round(shape.batch_fill, 4)
    assert probe.step_s > 0
