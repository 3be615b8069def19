"""The label's log-probability computed with one softmax buffer: the same values and
gradients as log-softmax, with and without trl's statistics."""

from __future__ import annotations

from core.training.logprobs import token_log_probs, token_log_probs_and_stats


def test_token_log_probs_match_log_softmax_and_its_gradient() -> None:
    import torch

    torch.manual_seed(0)
    logits = (torch.randn(6, 50) * 4).requires_grad_()
    labels = torch.tensor([0, 3, 49, 7, 7, 20])
    log_probs, entropy, mean, top1 = token_log_probs_and_stats(logits, labels)
    assert torch.equal(token_log_probs(logits, labels).detach(), log_probs.detach())
    reference = torch.log_softmax(logits, -1)
    expected = reference.gather(-1, labels[:, None]).squeeze(-1)
    assert torch.allclose(log_probs, expected, atol=1e-5)
    probs = reference.exp()
    assert torch.allclose(entropy, -(probs * reference).sum(-1), atol=1e-5)
    assert torch.allclose(mean, logits.mean(-1))
    assert top1.tolist() == (logits.argmax(-1) == labels).tolist()
    weights = torch.arange(1.0, 7.0)
    (grad,) = torch.autograd.grad((log_probs * weights).sum(), logits, retain_graph=True)
    (want,) = torch.autograd.grad((expected * weights).sum(), logits, retain_graph=True)
    assert torch.allclose(grad, want, atol=1e-6)
    (plain,) = torch.autograd.grad((token_log_probs(logits, labels) * weights).sum(), logits)
    assert torch.allclose(plain, want, atol=1e-6)


def test_bfloat16_logits_are_scored_in_float32_and_get_a_bfloat16_gradient() -> None:
    import torch

    torch.manual_seed(1)
    logits = (torch.randn(4, 300) * 3).to(torch.bfloat16).requires_grad_()
    labels = torch.tensor([1, 299, 5, 5])
    log_probs = token_log_probs(logits, labels)
    assert log_probs.dtype == torch.float32
    want = torch.log_softmax(logits.float(), -1).gather(-1, labels[:, None]).squeeze(-1)
    assert torch.allclose(log_probs, want, atol=1e-5)
    log_probs.sum().backward()
    assert logits.grad.dtype == torch.bfloat16


def test_the_chunked_head_gives_log_softmax_values_and_hidden_gradients() -> None:
    import torch

    from core.training.logprobs import head_log_probs

    torch.manual_seed(2)
    hidden = torch.randn(7, 16, requires_grad=True)
    weight = torch.randn(90, 16)  # frozen
    labels = torch.tensor([0, 89, 3, 3, 50, 7, 1])
    weights = torch.arange(1.0, 8.0)
    want = torch.log_softmax(hidden @ weight.t(), -1).gather(-1, labels[:, None]).squeeze(-1)
    (want_grad,) = torch.autograd.grad((want * weights).sum(), hidden)
    for chunk in (3, 7, 100):  # chunks that split the rows unevenly, one chunk, more
        got = head_log_probs(hidden, weight, labels, chunk)
        assert torch.allclose(got, want, atol=1e-5), chunk
        (grad,) = torch.autograd.grad((got * weights).sum(), hidden)
        assert torch.allclose(grad, want_grad, atol=1e-5), chunk
    with torch.no_grad():
        assert torch.allclose(head_log_probs(hidden, weight, labels), want, atol=1e-5)


def test_the_chunked_head_gives_the_same_statistics_as_the_whole_logits() -> None:
    import torch

    from core.training.logprobs import head_log_probs_and_stats

    torch.manual_seed(4)
    hidden = torch.randn(9, 12, requires_grad=True)
    weight = torch.randn(70, 12)
    labels = torch.randint(0, 70, (9,))
    logits = (hidden @ weight.t()).detach().requires_grad_()
    want = token_log_probs_and_stats(logits, labels)
    got = head_log_probs_and_stats(hidden, weight, labels, 4)
    for name, a, b in zip(("log_probs", "entropy", "mean", "top1"), got, want, strict=True):
        assert torch.allclose(a.float(), b.float(), atol=1e-5), name
    (grad,) = torch.autograd.grad(got[0].sum(), hidden)
    (want_grad,) = torch.autograd.grad(want[0].sum(), logits)
    assert torch.allclose(grad, want_grad @ weight, atol=1e-5)
