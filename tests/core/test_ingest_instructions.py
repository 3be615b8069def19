"""Instructions to offerors (submission, deadlines, formatting, validity, contacts) are not
requirements of the work: they are kept apart, and real requirements stay."""

from __future__ import annotations

import pytest

from core.drafting.requirements import extract_instructions, extract_requirements
from core.ingest.instructions import instruction_topic, is_instruction
from core.ingest.model import Block


@pytest.mark.parametrize(("sentence", "topic"), [
    ("Questions shall be submitted to Jane Smith, Contracting Officer, at "
     "jane.smith@agency.example.gov by 2:00 PM Eastern Time on 14 October 2026.", "questions"),
    ("All questions regarding this solicitation must be directed to the Contract Specialist.",
     "questions"),
    ("Proposals must be received no later than 3:00 PM local time on 12 November 2026.",
     "submission"),
    ("Offerors shall submit their proposals via email to rfp-2027@agency.example.gov.",
     "submission"),
    ("Offerors shall submit one electronic copy of each volume through the PIEE portal.",
     "submission"),
    ("Proposals are due 1 December 2026 at 11:00 AM Eastern Time by email to "
     "csoc-rfp@jlsa.example.mil.", "submission"),
    ("Late proposals will not be considered.", "submission"),
    ("Proposals shall be organized in four volumes with the following page limits:", "format"),
    ("Pages shall be 8.5 by 11 inches with 1-inch margins.", "format"),
    ("Body text shall be no smaller than 12-point font; tables may use 10-point font.", "format"),
    ("The technical volume shall not exceed 30 pages.", "format"),
    ("Emails shall not exceed 25 MB; offerors may split submissions across multiple emails.",
     "format"),
    ("Volume I shall include a compliance matrix that maps each requirement to the "
     "responding section.", "submission"),
    ("Export-controlled content in proposals shall be marked accordingly.", "submission"),
    ("Offers shall remain valid for 120 calendar days after the proposal due date.",
     "validity"),
    ("Proposals shall be valid for 90 calendar days.", "validity"),
    ("A site visit will be held on 10 November 2026 for registered offerors.", "events"),
    ("Offerors must be registered in SAM at the time of proposal submission.", "registration"),
    ("The sole point of contact for this solicitation is the Contracting Officer.", "contact"),
    ("Submit questions to rfp-questions@agency.example.gov.", "questions"),
])
def test_instructions_to_offerors(sentence: str, topic: str) -> None:
    assert instruction_topic(sentence) == topic


@pytest.mark.parametrize("sentence", [
    "The contractor shall submit monthly status reports to the COR by the fifth business day.",
    "The contractor shall deliver a Migration Plan no later than 31 March 2028.",
    "Requests to substitute key personnel shall be submitted to the Contracting Officer 30 "
    "calendar days in advance with a resume.",
    "The contractor shall notify the Contracting Officer by email within 24 hours of any "
    "security incident.",
    "The contractor shall deliver weekly production reports showing pages received and "
    "scanned, in 12-point font.",
    "Offerors shall submit up to three references for work performed within the past five "
    "years.",
    "Offerors shall propose staffing sufficient to meet the production rate in requirement 3.4.",
    "Key personnel must be named in the proposal and must be employees of the prime "
    "contractor.",
    "The offeror shall describe its e-mail security and portal hardening approach.",
    "The system shall remain open to users 24 hours a day and send email alerts to on-call "
    "engineers.",
    "The help desk must answer user questions within four business hours.",
    "The contractor shall submit task order proposals via the portal within 10 days.",
    "Evaluations use a 5-point scale for each factor.",
    "The solution shall store up to 500 MB of attachments per case.",
])
def test_requirements_of_the_work_are_not_instructions(sentence: str) -> None:
    assert not is_instruction(sentence)


def _para(text: str, section: tuple[str, ...] = ("RFP", "Section"), page: int = 1) -> Block:
    return Block(kind="paragraph", text=text, section=section, page=page)


BLOCKS = [
    Block(kind="heading", text="RFP", level=1),
    _para("3.1 The contractor shall migrate all forty databases within nine months.",
          ("RFP", "3. Requirements")),
    _para("3.2 The contractor shall submit monthly status reports to the COR.",
          ("RFP", "3. Requirements")),
    _para("L.4.1 Proposals shall be submitted by email to rfp@agency.example.gov no later than "
          "2:00 PM on 9 November 2026.", ("RFP", "L. Instructions")),
    _para("Offerors shall submit three past performance references. Questions shall be "
          "submitted in writing by 12:00 PM Eastern Time on 19 October 2026. Pages shall be "
          "8.5 by 11 inches with 1-inch margins. Proposals shall remain valid for 150 calendar "
          "days.", ("RFP", "L. Instructions"), 7),
    _para("3.3 The contractor shall encrypt data at rest. Deliverables shall be submitted by "
          "email to the COR.", ("RFP", "3. Requirements")),
]


def test_extraction_keeps_requirements_and_returns_instructions_apart() -> None:
    requirements = extract_requirements(BLOCKS)
    assert [r.id for r in requirements] == ["3.1", "3.2", "R1", "3.3"]
    assert requirements[2].text == "Offerors shall submit three past performance references."
    instructions = extract_instructions(BLOCKS)
    assert [(i.id, i.topic) for i in instructions] == [
        ("I1", "submission"), ("I2", "questions"), ("I3", "format"), ("I4", "validity")]
    assert instructions[0].text.startswith("Proposals shall be submitted by email")
    assert instructions[1].section == ("RFP", "L. Instructions") and instructions[1].page == 7
