"""A past proposal section of the same kind, shown to a base model as the house style.

The workspace's proposals are split into sections by heading (``core.datasets.matching``);
the section whose heading shares the most words with the new section's heading wins,
and only when it shares at least one meaningful word. Its text is cut to
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


def find_exemplar(workspace: Workspace, heading: str,
                  exclude: Collection[str] = ()) -> Exemplar | None:
    """The best-matching section of a past proposal for ``heading``, if any."""
    from core.datasets.matching import sections
    from core.ingest.store import DocumentStore

    wanted = _heading_words(heading)
    if not wanted:
        return None
    store = DocumentStore(workspace)
    proposals = [r for r in store.list() if r.kind == "proposal" and r.id not in exclude]
    proposals.sort(key=lambda r: r.latest.imported, reverse=True)
    best: tuple[float, Exemplar] | None = None
    for record in proposals[:MAX_PROPOSALS]:
        for section in sections(store.blocks(record.id)):
            title = re.sub(r"^[\d.\s]+", "", section.title)
            shared = wanted & _heading_words(title)
            if not shared or len(section.text.split()) < 30:
                continue
            score = len(shared) / len(wanted | _heading_words(title))
            if best is None or score > best[0]:
                best = (score, Exemplar(title=record.title, heading=title,
                                        text=_cut(section.text)))
    return best[1] if best else None
