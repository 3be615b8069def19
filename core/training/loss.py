"""Which loss path an SFT run takes: trl's fused LM head, or the model's own loss.

trl's SFTTrainer projects hidden states through the LM head in tiles (never holding the
``batch × length × vocab`` logits) and computes entropy and top-1 accuracy on the way.
That bounds memory, which matters on a GPU with long sequences, but on a CPU it costs
time: with Gemma 3's 262k-token vocabulary the LM head is most of the model's work, and
the tiled head made our SFT steps about 1.7× slower than a plain ``Trainer`` step
(``bench/bench_training.py --real``). So on a CPU, when the full logits of a micro-batch
(and their gradient, and the log-softmax) fit comfortably in free memory, the model
computes its own loss the way transformers does.

It projects only the positions whose next token counts (``logits_to_keep`` as a mask):
an SFT row's prompt, often long retrieved context, never reaches the LM head. A model
class that cannot slice its head that way fails loudly on the first batch (the logits do
not line up with the labels), and the run goes on with every position projected.
"""

from __future__ import annotations

from typing import Any, Literal

from core.training.evaluate import IGNORE

LossPath = Literal["plain", "fused"]
MODEL_INPUTS = ("input_ids", "attention_mask", "position_ids", "labels", "token_type_ids")
LOGIT_COPIES = 3  # logits, their log-softmax and the gradient, in float32
MEMORY_SHARE = 0.25  # of the memory available when the run starts
WORTH_SLICING = 0.9  # project only the counted positions when fewer than this share count


def logits_bytes(batch_size: int, max_length: int, vocab_size: int) -> int:
    """Peak bytes the full logits of one micro-batch need (float32, with their copies)."""
    return batch_size * max_length * vocab_size * 4 * LOGIT_COPIES


def choose_loss_path(device: str, batch_size: int, max_length: int, vocab_size: int,
                     available_bytes: int) -> LossPath:
    """``plain`` on a CPU when the logits fit in a quarter of free memory, else ``fused``."""
    if device != "cpu":
        return "fused"
    fits = logits_bytes(batch_size, max_length, vocab_size) <= available_bytes * MEMORY_SHARE
    return "plain" if fits else "fused"


def counted_positions(labels: Any) -> tuple[Any, Any] | None:
    """The positions whose next token counts, as a boolean mask (batch × length), and
    those next tokens in the same order; None when nearly every position counts."""
    counted = labels[:, 1:] != IGNORE
    share = float(counted.float().mean()) if counted.numel() else 1.0
    if share == 0.0 or share >= WORTH_SLICING:
        return None
    mask = counted.new_zeros(labels.shape)
    mask[:, :-1] = counted
    return mask, labels[:, 1:][counted]


def sft_trainer_class(path: LossPath) -> type:
    """trl's ``SFTTrainer``, or a subclass whose loss is the model's own (``plain``)."""
    from transformers import Trainer
    from trl import SFTTrainer

    if path == "fused":
        return SFTTrainer

    class PlainLossSFTTrainer(SFTTrainer):
        """SFTTrainer whose loss is the model's cross-entropy, projected at the positions
        whose next token counts (all of them when nearly all count).

        The labels already hold -100 on prompt tokens and between packed examples, so
        the loss covers the same tokens as trl's. trl's extra metrics (entropy, token
        accuracy) are not logged.
        """

        slice_head = True  # until a model class shows it cannot

        def compute_loss(self, model: Any, inputs: dict[str, Any],
                         return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            kept = {key: value for key, value in inputs.items() if key in MODEL_INPUTS}
            kept["use_cache"] = False  # packed rows: the mask comes from position_ids
            plain_loss = (self.slice_head and not return_outputs and "labels" in kept
                          and self.label_smoother is None and self.compute_loss_func is None)
            sliced = counted_positions(kept["labels"]) if plain_loss else None
            if sliced is not None:
                mask, targets = sliced
                try:
                    return Trainer.compute_loss(
                        self, model, {**kept, "logits_to_keep": mask, "shift_labels": targets},
                        return_outputs, num_items_in_batch)
                except (RuntimeError, IndexError, ValueError, TypeError) as error:
                    from core.training.recipes.common import is_out_of_memory

                    if is_out_of_memory(error):
                        raise  # the batch backs off; slicing was not the problem
                    self.slice_head = False  # this model class projects every position
            return Trainer.compute_loss(self, model, kept, return_outputs, num_items_in_batch)

    return PlainLossSFTTrainer
