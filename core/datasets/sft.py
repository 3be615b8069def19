"""The SFT dataset: instruction/response pairs rendered with the base model's chat template.

Pairs come from four places: RFP requirements matched to the paired proposal's answering
section (``core.datasets.matching``), instruction/response records imported from JSONL
(``pair`` blocks), pairs users wrote (``user_pairs``), and generated pairs analysts
accepted (``core.synth``). Each row keeps ``prompt``
(rendered user turn + the opening of the reply) apart from ``completion`` (the reply and
its end-of-turn marker), so training puts the loss on the response only.
"""

from __future__ import annotations

import hashlib
import importlib
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from core.datasets.chat import count_tokens, render_pair
from core.datasets.corpus import live_documents, load
from core.datasets.lengths import Lengths
from core.datasets.matching import match
from core.datasets.model import BuildDatasetConfig, Built, DatasetError
from core.datasets.split import choose_heldout
from core.datasets.synthetic import accepted_pairs, list_batches
from core.datasets.user_pairs import list_user_pairs, user_pairs_digest
from core.ingest.store import DocumentStore
from core.workspace import Workspace
from core.workspace.registry import DocumentRef

Progress = Callable[[int, int, str], None]
GROUNDING = "core.drafting.grounding:sft_grounder"  # SFT prompts as drafting writes them
REQUIREMENT_PROMPT = ("Write the section of our proposal that responds to this RFP "
                      "requirement{number}:\n\n{text}")


def _example(source: str, instruction: str, response: str, documents: list[str],
             **meta: Any) -> dict[str, Any]:
    return {"source": source, "instruction": instruction.strip(), "response": response.strip(),
            "documents": documents, **meta}


def collect_examples(workspace: Workspace, config: BuildDatasetConfig, progress: Progress,
                     check_cancelled: Callable[[], None]) -> tuple[list[dict[str, Any]],
                                                                   dict[str, int]]:
    """Every pair from documents and users, before rendering; plus extraction counts."""
    store = DocumentStore(workspace)
    records = {r.id: r for r in live_documents(store)}
    examples: list[dict[str, Any]] = []
    stats = {"requirements_unmatched": 0, "paired_documents": 0}
    for step, record in enumerate(records.values(), 1):
        check_cancelled()
        progress(step, len(records), f"reading {record.title}")
        document = load(store, record)
        for block in document.blocks:
            fields = block.fields
            if block.kind == "pair" and fields.get("instruction") and fields.get("response"):
                instruction = fields["instruction"]
                if block.fields.get("input"):
                    instruction += "\n\n" + block.fields["input"]
                examples.append(_example("imported", instruction, block.fields["response"],
                                         [record.id]))
        if record.kind != "rfp":
            continue
        for proposal_id in record.paired_with:
            proposal = records.get(proposal_id)
            if proposal is None or proposal.kind != "proposal":
                continue
            stats["paired_documents"] += 1
            found, unmatched = match(list(document.blocks), list(load(store, proposal).blocks),
                                     config.match_threshold)
            stats["requirements_unmatched"] += unmatched
            for item in found:
                requirement = item.requirement
                number = f" {requirement.number}" if requirement.number else ""
                examples.append(_example(
                    "rfp-proposal", REQUIREMENT_PROMPT.format(number=number, text=requirement.text),
                    item.section.text, [record.id, proposal.id], requirement=requirement.number,
                    section=item.section.title, method=item.method, score=item.score))
    for pair in list_user_pairs(workspace):
        examples.append(_example("user", pair["instruction"], pair["response"], [],
                                 pair_id=pair.get("id")))
    for batch, pair in accepted_pairs(workspace):
        examples.append(_example("synthetic", pair.instruction, pair.response,
                                 [pair.doc_id] if pair.doc_id in records else [],
                                 pair_id=pair.id, batch=batch["id"], task=pair.task,
                                 teacher=batch.get("teacher"), review=pair.state))
    return examples, stats


def synthetic_lineage(examples: list[dict[str, Any]], workspace: Workspace) -> dict[str, Any]:
    """For each batch whose pairs a dataset holds: its teacher, tasks and filter settings."""
    used = Counter(e["batch"] for e in examples if e["source"] == "synthetic")
    return {record["id"]: {"teacher": record.get("teacher"), "tasks": record.get("tasks"),
                           "filters": record.get("filters"), "pairs": used[record["id"]]}
            for record in list_batches(workspace) if record["id"] in used}


def grounder(workspace: Workspace, config: BuildDatasetConfig, tokenizer: Any,
             ) -> tuple[Any, str]:
    """The drafting layer's grounder (``core.drafting.grounding``, named by string: that
    layer sits above this one), or None and why the prompts stay bare."""
    if not config.grounded:
        return None, "grounded=false"
    module, name = GROUNDING.split(":")
    factory = getattr(importlib.import_module(module), name)
    return factory(workspace, tokenizer, config.source_tokens)


def shown_documents(workspace: Workspace, rows: Iterable[dict[str, Any]],
                    also: Iterable[str] = ()) -> list[DocumentRef]:
    """The documents (at their current version) whose text the rows' prompts show as
    sources (``sources_shown``), with ``also`` (the answers' own documents)."""
    used = sorted({*also, *(source.split("#")[0] for row in rows
                            for source in row.get("sources_shown") or [])})
    store = DocumentStore(workspace)
    return [DocumentRef(document_id=d, version=store.get(d).latest.version,
                        sha256=store.get(d).latest.sha256) for d in used]


def answer_documents(example: dict[str, Any]) -> tuple[list[str], str | None]:
    """The documents that hold an example's answer (never shown as its sources), and the
    RFP it answers, if any (its sources come from that RFP and the company's material)."""
    documents = list(example.get("documents") or [])
    if example["source"] == "rfp-proposal" and len(documents) == 2:
        return documents[1:], documents[0]
    if example["source"] == "imported":
        return documents, None
    return [], None


def instruction_key(text: str) -> str:
    """The key an instruction is split by (held out or trained on)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def build_sft(workspace: Workspace, config: BuildDatasetConfig, tokenizer: Any,
              progress: Progress, check_cancelled: Callable[[], None]) -> Built:
    examples, stats = collect_examples(workspace, config, progress, check_cancelled)
    unique: dict[tuple[str, str], dict[str, Any]] = {}
    for example in examples:
        unique.setdefault((example["instruction"], example["response"]), example)
    duplicates = len(examples) - len(unique)
    if not unique:
        raise DatasetError(
            "No instruction/response pairs to build an SFT dataset from.",
            hint="pair RFPs with their proposals, import a JSONL of pairs, or add pairs")
    # One instruction never lands on both sides of the split.
    heldout_keys = choose_heldout((instruction_key(i) for i, _ in unique),
                                  config.heldout_fraction, config.seed)
    train: list[dict[str, Any]] = []
    heldout: list[dict[str, Any]] = []
    longer = grounded = 0
    ground, why_not = grounder(workspace, config, tokenizer)
    for step, example in enumerate(unique.values(), 1):
        check_cancelled()
        turn, shown = example["instruction"], None
        if ground is not None:
            progress(step, len(unique), f"finding the sources of example {step}")
            exclude, rfp = answer_documents(example)
            found = ground(example["instruction"], exclude, rfp)
            turn, shown = found.text, list(found.sources)
            grounded += bool(shown)
        prompt, completion = render_pair(tokenizer, turn, example["response"])
        row = {"prompt": prompt, "completion": completion, **example,
               **({"sources_shown": shown} if shown is not None else {}),
               "prompt_tokens": count_tokens(tokenizer, prompt),
               "completion_tokens": count_tokens(tokenizer, completion)}
        longer += row["prompt_tokens"] + row["completion_tokens"] > config.seq_len
        (heldout if instruction_key(example["instruction"]) in heldout_keys else train).append(row)
    documents = shown_documents(workspace, train + heldout, {
        doc for example in unique.values() for doc in example["documents"]})
    rows = train + heldout
    summary = {
        "examples": len(rows), "train": len(train), "heldout": len(heldout),
        "by_source": dict(Counter(row["source"] for row in rows)),
        "duplicates_dropped": duplicates, **stats,
        "prompt_tokens": sum(r["prompt_tokens"] for r in rows),
        "completion_tokens": sum(r["completion_tokens"] for r in rows),
        "longer_than_seq_len": longer, "seq_len": config.seq_len,
        "grounded": grounded, **({"not_grounded": why_not} if why_not else {}),
        "lengths": Lengths.of((r["prompt_tokens"], r["completion_tokens"])
                              for r in rows).to_summary(),
    }
    summary["tokens"] = summary["prompt_tokens"] + summary["completion_tokens"]
    sources: dict[str, Any] = {"user_pairs_sha256": user_pairs_digest(workspace)}
    lineage = synthetic_lineage(list(unique.values()), workspace)
    if lineage:
        sources["synthetic"] = lineage
    return Built(files={"train.jsonl": train, "heldout.jsonl": heldout}, documents=documents,
                 sources=sources, summary=summary)
