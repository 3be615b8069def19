"""The CPT dataset: the workspace's text, tokenised and packed into fixed-length rows.

Documents are split into train and held-out *by document* (a document's text is never on
both sides), then each side is packed on its own: every document's tokens followed by
EOS, the stream cut into rows of exactly ``seq_len`` tokens, each starting with BOS when
the tokenizer has one. The final partial row of
each side is dropped (its size is in the summary); the held-out documents' full text is
kept as well, for perplexity over whole documents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.datasets.corpus import live_documents, load
from core.datasets.model import BuildDatasetConfig, Built, DatasetError
from core.datasets.split import choose_heldout, pack
from core.ingest.store import DocumentStore
from core.workspace import Workspace

Progress = Callable[[int, int, str], None]


def build_cpt(workspace: Workspace, config: BuildDatasetConfig, tokenizer: Any,
              progress: Progress, check_cancelled: Callable[[], None]) -> Built:
    store = DocumentStore(workspace)
    records = live_documents(store, config.document_kinds)
    if config.documents:
        wanted = set(config.documents)
        records = [r for r in records if r.id in wanted]
    if not records:
        raise DatasetError(
            f"No documents of kind {', '.join(config.document_kinds)} to build a CPT dataset from.",
            hint="import documents first, or widen document_kinds")
    tokenised: list[tuple[Any, str, list[int]]] = []
    empty = []
    for step, record in enumerate(records, 1):
        check_cancelled()
        document = load(store, record)
        text = document.text()
        if text:
            ids = list(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])
            tokenised.append((document, text, ids))
        else:
            empty.append(record.id)
        progress(step, len(records), f"tokenised {record.title}")
    if not tokenised:
        raise DatasetError("Every selected document is empty; there is no text to train on.")
    heldout_ids = choose_heldout((d.record.id for d, _, _ in tokenised),
                                 config.heldout_fraction, config.seed)
    train_docs = [item for item in tokenised if item[0].record.id not in heldout_ids]
    held_docs = [item for item in tokenised if item[0].record.id in heldout_ids]
    eos, bos = tokenizer.eos_token_id, tokenizer.bos_token_id
    train = pack((ids for _, _, ids in train_docs), config.seq_len, eos, bos)
    heldout = pack((ids for _, _, ids in held_docs), config.seq_len, eos, bos)
    if not train.sequences:
        raise DatasetError(
            f"The training documents hold {train.tokens} tokens, fewer than one "
            f"{config.seq_len}-token sequence.", hint="lower seq_len or import more documents")
    warnings = []
    if held_docs and not heldout.sequences:
        warnings.append(f"the held-out documents hold fewer than {config.seq_len} tokens: "
                        "no held-out sequence (their text is kept in heldout_text.jsonl)")
    summary = {
        "documents": len(tokenised), "train_documents": len(train_docs),
        "heldout_documents": len(held_docs),
        "heldout_document_ids": sorted(heldout_ids), "empty_documents": empty,
        "document_kinds": list(config.document_kinds),
        "tokens": train.tokens + heldout.tokens,
        "train_tokens": train.tokens, "heldout_tokens": heldout.tokens,
        "train": len(train.sequences), "heldout": len(heldout.sequences),
        "seq_len": config.seq_len,
        "remainder_tokens": {"train": train.remainder, "heldout": heldout.remainder},
        "warnings": warnings,
    }
    heldout_text = [{"document_id": d.record.id, "version": d.record.latest.version,
                     "title": d.record.title, "text": text} for d, text, _ in held_docs]
    return Built(
        files={"train.jsonl": [{"input_ids": s} for s in train.sequences],
               "heldout.jsonl": [{"input_ids": s} for s in heldout.sequences],
               "heldout_text.jsonl": heldout_text},
        documents=[d.ref for d, _, _ in tokenised], summary=summary)
