"""Merging tiny Gemma-3-shaped models with every method, the compatibility check, the CLI.

A module fixture registers the tiny base and two "fine-tunes" (the base plus seeded noise),
an adapter on the base, and two incompatible models (wider; other vocabulary).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from core.cli.main import main
from core.errors import ConfigError, JobCancelled, ModelError
from core.jobs.progress import JobContext
from core.merging import check_compatible, merge_yaml, parse_merge_config
from core.merging.job import merge_models
from core.models.info import hf_model_facts
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry

pytestmark = pytest.mark.timeout(300)


def register_folder(workspace: Workspace, model_id: str, source: Path, kind: str,
                    parents: tuple[str, ...] = (), fmt: str = "safetensors") -> None:
    """Copy a model folder into the registry under ``model_id``."""
    registry = ModelRegistry(workspace)
    facts = hf_model_facts(source) if kind != "adapter" else None

    def build(folder: Path) -> ModelRecord:
        return ModelRecord(
            id=model_id, name=model_id, kind=kind,  # type: ignore[arg-type]
            architecture=facts.architecture if facts else "Gemma3ForCausalLM",
            model_type=facts.model_type if facts else "gemma3_text",
            parameters=facts.parameters if facts else 0, format=fmt, parents=parents)

    with registry.create(model_id, build) as folder:
        for path in Path(source).iterdir():
            shutil.copy2(path, folder / path.name)


def perturbed_copy(source: Path, target: Path, seed: int, scale: float = 0.02) -> Path:
    """A "fine-tune": ``source`` plus seeded Gaussian noise on every tensor."""
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(source, target)
    weights = load_file(str(target / "model.safetensors"))
    generator = torch.Generator().manual_seed(seed)
    noisy = {name: tensor + scale * torch.randn(tensor.shape, generator=generator)
             for name, tensor in weights.items()}
    save_file(noisy, str(target / "model.safetensors"), metadata={"format": "pt"})
    return target


def build_variant(folder: Path, *, hidden_size: int | None = None,
                  vocab_size: int | None = None) -> Path:
    """A tiny model that differs from the fixture's in width or vocabulary."""
    import torch
    from helpers.tiny_model import build_tokenizer, tiny_gemma3_config
    from transformers import Gemma3ForCausalLM

    tokenizer = build_tokenizer(vocab_size=vocab_size) if vocab_size else build_tokenizer()
    overrides = {"hidden_size": hidden_size} if hidden_size else {}
    torch.manual_seed(7)
    model = Gemma3ForCausalLM(tiny_gemma3_config(tokenizer, **overrides)).eval()
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def build_adapter(base: Path, folder: Path) -> Path:
    """A LoRA adapter (peft safetensors) on ``base`` with non-zero, seeded weights."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(11)
    model = AutoModelForCausalLM.from_pretrained(str(base))
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                        init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(str(folder), safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Workspace:
    root = tmp_path_factory.mktemp("merge-family")
    workspace = Workspace.create(root / "ws")
    register_folder(workspace, "tiny", tiny_model_dir, "base")
    register_folder(workspace, "ft-a", perturbed_copy(tiny_model_dir, root / "a", 1),
                    "merged", ("tiny",))
    register_folder(workspace, "ft-b", perturbed_copy(tiny_model_dir, root / "b", 2),
                    "merged", ("tiny",))
    register_folder(workspace, "lora", build_adapter(tiny_model_dir, root / "lora"),
                    "adapter", ("tiny",), fmt="peft")
    register_folder(workspace, "wide", build_variant(root / "wide", hidden_size=96), "base")
    register_folder(workspace, "other-vocab", build_variant(root / "voc", vocab_size=300),
                    "base")
    return workspace


def load_weights(workspace: Workspace, model_id: str) -> dict:
    from safetensors.torch import load_file

    folder = ModelRegistry(workspace).path_of(ModelRegistry(workspace).get(model_id))
    return load_file(str(folder / "model.safetensors"))


# -- config and YAML (no weights) -----------------------------------------------------------
def test_merge_yaml_for_each_method() -> None:
    ties = parse_merge_config({"method": "ties", "base": "tiny", "models": [
        {"model": "ft-a", "weight": 0.7, "density": 0.4}, {"model": "ft-b"}]})
    data = yaml.safe_load(merge_yaml(ties))
    assert data["merge_method"] == "ties" and data["base_model"] == "tiny"
    assert data["models"][0] == {"model": "ft-a", "parameters": {"weight": 0.7, "density": 0.4}}
    assert data["models"][1]["parameters"] == {"weight": 0.5, "density": 0.5}

    slerp = parse_merge_config({"method": "slerp", "models": ["ft-a", "ft-b"], "t": 0.25})
    data = yaml.safe_load(merge_yaml(slerp, {"ft-a": Path("/m/a"), "ft-b": Path("/m/b")}))
    assert data["base_model"] == "/m/a" and data["parameters"] == {"t": 0.25}
    assert [m["model"] for m in data["models"]] == ["/m/a", "/m/b"]

    arithmetic = parse_merge_config({"method": "task-arithmetic", "models": ["ft-a"]})
    assert "density" not in merge_yaml(arithmetic)
    assert yaml.safe_load(merge_yaml(arithmetic, base="tiny"))["base_model"] == "tiny"


def test_config_problems_are_reported_together() -> None:
    with pytest.raises(ConfigError) as error:
        parse_merge_config({"method": "slerp", "t": 0.5, "models": [
            {"model": "a", "weight": 1.0}, "b", "c"]})
    message = str(error.value)
    assert "exactly two models" in message and "SLERP takes t" in message
    with pytest.raises(ConfigError, match="less than or equal to 1"):
        parse_merge_config({"method": "slerp", "models": ["a", "b"], "t": 2})
    with pytest.raises(ConfigError, match="does not take a density"):
        parse_merge_config({"method": "linear", "models": [
            {"model": "a", "density": 0.5}, {"model": "b"}]})
    with pytest.raises(ConfigError, match="method"):
        parse_merge_config({"method": "frankenmerge", "models": ["a", "b"]})


def test_mergekit_style_yaml_is_accepted() -> None:
    config = parse_merge_config(yaml.safe_load("""
merge_method: dare_ties
base_model: tiny
models:
  - model: ft-a
    parameters: {weight: 0.6, density: 0.3}
  - model: ft-b
    parameters: {weight: 0.4, density: 0.3}
parameters: {normalize: true}
dtype: float32
random_seed: 3
"""))
    assert config.method == "dare_ties" and config.base == "tiny" and config.seed == 3
    assert [(m.model, m.weight, m.density) for m in config.models] == [
        ("ft-a", 0.6, 0.3), ("ft-b", 0.4, 0.3)]
    with pytest.raises(ConfigError, match="slices"):
        parse_merge_config({"merge_method": "passthrough", "slices": []})


# -- compatibility --------------------------------------------------------------------------
def test_compatible_family_has_no_problems(family: Workspace) -> None:
    registry = ModelRegistry(family)
    records = [registry.get(i) for i in ("tiny", "ft-a", "ft-b", "lora")]
    assert check_compatible(records, registry) == []


def test_different_hidden_size_is_refused_with_what_differs(family: Workspace) -> None:
    registry = ModelRegistry(family)
    problems = check_compatible([registry.get("ft-a"), registry.get("wide")], registry)
    assert any("hidden size differs" in p and "ft-a=64" in p and "wide=96" in p
               for p in problems), problems
    config = parse_merge_config({"method": "linear", "models": ["ft-a", "wide"]})
    with pytest.raises(ModelError, match="cannot be merged: hidden size differs"):
        merge_models(family, config)
    assert not ModelRegistry(family).orphans()


def test_different_vocabulary_is_refused(family: Workspace) -> None:
    registry = ModelRegistry(family)
    problems = check_compatible([registry.get("ft-a"), registry.get("other-vocab")], registry)
    assert any(p.startswith("vocabulary size differs") for p in problems), problems
    assert any(p.startswith("tokenizer differs") for p in problems), problems
    with pytest.raises(ModelError, match="vocabulary size differs"):
        merge_models(family, parse_merge_config(
            {"method": "ties", "base": "tiny", "models": ["ft-a", "other-vocab"]}))


def test_gguf_models_cannot_be_merged(family: Workspace, tmp_path: Path) -> None:
    registry = ModelRegistry(family)
    fake = ModelRecord(id="x-gguf", name="x", kind="gguf", architecture="gemma3",
                       parents=("ft-a",))
    problems = check_compatible([registry.get("ft-a"), fake], registry)
    assert problems and "GGUF" in problems[0]


# -- merging ---------------------------------------------------------------------------------
METHOD_CASES = {
    "linear": {"models": [{"model": "ft-a", "weight": 0.25}, {"model": "ft-b", "weight": 0.75}]},
    "slerp": {"models": ["ft-a", "ft-b"], "t": 0.3},
    "ties": {"models": [{"model": "ft-a", "weight": 0.6, "density": 0.5},
                        {"model": "ft-b", "weight": 0.4, "density": 0.7}]},
    "dare_ties": {"models": [{"model": "ft-a", "density": 0.5}, {"model": "ft-b"}], "seed": 5},
    "task_arithmetic": {"models": [{"model": "ft-a", "weight": 0.5},
                                   {"model": "ft-b", "weight": 0.5}]},
}


@pytest.mark.parametrize("method", list(METHOD_CASES))
def test_each_method_merges_and_records_lineage(family: Workspace, method: str) -> None:
    import torch

    config = parse_merge_config({"method": method, "model_id": f"m-{method.replace('_', '-')}",
                                 **METHOD_CASES[method]})
    result = merge_models(family, config)
    registry = ModelRegistry(family)
    record = registry.get(result["model_id"])
    assert record.kind == "merged" and record.architecture == "Gemma3ForCausalLM"
    base_expected = method in ("ties", "dare_ties", "task_arithmetic")
    assert record.parents == (("ft-a", "ft-b", "tiny") if base_expected else ("ft-a", "ft-b"))
    assert record.config["method"] == method
    assert record.config["base"] == ("tiny" if base_expected else None)
    assert registry.verify(record.id) == []

    merged, source = load_weights(family, record.id), load_weights(family, "tiny")
    assert set(merged) == set(source)
    for name, tensor in merged.items():
        assert tensor.shape == source[name].shape, name
        assert torch.isfinite(tensor).all(), name

    folder = registry.path_of(record)
    kit = yaml.safe_load((folder / "mergekit.yaml").read_text())
    assert kit["merge_method"] == method
    assert all(Path(m["model"]).is_absolute() for m in kit["models"])
    ours = yaml.safe_load((folder / "merge.yaml").read_text())
    assert ours["method"] == method and (ours.get("base") == "tiny") == base_expected
    assert (folder / "tokenizer.json").exists() and (folder / "chat_template.jinja").exists()
    assert "scriptorium" not in (folder / "config.json").read_text()  # plain HF folder


def test_linear_merge_is_the_weighted_average(family: Workspace) -> None:
    import torch

    merged = load_weights(family, "m-linear") if ModelRegistry(family).exists("m-linear") \
        else load_weights(family, merge_models(family, parse_merge_config(
            {"method": "linear", "model_id": "m-linear", **METHOD_CASES["linear"]}))["model_id"])
    a, b = load_weights(family, "ft-a"), load_weights(family, "ft-b")
    name = "model.layers.0.mlp.up_proj.weight"
    assert torch.allclose(merged[name], 0.25 * a[name] + 0.75 * b[name], atol=1e-6)


def test_adapter_is_merged_into_its_base_first(family: Workspace) -> None:
    import torch

    config = parse_merge_config({"method": "task_arithmetic", "models": ["lora", "ft-a"],
                                 "model_id": "m-with-adapter"})
    result = merge_models(family, config)
    assert result["base"] == "tiny"  # the adapter's base is the common parent
    merged, base = load_weights(family, "m-with-adapter"), load_weights(family, "tiny")
    name = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.allclose(merged[name], base[name])
    assert ModelRegistry(family).get("m-with-adapter").parents == ("lora", "ft-a", "tiny")


def test_cancel_stops_the_merge_and_registers_nothing(family: Workspace,
                                                      tmp_path: Path) -> None:
    calls = {"n": 0}

    def cancelled() -> bool:
        calls["n"] += 1
        return calls["n"] > 8  # a few tensors in

    ctx = JobContext(tmp_path / "runs" / "job", cancelled, min_interval_s=0)
    before = {r.id for r in ModelRegistry(family).list()}
    with pytest.raises(JobCancelled):
        merge_models(family, parse_merge_config(
            {"method": "linear", "models": ["ft-a", "ft-b"], "model_id": "m-cancelled"}), ctx)
    registry = ModelRegistry(family)
    assert {r.id for r in registry.list()} == before and not registry.orphans()
    events = [json.loads(line) for line in (ctx.job_dir / "events.jsonl").read_text().splitlines()]
    assert any("merged model." in e.get("message", "") for e in events)


def test_cancel_while_an_adapter_is_folded(family: Workspace, tmp_path: Path) -> None:
    calls = {"n": 0}

    def cancelled() -> bool:
        calls["n"] += 1
        return calls["n"] > 3  # inside the fold of the adapter

    ctx = JobContext(tmp_path / "runs" / "fold", cancelled, min_interval_s=0)
    before = {r.id for r in ModelRegistry(family).list()}
    with pytest.raises(JobCancelled):
        merge_models(family, parse_merge_config(
            {"method": "linear", "models": ["lora", "ft-a"], "model_id": "m-fold-cancel"}), ctx)
    assert {r.id for r in ModelRegistry(family).list()} == before
    assert not (ctx.job_dir / "scratch").exists()
    events = [json.loads(line) for line in (ctx.job_dir / "events.jsonl").read_text().splitlines()]
    assert any("folding adapter lora: tensor" in e.get("message", "") for e in events)


def test_no_common_parent_needs_a_base(family: Workspace) -> None:
    with pytest.raises(ConfigError, match="no common parent"):
        merge_models(family, parse_merge_config({"method": "ties",
                                                 "models": ["tiny", "wide"]}))


# -- the CLI ----------------------------------------------------------------------------------
def test_cli_dry_run_prints_yaml_and_report(family: Workspace,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["merge", "-w", str(family.root), "--method", "ties", "--models", "ft-a", "ft-b",
                 "--weights", "0.5", "0.5", "--density", "0.6", "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "merge_method: ties" in out and "base_model: tiny" in out
    assert "compatibility: ok" in out

    code = main(["merge", "-w", str(family.root), "--method", "linear", "--models", "ft-a",
                 "other-vocab", "--dry-run", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and not report["compatible"]
    assert any("vocabulary size differs" in p for p in report["problems"])


def test_cli_merge_runs_the_job(family: Workspace, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "merge.yaml"
    config.write_text(yaml.safe_dump({
        "merge_method": "slerp", "base_model": "ft-a",
        "models": [{"model": "ft-a"}, {"model": "ft-b"}], "parameters": {"t": 0.5}}))
    code = main(["merge", "-w", str(family.root), str(config), "--id", "m-cli", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["model_id"] == "m-cli" and result["method"] == "slerp"
    record = ModelRegistry(family).get("m-cli")
    assert record.parents == ("ft-a", "ft-b") and record.config["run"] == result["job"]

    code = main(["merge", "-w", str(family.root), "--method", "slerp",
                 "--models", "ft-a", "ft-b", "--weights", "1"])
    assert code != 0 and "error: " in capsys.readouterr().err


def test_a_base_chosen_with_its_fine_tunes_is_named_as_the_base_to_use(family: Workspace) -> None:
    """Issue 17: base + adapter for TIES failed at run time with only "name one with --base"."""
    from core.merging.plan import plan_merge

    config = parse_merge_config({"method": "ties", "models": ["tiny", "ft-a", "lora"]})
    with pytest.raises(ConfigError, match="tiny is the model the others were trained from"):
        merge_models(family, config)
    plan = plan_merge(family, config)
    assert not plan.ok and plan.parent_chosen == "tiny" and plan.base is None
    assert "TIES merges each model's difference" in plan.problems[0]
    fixed = plan_merge(family, parse_merge_config(
        {"method": "ties", "models": ["ft-a", "lora"], "base": "tiny"}))
    assert fixed.ok and fixed.base == "tiny" and fixed.parent_chosen is None
    automatic = plan_merge(family, parse_merge_config({"method": "ties", "models": ["ft-a",
                                                                                   "ft-b"]}))
    assert automatic.ok and automatic.base == "tiny"
    linear = plan_merge(family, parse_merge_config({"method": "linear", "models": ["tiny",
                                                                                  "ft-a"]}))
    assert linear.ok and linear.base is None and linear.parent_chosen is None
    unknown = plan_merge(family, parse_merge_config({"method": "linear", "models": ["tiny",
                                                                                   "nope"]}))
    assert not unknown.ok and "nope" in unknown.problems[0]
    incompatible = plan_merge(family, parse_merge_config({"method": "linear",
                                                          "models": ["tiny", "wide"]}))
    assert not incompatible.ok and incompatible.problems


def test_the_merge_dtype_follows_the_base_unless_asked(family: Workspace) -> None:
    import torch

    from core.merging.fold import stored_dtype

    assert stored_dtype(ModelRegistry(family).path_of(ModelRegistry(family).get("tiny"))) \
        == "float32"
    merge_models(family, parse_merge_config({"method": "ties", "models": ["lora", "ft-a"],
                                             "model_id": "m-default-dtype"}))
    assert load_weights(family, "m-default-dtype")["model.norm.weight"].dtype == torch.float32
    merge_models(family, parse_merge_config({"method": "ties", "models": ["lora", "ft-a"],
                                             "dtype": "bfloat16", "model_id": "m-bf16"}))
    weights = load_weights(family, "m-bf16")
    assert all(t.dtype == torch.bfloat16 for t in weights.values() if t.is_floating_point())
