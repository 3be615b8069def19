"""Job ``draft-proposal``: draft a proposal's sections in a child process, with progress.

Progress is one step per section (tokens/s as a metric); cancel stops between tokens and
keeps the sections finished so far (each is saved as soon as it is drafted). With
``export`` set, the proposal is written to that DOCX (and Markdown beside it) at the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.drafting.budget import FIRST_TOKEN_S
from core.jobs.progress import JobContext


class DraftProposalConfig(BaseModel):
    """Config of the ``draft-proposal`` job."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    rfp_id: str | None = Field(default=None, description="start a new proposal for this RFP")
    proposal_id: str | None = Field(default=None, description="or continue a saved proposal")
    model: str | None = Field(default=None, description="GGUF model id (default: the newest), "
                              "or endpoint:NAME for a remote endpoint of the user settings")
    sections: tuple[str, ...] = Field(default=(), description="section keys (default: all)")
    max_tokens: int = Field(default=384, ge=1, le=8192)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    top_p: float = Field(default=0.9, gt=0.0, le=1.0)
    retrieval: bool = True
    n_ctx: int = Field(default=2048, ge=256, le=131072)
    export: str | None = Field(default=None, description="absolute .docx path to write")
    format: Literal["auto", "chat", "document"] = Field(
        default="auto", description="prompt format (auto: from the model's kind)")
    first_token_s: float | None = Field(
        default=FIRST_TOKEN_S, gt=0, description="sources shown: what the model reads in "
        "this many seconds (None: every source that fits the context)")


def run_proposal_job(config: DraftProposalConfig, ctx: JobContext) -> dict[str, Any]:
    from core.drafting.export import export_proposal
    from core.drafting.proposal import ProposalError, ProposalStore, new_proposal, stream_section
    from core.drafting.sources import WorkspaceRetriever
    from core.generation.model import Finished, GenerationSettings, Token
    from core.generation.runtime import ModelCache
    from core.serving.backend import open_text_model

    workspace = ctx.workspace()
    store = ProposalStore(workspace)
    if config.proposal_id:
        proposal = store.get(config.proposal_id)
    elif config.rfp_id:
        proposal = store.save(new_proposal(workspace, config.rfp_id))
    else:
        raise ProposalError("Give an RFP (rfp_id) or a saved proposal (proposal_id).")
    keys = list(config.sections) or [s.key for s in proposal.sections]
    settings = GenerationSettings(max_tokens=config.max_tokens, temperature=config.temperature,
                                  top_p=config.top_p)
    retriever = WorkspaceRetriever(workspace) if config.retrieval else None
    cache = ModelCache(n_ctx=config.n_ctx)
    try:
        model = open_text_model(workspace, config.model, cache)
        ctx.report(0, len(keys), f"drafting {len(keys)} sections with {model.name}", force=True)
        failed: list[str] = []
        for done, key in enumerate(keys):
            ctx.check_cancelled()
            title = proposal.section(key).title
            tokens = 0
            for event in stream_section(model, proposal, key, retriever=retriever,
                                        settings=settings, cancelled=ctx.cancelled,
                                        format=config.format,
                                        first_token_s=config.first_token_s):
                if isinstance(event, Token):
                    tokens += 1
                    if tokens % 16 == 0:
                        ctx.report(done, len(keys), f"{title}: {tokens} tokens")
                elif isinstance(event, Finished):
                    section = event.extra["section"]
                    if event.stats.finish != "cancelled":
                        proposal = store.save(proposal.with_section(section))
                    outcome = ("FAILED the checks: " + "; ".join(section.problems)
                               if section.failed else "drafted")
                    ctx.report(done + 1, len(keys), f"{title} {outcome}",
                               tokens_per_s=event.stats.tokens_per_s)
                    if section.failed:
                        failed.append(key)
        ctx.check_cancelled()
    finally:
        cache.close()
    files = []
    if config.export:
        files.append(str(export_proposal(proposal, Path(config.export))))
        files.append(str(export_proposal(proposal, Path(config.export).with_suffix(".md"))))
    return {"proposal_id": proposal.id, "sections": keys, "files": files, "failed": failed}
