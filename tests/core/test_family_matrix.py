"""The family matrix (issue 16): a tiny random-weight model of each common open family goes
through import → CPT LoRA (2 steps) → SFT LoRA (2 steps) → TIES merge of the two → GGUF f16
and Q8_0 (each verified by llama.cpp) → 4 generated tokens → held-out perplexity; and from
GGUF input: import (de-quantised) → CPT → GGUF → llama.cpp.

The README's support table is this test's outcome; a family that fails a stage must be
listed there with the reason and refused by the app before training starts.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from helpers.families import FAMILIES, Family, build_family_model
from helpers.tiny_model import training_lines
from helpers.workspaces import build_datasets

from core.errors import ModelError
from core.export.config import parse_export_config
from core.export.convert import convert_to_f16
from core.export.job import export_model
from core.jobs.progress import JobContext
from core.merging.config import parse_merge_config
from core.merging.job import merge_models
from core.modelstore.importer import ImportModelConfig, import_model
from core.training.config import build_config
from core.training.evaluate import evaluate_model
from core.training.job import run_training
from core.workspace import Workspace
from core.workspace.registry import ModelRegistry

pytestmark = pytest.mark.timeout(900)  # about 30 s for all 16 on 2 cores
STEPS = ["max_steps=2", "save_every=2", "eval_every=2", "learning_rate=0.01", "batch_size=2",
         "max_length=32", "warmup_ratio=0", "seed=7", "eval_samples=4"]


@pytest.fixture(autouse=True)
def model_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIPTORIUM_MODEL_STORE", str(tmp_path_factory.getbasetemp() / "store"))


def _train(workspace: Workspace, recipe: str, dataset: str, base: str, run: str) -> str:
    job_dir = workspace.root / "runs" / run
    job_dir.mkdir(parents=True)
    config = build_config(recipe, base=base, dataset=dataset, overrides=STEPS)
    return str(run_training(config, JobContext(job_dir))["model_id"])


def _generate(gguf: Path) -> list[int]:
    from llama_cpp import Llama

    llm = Llama(str(gguf), n_ctx=64, n_threads=2, verbose=False, seed=0)
    try:
        tokens = llm.tokenize(b"The contractor shall")
        out = []
        for token in llm.generate(tokens, temp=0.0):
            out.append(token)
            if len(out) == 4:
                break
        return out
    finally:
        llm.close()


def _export(workspace: Workspace, model_id: str, family: Family,
            quants: tuple[str, ...]) -> dict[str, Any]:
    config = parse_export_config({"model": model_id, "quants": list(quants), "eval_tokens": 64,
                                  "gain_tokens": 0,
                                  "pre_tokenizer": "gpt-2" if family.tokenizer == "bpe"
                                  else None})
    outputs = {o["quant"]: o for o in export_model(workspace, config)["outputs"]}
    assert set(outputs) == set(quants)
    registry = ModelRegistry(workspace)
    for output in outputs.values():
        assert output["verified"], output  # llama.cpp loaded it and scored held-out text
        path = registry.path_of(registry.get(output["model_id"])) / output["file"]
        assert len(_generate(path)) == 4
    return outputs


@pytest.mark.parametrize("family", FAMILIES, ids=[f.name for f in FAMILIES])
def test_a_family_goes_through_every_stage(family: Family, tmp_path: Path) -> None:
    folder = build_family_model(family, tmp_path / "usb" / family.name)
    workspace = Workspace.create(tmp_path / "ws")
    imported = import_model(workspace, ImportModelConfig(path=str(folder), model_id=family.name))
    record = ModelRegistry(workspace).get(imported["model_id"])
    assert all(s["ok"] for s in record.config["support"].values()), record.config["support"]

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    datasets = build_datasets(workspace, tokenizer, training_lines(80))
    cpt = _train(workspace, "cpt", datasets["cpt"], family.name, "cpt")
    sft = _train(workspace, "sft", datasets["sft"], family.name, "sft")
    merged = merge_models(workspace, parse_merge_config(
        {"method": "ties", "base": family.name, "models": [cpt, sft]}))["model_id"]
    outputs = _export(workspace, merged, family, ("f16", "q8_0"))
    assert outputs["q8_0"]["size_bytes"] < outputs["f16"]["size_bytes"]
    heldout = evaluate_model(workspace, merged, datasets["cpt"], max_length=32, limit=8)
    assert math.isfinite(heldout["perplexity"]) and heldout["tokens"] > 0


# From GGUF input, what this test finds per family (the README's table says the same):
# "ok" goes all the way; otherwise the stage that refuses it, up front, with its reason.
GGUF_INPUT = {"llama": "export", "mistral": "import", "qwen2": "export", "qwen3": "import",
              "gemma2": "export", "gemma3": "export", "phi3": "export", "smollm": "export"}


@pytest.mark.parametrize("family", FAMILIES, ids=[f.name for f in FAMILIES])
def test_a_family_goes_through_from_a_gguf_file(family: Family, tmp_path: Path) -> None:
    folder = build_family_model(family, tmp_path / "src" / family.name)
    (tmp_path / "usb").mkdir()
    gguf = convert_to_f16(folder, tmp_path / "usb" / f"{family.name}-f16.gguf",
                          name=family.name,
                          pre_tokenizer="gpt-2" if family.tokenizer == "bpe" else None)
    workspace = Workspace.create(tmp_path / "ws")
    registry = ModelRegistry(workspace)
    config = ImportModelConfig(path=str(gguf), model_id=family.name)
    if GGUF_INPUT[family.name] == "import":
        with pytest.raises(ModelError, match="could not de-quantise .*bring the model's "
                                             "Hugging Face folder"):
            import_model(workspace, config)
        assert registry.list() == []
        return
    imported = import_model(workspace, config)
    base = registry.get(imported["model_id"])
    assert registry.get(imported["gguf_id"]).parents == (base.id,)
    assert len(_generate(registry.path_of(registry.get(imported["gguf_id"])) /
                         gguf.name)) == 4

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(registry.path_of(base)))
    datasets = build_datasets(workspace, tokenizer, training_lines(80))
    cpt = _train(workspace, "cpt", datasets["cpt"], base.id, "cpt")
    heldout = evaluate_model(workspace, cpt, datasets["cpt"], max_length=32, limit=8)
    assert math.isfinite(heldout["perplexity"])
    export = base.config["support"]["export"]
    if GGUF_INPUT[family.name] == "ok":
        assert export["ok"], export
        _export(workspace, cpt, family, ("f16",))
    else:  # refused before the export starts, with the converter's reason
        assert not export["ok"] and "converter cannot write its tokenizer" in export["detail"]
        with pytest.raises(ModelError, match=f"cannot be exported to GGUF: its base "
                                             f"{family.name} .*tokenizer"):
            _export(workspace, cpt, family, ("f16",))
