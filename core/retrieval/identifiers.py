"""Exact identifiers in a query: solicitation and contract numbers, codes, distinctive names.

An identifier is a token a user means literally, which neither embeddings nor BM25 on
split sub-words rank reliably: "JL4410-27-R-0115", "NAS-SE-03", "541512", "TalentMAP",
"OVCR". Two sorts are told apart, because the index treats them differently:

- *codes* hold a digit: letters mixed with digits ("D302", "FY2026", "NAS-SE-03"; not
  "12-point" or "30-day"), digit groups joined by hyphens ("800-53"), or a long number
  (NAICS "541512"); counted as such whatever their frequency;
- *names* are letters only: CamelCase ("TalentMAP", "eMASS") or ALL-CAPS words of three
  letters or more ("OVCR") that are not common English or contracting vocabulary; a
  name only counts where it is distinctive (``core.retrieval.exact`` checks in how many
  documents it occurs).

In a query typed in capitals ("WHAT IS THE OVCR DUE DATE") capitals say nothing, so only
codes and CamelCase names are taken. Everything here is pure: no index needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from core.retrieval.ranking import STOP_WORDS

IdentifierKind = Literal["code", "name"]

# A token: letters and digits, joined inside by hyphens (any dash), dots or underscores.
_TOKEN = re.compile(r"[^\W_](?:[\w.\-\u2010-\u2015]*[^\W_])?")
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015"
_SEPARATOR = re.compile(rf"[{_DASHES}._]+")
_CAMEL = re.compile(r"[a-z][A-Z]|[A-Z]{2,}[a-z]{2,}")
# Numbers with a unit or an ordinal: "10GB", "15min", "24x7", "3rd", "1990s", "2pm".
_MEASURE = re.compile(
    r"\d+(?:[.,]\d+)?(?:st|nd|rd|th|s|am|pm|k|m|b|x\d*|kb|mb|gb|tb|pb|kbps|mbps|gbps|ms|"
    r"sec|secs|min|mins|hr|hrs|h|d|wk|wks|yr|yrs|mo|mos|day|days|pt|px|in|ft|mm|cm|km|kg|"
    r"lb|lbs|hz|khz|mhz|ghz|w|kw|mw|v|dpi|ppm|fps)", re.IGNORECASE)
MIN_NUMBER_DIGITS = 5  # a bare number counts from five digits: not years, counts or prices

# Words that are often written in capitals without naming anything in particular.
COMMON_WORDS = STOP_WORDS | frozenset("""
    about above after again against all also any are aren because been before being below
    between both but could did doing down during each few further had having her here hers
    him his how into itself just more most must nor not now off once only other ought ours
    out over own same she should some such than their them then there these they those
    through too under until very were whom would yes yet may might shall need needs new old
    none every per via etc please note important warning required mandatory optional final
    draft key top best only ask get use used one two three four five six seven eight nine ten
    section part attachment exhibit appendix volume table figure page pages item items list
    statement work contract contracts contractor contractors government agency offeror
    offerors vendor bidder bidders proposal proposals price pricing cost costs technical
    management past performance evaluation criteria factor factors instructions requirement
    requirements scope background deliverable deliverables schedule summary overview
    introduction response responses amendment solicitation award task order orders
    staffing personnel labor labour category categories rate rates security approach plan
    plans report reports support services service data system systems program project
    team quality risk risks date dates due time total value name names code codes number
    general special terms conditions clause clauses notice submission submit questions
    answer answers email phone address contact true false
""".split())
# Contracting acronyms found in nearly every solicitation: exact matching adds nothing.
COMMON_ACRONYMS = frozenset("""
    rfp rfq rfi sow pws soo clin slin far dfar dfars naics psc cor cotr idiq bpa gwac ffp
    cpff cpaf cpif loe qasp cdrl poc sla kpi fte odc rom wbs ims cpars ppq sam uei cage duns
    sdvosb wosb hubzone sdb gfe gfi ato poam tbd tba faq dod usa pdf docx xlsx pptx csv html
    xml json url api saas paas iaas devops devsecops cots gots pmo est edt cst cdt pst pdt utc
    gmt ceo cto cio ciso
""".split())


@dataclass(frozen=True)
class Identifier:
    """An identifier found in a query: its text as written and its sort."""

    text: str
    kind: IdentifierKind


def _is_code(token: str) -> bool:
    if not any(c.isdigit() for c in token) or _MEASURE.fullmatch(token):
        return False
    if any(c.isalpha() for c in token):  # not "12-point", "30-day": a part must look coded
        parts = _SEPARATOR.split(token)
        coded = any(p.isupper() or (p.isalnum() and not p.isalpha() and not p.isdigit())
                    for p in parts)
        return coded and len(token) >= 3
    digits = sum(c.isdigit() for c in token)
    if re.fullmatch(r"[\d.]+", token):  # decimals, versions, section numbers
        return "." not in token and digits >= MIN_NUMBER_DIGITS
    return digits >= MIN_NUMBER_DIGITS  # "800-53", "2026-10-19"


def _singular(token: str) -> str:
    """An acronym's plural as the acronym: "RFPs" → "RFP", "OVCRs" → "OVCR"."""
    if token.endswith("s") and len(token) >= 4 and token[:-1].isupper():
        return token[:-1]
    return token


def _is_common(token: str) -> bool:
    word = _SEPARATOR.sub("", token).lower()
    return word in COMMON_WORDS or word in COMMON_ACRONYMS


def _is_name(token: str, shouting: bool) -> bool:
    if not token.replace("-", "").isalpha() or _is_common(token):
        return False
    letters = sum(c.isalpha() for c in token)
    if token.isupper():
        return not shouting and letters >= 3
    camel = any(_CAMEL.search(part) for part in token.split("-"))
    return camel and letters >= 4


def is_shouting(query: str) -> bool:
    """Whether ordinary words are typed in capitals ("WHAT ARE THE ...")."""
    capitals = [t for t in _TOKEN.findall(query) if t.isalpha() and t.isupper() and len(t) > 1]
    return sum(t.lower() in COMMON_WORDS for t in capitals) >= 2


def query_identifiers(query: str) -> list[Identifier]:
    """The identifiers in ``query``, in order, each once (see the module docstring)."""
    shouting = is_shouting(query)
    found: list[Identifier] = []
    seen: set[str] = set()
    for raw in _TOKEN.findall(query):
        token = _singular(raw.strip("._-"))
        if _is_code(token):
            kind: IdentifierKind = "code"
        elif _is_name(token, shouting):
            kind = "name"
        else:
            continue
        key = normal_form(token)
        if key not in seen:
            seen.add(key)
            found.append(Identifier(token, kind))
    return found


def identifier_terms(query: str) -> list[str]:
    """The identifiers' texts: ``query_identifiers`` without their sort."""
    return [identifier.text for identifier in query_identifiers(query)]


def normal_form(term: str) -> str:
    """``term`` lower case with every dash as "-" (so "JL4410–27" equals "jl4410-27")."""
    return re.sub(f"[{_DASHES}]", "-", term).casefold()


def term_parts(term: str) -> list[str]:
    """The letter-and-digit runs of ``term``, lower case: "NAS-SE-03" → nas, se, 03."""
    return [part.casefold() for part in _SEPARATOR.split(term) if part]


def term_pattern(term: str) -> re.Pattern[str]:
    """A case-insensitive pattern for ``term`` as a whole token: any dash matches any
    dash, and a name may take a plural ("OVCRs", "OVCR's")."""
    pieces = re.split(rf"([{_DASHES}]+)", term)
    body = "".join(f"[{_DASHES}]" if i % 2 else re.escape(piece)
                   for i, piece in enumerate(pieces))
    plural = r"(?:'s|\u2019s|s|es)?" if term.isalpha() else r"(?:'s|\u2019s)?"
    return re.compile(rf"(?<![^\W_]){body}{plural}(?![^\W_])", re.IGNORECASE)


def mentions(text: str, term: str) -> bool:
    """Whether ``text`` holds ``term`` as a whole token (``term_pattern``)."""
    return term_pattern(term).search(text) is not None
