"""What drafting may retrieve from: one solicitation and the company's own material.

A proposal answers one RFP. Passages of *other* solicitations (their requirements, dates,
contract numbers) only mislead a draft, so ``proposal_retriever`` searches the RFP being
answered and every document that is not an RFP (past proposals, reference material,
other documents) and never another RFP. ``eval_retriever`` leaves out given documents,
so that a draft evaluation does not retrieve the reference answer's own proposal.
Reference-table lookup stays unscoped in both: the tables hold the company's facts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.drafting.sources import Retriever, WorkspaceRetriever
from core.ingest.store import DocumentError, DocumentStore
from core.retrieval.store import read_manifest
from core.workspace import Workspace


def rfp_ids(workspace: Workspace) -> set[str]:
    """Every document known as an RFP: in the document store (deleted ones too) or in
    the index, whose entries can lag behind a change of kind or a removal."""
    found = {record.id for record in DocumentStore(workspace).list(include_deleted=True)
             if record.kind == "rfp"}
    active = read_manifest(workspace).active
    if active is not None:
        found |= {doc_id for doc_id, entry in active.documents.items() if entry.kind == "rfp"}
    return found


def other_rfps(workspace: Workspace, rfp_id: str) -> list[str]:
    """The RFPs other than ``rfp_id``, sorted (``rfp_id`` must name a document)."""
    DocumentStore(workspace).get(rfp_id)  # DocumentError for an unknown id
    return sorted(rfp_ids(workspace) - {rfp_id})


def proposal_retriever(workspace: Workspace, rfp_id: str, *, mode: str = "hybrid",
                       embedder: Any | None = None) -> WorkspaceRetriever:
    """A retriever for drafting the answer to ``rfp_id``: its passages come from that RFP
    and from documents that are not RFPs, never from another solicitation."""
    return WorkspaceRetriever(workspace, mode=mode, embedder=embedder,
                              exclude_docs=other_rfps(workspace, rfp_id))


def eval_retriever(workspace: Workspace, exclude_doc_ids: Iterable[str], *,
                   mode: str = "hybrid", embedder: Any | None = None) -> WorkspaceRetriever:
    """A retriever that never returns passages of ``exclude_doc_ids``."""
    return WorkspaceRetriever(workspace, mode=mode, embedder=embedder,
                              exclude_docs=sorted(set(exclude_doc_ids)))


def scoped_to_rfp(retriever: Retriever | None, rfp_id: str) -> Retriever | None:
    """``retriever`` kept to one solicitation and the company's own material (a workspace
    retriever; any other kind is returned as it is). An RFP removed since the proposal
    was started leaves every RFP out."""
    if not isinstance(retriever, WorkspaceRetriever):
        return retriever
    try:
        others = other_rfps(retriever.workspace, rfp_id)
    except DocumentError:
        others = sorted(rfp_ids(retriever.workspace))
    return WorkspaceRetriever(
        retriever.workspace, mode=retriever.mode, embedder=retriever.embedder,
        include_docs=retriever.include_docs, kinds=retriever.kinds,
        exclude_docs=sorted(set(retriever.exclude_docs) | set(others)))
