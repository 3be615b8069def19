"""Proposals drafted section by section from an RFP, with a compliance matrix.

``new_proposal`` reads the RFP from the document store, extracts its requirements and
builds the outline; ``stream_section`` drafts (or regenerates) one section grounded in the
knowledge base; ``with_section_text`` records the analyst's edit. A ``Proposal`` is
saved by ``ProposalStore`` in ``W/drafts/proposals/<id>.json``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.clock import now_iso
from core.drafting.budget import FIRST_TOKEN_S
from core.drafting.draft import DraftEvent, DraftResult, FormatChoice, stream_draft
from core.drafting.outline import STANDARD_SECTIONS, SectionPlan, assign_requirements
from core.drafting.prompt import DraftSpec
from core.drafting.requirements import Requirement, RfpSection, extract_requirements, rfp_sections
from core.drafting.sources import Citation, Retriever
from core.errors import ScriptoriumError
from core.generation.model import Finished, GenerationSettings
from core.serving.backend import TextModel
from core.workspace import Workspace
from core.workspace.records import RecordStore

MAX_REQUIREMENTS_IN_PROMPT = 8


class ProposalError(ScriptoriumError):
    """A proposal is missing or damaged, or its RFP cannot be used."""


class ProposalSection(BaseModel):
    model_config = ConfigDict(frozen=True)
    key: str
    title: str
    guidance: str
    requirement_ids: tuple[str, ...] = ()
    reference_query: str = ""
    text: str = ""
    citations: tuple[Citation, ...] = ()
    status: Literal["empty", "drafted", "edited", "failed"] = "empty"
    model: str = ""
    updated: str = ""
    prompt_format: str = ""
    problems: tuple[str, ...] = ()  # why the last draft failed the checks
    rejected_text: str = ""  # the failed draft, kept for review, never exported

    @property
    def failed(self) -> bool:
        return self.status == "failed"


class Proposal(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    title: str
    rfp_id: str
    rfp_title: str
    rfp_version: int = 1
    requirements: tuple[Requirement, ...] = ()
    rfp_sections: tuple[RfpSection, ...] = ()
    sections: tuple[ProposalSection, ...] = ()
    created: str = Field(default_factory=now_iso)
    updated: str = Field(default_factory=now_iso)

    def section(self, key: str) -> ProposalSection:
        for section in self.sections:
            if section.key == key:
                return section
        raise ProposalError(f"The proposal has no section {key!r}.")

    def compliance_matrix(self) -> list[tuple[Requirement, ProposalSection]]:
        """Each requirement and the section that answers it."""
        by_id = {r.id: r for r in self.requirements}
        return [(by_id[rid], section) for section in self.sections
                for rid in section.requirement_ids if rid in by_id]

    def with_section(self, section: ProposalSection) -> Proposal:
        sections = tuple(section if s.key == section.key else s for s in self.sections)
        return self.model_copy(update={"sections": sections, "updated": now_iso()})


def new_proposal(workspace: Workspace, rfp_id: str,
                 plans: tuple[SectionPlan, ...] = STANDARD_SECTIONS) -> Proposal:
    """An outline and compliance matrix for the RFP ``rfp_id`` (nothing drafted yet)."""
    from core.ingest.store import DocumentStore

    store = DocumentStore(workspace)
    record = store.get(rfp_id)
    blocks = store.blocks(rfp_id)
    requirements = extract_requirements(blocks)
    if not requirements:
        raise ProposalError(f"No requirements (\"shall\"/\"must\" sentences) found in "
                            f"{record.title!r}.", hint="is it an RFP?")
    matrix = assign_requirements(requirements, plans)
    sections = tuple(
        ProposalSection(key=plan.key, title=plan.title, guidance=plan.guidance,
                        reference_query=plan.reference_query,
                        requirement_ids=tuple(r.id for r in requirements
                                              if matrix[r.id] == plan.key))
        for plan in plans)
    return Proposal(title=f"Response to {record.title}", rfp_id=rfp_id, rfp_title=record.title,
                    rfp_version=record.latest.version, requirements=tuple(requirements),
                    rfp_sections=tuple(rfp_sections(blocks)), sections=sections)


def section_request(proposal: Proposal, section: ProposalSection) -> tuple[str, str]:
    """The drafting request for a section and its retrieval query."""
    request, query, _ = section_spec(proposal, section)
    return request, query


def section_spec(proposal: Proposal, section: ProposalSection) -> tuple[str, str, DraftSpec]:
    """The request, retrieval query and draft spec (heading, requirements) of a section."""
    by_id = {r.id: r for r in proposal.requirements}
    wanted = [by_id[i] for i in section.requirement_ids if i in by_id]
    shown = wanted[:MAX_REQUIREMENTS_IN_PROMPT]
    request = (f"Write the \"{section.title}\" section of our proposal responding to the RFP "
               f"\"{proposal.rfp_title}\". {section.guidance}")
    quoted = tuple(f"{r.id}: {r.text[:300]}" for r in shown)
    if shown:
        request += " Address each requirement listed, naming it by its number."
    query = " ".join([section.title, proposal.rfp_title, *(r.text[:160] for r in shown[:4])])
    spec = DraftSpec(request=request, heading=section.title, document_title=proposal.title,
                     requirements=quoted)
    return request + ("\n" + "\n".join(f"- {q}" for q in quoted) if quoted else ""), query, spec


def stream_section(
    model: TextModel, proposal: Proposal, key: str, *, retriever: Retriever | None,
    settings: GenerationSettings | None = None, cancelled: Callable[[], bool] = lambda: False,
    format: FormatChoice = "auto", first_token_s: float | None = FIRST_TOKEN_S,
) -> Iterator[DraftEvent]:
    """Draft (or redraft) one section; the ``Finished`` event's extra holds the new
    ``ProposalSection`` under "section" and the draft under "draft". Retrieval keeps to
    the proposal's RFP and the company's own documents (``core.drafting.scope``)."""
    from core.drafting.scope import scoped_to_rfp

    section = proposal.section(key)
    request, query, spec = section_spec(proposal, section)
    retriever = scoped_to_rfp(retriever, proposal.rfp_id)
    lookup = section.reference_query or None
    if lookup:
        lookup = f"{lookup}: {query}"
    for event in stream_draft(model, spec.request, retriever=retriever, settings=settings,
                              cancelled=cancelled, query=query, lookup_query=lookup,
                              reference_k=6 if section.reference_query else 3, spec=spec,
                              format=format, first_token_s=first_token_s):
        if isinstance(event, Finished):
            result: DraftResult = event.extra["draft"]  # type: ignore[assignment]
            yield Finished(event.text, event.stats,
                           {**event.extra, "section": section_from_draft(section, result)})
        else:
            yield event


def section_from_draft(section: ProposalSection, result: DraftResult) -> ProposalSection:
    """The section after a draft: its text, or, when the draft failed the checks, no text,
    the reasons and the rejected draft for review (a failed draft is never exported)."""
    common = {"citations": result.citations, "model": result.model, "updated": now_iso(),
              "prompt_format": result.prompt_format, "problems": result.problems}
    if result.failed:
        return section.model_copy(update={**common, "text": "", "status": "failed",
                                          "rejected_text": result.text})
    return section.model_copy(update={**common, "text": result.text, "status": "drafted",
                                      "rejected_text": ""})


def draft_section(model: TextModel, proposal: Proposal, key: str,
                  **kwargs: Any) -> Proposal:
    """The proposal with section ``key`` drafted (no streaming)."""
    for event in stream_section(model, proposal, key, **kwargs):
        if isinstance(event, Finished):
            return proposal.with_section(event.extra["section"])  # type: ignore[arg-type]
    return proposal


def with_section_text(proposal: Proposal, key: str, text: str) -> Proposal:
    """The proposal with the analyst's text for a section (its citations are kept)."""
    section = proposal.section(key)
    if text == section.text:
        return proposal
    return proposal.with_section(section.model_copy(update={
        "text": text, "status": "edited", "updated": now_iso()}))


class ProposalStore(RecordStore[Proposal]):
    def __init__(self, workspace: Workspace) -> None:
        super().__init__(workspace.root / "drafts" / "proposals", Proposal, "proposal",
                         ProposalError)
