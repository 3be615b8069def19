"""A past proposal section of the same kind, shown to a base model as the house style.

The workspace's proposals are split into sections by heading (``core.datasets.matching``);
the section whose heading shares the most words with the new section's heading wins,
and only when it shares at least one meaningful word; for a generic heading, the section
whose text is closest to the request. Its text is cut to
``MAX_WORDS`` words at a sentence end so the example never crowds out the sources.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from core.drafting.citecheck import content_words
from core.drafting.prompt import Exemplar
from core.workspace import Workspace

MAX_WORDS = 140
MAX_PROPOSALS = 40  # the newest ones; an archive of hundreds is not read per draft
MIN_REQUEST_OVERLAP = 0.2
_GENERIC = {"section", "response", "proposal", "volume", "plan", "approach", "part"}


def _heading_words(text: str) -> set[str]:
    return {w.rstrip("s") for w in content_words(text) if not w[:1].isdigit()} - _GENERIC


def _cut(text: str, limit: int = MAX_WORDS) -> str:
    tokens = text.split()
    if len(tokens) <= limit:
        return text.strip()
    cut = " ".join(tokens[:limit])
    end = max(cut.rfind(". "), cut.rfind(".\n"))
    return cut[: end + 1] if end > len(cut) // 3 else cut + " …"


def _candidates(workspace: Workspace, exclude: Collection[str]) -> list[Exemplar]:
    from core.datasets.matching import sections
    from core.ingest.store import DocumentStore

    store = DocumentStore(workspace)
    proposals = [r for r in store.list() if r.kind == "proposal" and r.id not in exclude]
    proposals.sort(key=lambda r: r.latest.imported, reverse=True)
    found = []
    for record in proposals[:MAX_PROPOSALS]:
        for section in sections(store.blocks(record.id)):
            if len(section.text.split()) >= 30:
                title = re.sub(r"^[\d.\s]+", "", section.title)
                found.append(Exemplar(title=record.title, heading=title, text=section.text))
    return found


def find_exemplar(workspace: Workspace, heading: str, exclude: Collection[str] = (),
                  request: str = "") -> Exemplar | None:
    """The past proposal section whose heading best matches ``heading``; failing that
    (a generic heading such as "Response to 3.1"), the one whose text shares the most
    content words with ``request``."""
    candidates = _candidates(workspace, exclude)
    wanted = _heading_words(heading)
    best: tuple[float, Exemplar] | None = None
    for candidate in candidates if wanted else ():
        theirs = _heading_words(candidate.heading)
        if wanted & theirs:
            score = len(wanted & theirs) / len(wanted | theirs)
            if best is None or score > best[0]:
                best = (score, candidate)
    if best is None and request:
        asked = content_words(request)
        for candidate in candidates:
            score = len(asked & content_words(candidate.text)) / (len(asked) or 1)
            if score >= MIN_REQUEST_OVERLAP and (best is None or score > best[0]):
                best = (score, candidate)
    if best is None:
        return None
    chosen = best[1]
    return Exemplar(title=chosen.title, heading=chosen.heading, text=_cut(chosen.text))
