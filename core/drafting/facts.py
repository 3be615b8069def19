"""Facts that live in tables and in the solicitation are filled in, never generated.

- ``facts_table``: when a request asks for labour categories, codes or rates, the reference
  rows retrieved for it become a Markdown table with their exact values, each row cited.
- ``key_facts``: when it asks for due dates, deadlines or page limits, the sentences of the
  retrieved solicitation text that state them are listed verbatim, each cited.
- ``check_facts``: codes, rates and dates quoted in the model's prose are compared with
  the values it was shown (reference rows, sources, the request; a date in any of its
  usual spellings); those that match nothing are flagged.
- ``settle_facts``: such a code or hourly rate is put right from the reference row its
  sentence names (when exactly one row, with exactly one value of that kind: a code of
  the same scheme, a rate in a sentence about rates), cited; anything else that matches
  nothing, dates included, stays in the text marked ``[unverified: …]``, so that an
  invented figure is never read (or exported) as a fact. A code or rate that is one row's
  but that its sentence gives to another row ("our Program Manager (NAS-CY-02)") is
  marked too: which of the two the model got wrong is the analyst's call. So is a code
  that stands beside another row's name ("NAS-SE-01 Senior Systems Engineer"), or beside
  a name no row has ("NAS-SW-02: Software Engineer"), and an amount of the sources that
  the draft calls an hourly rate when it cannot be one ("the hourly rate: $6,276,380.00").

The model writes the prose around these; it never changes a value (``core.drafting.draft``
puts the deterministic part after the model's text and re-checks the whole).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

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
UNVERIFIED = "[unverified: {}]"
UNVERIFIED_MARK = re.compile(r"(\[unverified: [^\]\n]*\])")  # split keeps it
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_MONEY_VALUE = re.compile(r"\$?\s?\d{1,6}(?:,\d{3})*\.\d{2}")
_MAGNITUDE = re.compile(r"\s*(?:million|billion|thousand|mn|bn|[mbk])\b", re.IGNORECASE)
_RATE_WORDS = re.compile(r"\b(?:per\s+hour|an\s+hour|hourly|rates?)\b|/\s*(?:hr|hour)\b",
                         re.IGNORECASE)
_PER_PERIOD = re.compile(r"\s*(?:(?:per|a|an|each|every)\s+|/\s*)(?:year|yr|annum|month|mo|"
                         r"week|wk|day|shift)\b|\s*(?:annual(?:ly)?|yearly|monthly|salary)\b",
                         re.IGNORECASE)
_ABBREVIATIONS = ("Sr", "Jr", "Dr", "Mr", "Ms", "Mrs", "No", "St", "vs", "Inc", "Co", "e.g",
                  "i.e", "etc")
# the end of a sentence, list item or table line; not the stop of "Sr." or "U.S."
_SENTENCE_END = re.compile("".join(rf"(?<!\b{re.escape(a)})" for a in _ABBREVIATIONS)
                           + r"(?<!\b[A-Z])[.!?](?:\s|$)|\n")
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


FactKind = Literal["code", "rate", "date"]
_MONTH_NUMBERS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


def _date_keys(text: str) -> set[tuple[int, int, int]]:
    """The (year, month, day) a date as written can mean: both readings of 03/04/2027."""
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    month = re.search(r"[A-Za-z]{3}", text)
    readings: list[tuple[int, int, int]] = []
    if month and len(numbers) == 2:
        day, year = sorted(numbers)  # "March 14, 2027" and "14 March 2027"
        readings.append((year, _MONTH_NUMBERS.get(month.group(0).lower(), 0), day))
    elif len(numbers) == 3 and "-" in text:  # 2027-03-14
        readings.append((numbers[0], numbers[1], numbers[2]))
    elif len(numbers) == 3:  # 03/14/2027 (US) or 14/03/2027
        first, second, year = numbers
        year += (2000 if year < 70 else 1900) if year < 100 else 0
        readings += [(year, first, second), (year, second, first)]
    return {(y, m, d) for y, m, d in readings if 1 <= m <= 12 and 1 <= d <= 31}


def _spans(text: str) -> list[tuple[int, int, FactKind]]:
    """Where codes, rates and dates are quoted in ``text``, in order."""
    found: list[tuple[int, int, FactKind]] = [(m.start(), m.end(), "code")
                                              for m in CODE.finditer(text)]
    found += [(m.start(), m.end(), "rate") for m in RATE.finditer(text)]
    found += [(m.start(), m.end(), "date") for m in _DATE.finditer(text)]
    return sorted(found)


def quoted_facts(text: str) -> list[str]:
    """Codes, rates and dates quoted in ``text``, in order (duplicates kept once)."""
    return list(dict.fromkeys(text[start:end].strip() for start, end, _ in _spans(text)))


def fact_kind(fact: str) -> FactKind:
    if CODE.fullmatch(fact):
        return "code"
    return "date" if _DATE.fullmatch(fact) else "rate"


@dataclass(frozen=True)
class FactCheck:
    """Codes, rates and dates in a draft and whether each matches a value it was shown."""

    facts: tuple[str, ...]
    unmatched: tuple[str, ...]

    @property
    def exactness(self) -> float | None:
        if not self.facts:
            return None
        return 1 - len(self.unmatched) / len(self.facts)


@dataclass(frozen=True)
class Known:
    """The codes (upper-cased), money amounts (two decimals) and dates found in texts."""

    codes: frozenset[str]
    amounts: frozenset[str]
    dates: frozenset[tuple[int, int, int]]

    def holds(self, fact: str, kind: FactKind) -> bool:
        if kind == "code":
            return fact.upper() in self.codes
        if kind == "date":
            return bool(_date_keys(fact) & self.dates)
        return _money(fact) in self.amounts


def known_values(texts: Iterable[str]) -> Known:
    """What values ``texts`` state (see ``Known``)."""
    codes: set[str] = set()
    amounts: set[str] = set()
    dates: set[tuple[int, int, int]] = set()
    for text in texts:
        codes.update(m.group(0).upper() for m in CODE.finditer(text))
        for match in re.finditer(r"\$?\s?\d{1,3}(?:,\d{3})*(?:\.\d{1,2})?|\d+(?:\.\d+)?", text):
            value = _money(match.group(0))
            if value is not None:
                amounts.add(value)
        for match in _DATE.finditer(text):
            dates.update(_date_keys(match.group(0)))
    return Known(frozenset(codes), frozenset(amounts), frozenset(dates))


def check_facts(text: str, shown: Iterable[str]) -> FactCheck:
    """Which codes, rates and dates in ``text`` match a value in the ``shown`` texts."""
    known = known_values(shown)
    facts = quoted_facts(text)
    unmatched = [fact for fact in facts if not known.holds(fact, fact_kind(fact))]
    return FactCheck(tuple(facts), tuple(unmatched))


def citation_values(citations: Sequence[Citation]) -> list[str]:
    """The texts a draft's facts may come from: each source's text and its row values."""
    texts = [c.text for c in citations]
    texts += [" ".join(c.fields.values()) for c in citations if c.fields]
    return texts


@dataclass(frozen=True)
class Settled:
    """A code, rate or date of the model's that matched nothing shown: what it wrote, and
    what the text says now (the reference row's value, or the figure marked unverified)."""

    written: str
    now: str
    row: str = ""  # the row it was put right from (its label), or "" when only marked
    number: int | None = None  # that row's citation number
    belongs: str = ""  # marked as another row's figure: that row's label ("" otherwise)
    beside: str = ""  # ... and the label of the row its sentence gives it to
    misread: bool = False  # an amount of the sources marked: called an hourly rate

    @property
    def corrected(self) -> bool:
        """Put right from a row (a figure the row confirms is left as written)."""
        return self.number is not None and self.now != self.written

    @property
    def confirmed(self) -> bool:
        """Matched nothing the model was shown, but is the value of the row its sentence
        names (looked up in the tables): left as written, the row cited."""
        return self.number is not None and self.now == self.written

    def describe(self) -> str:
        if self.corrected:
            return f"{self.written} → {self.now} ({self.row})"
        if self.belongs:
            return f"{self.written} is {self.belongs}'s, not {self.beside}'s"
        if self.misread:
            return f"{self.written} is not an hourly rate"
        return self.written


def _money_like(value: str) -> bool:
    return bool(_MONEY_VALUE.fullmatch(value.strip()))


def _sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    """Where the sentence (or list item, or table line) holding ``text[start:end]`` starts
    and ends (at its closing stop, if any)."""
    before = [m.end() for m in _SENTENCE_END.finditer(text, 0, start)]
    after = _SENTENCE_END.search(text, end)
    return before[-1] if before else 0, after.start() if after else len(text.rstrip())


def _value_of(value: str, kind: FactKind) -> bool:
    """Whether a reference row's ``value`` is a code, an amount or a date."""
    value = value.strip()
    if kind == "code":
        return bool(CODE.fullmatch(value.upper()))
    if kind == "date":
        return bool(_DATE.fullmatch(value))
    return _money_like(value)


def _labels(row: Citation, shared: Collection[str] = ()) -> list[str]:
    """The values that name a row: its category's name and the like (no figure, code or
    long description, and none of the ``shared`` values other rows have too)."""
    return [" ".join(v.split()).casefold() for v in row.fields.values()
            if v.strip() and len(v) <= _WIDE and " ".join(v.split()).casefold() not in shared
            and not any(_value_of(v, kind) for kind in ("code", "rate", "date"))]


def _shared_labels(rows: Sequence[Citation]) -> set[str]:
    """Label values (case-folded) found in more than one row: "Bachelor's degree" names
    no row."""
    counts = Counter(label for row in rows for label in set(_labels(row)))
    return {label for label, count in counts.items() if count > 1}


_DETERMINERS = frozenset(
    "the our a an each every their its his her this that these those one two three four "
    "both all any no per as for with by of and or to from at in on is are".split())
_QUALIFIERS = frozenset("lead senior junior principal chief deputy assistant associate head "
                        "staff sr sr. jr jr.".split())


def _in_longer_title(plain: str, start: int) -> bool:
    """Whether the name starting at ``plain[start]`` (a sentence, its spaces collapsed) is
    the end of a longer title: "Lead Data Engineer", "Propulsion Data Engineer", "our
    senior data engineer" are not the Data Engineer of the tables."""
    before = re.search(r"(\S+) $", plain[:start])
    if before is None:
        return False
    word = before.group(1).lstrip("(\"“'")
    folded = word.casefold()
    if folded in _QUALIFIERS:
        return True  # "Sr. Data Engineer" too
    if not word or not word[-1].isalnum() or CODE.fullmatch(word):
        return False  # "Engineers, Data Engineer", "NAS-DE-02 Data Engineer"
    return word[0].isupper() and folded not in _DETERMINERS


def rows_named(sentence: str, rows: Sequence[Citation]) -> list[Citation]:
    """The reference rows ``sentence`` names: by a code, or by a label only that row has.
    A label named only inside a longer one of another row ("Program Manager" inside
    "Deputy Program Manager"), or at the end of a longer title ("Lead Data Engineer",
    ``_in_longer_title``), does not count: the sentence means the longer one."""
    plain = " ".join(sentence.split())
    folded = plain.casefold()
    titled = len(folded) == len(plain)  # casefold kept the offsets
    shared = _shared_labels(rows)
    hits: list[tuple[int, tuple[int, int]]] = []
    for index, row in enumerate(rows):
        labels = set(_labels(row, shared))
        for value in row.fields.values():
            value = " ".join(value.split()).casefold()
            if _value_of(value, "code"):
                pattern = rf"(?<![\w-]){re.escape(value)}(?![\w-])"
            elif value in labels and len(value) >= 4:
                pattern = rf"(?<!\w){re.escape(value)}(?:s|es)?(?!\w)"
            else:
                continue
            hits += [(index, m.span()) for m in re.finditer(pattern, folded)
                     if not (titled and _in_longer_title(plain, m.start()))]
    spans = {span for _, span in hits}
    named = {index for index, (start, end) in hits
             if not any(a <= start and end <= b and (a, b) != (start, end) for a, b in spans)}
    return [rows[index] for index in sorted(named)]


def _name(row: Citation) -> str:
    return _row_label(row).rsplit(",", 1)[0]


def _given_to(written: str, row: Citation, other: str) -> Settled:
    """``written``, ``row``'s figure, marked: its sentence gives it to ``other``."""
    return Settled(written, UNVERIFIED.format(written), belongs=_name(row), beside=other)


def _row_label(row: Citation) -> str:
    labels = [v.strip() for v in row.fields.values()
              if " ".join(v.split()).casefold() in _labels(row)]
    return f"{labels[0] if labels else row.title}, [{row.number}]"


def _same_shape(written: str, code: str) -> bool:
    """Whether two codes are of one scheme (NAS-CY-09 and NAS-CY-02; not a contract number
    and a labour category code)."""
    ours, theirs = written.upper().split("-"), code.upper().split("-")
    return len(ours) == len(theirs) and ours[0] == theirs[0]


def _from_row(written: str, kind: FactKind, sentence: str,
              rows: Sequence[Citation]) -> Settled | None:
    """``written`` put right from the one row ``sentence`` names, if that row has exactly
    one value of the kind and it can only be that value the sentence meant: a code of the
    same scheme, or an hourly rate (``_a_rate``). Dates are never put right (a row's date
    and the sentence's may be different events): they are only marked."""
    named = rows_named(sentence, rows)
    if kind == "date" or len(named) != 1:
        return None
    row = named[0]
    values = [v.strip() for v in row.fields.values() if _value_of(v, kind)]
    if len(values) != 1:
        return None
    if kind == "code":
        if not _same_shape(written, values[0]):
            return None
        return Settled(written, values[0], _row_label(row), row.number)
    amount = _NUMBER.search(values[0])  # in the model's wording ("$…", "… per hour")
    assert amount is not None
    return Settled(written, _NUMBER.sub(amount.group(0), written, count=1), _row_label(row),
                   row.number)


def _is_value(value: str, written: str, kind: FactKind) -> bool:
    if kind == "code":
        return value.strip().upper() == written.upper()
    return _money_like(value) and _money(value) == _money(written)


def _words(row: Citation) -> set[str]:
    return {w for label in _labels(row) for w in re.findall(r"[a-z]{4,}", label)}


def _only_plural(sentence: str, row: Citation) -> bool:
    """Whether ``sentence`` names ``row`` by its labels only in the plural (a group that
    may hold other categories too), not by its code."""
    folded = " ".join(sentence.split()).casefold()
    found = [m.group(1) for label in _labels(row) if len(label) >= 4
             for m in re.finditer(rf"(?<!\w){re.escape(label)}(s|es)?(?!\w)", folded)]
    return bool(found) and all(found) and not any(
        _is_value(v, m, "code") for v in row.fields.values() for m in CODE.findall(sentence))


def _misplaced(written: str, kind: FactKind, sentence: str,
               rows: Sequence[Citation]) -> tuple[Citation, Citation] | None:
    """The row a code or rate shown to the model belongs to, and the other row its sentence
    gives it to ("our Program Manager (NAS-CY-02)"), when it can mean nothing else: the
    sentence names exactly one row besides the figure itself, a row with one value of the
    kind, of the same scheme for a code, and none of the figure's own rows, not even by a
    word of its name that the other lacks ("Cyber Analysts (NAS-CY-02) report to the
    Program Manager" gives the code to the analysts)."""
    owners = [row for row in rows
              if any(_is_value(v, written, kind) for v in row.fields.values())]
    if not owners:
        return None  # a value of the passages, not of a row
    rest = sentence.replace(written, " ")
    if kind == "code":  # "(one NAS-PT-03 and two NAS-PT-02)" lists codes: gives none away
        rest = CODE.sub(" ", rest)
    named = rows_named(rest, rows)
    if len(named) != 1 or any(row is named[0] for row in owners):
        return None
    values = [v.strip() for v in named[0].fields.values() if _value_of(v, kind)]
    if len(values) != 1 or (kind == "code" and not _same_shape(written, values[0])):
        return None
    if _only_plural(rest, named[0]):
        return None  # "three propulsion test engineers (one NAS-PT-03 and two …)": a group
    words = set(re.findall(r"[a-z]{4,}", sentence.casefold()))
    if any(word.startswith(own) for own in _words(owners[0]) - _words(named[0])
           for word in words):
        return None
    return owners[0], named[0]


def _stated_name(row: Citation, sentence: str) -> str | None:
    """Another name than the row's own that ``sentence`` states in the row's own terms
    ("Labor category: Record Keeper" for the security officer's row), or ``None``. A
    shorter form ("Cyber Analyst" for "Cyber Analyst II") is the row's own."""
    labels = _labels(row)
    for key, value in row.fields.items():
        if " ".join(value.split()).casefold() not in labels:
            continue  # the row's name is its first label ("labor_category")
        words = [re.escape(w) for w in re.split(r"[\s_]+", key.strip()) if w]
        pattern = r"(?<!\w)" + r"[\s_]+".join(words) + r"\s*[:=]\s*([^;,|\n]{1,60})"
        found = re.search(pattern, sentence, re.IGNORECASE)
        if found is None:
            return None
        stated = found.group(1).strip(" .:()[]\"'").split()
        own = value.split()
        folded = [w.casefold() for w in stated]
        if folded and folded != [w.casefold() for w in own[:len(stated)]]:
            return " ".join(stated)
        return None
    return None


def _row_beside(sentence: str, start: int, end: int,
                rows: Sequence[Citation]) -> Citation | None:
    """The row whose name stands right beside the code at ``sentence[start:end]``: after
    it ("NAS-SE-01 Senior Systems Engineer", "NAS-SW-02: Software Developer") or before it,
    bracketed or set off ("Senior Data Scientist (NAS-DS-02)"). The longest name wins:
    "Senior Data Scientist" is not the Data Scientist."""
    after = " ".join(sentence[end:].casefold().split())
    plain = " ".join(sentence[:start].split())
    before = plain.casefold()
    shared = _shared_labels(rows)
    best: tuple[int, Citation] | None = None
    for row in rows:
        for label in _labels(row, shared):
            if len(label) < 4 or (best is not None and len(label) <= best[0]):
                continue
            name = rf"{re.escape(label)}(?:s|es)?"
            ahead = re.search(rf"(?<!\w){name}\s*(?:\(|[:–—]|\s-)\s*$", before)
            if ahead is not None and len(before) == len(plain) and _in_longer_title(
                    plain, ahead.start()):
                ahead = None  # "Lead Data Engineer (NAS-DE-03)": not the Data Engineer
            if ahead is not None or re.match(rf"(?:[:–—,]|-(?=\s))?\s*{name}(?!\w)", after):
                best = (len(label), row)
    return None if best is None else best[1]


_NAME_WORD = r"(?:[A-Z][\w&/'’-]*|of|and|for|the|&)"
_SET_OFF_NAME = re.compile(rf"\s*(?:[:–—]|\s-)\s*({_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,5}})"
                           r"[ \t]*(?=[,;.()]|$|\s[-–—]\s)")


def _stems(text: str, initials: bool = False) -> set[str]:
    """The words of ``text``, case-folded, without a plural or possessive "s"; with
    ``initials``, also those of each run of them ("Information Assurance Engineer": "ia",
    "iae", "ae")."""
    words = re.findall(r"[a-z0-9]+", text.casefold().replace("’s", "").replace("'s", ""))
    stems = {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words}
    return stems | ({"".join(w[0] for w in words[i:j]) for i in range(len(words))
                     for j in range(i + 2, len(words) + 1)} if initials else set())


def _set_off_name(row: Citation, after: str, shown: str) -> str | None:
    """A name set off after the row's code ("NAS-SW-02: Software Engineer") that is none
    of the row's: not made of the words of its fields ("NAS-SW-02: Developer", "NAS-CY-04:
    SOC Manager" when its description says so), not its name with a qualifier ("Mid-level
    Systems Engineer") and not found in the ``shown`` texts (case-folded), where the model
    may have read it. Acronyms alone are no name."""
    found = _SET_OFF_NAME.match(after)
    if found is None:
        return None
    stated = found.group(1).strip()
    if not re.search(r"[A-Z][a-z]{2,}", stated):
        return None  # "the", "CISSP", "SECRET"
    own = set().union(*(_stems(value, initials=True) for value in row.fields.values()))
    named = set().union(*(_stems(label) for label in _labels(row)[:1]))
    if (_stems(stated) <= own or (named and named <= _stems(stated))
            or " ".join(stated.casefold().split()) in shown):
        return None  # its own words, its name with a qualifier, or the sources' words
    return stated


def _named_otherwise(written: str, sentence: str, at: tuple[int, int],
                     rows: Sequence[Citation], shown: str) -> tuple[Citation, str] | None:
    """The row whose code ``written`` (at ``sentence[at[0]:at[1]]``) is, and the other name
    its sentence gives it, if it does: in the row's own terms ("NAS-CY-06 Labor Category:
    Record Keeper"), by another row's name right beside it ("NAS-SE-01 Senior Systems
    Engineer", of the same code scheme), or by a name set off after it that no row has
    (``_set_off_name``)."""
    owners = [row for row in rows if any(_is_value(v, written, "code")
                                         for v in row.fields.values())]
    if len(owners) != 1:
        return None
    owner = owners[0]
    if (stated := _stated_name(owner, sentence)) is not None:
        return owner, stated
    beside = _row_beside(sentence, *at, rows)
    if beside is owner:
        return None
    if beside is not None:
        codes = [v for v in beside.fields.values() if _value_of(v, "code")]
        same = len(codes) == 1 and _same_shape(written, codes[0].strip())
        return (owner, _name(beside)) if same else None
    stated = _set_off_name(owner, sentence[at[1]:], shown)
    return None if stated is None else (owner, stated)


_HOURLY_BEFORE = re.compile(r"\bhourly\s+(?:\w+\s+)?rates?\b|\brates?\s+(?:per|an)\s+hour\b",
                            re.IGNORECASE)
_HOURLY_AFTER = re.compile(r"\s*(?:/\s*(?:hr|hour)\b|(?:per|an|a|each)\s+hour\b|hourly\b)",
                           re.IGNORECASE)
_NOT_A_RATE = re.compile(r"\b(?:price\w*|costs?|total\w*|value|budget\w*|amount\w*|ceiling|"
                         r"salar\w*|fees?|sum|revenue|award\w*|contract)\b|\$|\d", re.IGNORECASE)


def _called_hourly(prose: str, begin: int, start: int, end: int) -> bool:
    """Whether the draft calls the amount at ``prose[start:end]`` (in the sentence from
    ``begin``) an hourly rate when it cannot be one: "$6,276,380.00 per hour", or "the
    hourly rate for each category: $6,276,380.00" (with nothing between the words and the
    amount that makes it something else: "hourly rates give a price of …"), and the amount
    is $1,000 or more, in millions, or per year, month, week, day or shift."""
    value = _money(prose[start:end])
    if not (value is not None and float(value) >= 1000 or _MAGNITUDE.match(prose, end)
            or _PER_PERIOD.match(prose, end)):
        return False
    if _HOURLY_AFTER.match(prose, end):
        return True
    said = list(_HOURLY_BEFORE.finditer(prose, begin, start))
    between = prose[said[-1].end():start] if said else ""
    return bool(said) and len(between) <= 40 and not _NOT_A_RATE.search(between)


def _a_rate(prose: str, end: int, sentence: str, written: str) -> bool:
    """Whether the amount ``written``, ending at ``end``, reads as an hourly rate: its
    sentence speaks of rates or hours, and it is under $1,000 and not "$3.5 million" nor
    "$112.00 per year"."""
    value = _money(written)
    return (bool(_RATE_WORDS.search(sentence)) and not _MAGNITUDE.match(prose, end)
            and not _PER_PERIOD.match(prose, end) and value is not None
            and float(value) < 1000)


def figure_sentences(prose: str, shown: Iterable[str]) -> list[str]:
    """The sentences of ``prose`` holding a code or rate: first those with one that matches
    none of the ``shown`` values (a reference row the model was not shown could put it
    right), then the others (a row it was not shown may be the one the sentence gives
    the figure to)."""
    known = known_values(shown)
    unmatched, matched = [], []
    for start, end, kind in _spans(prose):
        if kind != "date":
            begin, stop = _sentence_around(prose, start, end)
            held = known.holds(prose[start:end], kind)
            (matched if held else unmatched).append(prose[begin:stop])
    return list(dict.fromkeys([*unmatched, *matched]))


def settle_facts(prose: str, citations: Sequence[Citation], shown: Iterable[str],
                 also_named: Sequence[Citation] = ()) -> tuple[str, list[Settled]]:
    """``prose`` with each code, rate and date that matches none of the ``shown`` values
    put right from the reference row its sentence names (the sentence then cites the row),
    or else marked ``[unverified: …]``; and what was done, in reading order.

    ``also_named`` rows are not cited, but a sentence naming one of them names more than
    one row: its figure is marked, not put right from the other."""
    shown = list(shown)
    known = known_values(shown)
    shown_text = " ".join(" ".join(text.casefold().split()) for text in shown)
    numbers = {c.number for c in citations}
    rows = [c for c in [*citations, *also_named] if c.kind == "reference_row" and c.fields]
    settled: list[Settled] = []
    edits: dict[int, tuple[int, str]] = {}  # start -> (end, replacement)
    last_end = -1
    for start, end, kind in _spans(prose):
        written = prose[start:end]
        if start < last_end:
            continue
        begin, stop = _sentence_around(prose, start, end)
        sentence = prose[begin:stop]
        a_rate = kind == "rate" and _a_rate(prose, end, sentence, written)
        named_otherwise = _named_otherwise(
            written, sentence, (start - begin, end - begin), rows, shown_text
        ) if kind == "code" else None
        if known.holds(written, kind):  # shown: but is it given to its own row?
            elsewhere = _misplaced(written, kind, sentence, rows) if (
                kind == "code" or a_rate) else None
            given = (_given_to(written, elsewhere[0], _name(elsewhere[1])) if elsewhere
                     else _given_to(written, *named_otherwise) if named_otherwise else None)
            if given is None and kind == "rate" and _called_hourly(prose, begin, start, end):
                given = Settled(written, UNVERIFIED.format(written), misread=True)
            if given is not None:  # another row's figure, or no rate at all: marked
                last_end = end
                edits[start] = (end, given.now)
                settled.append(given)
            continue
        last_end = end
        fix = None if kind == "rate" and not a_rate else _from_row(
            written, kind, sentence, rows)
        if fix is not None and fix.confirmed and named_otherwise is not None:
            fix = _given_to(written, *named_otherwise)  # its row's code, another name
            edits[start] = (end, fix.now)
            settled.append(fix)
            continue
        if fix is None or fix.number not in numbers:
            fix = Settled(written, UNVERIFIED.format(written))
        elif f"[{fix.number}]" not in sentence:
            edits[stop] = (stop, f" [{fix.number}]")  # once per sentence: one row names it
        edits[start] = (end, fix.now)
        settled.append(fix)
    for start in sorted(edits, reverse=True):
        end, replacement = edits[start]
        prose = prose[:start] + replacement + prose[end:]
    return prose, settled


def fact_warnings(settled: Sequence[Settled]) -> list[str]:
    """What ``settle_facts`` did, in the reader's words."""
    lines = []
    if corrected := list(dict.fromkeys(s.describe() for s in settled if s.corrected)):
        lines.append("Put right from the reference tables (the model's figure matched no "
                     "source): " + "; ".join(corrected[:8]) + ".")
    if marked := list(dict.fromkeys(s.written for s in settled
                                    if s.number is None and not s.belongs and not s.misread)):
        lines.append("Marked [unverified: …] in the text, for you to check or delete (they "
                     "match no source shown): " + ", ".join(marked[:8]) + ".")
    if misplaced := list(dict.fromkeys(s.describe() for s in settled if s.belongs)):
        lines.append("Marked [unverified: …] in the text, for you to check (the tables give "
                     "the figure to another category): " + "; ".join(misplaced[:8]) + ".")
    if misread := list(dict.fromkeys(s.written for s in settled if s.misread)):
        lines.append("Marked [unverified: …] in the text, for you to check (called an hourly "
                     "rate, but too large, or per year, month or day, to be one): "
                     + ", ".join(misread[:8]) + ".")
    return lines
