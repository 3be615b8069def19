"""Requirements and sections of an RFP, from its blocks in the document store.

A requirement is a numbered paragraph ("3.1 The contractor shall …") or any sentence
with "shall" or "must" (and "is required to"). Numbered ones keep their number as id;
others are numbered R1, R2, … in reading order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from core.ingest.model import Block

_NUMBERED = re.compile(r"^\s*((?:[A-Z]\.)?\d+(?:\.\d+)+)[.)]?\s+(.+)$", re.DOTALL)
_OBLIGATION = re.compile(r"\b(shall|must|is required to|are required to)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.;!?])\s+(?=[A-Z(])")
_NOT_OBLIGATION = re.compile(r"\bshall not be construed\b", re.IGNORECASE)


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


def is_requirement(text: str) -> bool:
    return bool(_OBLIGATION.search(text)) and not _NOT_OBLIGATION.search(text)


def extract_requirements(blocks: Sequence[Block]) -> list[Requirement]:
    """The RFP's requirements in reading order (see the module docstring)."""
    found: list[Requirement] = []
    seen: set[str] = set()
    counter = 0
    for block in blocks:
        if block.kind not in ("paragraph", "list_item"):
            continue
        text = " ".join(block.text.split())
        numbered = _NUMBERED.match(text)
        if numbered and is_requirement(numbered.group(2)):
            number = numbered.group(1)
            if number not in seen:
                seen.add(number)
                found.append(Requirement(id=number, text=numbered.group(2), section=block.section,
                                         page=block.page))
            continue
        for sentence in _SENTENCE.split(text):
            if is_requirement(sentence) and len(sentence) >= 20:
                counter += 1
                found.append(Requirement(id=f"R{counter}", text=sentence.strip(),
                                         section=block.section, page=block.page))
    return found


def rfp_sections(blocks: Sequence[Block]) -> list[RfpSection]:
    """The RFP's headings (below its title) in reading order."""
    return [RfpSection(title=b.text.strip(), level=b.level or len(b.section) + 1,
                       path=b.section, page=b.page)
            for b in blocks if b.kind == "heading" and b.section]
