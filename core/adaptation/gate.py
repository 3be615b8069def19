"""The regression gate: a candidate GGUF against the deployed release.

Both models are scored with llama.cpp on (a) held-out *old* data — the held-out text of
the CPT datasets behind the deployed release — and (b) held-out *new* data — the held-out
text of the candidate's CPT datasets that the deployed release never saw (or, without
one, the documents added or changed since the release). Both also answer the workspace's
prompt suite, side by side. The gate blocks promotion when the candidate's perplexity on
old data is worse than the deployed model's by more than the tolerance.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from core.adaptation.releases import deployed_model_id
from core.datasets import DatasetError, DatasetStore
from core.errors import ModelError
from core.workspace import Workspace
from core.workspace.registry import ModelRegistry

DEFAULT_TOLERANCE = 0.05  # old-data perplexity may rise by at most 5 %
EVAL_TOKENS = 1024
PROMPT_TOKENS = 96
MAX_PROMPTS = 4


def _cpt_datasets(workspace: Workspace, model_id: str) -> list[str]:
    store = DatasetStore(workspace)
    found = []
    for record in ModelRegistry(workspace).lineage(model_id):
        for dataset_id in record.datasets:
            try:
                if store.get(dataset_id).kind == "cpt" and dataset_id not in found:
                    found.append(dataset_id)
            except DatasetError:
                continue  # a dataset removed since: nothing to score from it
    return found


def heldout_text(workspace: Workspace, datasets: list[str]) -> str:
    store = DatasetStore(workspace)
    texts = [row["text"] for dataset_id in datasets
             for row in store.rows(dataset_id, "heldout_text") if row.get("text")]
    return "\n\n".join(texts)


def prompt_suite(workspace: Workspace) -> list[str]:
    """The workspace's fixed prompts (``W/prompts.jsonl``), else the sample's."""
    from core.workspace.sample import sample_source

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
    registry = ModelRegistry(workspace)
    record = registry.get(model_id)
    if record.kind != "gguf":
        raise ModelError(f"Model {model_id!r} is a {record.kind} model; the gate compares GGUF "
                         "models.", hint="export it to GGUF first")
    files = sorted(registry.path_of(record).glob("*.gguf"))
    if len(files) != 1:
        raise ModelError(f"Model {model_id!r} should hold exactly one .gguf file.")
    return files[0]


def run_gate(workspace: Workspace, candidate: str, *, tolerance: float = DEFAULT_TOLERANCE,
             new_text: str | None = None) -> dict[str, Any]:
    """Compare ``candidate`` with the deployed release; the verdict as a JSON-able dict."""
    deployed = deployed_model_id(workspace)
    candidate_path = gguf_file(workspace, candidate)
    if deployed is None or deployed == candidate:
        reason = "no release is deployed yet" if deployed is None else "it is the deployed model"
        return {"compared": False, "passed": True, "reason": reason, "candidate": candidate}
    deployed_path = gguf_file(workspace, deployed)
    old_sets = _cpt_datasets(workspace, deployed)
    new_sets = [d for d in _cpt_datasets(workspace, candidate) if d not in old_sets]
    texts = {"old": heldout_text(workspace, old_sets),
             "new": new_text if new_text is not None else heldout_text(workspace, new_sets)}
    if not texts["old"]:
        from core.export.verify import HELDOUT_TEXT

        texts["old"] = HELDOUT_TEXT  # no CPT data behind the release: the built-in passage
    prompts = prompt_suite(workspace)
    before = _score(workspace, deployed, deployed_path, texts, prompts)
    after = _score(workspace, candidate, candidate_path, texts, prompts)
    limit = before["old"] * (1 + tolerance)
    passed = math.isfinite(after["old"]) and after["old"] <= limit
    reason = (f"perplexity on held-out old data {after['old']:.3f} vs {before['old']:.3f} "
              f"(limit {limit:.3f}, tolerance {tolerance:.0%})")
    summary = [f"regression gate: {'passed' if passed else 'BLOCKED'} — {reason}"]
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
        "summary": "\n".join(summary),
    }
