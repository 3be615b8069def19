"""Each recipe trains the tiny model a few steps, learns, and registers its adapter."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from training_fixtures import TINY_BASE

from core.fsutil import read_yaml
from core.workspace import Workspace
from core.workspace.registry import ModelRegistry

pytestmark = pytest.mark.timeout(300)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


@pytest.mark.parametrize("recipe", ["cpt", "sft", "dpo", "orpo"])
def test_recipe_trains_and_registers_an_adapter(recipe: str, train_workspace: Workspace,
                                                train_run) -> None:  # noqa: ANN001
    once = ("reference_once=always",) if recipe == "dpo" else ()
    result, recorder = train_run(train_workspace, recipe, *once)
    losses = recorder.losses()
    assert len(losses) >= 8
    assert _mean(losses[-3:]) < _mean(losses[:3])  # the loss goes down
    metrics = result["metrics"]
    assert metrics["steps"] == 8 and metrics["tokens"] > 0 and metrics["seconds"] > 0
    if recipe != "dpo":  # DPO optimises a margin, not the chosen answers' likelihood
        assert metrics["heldout_ppl_after"] < metrics["heldout_ppl_before"]
    else:
        # The reference's log-probabilities were computed once, before the first step; at
        # that step the policy is the reference, so the DPO loss is exactly ln 2 (a wrong
        # or stale reference would give another value).
        logs = [e.message for e in recorder.events if e.type == "log"]
        assert any("computed once, before the first step" in (m or "") for m in logs), logs
        assert losses[0] == pytest.approx(math.log(2), abs=1e-3)
        assert metrics["prepare_seconds"] > 0
    # live progress: loss, lr, tokens/s and an ETA reach the job stream; evals too
    progress = [e for e in recorder.events if e.type == "progress" and "loss" in e.metrics]
    assert all("lr" in e.metrics for e in progress)
    assert any(e.tokens_per_s for e in progress) and any(e.eta_s is not None for e in progress)
    assert any("eval_loss" in e.metrics for e in recorder.events)
    if recipe in ("cpt", "sft"):
        assert any("eval_perplexity" in e.metrics for e in recorder.events)

    registry = ModelRegistry(train_workspace)
    record = registry.get(result["model_id"])
    assert record.kind == "adapter" and record.format == "peft"
    assert record.parents == (TINY_BASE,)
    assert record.datasets == (result_dataset := record.config["dataset"],)
    assert result_dataset in ("cpt-v1", "sft-v1", "prefs-v1")
    assert [d.document_id for d in record.documents] == ["doc-rfp-1"]
    assert {"heldout_ppl_before", "heldout_ppl_after", "train_loss", "steps", "tokens",
            "seconds"} <= set(record.metrics)
    folder = registry.path_of(record)
    names = set(record.files)
    assert "adapter_model.safetensors" in names and "adapter_config.json" in names
    assert not any(n.endswith((".bin", ".pt", ".pth", ".pkl")) for n in names)
    assert not any(n.startswith("ref/") for n in names)  # DPO's frozen reference stays out
    assert read_yaml(folder / "train_config.yaml")["recipe"] == recipe
    assert registry.verify(record.id) == []
    run_dir = train_workspace.root / "runs" / f"run-{recipe}"
    assert not (run_dir / "checkpoints").exists()  # spent once registered
    assert (run_dir / "train_config.yaml").exists()


def test_lineage_cpt_then_sft_then_dpo_with_a_merged_model(train_workspace: Workspace,
                                                           train_run) -> None:  # noqa: ANN001
    cpt, _ = train_run(train_workspace, "cpt", "max_steps=4")
    sft, _ = train_run(train_workspace, "sft", "max_steps=4", f"init_adapter={cpt['model_id']}")
    dpo, _ = train_run(train_workspace, "dpo", "max_steps=4", f"init_adapter={sft['model_id']}",
                       "merge_full_model=true")
    registry = ModelRegistry(train_workspace)
    assert registry.get(sft["model_id"]).parents == (TINY_BASE, cpt["model_id"])
    assert registry.get(dpo["model_id"]).parents == (TINY_BASE, sft["model_id"])
    chain = [r.id for r in registry.lineage(dpo["model_id"])]
    assert chain[0] == dpo["model_id"] and cpt["model_id"] in chain and TINY_BASE in chain
    merged = registry.get(dpo["merged_id"])
    assert merged.kind == "merged" and dpo["model_id"] in merged.parents
    assert "model.safetensors" in merged.files
    config = json.loads((registry.path_of(merged) / "config.json").read_text())
    assert config["architectures"] == ["Gemma3ForCausalLM"]
    # the SFT stage started from the CPT adapter: its "before" is the CPT model's perplexity
    assert registry.get(sft["model_id"]).config["init_adapter"] == cpt["model_id"]


def test_wrong_dataset_kind_is_a_clear_error(train_workspace: Workspace,
                                             train_run) -> None:  # noqa: ANN001
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="is a cpt dataset; this recipe needs a prefs"):
        train_run(train_workspace, "dpo", dataset="cpt-v1")


def test_missing_base_model_is_a_clear_error(train_workspace: Workspace,
                                             make_ctx) -> None:  # noqa: ANN001
    from core.errors import ModelError
    from core.training.config import build_config
    from core.training.job import run_training

    config = build_config("cpt", base="nope", dataset="cpt-v1")
    ctx, _ = make_ctx(train_workspace)
    with pytest.raises(ModelError, match="No base model 'nope'"):
        run_training(config, ctx)


def test_out_of_memory_retries_with_half_the_batch(train_workspace: Workspace, train_run,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import torch
    from transformers import Trainer

    real_train = Trainer.train
    calls: list[int] = []

    def flaky(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(self.args.per_device_train_batch_size)
        if len(calls) <= 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return real_train(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "train", flaky)
    result, _ = train_run(train_workspace, "cpt", "max_steps=2")
    assert calls == [4, 2, 1]  # backs off until it fits
    assert "retried with batch size 1" in result["notes"][-1]


def test_out_of_memory_without_retry_suggests_smaller_settings(
        train_workspace: Workspace, train_run, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from transformers import Trainer

    from core.training.recipes.common import OutOfMemoryError

    def boom(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: out of memory")

    monkeypatch.setattr(Trainer, "train", boom)
    with pytest.raises(OutOfMemoryError, match="smaller batch_size"):
        train_run(train_workspace, "cpt", "oom_retry=false")


def test_not_enough_disk_stops_before_training(train_workspace: Workspace, train_run,
                                               monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from core import fsutil
    from core.errors import DiskSpaceError

    monkeypatch.setattr(fsutil, "free_bytes", lambda path: 1000)
    with pytest.raises(DiskSpaceError, match="training checkpoints"):
        train_run(train_workspace, "cpt")
    assert not list(Path(train_workspace.root / "runs" / "run-cpt").glob("checkpoint*"))


def test_auto_max_length_is_resolved_before_training_and_recorded(
        train_workspace: Workspace, train_run) -> None:  # noqa: ANN001
    result, recorder = train_run(train_workspace, "sft", "max_length=0", "max_steps=2")
    note = ("max_length 512 (auto): the dataset's lengths were not recorded; build it again "
            "to fit them.")
    assert result["notes"][0] == note
    assert note in [e.message for e in recorder.events if e.type == "log"]
    record = ModelRegistry(train_workspace).get(result["model_id"])
    assert record.config["max_length"] == 512  # what it trained with, not "auto"
