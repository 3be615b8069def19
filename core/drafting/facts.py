"""Facts that live in tables and in the solicitation are filled in, never generated.

- ``facts_table``: when a request asks for labour categories, codes or rates, the reference
  rows retrieved for it become a Markdown table with their exact values, each row cited.
- ``key_facts``: when it asks for due dates, deadlines or page limits, the sentences of the
  retrieved solicitation text that state them are listed verbatim, each cited.
- ``check_facts``: codes and rates quoted in the model's prose are compared with the values
  it was shown (reference rows, sources, the request); those that match nothing are
  flagged.

The model writes the prose around these; it never changes a value (``core.drafting.draft``
puts the deterministic part in front of the model's text and re-checks the whole).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.drafting.sources import Citation

TABLE_REQUEST = re.compile(
    r"\b(staff\w*|labou?r\s+(?:categor\w*|mix|code\w*|rate\w*)|categor(?:y|ies)|rates?|"
    r"hourly|codes?|personnel|fte\w*|pricing|price|key\s+personnel|team\s+composition)\b",
    re.IGNORECASE)
DATE_REQUEST = re.compile(
    r"\b(due|deadline\w*|dates?|no later than|page\s+limits?|pages?|submission\w*|"
    r"closing|period of performance)\b", re.IGNORECASE)
_MONTHS = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|"
           r"Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_DATE = re.compile(rf"\b(?:{_MONTHS}\.?\s+\d{{1,2}},?\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}|"
                   rf"\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|\d{{1,2}}\s+{_MONTHS}\s+\d{{4}})\b")
_LIMIT = re.compile(r"\b(?:\d+|one|two|three|four|five|six|ten|twenty|thirty)[- ]pages?\b|"
                    r"\bpage limit|\bno later than\b|\bdue (?:on|by|no)\b|\b\d{1,2}(?::\d{2})?"
                    r"\s*(?:a\.?m\.?|p\.?m\.?)\b", re.IGNORECASE)
_SENTENCES = re.compile(r"(?<=[.!?;])\s+(?=[A-Z(\"“])|\n+")
CODE = re.compile(r"(?<![\w-])(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9]{1,12}"
                  r"(?:-[A-Z0-9]{1,12}){1,5}(?![\w-])")
RATE = re.compile(r"\$\s?\d{1,3}(?:,\d{3})*(?:\.\d{1,2})?(?!\d)|"
                  r"\b\d{1,4}(?:\.\d{2})\s*(?:/\s*(?:hr|hour)|per\s+hour|an\s+hour)\b",
                  re.IGNORECASE)
MAX_TABLE_ROWS = 12
MAX_KEY_FACTS = 6
_WIDE = 60  # a column whose values average more characters than this stays out


def wants_table(request: str) -> bool:
    return bool(TABLE_REQUEST.search(request))


def wants_dates(request: str) -> bool:
    return bool(DATE_REQUEST.search(request))


def _label(name: str) -> str:
    text = name.replace("_", " ").strip()
    text = re.sub(r"(?<!\()\busd\b(?!\))", "(USD)", text, flags=re.IGNORECASE)
    return text[:1].upper() + text[1:]


def _cell(value: str) -> str:
    return " ".join(value.split()).replace("|", "/")


def _named(value: str, texts: Sequence[str]) -> bool:
    value = " ".join(value.casefold().split())
    if len(value) < 4 or value.replace(".", "").isdigit():
        return False
    pattern = rf"(?<!\w){re.escape(value)}(?:s|es)?(?!\w)"
    return any(re.search(pattern, text) for text in texts)


def relevant_rows(citations: Sequence[Citation], request: str = "") -> list[Citation]:
    """The reference rows that belong in a facts table: rows the request names (an exact
    lookup), and rows whose values the retrieved passages name (the labour categories the
    solicitation or our past proposals mention). Rows found only by loose similarity stay
    out: a table of unrelated categories is worse than none."""
    texts = [" ".join(c.text.casefold().split()) for c in citations if c.kind == "passage"]
    texts.append(" ".join(request.casefold().split()))
    return [c for c in citations if c.kind == "reference_row" and c.fields
            and (c.score >= 1.0 or any(_named(v, texts) for v in c.fields.values()))]


def facts_table(citations: Sequence[Citation]) -> str:
    """A Markdown table of the reference rows among ``citations`` (one per source table)."""
    rows = [c for c in citations if c.kind == "reference_row" and c.fields][:MAX_TABLE_ROWS]
    if not rows:
        return ""
    tables: list[str] = []
    for title in dict.fromkeys(c.title for c in rows):
        group = [c for c in rows if c.title == title]
        columns = list(dict.fromkeys(name for c in group for name in c.fields))
        narrow = [name for name in columns
                  if sum(len(c.fields.get(name, "")) for c in group) / len(group) <= _WIDE]
        columns = narrow or columns[:3]
        lines = [f"Table: {_cell(title)}", "",
                 "| " + " | ".join(_label(n) for n in columns) + " | Source |",
                 "|" + " --- |" * (len(columns) + 1)]
        for citation in group:
            cells = [_cell(citation.fields.get(name, "")) for name in columns]
            lines.append("| " + " | ".join(cells) + f" | [{citation.number}] |")
        tables.append("\n".join(lines))
    return "\n\n".join(tables)


def key_facts(citations: Sequence[Citation]) -> str:
    """Sentences of the retrieved passages that state dates, deadlines or page limits."""
    found: list[str] = []
    seen: set[str] = set()
    for citation in citations:
        if citation.kind != "passage":
            continue
        for sentence in _SENTENCES.split(citation.text):
            sentence = " ".join(sentence.split())
            if not (10 <= len(sentence) <= 400):
                continue
            if not (_DATE.search(sentence) or _LIMIT.search(sentence)):
                continue
            if sentence.casefold() in seen:
                continue
            seen.add(sentence.casefold())
            found.append(f"- {sentence} [{citation.number}]")
            if len(found) >= MAX_KEY_FACTS:
                break
    if not found:
        return ""
    return "Key dates and limits stated in the sources:\n" + "\n".join(found)


def grounded_prefill(request: str, citations: Sequence[Citation]) -> str:
    """The deterministic opening of a section: the facts table and the key dates."""
    parts = []
    if wants_table(request):
        parts.append(facts_table(relevant_rows(citations, request)))
    if wants_dates(request):
        parts.append(key_facts(citations))
    return "\n\n".join(p for p in parts if p)


def _money(text: str) -> str | None:
    digits = re.sub(r"[^\d.]", "", text)
    try:
        return f"{float(digits):.2f}"
    except ValueError:
        return None


def quoted_facts(text: str) -> list[str]:
    """Codes and rates quoted in ``text``, in order (duplicates kept once)."""
    found = [m.group(0).strip() for m in CODE.finditer(text)]
    found += [m.group(0).strip() for m in RATE.finditer(text)]
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class FactCheck:
    """Codes and rates in a draft and whether each matches a value it was shown."""

    facts: tuple[str, ...]
    unmatched: tuple[str, ...]

    @property
    def exactness(self) -> float | None:
        if not self.facts:
            return None
        return 1 - len(self.unmatched) / len(self.facts)


def known_values(texts: Iterable[str]) -> tuple[set[str], set[str]]:
    """Codes (upper-cased) and money amounts (two decimals) found in ``texts``."""
    codes: set[str] = set()
    amounts: set[str] = set()
    for text in texts:
        codes.update(m.group(0).upper() for m in CODE.finditer(text))
        for match in re.finditer(r"\$?\s?\d{1,3}(?:,\d{3})*(?:\.\d{1,2})?|\d+(?:\.\d+)?", text):
            value = _money(match.group(0))
            if value is not None:
                amounts.add(value)
    return codes, amounts


def check_facts(text: str, shown: Iterable[str]) -> FactCheck:
    """Which codes and rates in ``text`` match a value in the ``shown`` texts."""
    codes, amounts = known_values(shown)
    facts = quoted_facts(text)
    unmatched = []
    for fact in facts:
        if CODE.fullmatch(fact):
            ok = fact.upper() in codes
        else:
            ok = _money(fact) in amounts
        if not ok:
            unmatched.append(fact)
    return FactCheck(tuple(facts), tuple(unmatched))


def citation_values(citations: Sequence[Citation]) -> list[str]:
    """The texts a draft's facts may come from: each source's text and its row values."""
    texts = [c.text for c in citations]
    texts += [" ".join(c.fields.values()) for c in citations if c.fields]
    return texts
