"""Draft-quality evaluation: what an analyst would think of each model's drafts.

Held-out request → reference-section pairs (the workspace's SFT held-out split, or a JSONL
of ``{"request", "reference", "rfp"}``) are drafted by each model with retrieval, the
documents that hold the reference answer kept out of retrieval. Per model:

- **echo rate**: share of drafts whose delivered text reproduces ``ECHO_WORDS``+
  consecutive words of the prompt scaffolding; also the share of first attempts that did
  (what the model does before hygiene) and the share of drafts marked failed;
- **citation validity**: share of ``[n]`` markers whose source supports the sentence
  (content-word overlap ≥ ``SUPPORT_OVERLAP`` or embedding similarity ≥
  ``SUPPORT_SIMILARITY``, ``core.drafting.citecheck``); also for the markers the model
  wrote itself (not those attribution added);
- **fact exactness**: share of codes and rates in the drafts that match a reference-table
  row or a value of the sources shown; also of those the model wrote itself, before
  drafting put them right from the reference row their sentence names or marked them
  ``[unverified: …]`` (``core.drafting.facts.settle_facts``), with the counts of each;
- **ROUGE-L** (F1 over words) and **embedding similarity** to the reference; length;
- time to first token and tokens/s.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.drafting.budget import FIRST_TOKEN_S
from core.drafting.draft import DraftResult, draft
from core.drafting.facts import check_facts, citation_values
from core.drafting.hygiene import words
from core.drafting.sources import Retriever
from core.errors import ScriptoriumError
from core.generation.model import GenerationSettings
from core.serving.backend import TextModel
from core.workspace import Workspace

DEFAULT_PAIRS = 6


class EvalError(ScriptoriumError):
    """No pairs to evaluate on, or a pairs file that cannot be read."""


class EvalPair(BaseModel):
    """One request with the section a person wrote for it."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    id: str = ""
    request: str = Field(min_length=1)
    reference: str = Field(min_length=1)
    rfp: str | None = None  # document id of the solicitation, when known
    exclude: tuple[str, ...] = ()  # documents that hold the reference answer


def read_pairs(path: Path) -> list[EvalPair]:
    """Pairs from a JSONL file of ``{"request", "reference", "rfp"}`` objects."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise EvalError(f"No pairs file at {path}.")
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            pair = EvalPair.model_validate(raw if isinstance(raw, dict) else {})
        except (ValueError, ValidationError) as error:
            raise EvalError(f"{path.name}, line {number}: not a request/reference pair "
                            f"({str(error).splitlines()[0]}).",
                            hint='each line: {"request": "…", "reference": "…"}') from error
        pairs.append(pair.model_copy(update={"id": pair.id or f"line-{number}"}))
    if not pairs:
        raise EvalError(f"{path.name} holds no pairs.")
    return pairs


def _pair(row: dict[str, Any], pair_id: str) -> EvalPair:
    documents = list(row.get("documents") or [])
    rfp = documents[0] if row.get("source") == "rfp-proposal" and documents else None
    return EvalPair(id=pair_id, request=row["instruction"], reference=row["response"],
                    rfp=rfp, exclude=tuple(d for d in documents if d != rfp))


def _derived_rows(workspace: Workspace) -> list[dict[str, Any]]:
    """The pairs an SFT dataset built now with the default settings would hold out."""
    from core.datasets.model import BuildDatasetConfig
    from core.datasets.sft import collect_examples, instruction_key
    from core.datasets.split import choose_heldout

    config = BuildDatasetConfig(kind="sft")
    examples, _ = collect_examples(workspace, config, lambda *a: None, lambda: None)
    unique: dict[tuple[str, str], dict[str, Any]] = {}
    for example in examples:
        unique.setdefault((example["instruction"], example["response"]), example)
    held = choose_heldout((instruction_key(i) for i, _ in unique), config.heldout_fraction,
                          config.seed)
    return [e for e in unique.values() if instruction_key(e["instruction"]) in held]


def heldout_pairs(workspace: Workspace, dataset_id: str | None = None,
                  limit: int = DEFAULT_PAIRS) -> list[EvalPair]:
    """The held-out pairs of an SFT dataset (the newest by default), RFP-derived first,
    never pairs a teacher model generated.

    Without any SFT dataset, the pairs come from the workspace's paired RFPs and proposals
    and imported pairs, split exactly as building the dataset would split them."""
    from core.datasets import DatasetStore

    store = DatasetStore(workspace)
    record = store.get(dataset_id) if dataset_id else store.latest("sft")
    if record is not None and record.kind != "sft":
        raise EvalError(f"Dataset {record.id} is a {record.kind} dataset; held-out pairs come "
                        "from an SFT dataset.")
    rows = store.rows(record.id, "heldout") if record else _derived_rows(workspace)
    # a teacher model's pair is no reference for an analyst's draft: it would flatter a
    # model trained on the same teacher's pairs
    rows = [r for r in rows if r.get("source") != "synthetic"]
    rows.sort(key=lambda r: (r.get("source") != "rfp-proposal", r.get("instruction", "")))
    prefix = record.id if record else "derived"
    pairs = [_pair(row, f"{prefix}#{index}") for index, row in enumerate(rows[:limit])]
    if not pairs:
        raise EvalError("This workspace has no held-out request/reference pairs to evaluate "
                        "drafts on.", hint="pair RFPs with the proposals that answered them "
                        "or import instruction pairs, or give --pairs FILE.jsonl")
    return pairs


def has_eval_pairs(workspace: Workspace) -> bool:
    """Whether ``heldout_pairs`` has something to offer (a dataset, or paired documents)."""
    from core.datasets import DatasetStore
    from core.ingest.store import DocumentStore

    if DatasetStore(workspace).latest("sft") is not None:
        return True
    return any(r.kind == "rfp" and r.paired_with for r in DocumentStore(workspace).list())


def pair_retriever(retriever: Retriever | None, pair: EvalPair) -> Retriever | None:
    """Retrieval for drafting ``pair``: never the documents that hold its reference answer,
    and, when the pair names its RFP, that RFP and the company's material only."""
    from core.drafting.scope import scoped_to_rfp
    from core.drafting.sources import WorkspaceRetriever

    if not isinstance(retriever, WorkspaceRetriever):
        return retriever
    excluded = WorkspaceRetriever(
        retriever.workspace, mode=retriever.mode, embedder=retriever.embedder,
        kinds=retriever.kinds, include_docs=retriever.include_docs,
        exclude_docs=sorted(set(retriever.exclude_docs) | set(pair.exclude)))
    return scoped_to_rfp(excluded, pair.rfp) if pair.rfp else excluded


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1: the longest common subsequence of words, as precision and recall."""
    a, b = words(candidate), words(reference)
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b, 1):
            current.append(previous[j - 1] + 1 if token == other
                           else max(previous[j], current[j - 1]))
        previous = current
    lcs = previous[-1]
    if not lcs:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None and math.isfinite(v)]
    return round(sum(present) / len(present), 4) if present else None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def score_model(name: str, results: Sequence[DraftResult], pairs: Sequence[EvalPair],
                reference_values: Sequence[str],
                similarity: Callable[[str, str], float] | None) -> dict[str, Any]:
    """The figures of one model's drafts (see module docstring)."""
    from core.drafting.citecheck import check_citations

    markers = valid = written = written_valid = facts = exact = 0
    own_facts = own_exact = corrected = unverified = 0
    rows = []
    for pair, result in zip(pairs, results):
        citing = check_citations(result.text, result.citations, similarity)
        cited = result.checks.get("citations", {})
        markers += citing.markers
        valid += citing.valid
        # the model's own markers, scored before they were put right (older drafts: the
        # delivered markers less the ones attribution added)
        written += int(cited.get("model_markers", citing.markers - cited.get("attributed", 0)))
        written_valid += int(cited.get("model_valid",
                                       max(0, citing.valid - cited.get("attributed", 0))))
        fact = check_facts(result.text, list(reference_values)
                           + citation_values(result.citations) + [pair.request])
        facts += len(fact.facts)
        exact += len(fact.facts) - len(fact.unmatched)
        settled = result.checks.get("facts", {})
        fixed = [c["written"] for c in settled.get("corrected", [])]
        marked = list(settled.get("unverified", []))
        # the model's own figures, scored before they were put right or marked (older
        # drafts: the delivered ones)
        if "model_quoted" in settled:  # (a figure both put right and marked counts once)
            own_facts += len(settled["model_quoted"])
            own_exact += len(set(settled["model_quoted"]) - set(fixed) - set(marked))
        else:
            own_facts, own_exact = own_facts + len(fact.facts), own_exact + (
                len(fact.facts) - len(fact.unmatched))
        corrected += len(fixed)
        unverified += len(marked)
        echo = result.checks.get("echo", {})
        rows.append({
            "pair": pair.id, "status": result.status, "format": result.prompt_format,
            "echo": bool(echo.get("delivered")), "echo_first": bool(echo.get("first_attempt")),
            "rouge_l": round(rouge_l(result.text, pair.reference), 4),
            "similarity": None if similarity is None or not result.text else round(
                similarity(result.text, pair.reference), 4),
            "words": len(result.text.split()), "markers": citing.markers,
            "valid_markers": citing.valid, "unmatched_facts": list(fact.unmatched),
            "corrected_facts": fixed, "unverified_facts": marked,
            "ttft_s": result.checks.get("time_to_first_token_s",
                                        result.stats.get("time_to_first_token_s")),
            "ttft_with_retrieval_s": result.checks.get("first_token_with_retrieval_s"),
            "prompt_tokens": result.checks.get("prompt_budget", {}).get(
                "prompt_tokens", result.stats.get("prompt_tokens")),
            "tokens_per_s": result.stats.get("tokens_per_s"), "problems": list(result.problems),
            "text": result.text})
    count = len(rows)
    return {
        "model": name, "drafts": count,
        "format": sorted({r["format"] for r in rows}),
        "echo_rate": _share(sum(r["echo"] for r in rows), count),
        "echo_rate_first_attempt": _share(sum(r["echo_first"] for r in rows), count),
        "failed_rate": _share(sum(r["status"] == "failed" for r in rows), count),
        "citation_validity": _share(valid, markers), "citation_markers": markers,
        "citation_validity_model_written": _share(written_valid, written),
        "fact_exactness": _share(exact, facts), "facts_quoted": facts,
        "fact_exactness_model_written": _share(own_exact, own_facts),
        "facts_corrected": corrected, "facts_unverified": unverified,
        "rouge_l": _mean([r["rouge_l"] for r in rows]),
        "similarity": _mean([r["similarity"] for r in rows]),
        "words": _mean([float(r["words"]) for r in rows]),
        "ttft_s": _mean([r["ttft_s"] for r in rows]),
        "ttft_with_retrieval_s": _mean([r["ttft_with_retrieval_s"] for r in rows]),
        "prompt_tokens": _mean([r["prompt_tokens"] for r in rows]),
        "tokens_per_s": _mean([r["tokens_per_s"] for r in rows]),
        "per_pair": rows,
    }


def draft_pairs(model: TextModel, pairs: Sequence[EvalPair], retriever: Retriever | None,
                settings: GenerationSettings, *, format: str = "auto",
                first_token_s: float | None = FIRST_TOKEN_S, prefill_rate: float | None = None,
                progress: Callable[[int, str], None] = lambda done, message: None,
                cancelled: Callable[[], bool] = lambda: False) -> list[DraftResult]:
    """One draft per pair, the reference's own documents kept out of retrieval; with a
    ``prefill_rate``, every prompt is sized at that rate (``core.drafting.draft.fit_sources``)."""
    results = []
    for index, pair in enumerate(pairs):
        if cancelled():
            break
        results.append(draft(model, pair.request, retriever=pair_retriever(retriever, pair),
                             settings=settings,
                             cancelled=cancelled, exclude_documents=pair.exclude,
                             format=format,  # type: ignore[arg-type]
                             first_token_s=first_token_s, prefill_rate=prefill_rate))
        progress(index + 1, f"{model.name}: drafted {index + 1} of {len(pairs)}")
    return results
