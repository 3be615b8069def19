"""What the teacher is asked, per task and prompt format, and how its reply becomes pairs.

- ``qa``: questions a proposal reviewer would ask about a passage, with answers from it.
  The teacher writes both; the answer is what the grounding checks test.
- ``section``: the RFP requirement a past proposal section answers. The pair is "write the
  section that responds to this requirement" → the company's own section: the teacher
  writes only the instruction (instruction back-translation), so the response is real text.
- ``rewrite``: the passage as plain, rough notes; the pair is "rewrite this in our proposal
  style" → the company's own passage. The notes must carry the passage's facts and no other.

An instruction-following teacher gets a chat message; a base model (or a CPT-only one)
gets a document to continue whose next lines are what we want (``core.models.resolve``
decides which, as for drafting). The 270M demo model writes weak pairs either way: most
are filtered, which is what the filters are for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from core.datasets.sft import REQUIREMENT_PROMPT
from core.generation.model import Message
from core.retrieval.chunking import Chunk

TaskName = Literal["qa", "section", "rewrite"]
TASKS: tuple[str, ...] = ("qa", "section", "rewrite")
REWRITE_PROMPT = "Rewrite this in our proposal style:\n\n{notes}"
MIN_PASSAGE_WORDS = 40
_QUESTION = re.compile(r"^\s*(?:\*\*)?(?:Q(?:uestion)?\s*\d*\s*[:.)])(?:\*\*)?\s*",
                       re.IGNORECASE)
_ANSWER = re.compile(r"^\s*(?:\*\*)?(?:A(?:nswer)?\s*\d*\s*[:.)])(?:\*\*)?\s*", re.IGNORECASE)
_MARKUP = re.compile(r"<[^<>\n]{1,40}>|\*\*|__|^#+\s*", re.MULTILINE)


@dataclass(frozen=True)
class Request:
    """One generation request: the messages, how to send them, and how to read the reply."""

    task: str
    messages: tuple[Message, ...]
    mode: str  # "chat" or "completion"
    prefix: str  # the opening the document prompt already wrote (part of the reply)
    stops: tuple[str, ...]
    max_tokens: int
    scaffolding: tuple[str, ...]  # the prompt's own wording, which no pair may repeat


@dataclass(frozen=True)
class Generated:
    """A pair made from a reply: which part the teacher wrote (``generated``) is checked."""

    task: str
    instruction: str
    response: str
    generated: str
    support_scale: float = 1.0  # the support threshold is scaled by this for the task


def where(chunk: Chunk) -> str:
    return " > ".join(part for part in (chunk.title, *chunk.section) if part) or chunk.doc_id


def suits(task: str, chunk: Chunk) -> bool:
    """Whether ``task`` can be made from ``chunk``: prose of some length; the section and
    rewrite tasks only from proposals (their response is the company's own writing)."""
    if chunk.block_kind != "text" or len(chunk.text.split()) < MIN_PASSAGE_WORDS:
        return False
    return task == "qa" or chunk.kind in ("proposal", "other")


def _qa(chunk: Chunk, fmt: str, per_chunk: int) -> Request:
    rule = ("each answer taken only from the passage: copy numbers, names and codes exactly "
            "and add no facts")
    if fmt == "chat":
        text = (f"Read this passage from our company's documents. Write {per_chunk} "
                f"question(s) a proposal reviewer would ask about it, {rule}.\n"
                "Write each as:\nQuestion: …\nAnswer: …\n\n"
                f"Passage ({where(chunk)}):\n{chunk.text}")
        return Request("qa", (Message(role="user", content=text),), "chat", "",
                       (), 160 * per_chunk, (f"a proposal reviewer would ask about it, {rule}",))
    header = "# Reviewer questions about our documents"
    text = (f"{header}\n\nEach question below is answered only from the passage quoted "
            f"above it.\n\n## Passage: {where(chunk)}\n\n{chunk.text}\n\nQuestion:")
    return Request("qa", (Message(role="user", content=text),), "completion", "Question:",
                   ("\n## ", "\n# ", "\n---"), 160 * per_chunk,
                   (header, "Each question below is answered only from the passage"))


def _section(chunk: Chunk, fmt: str) -> Request:
    if fmt == "chat":
        ask = ("Below is a section of one of our past proposals. Write the RFP requirement it "
               "answers, in one or two sentences worded as a solicitation would word it. "
               "Write only the requirement.")
        text = f"{ask}\n\nSection ({where(chunk)}):\n{chunk.text}"
        return Request("section", (Message(role="user", content=text),), "chat", "", (),
                       96, (ask,))
    header = "# Solicitation requirements and the proposal sections that answered them"
    text = (f"{header}\n\n## Proposal section: {where(chunk)}\n\n{chunk.text}\n\n"
            "## The RFP requirement this section answers\n\nThe contractor shall")
    return Request("section", (Message(role="user", content=text),), "completion",
                   "The contractor shall", ("\n#", "\n\n"), 96,
                   (header, "The RFP requirement this section answers"))


def _rewrite(chunk: Chunk, fmt: str) -> Request:
    if fmt == "chat":
        ask = ("Rewrite this passage as the plain, rough notes an engineer might have sent "
               "before it was polished: the same facts and numbers, short sentences, no "
               "sales language. Write only the notes.")
        text = f"{ask}\n\nPassage:\n{chunk.text}"
        return Request("rewrite", (Message(role="user", content=text),), "chat", "", (),
                       320, (ask,))
    header = "# Engineers' notes and the proposal text written from them"
    text = (f"{header}\n\n## Proposal text ({where(chunk)})\n\n{chunk.text}\n\n"
            "## The engineer's notes it was written from (same facts, plain words)\n\n-")
    return Request("rewrite", (Message(role="user", content=text),), "completion", "-",
                   ("\n#", "\n\n\n"), 320,
                   (header, "The engineer's notes it was written from"))


def build_request(task: str, chunk: Chunk, fmt: str, per_chunk: int = 1) -> Request:
    """The request for ``task`` on ``chunk`` in prompt format ``fmt`` ("chat"/"document")."""
    if task == "qa":
        return _qa(chunk, fmt, per_chunk)
    if task == "section":
        return _section(chunk, fmt)
    if task == "rewrite":
        return _rewrite(chunk, fmt)
    raise ValueError(f"unknown task {task!r}")


def _tidy(text: str) -> str:
    return re.sub(r"[ \t]+", " ", _MARKUP.sub("", text)).strip()


def _qa_pairs(reply: str, limit: int) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    question: list[str] | None = None
    answer: list[str] | None = None
    for line in reply.splitlines():
        if _QUESTION.match(line):
            if question and answer:
                pairs.append((" ".join(question), " ".join(answer)))
            question, answer = [_QUESTION.sub("", line)], None
        elif _ANSWER.match(line) and question is not None:
            answer = [_ANSWER.sub("", line)]
        elif line.strip() and answer is not None:
            answer.append(line.strip())
        elif line.strip() and question is not None and answer is None:
            question.append(line.strip())
    if question and answer:
        pairs.append((" ".join(question), " ".join(answer)))
    return [(_tidy(q), _tidy(a)) for q, a in pairs if _tidy(q) and _tidy(a)][:limit]


def parse_reply(request: Request, reply: str, chunk: Chunk, per_chunk: int = 1
                ) -> list[Generated]:
    """The pairs in the teacher's ``reply`` (with the document prompt's opening put back)."""
    text = request.prefix + reply if request.mode == "completion" else reply
    for stop in request.stops:
        text = text.split(stop, 1)[0]
    passage = chunk.text.strip()
    if request.task == "qa":
        return [Generated("qa", q, a, a) for q, a in _qa_pairs(text, per_chunk)]
    body = _tidy(text)
    if request.task == "section":
        requirement = " ".join(body.split())
        return [Generated("section", REQUIREMENT_PROMPT.format(number="", text=requirement),
                          passage, requirement, support_scale=0.5)] if requirement else []
    notes = "\n".join(line.strip() for line in body.splitlines() if line.strip())
    return [Generated("rewrite", REWRITE_PROMPT.format(notes=notes), passage, notes)] \
        if notes else []


def scaffolding_of(requests: Sequence[Request]) -> tuple[str, ...]:
    return tuple(s for r in requests for s in r.scaffolding)
