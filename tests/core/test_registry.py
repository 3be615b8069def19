"""The model registry: records, lineage, checksums, crash safety, model facts."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from core.errors import ModelError
from core.models.info import hf_model_facts, refuse_pickle_weights
from core.workspace import Workspace
from core.workspace.registry import RECORD, ModelRecord, ModelRegistry, new_model_id


def register(
    registry: ModelRegistry, model_id: str, kind: str, source: Path,
    parents: tuple[str, ...] = (),
) -> ModelRecord:
    """Register a copy of ``source`` (a model folder) or, for ``gguf``, a small fake file."""
    facts = hf_model_facts(source)
    fmt = {"adapter": "peft", "gguf": "gguf"}.get(kind, "safetensors")
    record = ModelRecord(
        id=model_id, name=model_id.title(), kind=kind, architecture=facts.architecture,
        model_type=facts.model_type, parameters=facts.parameters, format=fmt, parents=parents,
    )
    with registry.create(model_id, lambda folder: record) as folder:
        if kind == "gguf":
            (folder / "model.gguf").write_bytes(b"GGUF" + bytes(60))
        elif kind == "adapter":
            (folder / "adapter_config.json").write_text('{"r": 8}')
            shutil.copy2(source / "model.safetensors", folder / "adapter_model.safetensors")
        else:
            shutil.copytree(source, folder, dirs_exist_ok=True)
    return registry.get(model_id)


@pytest.fixture
def family(workspace: Workspace, tiny_model_dir: Path) -> ModelRegistry:
    """base → adapter → merged (parents adapter + base) → gguf."""
    registry = ModelRegistry(workspace)
    register(registry, "tiny-base", "base", tiny_model_dir)
    register(registry, "tiny-sft", "adapter", tiny_model_dir, ("tiny-base",))
    register(registry, "tiny-merged", "merged", tiny_model_dir, ("tiny-sft", "tiny-base"))
    register(registry, "tiny-merged-q4", "gguf", tiny_model_dir, ("tiny-merged",))
    return registry


def test_records_hold_checksums_size_and_kind(family: ModelRegistry,
                                              tiny_model_dir: Path) -> None:
    assert {r.id: r.kind for r in family.list()} == {
        "tiny-base": "base", "tiny-sft": "adapter", "tiny-merged": "merged",
        "tiny-merged-q4": "gguf",
    }
    base = family.get("tiny-base")
    folder = family.path_of(base)
    expected = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in tiny_model_dir.iterdir()}
    assert base.files == expected  # every file, not the record itself
    assert base.size_bytes == sum(p.stat().st_size for p in tiny_model_dir.iterdir())
    assert base.created and base.architecture == "Gemma3ForCausalLM"
    assert json.loads((folder / RECORD).read_text())["id"] == "tiny-base"
    assert family.get("tiny-merged-q4").format == "gguf"
    registered = [e.details["id"] for e in family.workspace.audit.entries()
                  if e.action == "model.register"]
    assert registered == ["tiny-base", "tiny-sft", "tiny-merged", "tiny-merged-q4"]


def test_lineage_and_children(family: ModelRegistry) -> None:
    assert [r.id for r in family.lineage("tiny-merged-q4")] == [
        "tiny-merged-q4", "tiny-merged", "tiny-sft", "tiny-base"]
    assert [r.id for r in family.lineage("tiny-base")] == ["tiny-base"]
    assert sorted(r.id for r in family.children("tiny-base")) == ["tiny-merged", "tiny-sft"]
    assert [r.id for r in family.children("tiny-merged")] == ["tiny-merged-q4"]
    assert family.children("tiny-merged-q4") == []


def test_verify_detects_modified_and_missing_files(family: ModelRegistry) -> None:
    folder = family.root / "tiny-merged"
    assert family.verify("tiny-merged") == []
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit in the last tensor, same size
    weights.write_bytes(bytes(data))
    assert family.verify("tiny-merged") == ["model.safetensors"]
    (folder / "tokenizer.json").unlink()
    assert sorted(family.verify("tiny-merged")) == ["model.safetensors", "tokenizer.json"]
    assert family.verify("tiny-base") == []  # a copy, not the same files


def test_remove_refuses_a_model_with_descendants(family: ModelRegistry) -> None:
    with pytest.raises(ModelError, match="descendants") as caught:
        family.remove("tiny-base")
    assert "tiny-sft" in str(caught.value) and "tiny-merged" in str(caught.value)
    assert family.exists("tiny-base")

    family.remove("tiny-merged-q4")
    assert not family.exists("tiny-merged-q4")
    assert not (family.root / "tiny-merged-q4").exists()

    family.remove("tiny-sft", force=True)
    assert sorted(r.id for r in family.list()) == ["tiny-base", "tiny-merged"]
    assert family.workspace.audit.verify().ok


def test_a_crash_inside_create_leaves_no_record_and_no_folder(
    workspace: Workspace, tiny_model_dir: Path
) -> None:
    registry = ModelRegistry(workspace)
    record = ModelRecord(id="x", name="x", kind="base", architecture="Gemma3ForCausalLM")
    with pytest.raises(RuntimeError, match="power cut"):
        with registry.create("half-written", lambda folder: record) as folder:
            shutil.copy2(tiny_model_dir / "model.safetensors", folder)
            raise RuntimeError("power cut")
    assert list(registry.root.iterdir()) == []
    assert registry.list() == [] and not registry.exists("half-written")
    assert "model.register" not in [e.action for e in workspace.audit.entries()]


def test_a_failing_build_record_also_leaves_nothing(workspace: Workspace) -> None:
    registry = ModelRegistry(workspace)

    def broken(folder: Path) -> ModelRecord:
        raise ModelError("could not read the config")

    with pytest.raises(ModelError), registry.create("m1", broken) as folder:
        (folder / "w.safetensors").write_bytes(b"w")
    assert list(registry.root.iterdir()) == []


def test_create_refuses_bad_and_duplicate_ids(family: ModelRegistry) -> None:
    record = ModelRecord(id="x", name="x", kind="base", architecture="a")
    for bad in ("Upper", "../escape", "", "-dash-first", "a/b"):
        with pytest.raises(ModelError, match="not a valid model id"):
            with family.create(bad, lambda folder: record):
                pass
    with pytest.raises(ModelError, match="already exists"):
        with family.create("tiny-base", lambda folder: record):
            pass
    assert family.verify("tiny-base") == []


def test_a_folder_without_a_record_is_not_a_model(family: ModelRegistry) -> None:
    orphan = family.root / "interrupted-merge"
    orphan.mkdir()
    (orphan / "model.safetensors").write_bytes(b"half")
    assert "interrupted-merge" not in [r.id for r in family.list()]
    assert not family.exists("interrupted-merge")
    assert family.orphans() == [orphan]
    with pytest.raises(ModelError, match="No model 'interrupted-merge'") as caught:
        family.get("interrupted-merge")
    assert "tiny-base" in str(caught.value)  # the message lists the known models


def test_a_damaged_record_is_skipped_by_list_and_reported_by_get(family: ModelRegistry) -> None:
    (family.root / "tiny-sft" / RECORD).write_text("{not json")
    assert "tiny-sft" not in [r.id for r in family.list()]
    with pytest.raises(ModelError, match="damaged"):
        family.get("tiny-sft")


def test_update_metrics_merges(family: ModelRegistry) -> None:
    family.update_metrics("tiny-sft", {"eval_loss": 2.5})
    updated = family.update_metrics("tiny-sft", {"perplexity": 12.0})
    assert updated.metrics == {"eval_loss": 2.5, "perplexity": 12.0}
    assert family.get("tiny-sft").metrics == updated.metrics
    assert family.verify("tiny-sft") == []


def test_new_model_id_is_a_valid_slug(workspace: Workspace) -> None:
    registry = ModelRegistry(workspace)
    model_id = new_model_id("Defence Vocabulary SFT!")
    assert model_id.startswith("defence-vocabulary-sft-")
    assert not registry.exists(model_id)
    record = ModelRecord(id="", name="n", kind="base", architecture="a")
    with registry.create(model_id, lambda folder: record):
        pass
    assert registry.get(model_id).id == model_id


# -- facts about model folders ---------------------------------------------------------

def test_hf_model_facts_of_the_tiny_model(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    facts = hf_model_facts(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    assert facts.parameters == sum(p.numel() for p in model.parameters())
    assert facts.architecture == "Gemma3ForCausalLM" == type(model).__name__
    assert facts.model_type == "gemma3_text"
    assert (facts.hidden_size, facts.num_layers) == (64, 2)
    assert facts.vocab_size == model.config.vocab_size


def test_the_tiny_model_loads_and_chats(tiny_model_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "List the labour categories."}],
        tokenize=False, add_generation_prompt=True,
    )
    assert prompt.startswith("<bos><start_of_turn>user\n")
    assert prompt.endswith("<start_of_turn>model\n")
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    assert ids.input_ids[0, 0].item() == tokenizer.bos_token_id
    with torch.no_grad():
        logits = model(**ids).logits
    assert logits.shape == (1, ids.input_ids.shape[1], len(tokenizer))
    assert torch.isfinite(logits).all()


def test_the_tiny_model_is_reproducible(tiny_model_dir: Path, tmp_path: Path) -> None:
    from helpers.tiny_model import build_tiny_model

    again = build_tiny_model(tmp_path / "again")
    for name in ("model.safetensors", "tokenizer.json"):
        assert (again / name).read_bytes() == (tiny_model_dir / name).read_bytes(), name


def test_pickle_only_weights_are_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    folder = tmp_path / "legacy"
    folder.mkdir()
    shutil.copy2(tiny_model_dir / "config.json", folder)
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04 pickle that could run code")
    with pytest.raises(ModelError, match="pickle") as caught:
        refuse_pickle_weights(folder)
    assert "pytorch_model.bin" in str(caught.value) and "safetensors" in str(caught.value)
    with pytest.raises(ModelError, match="pickle"):
        hf_model_facts(folder)

    shutil.copy2(tiny_model_dir / "model.safetensors", folder)  # safe weights beside it
    refuse_pickle_weights(folder)


def test_hf_model_facts_refuses_a_folder_without_config(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no config.json"):
        hf_model_facts(tmp_path)
    (tmp_path / "config.json").write_text("{oops")
    with pytest.raises(ModelError, match="not valid JSON"):
        hf_model_facts(tmp_path)
