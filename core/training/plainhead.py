"""A plain LM head for trl's preference trainer on a CPU.

trl's DPOTrainer patches the model so that ``model(..., labels=..., fused_lm_head=True)``
returns per-token log-probabilities computed in tiles, never holding the
``positions × vocabulary`` logits. On a GPU with Triton it scores only the positions whose
label counts; elsewhere it scores every position (prompts and padding too), computes the
log-sum-exp, entropy, mean logit and top-1 flag tile by tile, and in backward projects
every tile again. With Gemma's 262k-token vocabulary the head is most of a step's work,
and that made a DPO step about 4× a CPT step on this machine (``bench/bench_preference.py``).

On a CPU (``core.training.loss.choose_loss_path``), the patched forward here answers the
same call the way our CPT and SFT loss does: only the counted positions are projected and,
with a frozen output layer (LoRA), a chunk of them at a time, each chunk's gradient taken
while its logits are at hand (``core.training.logprobs``); one pass over a chunk's logits
gives the label's log-probability, the entropy, the mean logit and the top-1 flag. Calls
it does not cover (pre-shifted labels, MoE router logits) and model classes that cannot
slice their head go to trl's head.
"""

from __future__ import annotations

import functools
import types
from typing import Any

from core.training.loss import counted_log_probs


def use_plain_head(model: Any) -> None:
    """Answer ``fused_lm_head=True`` calls of ``model`` (already patched by trl) with the
    plain head. ``model`` is the module trl patched: the PEFT model's base model."""
    from trl.trainer.utils import FusedCausalLMOutput

    fused_forward = model.forward
    state = {"slices": True}

    def plain(self: Any, *args: Any, fused_lm_head: bool = False, labels: Any = None,
              shift_labels: Any = None, num_items_in_batch: Any = None, **kwargs: Any) -> Any:
        covered = (fused_lm_head and state["slices"] and labels is not None
                   and shift_labels is None and not kwargs.get("output_router_logits"))
        if covered:
            try:
                return _plain_call(args, kwargs, labels, num_items_in_batch)
            except (RuntimeError, IndexError, ValueError, TypeError) as error:
                from core.training.recipes.common import is_out_of_memory

                if is_out_of_memory(error):
                    raise
                state["slices"] = False  # this model class projects every position
        return fused_forward(*args, fused_lm_head=fused_lm_head, labels=labels,
                             shift_labels=shift_labels, num_items_in_batch=num_items_in_batch,
                             **kwargs)

    def _plain_call(args: tuple[Any, ...], kwargs: dict[str, Any], labels: Any,
                    num_items_in_batch: Any) -> Any:
        counted, fields = counted_log_probs(model, fused_forward, labels, *args,
                                            with_stats=True, **{**kwargs, "use_cache": False})
        log_probs, entropy, mean, top1 = (
            field.new_zeros(counted.shape).masked_scatter(counted, field) for field in fields)
        divisor = counted.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
        return FusedCausalLMOutput(loss=-log_probs.sum() / divisor, log_probs=log_probs,
                                   entropy=entropy, mean_logits=mean, is_top1=top1,
                                   label_mask=counted)

    plain = functools.wraps(type(model).forward)(plain)
    model.forward = types.MethodType(plain, model)


def preference_trainer_class(trainer_class: type, plain_head: bool) -> type:
    """trl's DPO trainer, or a subclass whose fused-head calls take the plain head."""
    if not plain_head:
        return trainer_class

    class PlainHeadTrainer(trainer_class):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            model = kwargs["model"]
            base = model.get_base_model() if hasattr(model, "get_base_model") else model
            # trl patches the forward in __init__ and makes the reference pass there too
            with _PatchAfter(base):
                super().__init__(*args, **kwargs)

    return PlainHeadTrainer


class _PatchAfter:
    """Put the plain head on ``module`` as soon as trl has put its fused head there (before
    the reference pass that trl's __init__ makes)."""

    def __init__(self, module: Any) -> None:
        self.module = module

    def __enter__(self) -> None:
        import trl.trainer.dpo_trainer as dpo

        self.add = dpo.add_fused_lm_head

        def add_then_plain(model: Any, *args: Any, **kwargs: Any) -> None:
            self.add(model, *args, **kwargs)
            if model is self.module:
                use_plain_head(model)

        dpo.add_fused_lm_head = add_then_plain

    def __exit__(self, *exc: Any) -> None:
        import trl.trainer.dpo_trainer as dpo

        dpo.add_fused_lm_head = self.add
