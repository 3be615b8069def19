"""Which loss path a CPT or SFT run takes: the library's, or our plain loss.

trl's SFTTrainer projects hidden states through the LM head in tiles (never holding the
``batch × length × vocab`` logits) and computes entropy and top-1 accuracy on the way.
That bounds memory, which matters on a GPU with long sequences, but on a CPU it costs
time: with Gemma 3's 262k-token vocabulary the LM head is most of the model's work, and
the tiled head made our SFT steps about 1.7× slower than a plain ``Trainer`` step
(``bench/bench_training.py --real``). The model's own loss (CPT's plain ``Trainer``) holds
the logits, their log-softmax and two gradient buffers of that size.

So on a CPU both take ``plain_causal_loss``: only the positions whose next token counts
are projected (an SFT row's prompt, often long retrieved context, never reaches the LM
head). With a frozen output layer (LoRA) the backbone's hidden states go through it a
chunk of positions at a time, each row's gradient taken while its logits are at hand, so
the logits never exist whole; otherwise the model projects the counted positions
(``logits_to_keep`` as a mask) and one softmax buffer becomes the gradient in place
(``core.training.logprobs``), which needs the logits of a micro-batch to fit in free
memory. A model class that cannot slice its head that way fails loudly on the first batch
(the logits do not line up with the labels), and the run goes on with the library's loss.
"""

from __future__ import annotations

from typing import Any, Literal

from core.training.evaluate import IGNORE

LossPath = Literal["plain", "fused"]  # fused: trl's tiled head (SFT), the model's own (CPT)
MODEL_INPUTS = ("input_ids", "attention_mask", "position_ids", "labels", "token_type_ids")
LOGIT_COPIES = 3  # logits, their log-softmax and the gradient, in float32
MEMORY_SHARE = 0.25  # of the memory available when the run starts


def logits_bytes(batch_size: int, max_length: int, vocab_size: int,
                 chunk_rows: int | None = None) -> int:
    """Peak bytes the logits of one micro-batch need (float32, with their copies); with
    ``chunk_rows``, the output layer projects that many positions at a time."""
    rows = batch_size * max_length
    if chunk_rows is not None:
        rows = min(rows, chunk_rows)
    return rows * vocab_size * 4 * LOGIT_COPIES


def choose_loss_path(device: str, batch_size: int, max_length: int, vocab_size: int,
                     available_bytes: int, chunk_rows: int | None = None) -> LossPath:
    """``plain`` on a CPU when the logits fit in a quarter of free memory, else ``fused``."""
    if device != "cpu":
        return "fused"
    needed = logits_bytes(batch_size, max_length, vocab_size, chunk_rows)
    return "plain" if needed <= available_bytes * MEMORY_SHARE else "fused"


def loss_path_for(model: Any, device: str, batch_size: int, max_length: int,
                  vocab_size: int) -> LossPath:
    """``choose_loss_path`` for ``model`` with the memory free now: a frozen plain output
    layer (LoRA) holds one chunk of logits at a time, whatever the batch."""
    import psutil

    from core.training.logprobs import CHUNK_ROWS

    chunk = CHUNK_ROWS if frozen_plain_head(model) is not None else None
    return choose_loss_path(device, batch_size, max_length, vocab_size,
                            psutil.virtual_memory().available, chunk)


SCALED_HEAD_FIELDS = ("final_logit_softcapping", "logit_scale", "output_multiplier",
                      "lm_head_multiplier", "logits_scaling")


def _wrapped_or_sharded(model: Any) -> bool:
    from peft import PeftModel
    from torch.distributed.fsdp import FSDPModule
    from transformers import PreTrainedModel

    return not isinstance(model, (PeftModel, PreTrainedModel)) or isinstance(model, FSDPModule)


def frozen_plain_head(model: Any) -> tuple[Any, Any] | None:
    """The backbone and the output layer's weight of ``model`` (PEFT-wrapped or not) when
    its logits are exactly ``hidden @ weight.T`` and the weight is frozen; else None."""
    if _wrapped_or_sharded(model):
        return None  # DDP and FSDP must see the forward through their root module
    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = causal.get_output_embeddings() if hasattr(causal, "get_output_embeddings") else None
    backbone = getattr(causal, getattr(causal, "base_model_prefix", ""), None)
    if head is None or backbone is None or not hasattr(head, "weight"):
        return None
    if head.weight.requires_grad or getattr(head, "bias", None) is not None:
        return None
    text = causal.config.get_text_config() if hasattr(causal.config, "get_text_config") \
        else causal.config
    if any(getattr(text, field, None) not in (None, 1.0) for field in SCALED_HEAD_FIELDS):
        return None
    return backbone, head.weight


def counted_log_probs(model: Any, forward: Any, labels: Any, *args: Any,
                      with_stats: bool = False, **kwargs: Any) -> tuple[Any, tuple[Any, ...]]:
    """The counted positions of ``labels`` (a mask: labels[:, 1:] not ignored) and, for
    those positions only, the log-probability of each next token (with entropy, mean logit
    and top-1 when ``with_stats``), from ``forward(*args, **kwargs)``.

    With a frozen plain output layer (LoRA) the backbone's hidden states go through the
    head a chunk at a time; otherwise ``forward`` projects the counted positions itself
    (``logits_to_keep``) into one softmax buffer. Raises ValueError when the model class
    projects every position whatever it is asked."""
    import torch

    from core.training import logprobs

    counted = labels[:, 1:] != IGNORE
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = counted
    targets = labels[:, 1:][counted]
    plain_head = frozen_plain_head(model)
    if plain_head is not None:
        backbone, weight = plain_head
        hidden = backbone(*args, **kwargs).last_hidden_state[keep]
        if with_stats:
            return counted, logprobs.head_log_probs_and_stats(hidden, weight, targets)
        return counted, (logprobs.head_log_probs(hidden, weight, targets),)
    logits = forward(*args, **kwargs, logits_to_keep=keep).logits
    count = int(counted.sum())
    if logits.dim() != 2 or logits.shape[0] != count:
        raise ValueError(f"the model projected {tuple(logits.shape)} for {count} positions")
    if with_stats:
        return counted, logprobs.token_log_probs_and_stats(logits, targets)
    return counted, (logprobs.token_log_probs(logits, targets),)


def plain_causal_loss(model: Any, inputs: dict[str, Any], num_items_in_batch: Any) -> Any:
    """The causal-LM loss of ``inputs`` (the model's own, summed over the counted tokens and
    divided by ``num_items_in_batch``, else by their count), with only the counted
    positions projected (``counted_log_probs``)."""
    model_inputs = {key: value for key, value in inputs.items() if key != "labels"}
    counted, (log_probs,) = counted_log_probs(model, model, inputs["labels"], **model_inputs)
    divisor = num_items_in_batch if num_items_in_batch is not None else max(
        1, int(counted.sum()))
    return -log_probs.sum() / divisor


class PlainLossMixin:
    """A Trainer whose training loss is ``plain_causal_loss``; evaluation (which wants the
    outputs) and model classes that cannot slice their head keep the library's path.

    The labels already hold -100 on prompt tokens and between packed examples, so the
    loss covers the same tokens as the model's own loss and trl's."""

    slice_head = True  # until a model class shows it cannot

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        from transformers import Trainer

        kept = {key: value for key, value in inputs.items() if key in MODEL_INPUTS}
        kept["use_cache"] = False  # packed rows: the mask comes from position_ids
        plain = (self.slice_head and not return_outputs and "labels" in kept
                 and self.label_smoother is None  # type: ignore[attr-defined]
                 and self.compute_loss_func is None)  # type: ignore[attr-defined]
        if plain:
            try:
                return self._scaled(plain_causal_loss(model, kept, num_items_in_batch),
                                    num_items_in_batch)
            except (RuntimeError, IndexError, ValueError, TypeError) as error:
                from core.training.recipes.common import is_out_of_memory

                if is_out_of_memory(error):
                    raise  # the batch backs off; slicing was not the problem
                self.slice_head = False  # this model class projects every position
        return Trainer.compute_loss(self, model, kept, return_outputs,  # type: ignore[arg-type]
                                    num_items_in_batch)

    def _scaled(self, loss: Any, num_items_in_batch: Any) -> Any:
        """As ``Trainer.compute_loss``: ``num_items_in_batch`` counts the tokens of every
        process, and the gradients are averaged over the processes."""
        args = self.args  # type: ignore[attr-defined]
        if not args.average_tokens_across_devices or num_items_in_batch is None:
            return loss
        if args.n_gpu > 1:
            return loss * args.n_gpu
        return loss * (self.accelerator.num_processes  # type: ignore[attr-defined]
                       // self.get_tp_size())  # type: ignore[attr-defined]


def sft_trainer_class(path: LossPath) -> type:
    """trl's ``SFTTrainer``, or a subclass whose loss is the plain one (``plain``): trl's
    extra metrics (entropy, token accuracy) are then not logged."""
    from trl import SFTTrainer

    if path == "fused":
        return SFTTrainer

    class PlainLossSFTTrainer(PlainLossMixin, SFTTrainer):
        pass

    return PlainLossSFTTrainer


def cpt_trainer_class(path: LossPath) -> type:
    """``transformers.Trainer``, or a subclass whose loss is the plain one (``plain``)."""
    from transformers import Trainer

    if path == "fused":
        return Trainer

    class PlainLossTrainer(PlainLossMixin, Trainer):
        pass

    return PlainLossTrainer
