"""A proposal outline from an RFP: the standard volumes, with each requirement assigned.

The outline follows the usual response structure (executive summary, technical approach,
management and staffing plan, past performance, quality and security); a requirement
goes to the section whose keywords it (or its RFP section heading) matches best, else to
the technical approach. The assignments are the compliance matrix.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from core.drafting.requirements import Requirement


class SectionPlan(BaseModel):
    model_config = ConfigDict(frozen=True)
    key: str
    title: str
    guidance: str
    keywords: tuple[str, ...] = ()
    reference_query: str = ""


STANDARD_SECTIONS: tuple[SectionPlan, ...] = (
    SectionPlan(
        key="executive-summary", title="Executive Summary",
        guidance="Summarise our understanding of the customer's need, our solution and why "
                 "we are the best choice, in two or three short paragraphs."),
    SectionPlan(
        key="technical-approach", title="Technical Approach",
        guidance="Explain how we will meet each requirement: methods, tools, deliverables "
                 "and measurable outcomes.",
        keywords=("migrat", "design", "deliver", "implement", "platform", "system", "data",
                  "software", "application", "scan", "monitor", "integrat", "test")),
    SectionPlan(
        key="staffing-plan", title="Management and Staffing Plan",
        guidance="Describe the team: labour categories with their codes from the reference "
                 "table, key personnel, qualifications, shifts and how positions are filled.",
        keywords=("staff", "personnel", "key personnel", "labor", "labour", "analyst",
                  "manager", "shift", "clearance", "certif", "team", "resume", "engineer"),
        reference_query="labour categories, codes and qualifications for the staffing plan"),
    SectionPlan(
        key="past-performance", title="Past Performance",
        guidance="Present relevant contracts we performed: customer, value, period, scope "
                 "and measured results.",
        keywords=("past performance", "reference", "similar", "experience", "cpars",
                  "prior contract"),
        reference_query="past performance contracts, customers, values and results"),
    SectionPlan(
        key="quality-security", title="Quality Assurance and Security",
        guidance="Describe quality control, reporting, security and privacy controls.",
        keywords=("quality", "accuracy", "secur", "privacy", "pii", "encrypt", "nist",
                  "report", "audit", "incident", "508", "accessib")),
)


def _score(plan: SectionPlan, requirement: Requirement) -> int:
    text = " ".join([requirement.text, *requirement.section]).casefold()
    heading = " ".join(requirement.section).casefold()
    score = sum(len(re.findall(re.escape(k), text)) for k in plan.keywords)
    score += sum(3 for k in plan.keywords if k in heading)  # the RFP put it there
    return score


def assign_requirements(requirements: Sequence[Requirement],
                        plans: Sequence[SectionPlan] = STANDARD_SECTIONS) -> dict[str, str]:
    """Requirement id → section key (the compliance matrix)."""
    default = "technical-approach"
    matrix: dict[str, str] = {}
    for requirement in requirements:
        # on a tie the more specific section (later in the outline) wins
        scored = [(_score(plan, requirement), i, plan.key)
                  for i, plan in enumerate(plans) if plan.keywords]
        best = max(scored) if scored else (0, 0, default)
        matrix[requirement.id] = best[2] if best[0] > 0 else default
    return matrix
