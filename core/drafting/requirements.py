"""Requirements and sections of an RFP, from its blocks in the document store.

A requirement is a numbered paragraph ("3.1 The contractor shall …") or any sentence
with "shall" or "must" (and "is required to"). Numbered ones keep their number as id;
others are numbered R1, R2, … in reading order. Instructions to offerors (where and by
when to submit proposals and questions, page formatting, offer validity, points of
contact: ``core.ingest.instructions``) are not requirements of the work; they are
returned apart by ``extract_instructions`` (I1, I2, …), obligation or not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from pydantic import BaseModel, ConfigDict

from core.ingest.instructions import InstructionTopic, instruction_topic, is_instruction
from core.ingest.model import Block

_NUMBERED = re.compile(r"^\s*((?:[A-Z]\.)?\d+(?:\.\d+)+)[.)]?\s+(.+)$", re.DOTALL)
_OBLIGATION = re.compile(r"\b(shall|must|is required to|are required to)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.;!?])\s+(?=[A-Z(])")
_NOT_OBLIGATION = re.compile(r"\bshall not be construed\b", re.IGNORECASE)
MIN_SENTENCE = 20


class Requirement(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    text: str
    section: tuple[str, ...] = ()
    page: int | None = None


class RfpSection(BaseModel):
    model_config = ConfigDict(frozen=True)
    title: str
    level: int = 1
    path: tuple[str, ...] = ()
    page: int | None = None


class Instruction(BaseModel):
    """An instruction to offerors: how to bid, not what to do (see the module docstring)."""

    model_config = ConfigDict(frozen=True)
    id: str
    text: str
    topic: InstructionTopic
    section: tuple[str, ...] = ()
    page: int | None = None


def is_requirement(text: str) -> bool:
    """Whether ``text`` states an obligation of the work (not an instruction to offerors)."""
    return has_obligation(text) and not is_instruction(text)


def has_obligation(text: str) -> bool:
    """Whether ``text`` says "shall", "must" or "is required to" (as an obligation)."""
    return bool(_OBLIGATION.search(text)) and not _NOT_OBLIGATION.search(text)


def _body_texts(blocks: Sequence[Block]) -> Iterator[tuple[Block, str]]:
    for block in blocks:
        if block.kind in ("paragraph", "list_item"):
            yield block, " ".join(block.text.split())


def sentences(text: str) -> list[str]:
    """``text`` split into sentences (and clauses after a semicolon), stripped."""
    return [part.strip() for part in _SENTENCE.split(text) if part.strip()]


def _numbered_requirement(body: str) -> bool:
    """A numbered paragraph is a requirement when one of its obligations is about the work."""
    obligations = [s for s in sentences(body) if has_obligation(s)] or [body]
    return has_obligation(body) and not all(is_instruction(s) for s in obligations)


def extract_requirements(blocks: Sequence[Block]) -> list[Requirement]:
    """The RFP's requirements in reading order (see the module docstring)."""
    found: list[Requirement] = []
    seen: set[str] = set()
    counter = 0
    for block, text in _body_texts(blocks):
        numbered = _NUMBERED.match(text)
        if numbered and has_obligation(numbered.group(2)):
            number = numbered.group(1)
            if _numbered_requirement(numbered.group(2)) and number not in seen:
                seen.add(number)
                found.append(Requirement(id=number, text=numbered.group(2), section=block.section,
                                         page=block.page))
            continue
        for sentence in sentences(text):
            if is_requirement(sentence) and len(sentence) >= MIN_SENTENCE:
                counter += 1
                found.append(Requirement(id=f"R{counter}", text=sentence,
                                         section=block.section, page=block.page))
    return found


def extract_instructions(blocks: Sequence[Block]) -> list[Instruction]:
    """The RFP's instructions to offerors in reading order, numbered I1, I2, …"""
    found: list[Instruction] = []
    for block, text in _body_texts(blocks):
        numbered = _NUMBERED.match(text)
        for sentence in sentences(numbered.group(2) if numbered else text):
            topic = instruction_topic(sentence)
            if topic is not None and len(sentence) >= MIN_SENTENCE:
                found.append(Instruction(id=f"I{len(found) + 1}", text=sentence, topic=topic,
                                         section=block.section, page=block.page))
    return found


def rfp_sections(blocks: Sequence[Block]) -> list[RfpSection]:
    """The RFP's headings (below its title) in reading order."""
    return [RfpSection(title=b.text.strip(), level=b.level or len(b.section) + 1,
                       path=b.section, page=b.page)
            for b in blocks if b.kind == "heading" and b.section]
