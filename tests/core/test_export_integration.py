"""End to end on the real Gemma 3 270M: two "fine-tunes" → TIES merge → Q4_K_M and Q8_0 GGUF
→ loaded and generating in llama.cpp, with the lineage recorded all the way.

The fine-tunes are cheap stand-ins: the base plus seeded low-rank updates on the attention
and MLP projections of a few layers (what a LoRA adds), saved as full models.
"""

from __future__ import annotations

import json
import shutil

import pytest

from core.cli.main import main
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def commit_heldout_dataset(workspace: Workspace) -> str:
    """A CPT dataset whose held-out text is the export check's passage (for the adaptation
    check: the fake fine-tunes name it as what they were trained on)."""
    from core.datasets import DatasetStore
    from core.export.verify import HELDOUT_TEXT

    record = DatasetStore(workspace).commit(
        "cpt", {"train.jsonl": [{"input_ids": [2, 3, 4]}], "heldout.jsonl": [],
                "heldout_text.jsonl": [{"document_id": "passage", "version": 1,
                                        "text": HELDOUT_TEXT}]},
        {"created": "2026-01-01T00:00:00+00:00", "model": "gemma3-270m",
         "documents": [{"document_id": "passage", "version": 1, "sha256": "ab" * 32}],
         "tokenizer": {"vocab_size": 262144, "eos_token_id": 1}})
    return record.id


def make_fake_finetune(workspace: Workspace, model_id: str, seed: int,
                       datasets: tuple[str, ...] = ()) -> str:
    """Register the base + a seeded rank-4 update on a few projections as a full model."""
    import torch
    from safetensors.torch import load_file, save_file

    registry = ModelRegistry(workspace)
    base = registry.get("gemma3-270m")
    source = registry.path_of(base)
    weights = load_file(str(source / "model.safetensors"))
    generator = torch.Generator().manual_seed(seed)
    for name in list(weights):
        if any(f"layers.{i}." in name for i in (2, 5, 9)) and name.endswith(
                ("q_proj.weight", "v_proj.weight", "up_proj.weight")):
            out_dim, in_dim = weights[name].shape
            a = torch.randn(out_dim, 4, generator=generator) * 0.02
            b = torch.randn(4, in_dim, generator=generator) * 0.02
            weights[name] = weights[name] + a @ b
    record = base.model_copy(update={"name": f"fake fine-tune {seed}", "kind": "merged",
                                     "parents": (base.id,), "config": {"seed": seed},
                                     "datasets": datasets})
    with registry.create(model_id, lambda folder: record) as folder:
        save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
        for path in source.iterdir():
            if path.name not in ("model.safetensors", "model.json"):
                shutil.copy2(path, folder / path.name)
    return model_id


def test_ties_merge_then_quantized_export(workspace: Workspace,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from llama_cpp import Llama

    from core.models.bundled import import_base_model

    import_base_model(workspace)  # its own workspace: the session's shared one stays as it is
    dataset = commit_heldout_dataset(workspace)
    first = make_fake_finetune(workspace, "it-ft-defence", 1, (dataset,))
    second = make_fake_finetune(workspace, "it-ft-rocketry", 2)

    code = main(["merge", "-w", str(workspace.root), "--method", "ties", "--models", first,
                 second, "--density", "0.5", "--id", "it-merged", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    merged = json.loads(out)
    assert merged["base"] == "gemma3-270m"

    code = main(["export", "-w", str(workspace.root), "it-merged", "--quant", "q4_k_m",
                 "--quant", "q8_0", "--gain-tokens", "256", "--json"])
    out, err = capsys.readouterr()
    exported = json.loads(out)
    assert code == (0 if exported["usable"] else 1), err
    # the adaptation check: the base vs the merge on the lineage's held-out text
    adaptation = exported["adaptation"]
    assert adaptation["checked"] and adaptation["base_model"] == "gemma3-270m"
    assert adaptation["datasets"] == [dataset] and 200 < adaptation["tokens"] <= 256
    registry = ModelRegistry(workspace)
    for output in exported["outputs"]:
        record: ModelRecord = registry.get(output["model_id"])
        assert record.kind == "gguf" and record.parents == ("it-merged",)
        assert 0.8 < record.metrics["perplexity_ratio_vs_f16"] < 1.5, record.metrics
        metrics = record.metrics
        assert metrics["heldout_ppl_base_f16"] > 1 and metrics["heldout_ppl_tuned_f16"] > 1
        if "gain_kept" in metrics:  # a measurable gain at F16 (random deltas rarely give one)
            assert (metrics["verified"] == 1.0) == (metrics["gain_kept"] >= 0.8), metrics
        assert record.config["verified"] is (metrics["verified"] == 1.0)
        chain = [r.id for r in registry.lineage(record.id)]
        assert chain[:2] == [record.id, "it-merged"]
        assert {first, second, "gemma3-270m"} <= set(chain)
        path = registry.path_of(record) / output["file"]
        llm = Llama(model_path=str(path), n_ctx=512, verbose=False)
        try:
            reply = llm.create_completion("The proposal shall", max_tokens=8, temperature=0)
            assert reply["usage"]["completion_tokens"] >= 1
            assert llm.metadata["scriptorium.model_id"] == "it-merged"
            assert "tokenizer.chat_template" in llm.metadata
        finally:
            llm.close()
    merged_record = registry.get("it-merged")
    assert merged_record.parents == (first, second, "gemma3-270m")
    assert merged_record.config["method"] == "ties"
    assert (registry.path_of(merged_record) / "mergekit.yaml").exists()
