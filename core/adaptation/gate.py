"""The regression gate: a candidate GGUF against the deployed release.

Both models are scored with llama.cpp on (a) held-out *old* data — the held-out text of
the CPT datasets behind the deployed release — and (b) held-out *new* data — the held-out
text of the candidate's CPT datasets that the deployed release never saw (or, without
one, the documents added or changed since the release). Both also answer the workspace's
prompt suite, side by side. The gate blocks promotion when the candidate's perplexity on
old data is worse than the deployed model's by more than the tolerance, and when its drafts
are worse (``core.drafting.eval_job`` on the held-out pairs): a higher echo rate or a lower
citation validity than the deployed model's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from core.datasets.heldout import cpt_datasets, heldout_text
from core.models.resolve import resolve_gguf
from core.workspace import Workspace
from core.workspace.releases import deployed_model_id

DEFAULT_TOLERANCE = 0.05  # old-data perplexity may rise by at most 5 %
EVAL_TOKENS = 1024
PROMPT_TOKENS = 96
MAX_PROMPTS = 4


def prompt_suite(workspace: Workspace) -> list[str]:
    """The workspace's fixed prompts (``W/prompts.jsonl``), else the sample's."""
    from core.ingest.sample import sample_source

    path = workspace.root / "prompts.jsonl"
    if not path.exists():
        path = sample_source() / "prompts.jsonl"
    prompts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            value = json.loads(line)
            prompts.append(value["prompt"] if isinstance(value, dict) else str(value))
    return prompts[:MAX_PROMPTS]


def _score(workspace: Workspace, model_id: str, path: Path, texts: dict[str, str],
           prompts: list[str]) -> dict[str, Any]:
    """Perplexity on each text (llama.cpp, all logits) and greedy answers to the prompts
    (the drafting runtime, whose chat templates run sandboxed)."""
    from core.export.verify import load_gguf, perplexity_of
    from core.generation.model import GenerationSettings, Message
    from core.generation.runtime import ModelCache
    from core.generation.stream import generate_text

    llm = load_gguf(path, n_ctx=EVAL_TOKENS + 8, logits_all=True)
    try:
        architecture = llm.metadata.get("general.architecture", "")
        trained_ctx = int(llm.metadata.get(f"{architecture}.context_length", EVAL_TOKENS))
        tokens = min(EVAL_TOKENS, trained_ctx)
        scores: dict[str, Any] = {name: perplexity_of(llm, text, tokens)[0] if text else None
                                  for name, text in texts.items()}
    finally:
        llm.close()
    cache = ModelCache(capacity=1)
    try:
        model = cache.get(workspace, model_id)
        settings = GenerationSettings(temperature=0.0, max_tokens=PROMPT_TOKENS, seed=0)
        scores["answers"] = [
            generate_text(model, [Message(role="user", content=prompt)], settings).text.strip()
            for prompt in prompts]
    finally:
        cache.close()
    return scores


def gguf_file(workspace: Workspace, model_id: str) -> Path:
    return resolve_gguf(workspace, model_id)[0]


DRAFT_PAIRS = 3


def compare_drafts(workspace: Workspace, deployed: str, candidate: str) -> dict[str, Any]:
    """Draft quality of both models on the held-out pairs, and whether the candidate is
    worse (a higher echo rate or a lower citation validity)."""
    from core.drafting.eval_job import EvalDraftsConfig, evaluate_drafts
    from core.drafting.evaluate import EvalError, heldout_pairs

    try:
        pairs = heldout_pairs(workspace, limit=DRAFT_PAIRS)
    except EvalError as error:
        return {"compared": False, "worse": False, "reason": error.message}
    report = evaluate_drafts(workspace, [deployed, candidate], pairs,
                             EvalDraftsConfig(limit=DRAFT_PAIRS, max_tokens=192))
    before, after = report["models"]
    reasons = []
    if (after["echo_rate"] or 0) > (before["echo_rate"] or 0):
        reasons.append(f"echo rate {after['echo_rate']:.0%} vs {before['echo_rate'] or 0:.0%}")
    # the model's own citations: what reaches the reader is put right either way, so a
    # candidate that cites worse shows here (reports from before that figure: the delivered one)
    key = ("citation_validity_model_written"
           if "citation_validity_model_written" in before else "citation_validity")
    if before.get(key) is not None and (after.get(key) or 0) < before[key]:
        reasons.append(f"citation validity {after.get(key) or 0:.0%} vs {before[key]:.0%}")
    summary = {key: {"deployed": before.get(key), "candidate": after.get(key)}
               for key in ("echo_rate", "failed_rate", "citation_validity",
                           "citation_validity_model_written", "fact_exactness", "rouge_l",
                           "similarity")}
    return {"compared": True, "worse": bool(reasons), "reason": "; ".join(reasons),
            "figures": summary, "pairs": len(pairs)}


def run_gate(workspace: Workspace, candidate: str, *, tolerance: float = DEFAULT_TOLERANCE,
             new_text: str | None = None) -> dict[str, Any]:
    """Compare ``candidate`` with the deployed release; the verdict as a JSON-able dict."""
    deployed = deployed_model_id(workspace)
    candidate_path = gguf_file(workspace, candidate)
    if deployed is None or deployed == candidate:
        reason = "no release is deployed yet" if deployed is None else "it is the deployed model"
        return {"compared": False, "passed": True, "reason": reason, "candidate": candidate}
    deployed_path = gguf_file(workspace, deployed)
    old_sets = cpt_datasets(workspace, deployed)
    new_sets = [d for d in cpt_datasets(workspace, candidate) if d not in old_sets]
    texts = {"old": heldout_text(workspace, old_sets),
             "new": new_text if new_text is not None else heldout_text(workspace, new_sets)}
    if not texts["old"]:
        from core.export.verify import HELDOUT_TEXT

        texts["old"] = HELDOUT_TEXT  # no CPT data behind the release: the built-in passage
    prompts = prompt_suite(workspace)
    before = _score(workspace, deployed, deployed_path, texts, prompts)
    after = _score(workspace, candidate, candidate_path, texts, prompts)
    limit = before["old"] * (1 + tolerance)
    drafts = compare_drafts(workspace, deployed, candidate)
    passed = math.isfinite(after["old"]) and after["old"] <= limit and not drafts["worse"]
    reason = (f"perplexity on held-out old data {after['old']:.3f} vs {before['old']:.3f} "
              f"(limit {limit:.3f}, tolerance {tolerance:.0%})")
    if drafts["worse"]:
        reason += f"; drafts are worse: {drafts['reason']}"
    summary = [f"regression gate: {'passed' if passed else 'BLOCKED'} — {reason}"]
    if not drafts["compared"]:
        summary.append(f"draft quality not compared: {drafts['reason']}")
    if before.get("new") and after.get("new"):
        summary.append(f"perplexity on held-out new data {after['new']:.3f} vs "
                       f"{before['new']:.3f}")
    return {
        "compared": True, "passed": passed, "reason": reason, "tolerance": tolerance,
        "candidate": candidate, "deployed": deployed, "old_datasets": old_sets,
        "new_datasets": new_sets,
        "perplexity": {"old": {"deployed": before["old"], "candidate": after["old"]},
                       "new": {"deployed": before.get("new"), "candidate": after.get("new")}},
        "prompts": [{"prompt": p, "deployed": a, "candidate": b}
                    for p, a, b in zip(prompts, before["answers"], after["answers"])],
        "drafts": drafts,
        "summary": "\n".join(summary),
    }
