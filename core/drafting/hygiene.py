"""Output hygiene: what a draft may not contain, and what is stripped before anyone reads it.

A small or base model given a prompt often reproduces it: the instructions, the source
markers, chat-turn tokens, or one line over and over. ``clean_draft`` removes what can be
removed without guessing (markup and special-token look-alikes, source headers, lines that
echo the prompt's scaffolding, repeated lines, invented table rows, a cut-off last
sentence) and says what is still wrong. The caller retries once with another seed and
otherwise marks the draft as failed (``core.drafting.draft``).

An *echo* is a run of ``ECHO_WORDS`` or more consecutive words of the prompt's scaffolding
(its fixed wording and the request) that is not also in the text the draft may quote (the
sources, the requirements, the example section).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

ECHO_WORDS = 8
MIN_WORDS = 12  # fewer words of prose than this is no section
_MARKUP = re.compile(
    r"[<‹]\s*/?\s*(?:sources?|start_of_turn|end_of_turn|bos|eos|pad|s|"
    r"\|[^<>|\s]{1,40}\|)\s*[>›]|\[/?INST\]|<<\s*/?SYS\s*>>",
    re.IGNORECASE)
_ROLE_LINE = re.compile(r"^\s*(?:user|model|assistant|system)\s*:?\s*$", re.IGNORECASE)
_SOURCE_HEADER = re.compile(r"^\s*\[\d{1,3}\]\s+[^\n]{0,200}?(?:reference table row|p\. \d+)\s*$")
_WORD = re.compile(r"[\w$%.,'-]+")
_CITED_LINE = re.compile(r"^\s*\[\d{1,3}\]\s+\S")
_SENTENCES = re.compile(r"(?<=[.!?])\s+")
_SENTENCE_END = re.compile(r"[.!?)\]”\"|:]\s*$")


def words(text: str) -> list[str]:
    """Lower-cased words, punctuation at their ends dropped (for n-gram comparisons)."""
    out = []
    for token in _WORD.findall(text.casefold()):
        token = token.strip(".,'-")
        if token:
            out.append(token)
    return out


def ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def _allowed(quoted: Iterable[str], n: int) -> set[tuple[str, ...]]:
    allowed: set[tuple[str, ...]] = set()
    for text in quoted:
        allowed |= ngrams(words(text), n)
    return allowed


def echoed_phrases(text: str, scaffolding: Iterable[str], quoted: Iterable[str] = (),
                   n: int = ECHO_WORDS) -> list[str]:
    """Runs of ``n``+ words of ``scaffolding`` in ``text`` not found in ``quoted``."""
    forbidden: set[tuple[str, ...]] = set()
    for piece in scaffolding:
        forbidden |= ngrams(words(piece), n)
    forbidden -= _allowed(quoted, n)
    if not forbidden:
        return []
    tokens = words(text)
    found: list[str] = []
    i = 0
    while i <= len(tokens) - n:
        if tuple(tokens[i:i + n]) in forbidden:
            end = i + n
            while end < len(tokens) and tuple(tokens[end - n + 1:end + 1]) in forbidden:
                end += 1
            found.append(" ".join(tokens[i:end]))
            i = end
        else:
            i += 1
    return found


def has_echo(text: str, scaffolding: Iterable[str], quoted: Iterable[str] = ()) -> bool:
    return bool(echoed_phrases(text, scaffolding, quoted))


@dataclass(frozen=True)
class Cleaned:
    """A draft after hygiene: the text, what was removed, and what is still wrong."""

    text: str
    removed: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    echoes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems


def _cut_at_stops(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    cut = len(text)
    for stop in stops:
        at = text.find(stop)
        if at >= 0:
            cut = min(cut, at)
    return text[:cut], cut < len(text)


def _drop_repeats(lines: list[str]) -> tuple[list[str], int]:
    seen: set[str] = set()
    kept, dropped = [], 0
    for line in lines:
        key = " ".join(words(line))
        if key and len(key) > 12 and key in seen:
            dropped += 1
            continue
        seen.add(key)
        kept.append(line)
    return kept, dropped


def _is_heading(line: str) -> bool:
    return line.lstrip().startswith("#")


def _drop_debris(lines: list[str]) -> tuple[list[str], int]:
    """Lines that are no text: a marker with a word or two ("[1]. denaro"), a dangling
    label ("referencing source:"), a heading with nothing under it."""
    kept: list[str] = []
    for line in lines:
        tokens = line.split()
        if (tokens and not _is_heading(line) and not line.lstrip().startswith(("|", "-", "*"))
                and len(tokens) <= 3 and (re.match(r"\s*\[\d{1,3}\]", line)
                                          or line.rstrip().endswith(":"))):
            continue
        kept.append(line)
    body = [i for i, line in enumerate(kept) if line.strip()]
    empty_headings = {i for n, i in enumerate(body) if _is_heading(kept[i])
                      and (n + 1 == len(body) or _is_heading(kept[body[n + 1]]))}
    result = [line for i, line in enumerate(kept) if i not in empty_headings]
    return result, len(lines) - len(result)


def _trim_unfinished(text: str) -> tuple[str, bool]:
    """Drop a last sentence cut off mid-way (a reply that ran out of tokens)."""
    body = text.rstrip()
    if not body or _SENTENCE_END.search(body):
        return body, False
    last = max(body.rfind(". "), body.rfind(".\n"), body.rfind("\n\n"), body.rfind("! "),
               body.rfind("? "))
    if last <= 0:
        return body, False
    return body[:last + 1].rstrip(), True


def _matches_any(line: str, texts: Sequence[str], share: float) -> bool:
    """Whether most of ``line``'s words form one of ``texts`` (a copied header or row)."""
    mine = words(line)
    if len(mine) < 3:
        return False
    for text in texts:
        theirs = set(words(text))
        if theirs and sum(w in theirs for w in mine) / len(mine) >= share \
                and len(set(mine) & theirs) >= min(len(theirs), 3):
            return True
    return False


def clean_draft(raw: str, *, scaffolding: Sequence[str], quoted: Sequence[str] = (),
                stops: Sequence[str] = (), table_rows_allowed: bool = True,
                headers: Sequence[str] = (), rows: Sequence[str] = ()) -> Cleaned:
    """``raw`` with what can be stripped removed, and the problems that remain.

    ``headers`` are the sources' "[n] where" lines and ``rows`` the reference rows as the
    prompt showed them: a line that reproduces one is reference material, not draft."""
    removed: list[str] = []
    text, was_cut = _cut_at_stops(raw, stops)
    if was_cut:
        removed.append("text after the end of the section")
    text, markup = _MARKUP.subn("", text)
    if markup:
        removed.append(f"{markup} markup or special-token look-alike(s)")
    lines = text.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    echo_lines = header_lines = role_lines = table_lines = row_lines = 0
    for line in lines:
        if _SOURCE_HEADER.match(line) or (_CITED_LINE.match(line)
                                          and _matches_any(line, headers, 0.7)):
            header_lines += 1
        elif rows and not line.lstrip().startswith("|") and _matches_any(line, rows, 0.8):
            row_lines += 1
        elif _ROLE_LINE.match(line):
            role_lines += 1
        elif not table_rows_allowed and line.lstrip().startswith("|"):
            table_lines += 1
        elif echoed_phrases(line, scaffolding, quoted):
            echo_lines += 1
            rest = [s for s in _SENTENCES.split(line)
                    if s.strip() and not echoed_phrases(s, scaffolding, quoted)]
            if rest:
                kept.append(" ".join(rest))
        else:
            kept.append(line)
    for count, what in ((header_lines, "source header line(s)"),
                        (role_lines, "chat-role line(s)"),
                        (table_lines, "table row(s) not from the reference data"),
                        (row_lines, "line(s) copying reference-table data"),
                        (echo_lines, "line(s) repeating the prompt (the rest of each line kept)")):
        if count:
            removed.append(f"{count} {what}")
    kept, debris = _drop_debris(kept)
    if debris:
        removed.append(f"{debris} fragment(s) or empty heading(s)")
    kept, repeats = _drop_repeats(kept)
    if repeats:
        removed.append(f"{repeats} repeated line(s)")
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    text, trimmed = _trim_unfinished(text)
    if trimmed:
        removed.append("an unfinished last sentence")
        lines, _ = _drop_debris(text.split("\n"))  # headings the cut left empty
        text = "\n".join(lines).strip()
    problems: list[str] = []
    echoes = echoed_phrases(text, scaffolding, quoted)
    if echoes:
        problems.append(f"it repeats the prompt (\"{echoes[0][:80]}\")")
    prose = [w for w in words(text) if not w.isdigit()]
    if len(prose) < MIN_WORDS:
        problems.append("it has almost no text of its own" if not text
                        else f"it is too short to be a section ({len(prose)} words)")
    if repeats >= 3:
        problems.append("the model kept repeating itself")
    return Cleaned(text=text, removed=tuple(removed), problems=tuple(problems),
                   echoes=tuple(echoes))
