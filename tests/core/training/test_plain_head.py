"""DPO's plain LM head (CPU; chunked through a frozen head, or sliced logits) gives trl's
fused head's loss, gradients, reference log-probabilities and metrics; a model class that
cannot slice its head, or a call the plain head does not cover, goes to trl's head."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.training import logprobs
from core.training import loss as loss_module
from core.training.plainhead import preference_trainer_class

PAIRS = [{"prompt": f"Context: clause {i} sets the report deadline. When is the report due?",
          "chosen": f" Within {i * 10} days of award, per clause {i}.",
          "rejected": " Whenever the contractor likes."} for i in range(1, 5)]


def _trainer(model_dir: Path, tmp_path: Path, plain: bool, slices: bool = True) -> Any:
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    if not slices:
        model.__class__ = _projecting_everywhere(type(model))
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0,
                                             target_modules="all-linear"))
    for name, parameter in model.named_parameters():
        if "lora_B" in name:  # a trained adapter: the policy differs from the reference
            torch.nn.init.normal_(parameter, std=0.05)
    args = DPOConfig(output_dir=str(tmp_path / f"plain-{plain}"), use_cpu=True, report_to=[],
                     max_length=64, per_device_train_batch_size=4,
                     precompute_ref_log_probs=True)
    return preference_trainer_class(DPOTrainer, plain)(
        model=model, args=args, train_dataset=Dataset.from_list(PAIRS),
        processing_class=tokenizer)


def _projecting_everywhere(model_class: type) -> type:
    """The model class, ignoring ``logits_to_keep`` as older model classes do."""

    class ProjectsEverywhere(model_class):  # type: ignore[misc, valid-type]
        def forward(self, *args: Any, **kwargs: Any) -> Any:
            kwargs.pop("logits_to_keep", None)
            return super().forward(*args, **kwargs)

    return ProjectsEverywhere


def _step(trainer: Any) -> tuple[float, dict[str, Any], dict[str, float], Any]:
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(PAIRS))])
    trainer.model.train()
    loss = trainer.compute_loss(trainer.model, batch)
    loss.backward()
    grads = {name: parameter.grad.clone() for name, parameter
             in trainer.model.named_parameters() if parameter.grad is not None}
    metrics = {key: values[-1] for key, values in trainer._metrics["train"].items()}
    return float(loss), grads, metrics, batch["ref_chosen_logps"]


@pytest.mark.parametrize("chunked", [True, False], ids=["frozen-head-chunks", "sliced-logits"])
def test_the_plain_head_gives_the_fused_heads_step(tiny_model_dir: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   chunked: bool) -> None:
    import torch

    if not chunked:  # as for a model whose output layer is trained or scaled
        monkeypatch.setattr(loss_module, "frozen_plain_head", lambda model: None)
    fused = _trainer(tiny_model_dir, tmp_path, plain=False)
    assert type(fused).__name__ == "DPOTrainer"
    plain = _trainer(tiny_model_dir, tmp_path, plain=True)
    calls = []
    name = "head_log_probs_and_stats" if chunked else "token_log_probs_and_stats"
    original = getattr(logprobs, name)
    monkeypatch.setattr(logprobs, name, lambda *a: (calls.append(1), original(*a))[1])
    want_loss, want_grads, want_metrics, want_ref = _step(fused)
    loss, grads, metrics, ref = _step(plain)
    assert calls, "the plain head was not used"
    assert loss == pytest.approx(want_loss, rel=1e-5)
    assert want_loss != pytest.approx(0.6931, abs=1e-4)  # the adapter moved the policy
    assert torch.allclose(ref, want_ref, rtol=1e-5)
    assert want_grads.keys() == grads.keys() and grads
    for name, grad in grads.items():
        assert torch.allclose(grad, want_grads[name], rtol=1e-3, atol=1e-6), name
    assert metrics.keys() == want_metrics.keys()
    for key, value in want_metrics.items():
        assert metrics[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key


def test_a_model_that_projects_every_position_goes_to_trls_head(
        tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loss_module, "frozen_plain_head", lambda model: None)
    plain = _trainer(tiny_model_dir, tmp_path, plain=True, slices=False)
    fused = _trainer(tiny_model_dir, tmp_path, plain=False)
    loss, grads, _, _ = _step(plain)
    want_loss, want_grads, _, _ = _step(fused)
    assert loss == pytest.approx(want_loss, rel=1e-5)
    assert grads.keys() == want_grads.keys()
