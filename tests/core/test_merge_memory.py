"""The merge's low-memory steps give what peft and mergekit give: adapters folded tensor by
tensor (vs ``merge_and_unload``), the magnitude cut by bisection (vs mergekit's argsort),
and untouched tensors passed through (vs the delta stack)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ModelError
from core.merging import fold, lean


def _adapter(base: Path, folder: Path, **options: object) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(5)
    model = AutoModelForCausalLM.from_pretrained(str(base))
    options = {"target_modules": "all-linear", **options}
    if options["target_modules"] is None:
        options["target_modules"] = ["q_proj", "v_proj"]
    config = LoraConfig(r=4, lora_alpha=16, init_lora_weights=False, **options)
    get_peft_model(model, config).save_pretrained(str(folder), safe_serialization=True)
    return folder


def _peft_merged(base: Path, adapter: Path) -> dict:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def _folded(folder: Path) -> dict:
    from safetensors.torch import load_file

    tensors: dict = {}
    for path in fold.weight_files(folder):
        tensors.update(load_file(str(path)))
    return tensors


@pytest.mark.parametrize("options", [{}, {"use_rslora": True},
                                     {"rank_pattern": {"q_proj": 2},
                                      "alpha_pattern": {"down_proj": 3}}],
                         ids=["plain", "rslora", "patterns"])
def test_folding_equals_peft_merge_and_unload(tiny_model_dir: Path, tmp_path: Path,
                                              options: dict) -> None:
    import torch

    adapter = _adapter(tiny_model_dir, tmp_path / "lora", **options)
    out = tmp_path / "folded"
    out.mkdir()
    assert fold.can_fold(adapter, tiny_model_dir) is None
    changed = fold.fold_adapter(adapter, tiny_model_dir, out, "float32")
    expected = _peft_merged(tiny_model_dir, adapter)
    folded = _folded(out)
    assert changed > 0
    base = _folded(tiny_model_dir)
    moved = 0
    for name, tensor in folded.items():
        reference = expected[name]
        assert torch.allclose(tensor, reference, atol=1e-6, rtol=1e-5), name
        moved += not torch.equal(tensor, base[name])
    assert moved == changed  # exactly the LoRA targets changed
    assert set(folded) == set(base)


def test_a_folded_model_in_shards_loads_and_predicts_like_peft(tiny_model_dir: Path,
                                                               tmp_path: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapter = _adapter(tiny_model_dir, tmp_path / "lora")
    out = tmp_path / "folded"
    out.mkdir()
    fold.fold_adapter(adapter, tiny_model_dir, out, "float32", shard_bytes=200_000)
    index = json.loads((out / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 2 and all((out / name).exists() for name in shards)
    assert shards[0].endswith(f"-of-{len(shards):05d}.safetensors")
    ids = torch.tensor([[3, 17, 42, 9, 5]])
    folded = AutoModelForCausalLM.from_pretrained(str(out)).eval()
    peft = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(
        str(tiny_model_dir)), str(adapter)).eval()
    with torch.no_grad():
        assert torch.allclose(folded(ids).logits, peft(ids).logits, atol=1e-4)


def test_folding_writes_the_dtype_asked_for(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch

    adapter = _adapter(tiny_model_dir, tmp_path / "lora")
    out = tmp_path / "bf16"
    out.mkdir()
    fold.fold_adapter(adapter, tiny_model_dir, out, "bfloat16")
    assert fold.stored_dtype(out) == "bfloat16"
    assert json.loads((out / "config.json").read_text()).get(
        "torch_dtype", "bfloat16") == "bfloat16"
    assert all(t.dtype == torch.bfloat16 for t in _folded(out).values()
               if t.is_floating_point())


def test_adapters_plain_folding_cannot_express_are_named(tiny_model_dir: Path,
                                                          tmp_path: Path) -> None:
    dora = _adapter(tiny_model_dir, tmp_path / "dora", use_dora=True)
    assert fold.can_fold(dora, tiny_model_dir) == "DoRA"
    with pytest.raises(ModelError, match="DoRA"):
        fold.fold_adapter(dora, tiny_model_dir, tmp_path, "float32")
    config = json.loads((dora / "adapter_config.json").read_text())
    config.update(use_dora=False, target_modules=["q_proj"])
    (dora / "adapter_config.json").write_text(json.dumps(config))
    # the weights still hold DoRA's magnitude vectors: not plain LoRA
    assert "other than LoRA" in (fold.can_fold(dora, tiny_model_dir) or "")


# -- mergekit's magnitude step ---------------------------------------------------------------
@pytest.mark.parametrize("density", [0.01, 0.3, 0.5, 0.99])
@pytest.mark.parametrize("rescale", [None, "l1"])
def test_the_lean_magnitude_cut_keeps_what_mergekit_keeps(density: float,
                                                          rescale: str | None) -> None:
    import torch
    from mergekit.sparsify import RescaleNorm
    from mergekit.sparsify import magnitude as mergekit_magnitude

    generator = torch.Generator().manual_seed(int(density * 100))
    tensor = torch.randn(301, 77, generator=generator)  # continuous: no ties at the cut
    norm = RescaleNorm(rescale) if rescale else None
    expected = mergekit_magnitude(tensor, density, norm)
    lean_result = lean.magnitude(tensor, density, norm)
    assert torch.equal(lean_result != 0, expected != 0)
    assert torch.allclose(lean_result, expected, rtol=1e-6)


def test_ties_at_the_cut_keep_exactly_k_values() -> None:
    import torch

    tensor = torch.tensor([0.5, -0.2, 0.2, 0.2, -0.9, 0.0, 0.1, -0.2])
    result = lean.magnitude(tensor, 0.5, None)  # k = 4: 0.9, 0.5 and two of the 0.2s
    assert int((result != 0).sum()) == 4
    assert torch.equal(result, torch.tensor([0.5, -0.2, 0.2, 0.0, -0.9, 0.0, 0.0, 0.0]))


def test_a_tensor_with_few_non_zero_values_comes_back_whole() -> None:
    import torch

    tensor = torch.zeros(1000)
    tensor[[3, 500]] = torch.tensor([0.25, -1.0])
    assert lean.magnitude(tensor, 0.1, None) is tensor
    assert lean.kth_largest_bits(torch.tensor([3.0, 1.0, 2.0]), 2) == \
        torch.tensor([2.0]).view(torch.int32).item()


def test_the_lean_steps_are_installed_only_during_a_merge() -> None:
    from mergekit import sparsify
    from mergekit.merge_methods.generalized_task_arithmetic import (
        GeneralizedTaskArithmeticMerge,
    )

    before = (sparsify.magnitude, GeneralizedTaskArithmeticMerge.merge_group)
    with lean.installed():
        assert sparsify.magnitude is lean.magnitude
        assert GeneralizedTaskArithmeticMerge.merge_group is not before[1]
    assert (sparsify.magnitude, GeneralizedTaskArithmeticMerge.merge_group) == before


# -- a whole merge against plain peft + mergekit -----------------------------------------------
@pytest.fixture(scope="module")
def two_adapters(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path):  # noqa: ANN201
    import shutil

    from core.workspace import Workspace
    from core.workspace.registry import ModelRecord, ModelRegistry

    root = tmp_path_factory.mktemp("merge-memory")
    workspace = Workspace.create(root / "ws")
    registry = ModelRegistry(workspace)
    base = ModelRecord(id="tiny", name="tiny", kind="base", architecture="Gemma3ForCausalLM",
                       model_type="gemma3_text", parameters=0, format="safetensors")
    with registry.create("tiny", lambda folder: base) as folder:
        for path in tiny_model_dir.iterdir():
            shutil.copy2(path, folder / path.name)
    for index, seed in enumerate((5, 6), start=1):
        import torch

        torch.manual_seed(seed)
        adapter = _adapter(tiny_model_dir, root / f"lora-{index}")
        record = base.model_copy(update={"id": f"lora-{index}", "kind": "adapter",
                                         "format": "peft", "parents": ("tiny",)})
        with registry.create(record.id, lambda folder, r=record: r) as folder:
            for path in adapter.iterdir():
                shutil.copy2(path, folder / path.name)
    return workspace


def _plain_merge(workspace, config, out: Path) -> dict:  # noqa: ANN001
    """The same merge as peft merge_and_unload + mergekit's own run_merge would make it."""
    import yaml
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge

    from core.merging.config import merge_yaml
    from core.merging.engine import mergekit_options
    from core.merging.sources import _merge_with_peft
    from core.workspace.registry import ModelRegistry

    registry = ModelRegistry(workspace)
    base = registry.path_of(registry.get("tiny"))
    paths = {"tiny": base}
    for source in config.models:
        folder = out.parent / f"plain-{source.model}"
        if not folder.exists():
            folder.mkdir()
            _merge_with_peft(base, registry.path_of(registry.get(source.model)), folder)
            for name in ("tokenizer.json", "tokenizer_config.json"):
                if (base / name).exists():
                    (folder / name).write_bytes((base / name).read_bytes())
        paths[source.model] = folder
    text = merge_yaml(config, paths, base="tiny", dtype="float32")
    run_merge(MergeConfiguration.model_validate(yaml.safe_load(text)), str(out),
              options=mergekit_options(0))
    return _folded(out)


@pytest.mark.parametrize("method", ["linear", "task_arithmetic", "ties", "slerp"])
def test_a_merge_of_adapters_equals_plain_peft_and_mergekit(two_adapters, tmp_path: Path,  # noqa: ANN001
                                                            method: str) -> None:
    import torch

    from core.merging import parse_merge_config
    from core.merging.job import merge_models
    from core.workspace.registry import ModelRegistry

    config = parse_merge_config({"method": method, "models": ["lora-1", "lora-2"],
                                 "model_id": f"lean-{method}"})
    merge_models(two_adapters, config, scratch=tmp_path / "scratch")
    registry = ModelRegistry(two_adapters)
    ours = _folded(registry.path_of(registry.get(f"lean-{method}")))
    plain = _plain_merge(two_adapters, config, tmp_path / "plain")
    assert set(ours) == set(plain)
    differing = total = 0
    for name, tensor in ours.items():
        close = torch.isclose(tensor, plain[name], atol=1e-6, rtol=1e-5)
        differing += int((~close).sum())
        total += tensor.numel()
    # TIES: values tied at the magnitude cut may be kept by one and dropped by the other
    assert differing <= (total * 1e-4 if method == "ties" else 0), (differing, total)


def test_a_fold_for_a_merge_writes_only_what_the_adapter_changes(tiny_model_dir: Path,
                                                                  tmp_path: Path) -> None:
    import torch

    adapter = _adapter(tiny_model_dir, tmp_path / "lora", target_modules=None)
    out = tmp_path / "changed"
    out.mkdir()
    changed = fold.fold_adapter(adapter, tiny_model_dir, out, "float32", changed_only=True)
    tensors = _folded(out)
    assert len(tensors) == changed and all(name.endswith("proj.weight") for name in tensors)
    assert fold.folded_base(out) == tiny_model_dir.absolute()
    assert fold.folded_base(tiny_model_dir) is None
    expected = _peft_merged(tiny_model_dir, adapter)
    assert all(torch.allclose(t, expected[n], atol=1e-6) for n, t in tensors.items())
