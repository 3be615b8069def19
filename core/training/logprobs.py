"""The log-probability of each label under a row of logits, in one pass over the logits.

``F.cross_entropy`` writes the log-softmax (a second ``positions × vocabulary`` buffer)
and, in backward, a gradient buffer for it and another for the logits. Here the forward
keeps only the unnormalised softmax (``exp(z - max)``) and its sum, and the backward turns
that buffer into the logits' gradient in place (``onehot - p``, scaled): one buffer beside
the logits instead of three, and fewer passes over them. With Gemma's 262k-token
vocabulary these buffers are most of a CPU step's memory and much of its time.

``stats=True`` also gives what trl's preference trainer logs (entropy, mean logit,
whether the label is the first maximum), without gradient.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def _function() -> type:
    import torch

    class TokenLogProbs(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, logits: Any, labels: Any, stats: bool) -> Any:
            z = logits.float()
            peak = z.amax(dim=-1, keepdim=True)
            scaled = torch.sub(z, peak).exp_()  # exp(z - max): the softmax, unnormalised
            total = scaled.sum(dim=-1, keepdim=True)
            log_z = (peak + total.log()).squeeze(-1)
            chosen = z.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
            ctx.save_for_backward(scaled, total, labels)
            ctx.logits_dtype = logits.dtype
            if not stats:
                return chosen - log_z
            # E_p[z] without another positions × vocabulary buffer
            expected = torch.bmm(scaled.unsqueeze(1), z.unsqueeze(-1)).view(-1) / total.view(-1)
            top1 = z.argmax(dim=-1) == labels  # argmax: the first maximum, as trl counts it
            extras = (log_z - expected, z.mean(dim=-1), top1)
            ctx.mark_non_differentiable(*extras)
            return (chosen - log_z, *extras)

        @staticmethod
        def backward(ctx: Any, grad: Any, *_: Any) -> tuple[Any, None, None]:
            scaled, total, labels = ctx.saved_tensors
            if grad is None:
                return None, None, None
            grad = grad.float().unsqueeze(-1)
            # d log p(label) / dz = onehot(label) - p, in place on the kept softmax
            grad_z = scaled.mul_(grad / total).neg_()
            grad_z.scatter_add_(-1, labels.unsqueeze(-1), grad)
            return grad_z.to(ctx.logits_dtype), None, None

    return TokenLogProbs


def token_log_probs(logits: Any, labels: Any) -> Any:
    """log p(label) for each row of ``logits`` (n × vocabulary), differentiable."""
    return _function().apply(logits, labels, False)


def token_log_probs_and_stats(logits: Any, labels: Any) -> tuple[Any, Any, Any, Any]:
    """log p(label), entropy, mean logit and top-1 flag of each row; only the first carries
    a gradient."""
    return _function().apply(logits, labels, True)


CHUNK_ROWS = 256  # positions projected at a time by head_log_probs


@functools.cache
def _head_function() -> type:
    import torch

    class HeadLogProbs(torch.autograd.Function):
        """log p(label) of ``hidden @ weight.T`` a chunk of rows at a time, for a frozen
        head. Each row's log-probability depends on its own hidden state only, so its
        gradient with respect to that row, ``(onehot - p) @ weight``, is computed while the
        chunk's logits are at hand; backward scales it. The logits never exist beyond one
        chunk, and the head is projected once forward and once (the gradient) in the same
        pass: no recomputation. ``stats`` adds entropy, mean logit and top-1 flag."""

        @staticmethod
        def forward(ctx: Any, hidden: Any, weight: Any, labels: Any, chunk: int,
                    stats: bool) -> Any:
            wants_grad = ctx.needs_input_grad[0]
            n = hidden.shape[0]
            log_probs = hidden.new_empty(n, dtype=torch.float32)
            entropy, mean = torch.empty_like(log_probs), torch.empty_like(log_probs)
            top1 = torch.empty(n, dtype=torch.bool, device=hidden.device)
            row_grads = torch.empty_like(hidden, dtype=torch.float32) if wants_grad else None
            for start in range(0, n, chunk):
                rows = slice(start, start + chunk)
                z = (hidden[rows] @ weight.t()).float()
                targets = labels[rows].unsqueeze(-1)
                chosen = z.gather(-1, targets).squeeze(-1)
                peak = z.amax(dim=-1, keepdim=True)
                if stats:
                    mean[rows] = z.mean(dim=-1)
                    top1[rows] = z.argmax(dim=-1) == labels[rows]  # the first maximum
                    probs = torch.sub(z, peak).exp_()
                    total = probs.sum(dim=-1, keepdim=True)
                    expected = torch.bmm(probs.unsqueeze(1), z.unsqueeze(-1)).view(-1)
                    log_z = (peak + total.log()).squeeze(-1)
                    entropy[rows] = log_z - expected / total.view(-1)
                else:
                    probs = z.sub_(peak).exp_()  # in place: one buffer for the chunk
                    total = probs.sum(dim=-1, keepdim=True)
                    log_z = (peak + total.log()).squeeze(-1)
                log_probs[rows] = chosen - log_z
                if row_grads is not None:
                    probs.div_(total).neg_().scatter_add_(-1, targets, torch.ones_like(
                        targets, dtype=probs.dtype))
                    row_grads[rows] = probs.to(weight.dtype) @ weight
                del z, probs
            ctx.save_for_backward(row_grads if row_grads is not None else log_probs)
            ctx.hidden_dtype = hidden.dtype
            if not stats:
                return log_probs
            ctx.mark_non_differentiable(entropy, mean, top1)
            return log_probs, entropy, mean, top1

        @staticmethod
        def backward(ctx: Any, grad: Any, *_: Any) -> tuple[Any, None, None, None, None]:
            (row_grads,) = ctx.saved_tensors
            if grad is None:
                return None, None, None, None, None
            scaled = (row_grads * grad.float().unsqueeze(-1)).to(ctx.hidden_dtype)
            return scaled, None, None, None, None

    return HeadLogProbs


def head_log_probs(hidden: Any, weight: Any, labels: Any, chunk: int = CHUNK_ROWS) -> Any:
    """log p(label) of each row of ``hidden`` (n × hidden size) under the output layer
    ``weight`` (vocabulary × hidden size, frozen: it gets no gradient)."""
    return _head_function().apply(hidden, weight, labels, chunk, False)


def head_log_probs_and_stats(hidden: Any, weight: Any, labels: Any,
                             chunk: int = CHUNK_ROWS) -> tuple[Any, Any, Any, Any]:
    """``head_log_probs`` with each row's entropy, mean logit and top-1 flag (no
    gradient), as ``token_log_probs_and_stats`` gives them."""
    return _head_function().apply(hidden, weight, labels, chunk, True)
