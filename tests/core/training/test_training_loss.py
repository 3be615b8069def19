"""SFT loss paths: the model's own loss (fast on CPU) and trl's fused LM head agree, and
the choice between them follows the device and the memory the full logits need."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.training.loss import choose_loss_path, logits_bytes, sft_trainer_class
from core.training.packing import PackedRowsCollator, pack_pairs

GIB = 2**30


def test_the_choice_follows_device_and_memory() -> None:
    assert logits_bytes(4, 128, 262_144) == 4 * 128 * 262_144 * 4 * 3
    assert choose_loss_path("cpu", 4, 128, 262_144, available_bytes=16 * GIB) == "plain"
    assert choose_loss_path("cpu", 8, 4096, 262_144, available_bytes=16 * GIB) == "fused"
    assert choose_loss_path("cuda", 1, 16, 1_000, available_bytes=16 * GIB) == "fused"
    # a frozen output layer projected 256 positions at a time: long rows stay plain
    assert choose_loss_path("cpu", 8, 4096, 262_144, 16 * GIB, chunk_rows=256) == "plain"
    assert logits_bytes(8, 4096, 262_144, chunk_rows=256) == 256 * 262_144 * 4 * 3


def _loss(path: str, model_dir: Path, packed: object, batch: dict, tmp_path: Path) -> float:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    args = SFTConfig(output_dir=str(tmp_path / path), use_cpu=True, report_to=[],
                     dataset_kwargs={"skip_prepare_dataset": True}, packing=False,
                     remove_unused_columns=False, max_length=128)
    trainer = sft_trainer_class(path)(model=model, args=args, processing_class=tokenizer,
                                      train_dataset=packed,
                                      data_collator=PackedRowsCollator(tokenizer.pad_token_id))
    with torch.no_grad():
        return float(trainer.compute_loss(trainer.model, dict(batch)))


def test_plain_and_fused_losses_agree_on_packed_rows(tiny_model_dir: Path,
                                                     tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    rows = [{"prompt": "<bos><start_of_turn>user\nWho reviews the plan?<end_of_turn>\n"
                       "<start_of_turn>model\n", "completion": f"The agency {word}.<end_of_turn>\n"}
            for word in ("reviews it", "tests the security plan weekly", "does", "signs")]
    packed = pack_pairs(rows, tokenizer, max_length=40)
    assert len(packed) > 1
    batch = PackedRowsCollator(tokenizer.pad_token_id)([packed[i] for i in range(len(packed))])
    plain = _loss("plain", tiny_model_dir, packed, batch, tmp_path)
    fused = _loss("fused", tiny_model_dir, packed, batch, tmp_path)
    assert plain > 0
    assert plain == pytest.approx(fused, rel=1e-4)


class _OutOfMemory:
    """Wraps a model whose sliced forward runs out of memory."""

    def __init__(self, model: object) -> None:
        self.model = model

    def __call__(self, **inputs: object) -> object:
        raise RuntimeError("DefaultCPUAllocator: out of memory")


class _HeadEverywhere:
    """Wraps a model so that ``logits_to_keep`` is ignored, as in older model classes."""

    def __init__(self, model: object) -> None:
        self.model = model

    def __call__(self, **inputs: object) -> object:
        inputs.pop("logits_to_keep", None)
        return self.model(**inputs)


def test_projecting_the_counted_positions_gives_the_full_loss_and_gradients(
        tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    rows = [{"prompt": "<bos><start_of_turn>user\nContext: the contractor shall deliver the "
                       f"monthly status report within {days} days under FAR 52.212. When is "
                       "it due?<end_of_turn>\n<start_of_turn>model\n",
             "completion": f"Within {days} days.<end_of_turn>\n"} for days in (10, 30, 45, 60)]
    packed = pack_pairs(rows, tokenizer, max_length=128)
    assert len(packed) >= 1
    batch = PackedRowsCollator(tokenizer.pad_token_id)([packed[i] for i in range(len(packed))])
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    args = SFTConfig(output_dir=str(tmp_path / "out"), use_cpu=True, report_to=[],
                     dataset_kwargs={"skip_prepare_dataset": True}, packing=False,
                     remove_unused_columns=False, max_length=128)
    trainer = sft_trainer_class("plain")(model=model, args=args, processing_class=tokenizer,
                                         train_dataset=packed,
                                         data_collator=PackedRowsCollator(
                                             tokenizer.pad_token_id))
    weight = trainer.model.get_input_embeddings().weight

    def loss_and_grad(target: object) -> tuple[float, torch.Tensor]:
        weight.grad = None
        loss = trainer.compute_loss(target, dict(batch))
        loss.backward()
        return float(loss), weight.grad.clone()

    sliced_loss, sliced_grad = loss_and_grad(trainer.model)
    assert trainer.slice_head
    trainer.slice_head = False
    full_loss, full_grad = loss_and_grad(trainer.model)
    assert sliced_loss == pytest.approx(full_loss, rel=1e-5)
    assert torch.allclose(sliced_grad, full_grad, rtol=1e-4, atol=1e-7)

    trainer.slice_head = True
    with pytest.raises(RuntimeError, match="out of memory"):  # the batch must back off
        trainer.compute_loss(_OutOfMemory(trainer.model), dict(batch))
    assert trainer.slice_head

    # a model class that projects every position: noticed, same loss
    fallback_loss, _ = loss_and_grad(_HeadEverywhere(trainer.model))
    assert not trainer.slice_head
    assert fallback_loss == pytest.approx(full_loss, rel=1e-5)


def test_cpt_plain_loss_gives_the_models_loss_and_gradients(tiny_model_dir: Path,
                                                            tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

    from core.training.loss import cpt_trainer_class
    from core.training.recipes.cpt import PackedCollator

    torch.manual_seed(0)
    rows = [{"input_ids": torch.randint(3, 200, (24,)).tolist()} for _ in range(3)]
    rows.append({"input_ids": rows[0]["input_ids"][:15]})  # a short row: padded, masked
    batch = PackedCollator(0, 24)(rows)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    args = TrainingArguments(output_dir=str(tmp_path / "out"), use_cpu=True, report_to=[])
    trainer = cpt_trainer_class("plain")(model=model, args=args)
    assert cpt_trainer_class("fused") is Trainer
    weight = trainer.model.get_input_embeddings().weight

    def loss_and_grad(items: object) -> tuple[float, torch.Tensor]:
        weight.grad = None
        loss = trainer.compute_loss(trainer.model, dict(batch), num_items_in_batch=items)
        loss.backward()
        return float(loss), weight.grad.clone()

    counted = int((batch["labels"][:, 1:] != -100).sum())
    losses = []
    for items in (None, torch.tensor(counted * 2)):  # accumulation: a share of the tokens
        plain_loss, plain_grad = loss_and_grad(items)
        assert trainer.slice_head
        trainer.slice_head = False  # the model's own loss
        model_loss, model_grad = loss_and_grad(items)
        trainer.slice_head = True
        assert plain_loss == pytest.approx(model_loss, rel=1e-5)
        assert torch.allclose(plain_grad, model_grad, rtol=1e-4, atol=1e-7)
        losses.append(plain_loss)
    assert losses[1] == pytest.approx(losses[0] / 2, rel=1e-5)


def test_a_lora_models_frozen_head_is_projected_in_chunks_with_the_same_loss(
        tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, TrainingArguments

    from core.training import logprobs
    from core.training.loss import cpt_trainer_class, frozen_plain_head
    from core.training.recipes.cpt import PackedCollator

    torch.manual_seed(0)
    batch = PackedCollator(0, 32)([{"input_ids": torch.randint(3, 200, (32,)).tolist()}
                                   for _ in range(3)])
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    assert frozen_plain_head(model) is None  # a full fine-tune trains the (tied) head
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
    for name, parameter in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.05)
    assert frozen_plain_head(model) is not None
    monkeypatch.setattr(logprobs, "CHUNK_ROWS", 40)  # several chunks for 93 positions
    chunked = []
    head = logprobs.head_log_probs
    monkeypatch.setattr(logprobs, "head_log_probs",
                        lambda *a: (chunked.append(1), head(*a, chunk=40))[1])
    args = TrainingArguments(output_dir=str(tmp_path / "out"), use_cpu=True, report_to=[])
    trainer = cpt_trainer_class("plain")(model=model, args=args)
    lora = [p for n, p in model.named_parameters() if p.requires_grad]

    def loss_and_grads() -> tuple[float, list[torch.Tensor]]:
        model.zero_grad()
        loss = trainer.compute_loss(model, dict(batch))
        loss.backward()
        return float(loss), [p.grad.clone() for p in lora]

    plain_loss, plain_grads = loss_and_grads()
    assert chunked
    trainer.slice_head = False
    model_loss, model_grads = loss_and_grads()
    assert plain_loss == pytest.approx(model_loss, rel=1e-5)
    for got, want in zip(plain_grads, model_grads, strict=True):
        assert torch.allclose(got, want, rtol=1e-3, atol=1e-6)
