"""A document's title, guessed at import: what an analyst would call it.

Real solicitations carry poor titles: a cover stamp ("FINAL", "CUI") read as the first
heading, PDF metadata such as "Microsoft Word - vol1_tech.docx", a file named
"RFP_W912DY-25-R-0012_FINAL_v3.pdf". The first candidate that reads as a title wins, in this
order: what a cover page says the document is ("REQUEST FOR PROPOSALS" and the name below
it), an early top-level heading, the file's own title property, the file name tidied.
Capitals are calmed to title case, keeping acronyms. The user can
rename a document afterwards (``DocumentStore.set_title``); a new version keeps that name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePath

from core.ingest.model import Block

MAX_TITLE = 120
_EARLY_BLOCKS = 8

# Page furniture and stamps that are never a document's title (compared case-insensitively,
# without punctuation).
_STAMPS = {
    "final", "draft", "final draft", "final version", "revised", "confidential",
    "unclassified", "cui", "controlled unclassified information", "for official use only",
    "fouo", "proprietary", "company proprietary", "proprietary information", "source selection "
    "information", "untitled", "document", "title", "cover", "cover page", "cover sheet",
    "table of contents", "contents", "page 1", "copy", "sample", "template", "attachment",
    "enclosure", "appendix", "exhibit", "rev", "revision", "powerpoint presentation",
    "slide 1", "microsoft word document", "blank",
    # a section's heading, not the document's
    "introduction", "executive summary", "summary", "background", "overview", "scope",
    "purpose", "general", "instructions", "section 1", "part 1", "1 introduction",
    "1 scope", "1 0 introduction", "1 0 scope",
}
_APP_PREFIX = re.compile(r"^(microsoft (word|excel|powerpoint)|ms word|word)\s*-\s*", re.I)
_EXTENSION = re.compile(r"\.(docx?|docm|pdf|txt|md|html?|rtf|odt|xlsx?|pptx?)$", re.I)
_VERSION_WORD = re.compile(r"^(final|draft|clean|redline|copy|v\d+(\.\d+)*|rev\w?\d*|r\d+)$", re.I)
_NUMBERED = re.compile(r"^(\d+(\.\d+)+|\d+[.)]|section\s+\d+|part\s+\d+)\s", re.I)
# What a cover page says a document is; "REQUEST FOR PROPOSALS" alone is followed by the name.
_DOC_TYPE = (r"(requests? for proposals?|requests? for quotations?|request for information|"
             r"proposal|statement of work|performance work statement|capability statement|"
             r"task order request)")
_TYPE_LINE = re.compile(rf"^{_DOC_TYPE}$", re.I)
_TYPED = re.compile(rf"(?:^|(?<=[.:]\s)){_DOC_TYPE}\s*(?::|\s[-–—])\s*(\S.*)", re.I | re.S)
_SMALL = {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with"}
_ACRONYMS = {"rfp", "rfq", "rfi", "sow", "pws", "idiq", "clin", "it", "us", "usa", "soc", "ai"}


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text).lower().split())


def reads_as_title(text: str) -> bool:
    """Whether ``text`` could be a document's title: not a stamp, a path, a bare file name
    or a line of numbers."""
    text = " ".join(text.split())
    if not 3 <= len(text) <= MAX_TITLE or _key(text) in _STAMPS:
        return False
    if "/" in text or "\\" in text or _EXTENSION.search(text):
        return False
    if " " not in text and ("_" in text or len(text) < 5):
        return False  # a bare identifier ("RFP_v3_FINAL") or a fragment
    if _NUMBERED.match(text):
        return False  # a numbered section's heading ("1. TECHNICAL APPROACH")
    visible = [c for c in text if not c.isspace()]
    return sum(c.isalpha() for c in visible) >= 0.5 * len(visible)


def tidy_metadata_title(title: str | None) -> str:
    """A title property without the application's prefix or a file extension."""
    if not title:
        return ""
    cleaned = _EXTENSION.sub("", _APP_PREFIX.sub("", " ".join(title.split())))
    return cleaned.strip(" -_")


def title_from_file_name(name: str) -> str:
    """"RFP_W912DY-25-R-0012_FINAL_v3.pdf" → "RFP W912DY-25-R-0012"."""
    stem = PurePath(name).stem
    words = [w for w in re.split(r"[_\s]+|(?<=[a-z])-(?=[a-z])", stem, flags=re.I) if w]
    kept = [w for w in words if not _VERSION_WORD.match(w)] or words
    title = " ".join(kept)[:MAX_TITLE] or stem or name
    return title[:1].upper() + title[1:] if title.islower() else title


def calm_capitals(text: str) -> str:
    """A cover page's capitals in title case; acronyms in parentheses, codes with digits
    and common acronyms kept: "PROPOSAL: DATA SERVICES (DS) FOR NLSA" → "Proposal: Data
    Services (DS) for NLSA"."""
    letters = [c for c in text if c.isalpha()]
    if not letters or not all(c.isupper() for c in letters):
        return text
    words, depth = [], 0
    for index, word in enumerate(text.split()):
        bare = word.strip("():,;.-").lower()
        depth += word.count("(")
        keep = depth > 0 or any(c.isdigit() for c in word) or bare in _ACRONYMS
        depth -= word.count(")")
        if keep:
            words.append(word)
        elif bare in _SMALL and index > 0:
            words.append(word.lower())
        else:
            words.append(word[:1] + word[1:].lower())
    return " ".join(words)


def _caps_run(text: str) -> str:
    """The leading words of ``text`` written in capitals (a cover line run into the next)."""
    kept = []
    for word in text.split():
        if any(c.islower() for c in word):
            break
        kept.append(word)
    return " ".join(kept)


def _cover_title(blocks: Sequence[Block]) -> str:
    """"Request for Proposals: <name>" from a cover page, if it has one."""
    early = list(blocks[:_EARLY_BLOCKS])
    for index, block in enumerate(early):
        text = " ".join(block.text.split())
        if _TYPE_LINE.match(text) and index + 1 < len(early):
            name = " ".join(early[index + 1].text.split())
            if len(name) <= MAX_TITLE and reads_as_title(name):
                return f"{calm_capitals(text)}: {calm_capitals(name)}"
        found = _TYPED.search(text[:400])
        if found:
            kind, rest = found.group(1), found.group(2)
            if kind.isupper():
                rest = _caps_run(rest)
            rest = re.split(r"(?<=[a-z)])\.\s", rest)[0].strip(" .")
            if reads_as_title(rest) and len(rest) <= MAX_TITLE - len(kind) - 2:
                return f"{calm_capitals(kind)}: {calm_capitals(rest)}"
    return ""


def guess_title(source_name: str, blocks: Sequence[Block], metadata_title: str | None = None
                ) -> str:
    """The document's title: a cover page's "Proposal: …", else an early heading, else its
    title property, else its name."""
    cover = _cover_title(blocks)
    if cover:
        return cover
    for block in blocks[:_EARLY_BLOCKS]:
        if block.kind == "heading" and block.level <= 1 and reads_as_title(block.text):
            return calm_capitals(" ".join(block.text.split()))
    from_metadata = tidy_metadata_title(metadata_title)
    if reads_as_title(from_metadata):
        return from_metadata
    return title_from_file_name(source_name)
