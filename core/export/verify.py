"""Checking a GGUF file: it loads in llama.cpp, generates, and its held-out perplexity.

Perplexity is computed from llama-cpp-python's logits (``logits_all=True``) over one window
of held-out text; the quantized files are compared with the f16 file on the same tokens.
``score_heldout`` scores a longer text in windows of the context (the adaptation check).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ModelError

if TYPE_CHECKING:
    import numpy as np

# Held-out text written for this check (not in any training set): plain prose of the kind
# the product drafts, a few hundred tokens.
HELDOUT_TEXT = """\
The offeror shall describe how it will manage the transition from the incumbent contractor
without interrupting service. During the first thirty days, the transition team meets the
program office every week, inventories the systems and documents in use, and agrees on a
schedule for each hand-over. Staff who already support the program are offered positions
where their skills match the labour categories in the pricing table, so that knowledge of
the existing processes is kept.

Quality assurance is built into the daily work rather than added at the end. Each
deliverable is reviewed by a second analyst against the requirements it answers, and every
finding is tracked until it is closed. Monthly status reports summarise the work completed,
the risks that were raised, the actions taken to reduce them, and the hours spent in each
labour category. The contracting officer's representative receives the report by the fifth
working day of the following month.

Security is treated as a requirement of every task. Accounts are granted on the principle of
least privilege and reviewed each quarter; laptops are encrypted; sensitive documents are
stored only in the approved repository. Incidents are reported to the government within one
hour of discovery, with a written account of what happened, what was affected, and what was
done to contain it.

Our past performance on similar contracts shows that these practices work. On a recent
data-platform migration for a federal agency, the team moved eleven systems to a new hosting
environment on schedule, with no unplanned outage longer than fifteen minutes, and the
customer rated the work exceptional in every category of its annual assessment.
"""
PROMPT = "The contractor shall"


@dataclass(frozen=True)
class GgufCheck:
    """What loading one GGUF file showed."""

    perplexity: float
    tokens_scored: int
    sample: str
    tokens_per_s: float
    chat_template: bool
    metadata: dict[str, str]


def load_gguf(path: Path, n_ctx: int, logits_all: bool):  # noqa: ANN201
    """``path`` loaded in llama.cpp (quietly); a load failure is a ModelError."""
    from llama_cpp import Llama

    try:
        return Llama(model_path=str(path), n_ctx=n_ctx, logits_all=logits_all,
                     verbose=False, seed=0)
    except (ValueError, RuntimeError) as error:
        raise ModelError(f"llama.cpp could not load {Path(path).name}: {error}") from error


def _token_nll(llm, tokens: list[int]) -> np.ndarray:  # noqa: ANN001
    """Negative log-likelihood of ``tokens[1:]``, each given the tokens before it."""
    import numpy as np

    llm.reset()
    llm.eval(tokens)
    targets = np.asarray(tokens[1:])
    nll = np.empty(len(targets), dtype=np.float64)
    for start in range(0, len(targets), 32):  # rows of a 262k vocabulary: chunk the softmax
        rows = np.asarray(llm.scores[start: min(start + 32, len(targets))], dtype=np.float32)
        peak = rows.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(rows - peak).sum(axis=1, dtype=np.float64)) + peak[:, 0]
        picked = rows[np.arange(len(rows)), targets[start: start + len(rows)]]
        nll[start: start + len(rows)] = log_norm - picked
    return nll


def perplexity_of(llm, text: str, max_tokens: int) -> tuple[float, int]:  # noqa: ANN001
    """Perplexity of ``text`` (its first ``max_tokens`` tokens) under a loaded model."""
    tokens = llm.tokenize(text.encode("utf-8"), add_bos=True)[: min(max_tokens, llm.n_ctx())]
    if len(tokens) < 2:
        raise ModelError("The held-out text is too short to measure perplexity.")
    nll = _token_nll(llm, tokens)
    return float(math.exp(nll.mean())), len(nll)


@dataclass(frozen=True)
class HeldoutScore:
    """Perplexity over several context windows of held-out text."""

    perplexity: float
    tokens: int
    windows: int
    window: int


def windowed_perplexity(llm, text: str, max_tokens: int,  # noqa: ANN001
                        window: int) -> HeldoutScore:
    """Perplexity of ``text``'s first ``max_tokens`` tokens, scored in consecutive windows
    of ``window`` tokens (fewer if the loaded or the trained context is shorter); each
    window starts afresh (after BOS when the model has one), and every token counts once."""
    import numpy as np

    architecture = llm.metadata.get("general.architecture", "")
    trained = int(llm.metadata.get(f"{architecture}.context_length", llm.n_ctx()))
    bos = [llm.token_bos()] if llm.token_bos() >= 0 else []
    # llama.cpp may round the context up; llama-cpp-python's buffers keep the asked size
    window = min(window, min(len(llm.input_ids), llm.n_ctx(), trained) - len(bos))
    tokens = llm.tokenize(text.encode("utf-8"), add_bos=False)[:max_tokens]
    chunks = [bos + tokens[i: i + window] for i in range(0, len(tokens), window)]
    chunks = [c for c in chunks if len(c) >= 2]
    if not chunks:
        raise ModelError("The held-out text is too short to measure perplexity.")
    nll = np.concatenate([_token_nll(llm, chunk) for chunk in chunks])
    return HeldoutScore(perplexity=float(math.exp(nll.mean())), tokens=len(nll),
                        windows=len(chunks), window=window)


def score_heldout(path: Path, text: str, *, max_tokens: int, window: int) -> HeldoutScore:
    """Load ``path`` and score ``text`` in windows of ``window`` tokens (plus BOS).

    The cost is the model's forward pass *and* its output layer for every token (Gemma 3's
    262k vocabulary: about 45 tokens/s for the 270M model on 2 CPU cores)."""
    llm = load_gguf(path, n_ctx=window + 1, logits_all=True)
    try:
        score = windowed_perplexity(llm, text, max_tokens, window)
    finally:
        llm.close()
    if not math.isfinite(score.perplexity):
        raise ModelError(f"{Path(path).name} gives a non-finite perplexity; it is broken.")
    return score


def check_gguf(path: Path, text: str = HELDOUT_TEXT, *, eval_tokens: int = 320,
               generate_tokens: int = 16) -> GgufCheck:
    """Load ``path`` in llama.cpp, measure perplexity on ``text`` and generate a little."""
    llm = load_gguf(path, n_ctx=max(64, eval_tokens), logits_all=True)
    try:
        ppl, scored = perplexity_of(llm, text, eval_tokens)
        if not math.isfinite(ppl):
            raise ModelError(f"{Path(path).name} gives a non-finite perplexity; it is broken.")
        llm.reset()
        start = time.perf_counter()
        out = llm.create_completion(PROMPT, max_tokens=generate_tokens, temperature=0.0)
        seconds = time.perf_counter() - start
        produced = int(out["usage"]["completion_tokens"])
        metadata = {k: str(v) for k, v in llm.metadata.items()}
        return GgufCheck(
            perplexity=ppl, tokens_scored=scored, sample=out["choices"][0]["text"],
            tokens_per_s=produced / seconds if seconds > 0 else 0.0,
            chat_template="tokenizer.chat_template" in metadata,
            metadata={k: v for k, v in metadata.items()
                      if k.startswith(("scriptorium.", "general."))},
        )
    finally:
        llm.close()
