"""The real bundled Gemma 3 270M imported into a workspace (slow: converts it once a machine).

Everything here reads the session's ``base_workspace``; nothing may modify its files, which
can be hard links into the shared conversion cache.
"""

from __future__ import annotations

import json

import pytest

from core.models.bundled import BASE_GGUF_ID, BASE_MODEL_ID, import_base_model
from core.workspace import Workspace
from core.workspace.registry import ModelRegistry

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_both_records_with_lineage(base_workspace: Workspace) -> None:
    registry = ModelRegistry(base_workspace)
    assert sorted(r.id for r in registry.list()) == [BASE_MODEL_ID, BASE_GGUF_ID]

    base = registry.get(BASE_MODEL_ID)
    assert base.kind == "base" and base.format == "safetensors" and base.parents == ()
    assert base.architecture == "Gemma3ForCausalLM"
    assert 260e6 < base.parameters < 275e6  # ~268M
    assert base.config["dtype"] == "float32"

    gguf = registry.get(BASE_GGUF_ID)
    assert gguf.kind == "gguf" and gguf.format == "gguf"
    assert gguf.parents == (BASE_MODEL_ID,)
    assert gguf.architecture == "gemma3"
    assert len(gguf.files) == 1 and next(iter(gguf.files)).endswith(".gguf")
    assert [r.id for r in registry.lineage(BASE_GGUF_ID)] == [BASE_GGUF_ID, BASE_MODEL_ID]
    assert [r.id for r in registry.children(BASE_MODEL_ID)] == [BASE_GGUF_ID]


def test_saved_as_plain_safetensors(base_workspace: Workspace) -> None:
    registry = ModelRegistry(base_workspace)
    folder = registry.path_of(registry.get(BASE_MODEL_ID))
    names = {p.name for p in folder.iterdir()}
    assert "model.safetensors" in names and "config.json" in names
    assert not {n for n in names if n.endswith((".bin", ".pt", ".pth", ".pkl"))}
    assert ".complete" not in names
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["architectures"] == ["Gemma3ForCausalLM"]


def test_checksums_verify(base_workspace: Workspace) -> None:
    registry = ModelRegistry(base_workspace)
    assert registry.verify(BASE_MODEL_ID) == []
    assert registry.verify(BASE_GGUF_ID) == []
    assert base_workspace.audit.verify().ok


def test_a_second_import_is_idempotent(base_workspace: Workspace) -> None:
    registry = ModelRegistry(base_workspace)
    before = {r.id: r for r in registry.list()}
    result = import_base_model(base_workspace)
    assert result == {"model_id": BASE_MODEL_ID, "gguf_id": BASE_GGUF_ID,
                      "already_imported": True}
    assert {r.id: r for r in registry.list()} == before


def test_the_model_loads_from_the_workspace_and_gives_finite_logits(
    base_workspace: Workspace,
) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    registry = ModelRegistry(base_workspace)
    folder = str(registry.path_of(registry.get(BASE_MODEL_ID)))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    assert type(model).__name__ == "Gemma3ForCausalLM"
    assert sum(p.numel() for p in model.parameters()) == registry.get(BASE_MODEL_ID).parameters

    assert tokenizer.chat_template
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Summarise the statement of work."}],
        tokenize=False, add_generation_prompt=True,
    )
    assert "<start_of_turn>user" in prompt and prompt.rstrip().endswith("<start_of_turn>model")

    ids = tokenizer("The contractor shall deliver", return_tensors="pt")
    with torch.no_grad():
        logits = model(**ids).logits
    assert logits.shape[:2] == ids.input_ids.shape
    assert logits.shape[-1] >= len(tokenizer) - 1000
    assert torch.isfinite(logits).all()
