"""Instructions to offerors: how to bid, as opposed to what the work requires.

An RFP mixes the work ("The contractor shall submit monthly status reports") with the
rules of the competition: where and by when proposals and questions go, how the pages
are formatted, how long an offer stays valid, who the point of contact is. Both are
written with "shall", but only the first is a requirement a proposal section answers.
``instruction_topic`` tells them apart, sentence by sentence:

- a sentence about the contractor's work ("contractor" without "offeror" or "this
  solicitation") is never an instruction;
- page formatting, offer validity, the question process, events (site visit, oral
  presentation, pre-proposal conference), registration and points of contact are
  instructions on their own;
- a channel ("by email to", "via the portal"), a deadline (a clock time, "due" or "no
  later than" a date, "late proposals") or the proposal's packaging (volumes, compliance
  matrix, marking) is an instruction when the sentence is about the submission
  (proposals, offers, quotes, offerors, volumes) or tells the reader to submit.

The patterns ask for the words of the competition on purpose: "Offerors shall describe
their e-mail security approach" is about the work and stays a requirement.
"""

from __future__ import annotations

import re
from typing import Literal

InstructionTopic = Literal["format", "validity", "questions", "events", "registration",
                           "contact", "submission"]


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), re.IGNORECASE)


_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DATE = (rf"(?:\d{{1,2}} {_MONTH}|{_MONTH} \d{{1,2}}|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|"
         r"\d{4}-\d\d-\d\d)")
_CLOCK = r"\b\d{1,2}(?::\d{2})?\s*(?:a\.?m\b\.?|p\.?m\b\.?)|\b\d{1,2}:\d{2}\b|\bnoon\b"
_WORK = _rx(r"\bcontractor(?:'s|s)?\b")
_COMPETITION = _rx(r"\bofferors?\b", r"\bbidders?\b", r"\bthis (?:solicitation|rfp|rfq|request)\b")
_SUBMISSION = _rx(
    r"(?<!change )(?<!order )\bproposals?\b", r"\bquotes?\b", r"\bquotations?\b", r"\bbids?\b",
    r"\b(?:the|all|each|late|an|any|your) offers?\b", r"\bofferors?\b", r"\bbidders?\b",
    r"\bsubmissions?\b", r"\b(?:each|proposal|technical|price|cost) volumes?\b",
    r"\bvolumes? (?:[IVX]+|\d+)\b")
_IMPERATIVE = _rx(r"^\s*(?:submit|send|e-?mail|deliver|upload|direct)\b")
_TOPICS: tuple[tuple[InstructionTopic, re.Pattern[str]], ...] = (
    ("format", _rx(
        r"\bfont\b", r"\btype ?size\b", r"\b\d{1,2}[- ]?(?:point|pt)\.? (?:font|type|text|size)\b",
        r"\b\d(?:[.,]\d+)?[- ]?inch margins?\b", r"\bmargins? of (?:at least |no less than )?\d",
        r"\bmargins? (?:shall|must|will) be\b", r"\b8[.,]5\s*(?:x|by|×)\s*11\b",
        r"\bpage limits?\b", r"\bexcess of the (?:page )?limit\b", r"\b\d+-page limit\b",
        r"\b(?:limited to|not exceed|no more than) \d+ pages\b",
        r"\b(?:single|double)[- ]spaced\b",
        r"\b(?:e-?mails?|files?|attachments?)\b.{0,40}\b\d+\s*(?:MB|megabytes?)\b")),
    ("validity", _rx(
        r"\b(?:proposals?|offers?|quotes?|quotations?|prices?|pricing|bids?)\b.{0,40}"
        r"\b(?:remain (?:valid|firm|open)|valid for)\b", r"\bacceptance period\b")),
    ("questions", _rx(
        r"^\W*(?:all |any )?(?:questions?|inquiries)\b.*\b(?:submit(?:ted)?|due|direct(?:ed)?|"
        r"sent|e-?mail(?:ed)?|in writing|no later than|received)\b",
        r"\b(?:questions?|inquiries) (?:regarding|about|concerning|on) (?:this|the) "
        r"(?:solicitation|rfp|rfq|request)\b",
        r"\b(?:submit|direct|send|e-?mail) (?:all |any )?(?:questions|inquiries)\b",
        r"\banswers? (?:to (?:the )?questions )?will be (?:posted|issued|provided|published)\b")),
    ("events", _rx(
        r"\bsite visits?\b", r"\boral presentations?\b",
        r"\bpre-?(?:proposal|bid|quote) conference\b", r"\bindustry day\b",
        r"\bbidders'? conference\b")),
    ("registration", _rx(
        r"\bregistered (?:in|with) (?:the )?(?:SAM|System for Award Management)\b",
        r"\bSAM(?:\.gov)? registration\b", r"\bregistration (?:by|no later than|is required)\b")),
    ("contact", _rx(
        r"\bpoints? of contact (?:for|regarding) (?:this|the) (?:solicitation|rfp|rfq|request|"
        r"procurement|acquisition)\b", r"\bsole point of contact\b",
        r"\b(?:communications?|contact) (?:regarding|about|concerning) this "
        r"(?:solicitation|rfp|rfq|request)\b")),
)
_CHANNEL = _rx(
    r"\b(?:by|via|through) e-?mail\b", r"\be-?mail(?:ed)? to\b", r"@[\w-]+\.\w",
    r"\b(?:via|through|to|in|on|using) the [\w .-]{0,40}portal\b", r"\bsam\.gov\b",
    r"\b(?:submitted|sent|delivered|transmitted) electronically\b",
    r"\belectronic (?:submission|copy|copies)\b", r"\bhand[- ](?:carried|delivered)\b",
    r"\bcourier\b", r"\bfax(?:ed)?\b", r"\bmail(?:ed)? to\b", r"\bupload(?:ed)? (?:to|via)\b")
_DEADLINE = _rx(
    _CLOCK, rf"\b(?:due|received|no later than|by)\b.{{0,30}}{_DATE}",
    r"\blate (?:proposals|offers|quotes|quotations|submissions|bids)\b",
    r"\breceipt of (?:proposals|offers|quotes|quotations|bids)\b")
_PACKAGING = _rx(
    r"\borgani[sz]ed (?:in|into|as)\b", r"\bconsist of\b", r"\bcompliance matrix\b",
    r"\bvolume (?:[IVX]+|\d+)\b", r"\beach volume\b",
    r"\bseparate (?:searchable )?(?:file|volume|pdf)\b", r"\bsearchable pdf\b", r"\bmarked\b",
    r"\bsplit\b")


def about_work(sentence: str) -> bool:
    """Whether the sentence speaks of the contractor and not of the competition."""
    return bool(_WORK.search(sentence)) and not _COMPETITION.search(sentence)


def instruction_topic(sentence: str) -> InstructionTopic | None:
    """What instruction to offerors ``sentence`` gives, or None if it gives none."""
    if about_work(sentence):
        return None
    for topic, pattern in _TOPICS:
        if pattern.search(sentence):
            return topic
    if _SUBMISSION.search(sentence) or _IMPERATIVE.match(sentence):
        if any(p.search(sentence) for p in (_CHANNEL, _DEADLINE, _PACKAGING)):
            return "submission"
    return None


def is_instruction(sentence: str) -> bool:
    """Whether ``sentence`` is an instruction to offerors (see the module docstring)."""
    return instruction_topic(sentence) is not None


_SENTENCE_SPLIT = re.compile(r"(?<=[.;!?])\s+(?=[A-Z(])")
_OBLIGED = re.compile(r"\b(shall|must|is required to|are required to)\b", re.IGNORECASE)


def only_instructions(text: str) -> bool:
    """Whether every obligation in ``text`` (a paragraph) is an instruction to offerors."""
    parts = [p for p in _SENTENCE_SPLIT.split(" ".join(text.split())) if _OBLIGED.search(p)]
    return bool(parts) and all(is_instruction(p) for p in parts)
