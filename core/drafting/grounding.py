"""SFT prompts written as drafting will prompt the tuned model: its sources, then the request.

A model instruction-tuned on bare requests has never seen the numbered reference material
that drafting puts before every request; shown it, a small one copies it back (the demo's
tuned model did on 4 of 7 first attempts at Q8_0, and on all 7 at Q4_K_M).
``sft_grounder`` gives the dataset builder (``core.datasets.sft``, which names this
module by string, as job kinds do, since the datasets layer sits below drafting) a
function that renders an example's request the way ``core.drafting.prompt.chat_prompt``
renders it for a model tuned here: the sources retrieval finds for it, then the request
and the citing instruction.

The documents that hold the example's answer are never among its sources (a proposal
section is not shown to the model that learns to write it), and an example from an RFP
sees that RFP and the company's own material only, as ``eval-drafts`` drafts it. The
sources are the drafting retrieval's (exact reference-table rows first, then hybrid
search), numbered, and kept in order while they fit ``source_tokens``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.drafting.draft import retrieve
from core.drafting.prompt import DraftSpec, chat_prompt
from core.drafting.scope import scoped_to_rfp
from core.drafting.sources import Citation, WorkspaceRetriever, number_sources
from core.workspace import Workspace

SFT_K = 4  # passages searched per example (drafting's default budget shows 3–5)
SFT_REFERENCE_K = 3  # reference-table rows looked up per example


@dataclass(frozen=True)
class Grounded:
    """One example's request as drafting would prompt it, and the sources it shows."""

    text: str
    sources: tuple[str, ...]  # "doc_id#ref" of each source shown, in order


Grounder = Callable[[str, Sequence[str], str | None], Grounded]


def sft_grounder(workspace: Workspace, tokenizer: Any, source_tokens: int,
                 ) -> tuple[Grounder | None, str]:
    """A grounder for ``workspace``, or None and why not (no index yet, or it is empty)."""
    from core.retrieval.index import index_status

    try:
        status = index_status(workspace)
    except Exception as error:  # noqa: BLE001 - an unreadable index grounds nothing
        return None, f"the knowledge base could not be read: {error}"
    if not status.get("chunks"):
        return None, ("the workspace has no knowledge base yet; index the documents "
                      "(Re-index in the Knowledge pane, or the index command), then build "
                      "again")

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def ground(request: str, exclude: Sequence[str], rfp: str | None) -> Grounded:
        scoped: Any = WorkspaceRetriever(workspace, exclude_docs=sorted(set(exclude)))
        if rfp:
            scoped = scoped_to_rfp(scoped, rfp)
        found, _warnings = retrieve(scoped, request, k=SFT_K, reference_k=SFT_REFERENCE_K)
        chosen: list[Citation] = []
        bare = count(_user_turn(request, []))
        for citation in number_sources(found):
            candidate = [*chosen, citation.model_copy(update={"number": len(chosen) + 1})]
            if count(_user_turn(request, candidate)) - bare > source_tokens:
                continue  # a long source does not keep a shorter one after it out
            chosen = candidate
        return Grounded(_user_turn(request, chosen),
                        tuple(f"{c.doc_id}#{c.ref_id}" for c in chosen))

    return ground, ""


def _user_turn(request: str, citations: Sequence[Citation]) -> str:
    """The user turn drafting sends a model tuned here (``system=False``)."""
    prompt = chat_prompt(DraftSpec(request=request, system=False), citations)
    return prompt.messages[-1].content
