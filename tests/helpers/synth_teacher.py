"""A scripted teacher for the generated-pairs tests: passages, a teacher whose replies
hold one grounded pair and one with an invented number per passage, and a cheap embedder."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from core.generation.model import Finished, GenerationSettings, GenerationStats
from core.jobs.progress import JobContext
from core.synth.tasks import Request

PASSAGE = ("Our team migrated 41 million scanned records to a searchable cloud archive in "
           "14 months. Retrieval time fell from three days to 40 seconds, and the archive "
           "held 99.98 percent availability through the whole period of performance. Four "
           "analysts support the archive on every shift, and a records manager reviews the "
           "retention schedule with the agency each quarter.")
SECOND = ("The help desk answers every call within two minutes, around the clock, from two "
          "sites. Tier two engineers resolve network incidents within four hours, and each "
          "month the program office receives a service report with the open tickets, the "
          "trends and the fixes planned for the month that follows.")

THIRD = ("Each offeror shall describe its transition plan for the first ninety days, naming "
         "the key personnel who arrive in week one, the knowledge transfer sessions held with "
         "the incumbent, and the risks it expects during the cutover together with the steps "
         "that keep the help desk open while the systems change hands.")



class Teacher:
    name = "teacher-gguf"
    kind = "instruct"
    kind_reason = "a test teacher"
    n_ctx = 2048

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class WordEmbedder:
    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = []
        for text in texts:
            vector = np.zeros(64, dtype=np.float32)
            for word in text.lower().split():
                vector[hashlib.sha256(word.encode()).digest()[0] % 64] += 1.0
            vectors.append(vector / max(np.linalg.norm(vector), 1e-9))
        return np.stack(vectors)


def scripted(kill_after: int | None = None) -> tuple[Any, list[str]]:
    """A teacher's replies: one grounded pair and one with an invented number per passage."""
    asked: list[str] = []

    def ask(teacher: Any, request: Request, settings: GenerationSettings,
            ctx: JobContext) -> Finished:
        if kill_after is not None and len(asked) >= kill_after:
            raise SystemExit("killed")
        asked.append(request.messages[0].content)
        passage = request.messages[0].content.split(":\n")[-1]
        first = passage.split(". ")[0].rstrip(".") + "."
        reply = (f"Question: What does the passage say first?\nAnswer: {first}\n"
                 "Question: How many staff work there?\nAnswer: 1234 staff work there "
                 "every day of the year.")
        if request.task == "section":
            passage = request.messages[0].content.split("):\n")[-1]
            reply = ("The contractor shall describe how "
                     + " ".join(passage.split()[2:10]).rstrip(".,") + ".")
        return Finished(reply, GenerationStats(10, 20, 0.1, 0.5, 0.6, "stop"))

    return ask, asked
