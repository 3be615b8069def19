"""Training configs: recipes and presets, overrides, every problem listed, estimates."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.jobs.kinds import validate_config
from core.jobs.overrides import parse_overrides
from core.system.hardware import GpuInfo, Hardware
from core.training.config import PRESETS, RECIPES, build_config, load_recipe
from core.training.estimate import ModelShape, estimate

CPU = Hardware(cpu_count=2, memory_bytes=16 * 2**30, gpus=(), torch_version="2")
GPU = Hardware(cpu_count=8, memory_bytes=64 * 2**30,
               gpus=(GpuInfo(0, "Test GPU", 24 * 2**30),), torch_version="2")


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_recipe_has_the_three_presets(recipe: str) -> None:
    data = load_recipe(recipe)
    assert data["recipe"] == recipe
    assert set(PRESETS) <= set(data["presets"])
    for preset in PRESETS:
        config = build_config(recipe, preset=preset, dataset="d")
        assert config.recipe == recipe and config.base == "gemma3-270m"


def test_overrides_reach_nested_fields_and_parse_types() -> None:
    config = build_config("sft", preset="quick", dataset="d",
                          overrides=["lora.r=4", "max_steps=7", "packing=false",
                                     "lora.target_modules=[q_proj, v_proj]"])
    assert config.lora.r == 4 and config.lora.alpha == 16  # the rest of lora is kept
    assert config.max_steps == 7 and config.packing is False
    assert config.lora.target_modules == ("q_proj", "v_proj")
    parsed, bad = parse_overrides(["a.b=1", "oops"])
    assert parsed == {"a": {"b": 1}} and bad == ["--set 'oops' is not KEY=VALUE"]


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        build_config("dpo", preset="huge", overrides=["batch_size=0", "lora.r=many",
                                                        "scheduler=step", "nonsense"])
    message = str(caught.value)
    for fragment in ("dataset", "batch_size", "lora.r", "scheduler", "huge", "nonsense"):
        assert fragment in message


def test_cross_field_problems_and_job_validation() -> None:
    with pytest.raises(ConfigError) as caught:
        build_config("cpt", dataset="d", overrides=["device=cpu", "dtype=float16",
                                                      "quantize_4bit=true"])
    assert "float16" in str(caught.value) and "QLoRA" in str(caught.value)
    config = build_config("orpo", dataset="d")
    assert validate_config("train", config.model_dump(mode="json")) == config
    with pytest.raises(ConfigError):
        validate_config("train", {"recipe": "ppo", "dataset": "d"})


def test_qlora_asked_on_a_cpu_machine_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.training import modeling

    monkeypatch.setattr(modeling, "cuda_available", lambda: False)
    config = build_config("sft", dataset="d", overrides=["quantize_4bit=true"])
    with pytest.raises(ConfigError, match="CUDA GPU and the bitsandbytes"):
        modeling.placement(config)
    auto = modeling.placement(build_config("sft", dataset="d"))
    assert (auto.device, auto.dtype) == ("cpu", "float32")


def test_estimate_matches_the_measured_cpu_step_and_flags_what_does_not_fit() -> None:
    config = build_config("cpt", dataset="d", overrides=["batch_size=1", "max_length=256",
                                                           "max_steps=100"])
    guess = estimate(config, CPU, ModelShape.gemma3_270m())
    assert guess.fits and 1.5 < guess.seconds_per_step < 2.5
    assert guess.seconds == pytest.approx(guess.seconds_per_step * 100)
    on_gpu = estimate(config, GPU, ModelShape.gemma3_270m())
    assert on_gpu.seconds < guess.seconds / 10
    big = build_config("cpt", dataset="d", overrides=["batch_size=512", "max_length=4096"])
    too_big = estimate(big, CPU, ModelShape.gemma3_270m())
    assert not too_big.fits and "batch_size" in too_big.warning
