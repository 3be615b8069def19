"""The preference dataset: chosen/rejected pairs from analysts' feedback.

``W/feedback/*.jsonl`` holds one object per line with ``prompt``, ``chosen`` and
``rejected`` (the prompt may also be a list of chat messages). Lines that are not such
an object (bad JSON, a missing or empty field, chosen equal to rejected) are skipped and
counted. Rows take the shape TRL's DPO and ORPO trainers read: ``prompt`` rendered with
the chat template up to the reply, ``chosen``/``rejected`` the replies with their
end-of-turn marker.

With ``grounded`` (the default, as for SFT) a request's prompt shows the sources retrieval
finds for it now, in the user turn drafting writes (``core.drafting.grounding``): the pair
then teaches what to prefer given the sources, as the model drafts, not from memory. A
prompt given as chat messages is kept as it is.

Drafting marks a figure no source bears out ``[unverified: …]``
(``core.drafting.facts.UNVERIFIED``). A chosen reply still holding one is left out (the
model must not learn to write an unchecked figure, nor the marker); in a rejected reply
the marker is taken off, so that the figure the model wrote is what it learns to avoid.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from core.datasets.chat import count_tokens, render_pair
from core.datasets.lengths import Lengths, example_tokens
from core.datasets.model import BuildDatasetConfig, Built, DatasetError
from core.datasets.sft import grounder, shown_documents
from core.datasets.split import choose_heldout
from core.fsutil import sha256_file
from core.workspace import Workspace

Progress = Callable[[int, int, str], None]
UNVERIFIED = re.compile(r"\[unverified: ([^\]\n]*)\]")  # as core.drafting.facts writes it


def _valid(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    prompt, chosen, rejected = item.get("prompt"), item.get("chosen"), item.get("rejected")
    if isinstance(prompt, list):
        ok_prompt = bool(prompt) and all(
            isinstance(m, dict) and isinstance(m.get("role"), str)
            and isinstance(m.get("content"), str) for m in prompt)
    else:
        ok_prompt = isinstance(prompt, str) and bool(prompt.strip())
    return (ok_prompt and isinstance(chosen, str) and isinstance(rejected, str)
            and bool(chosen.strip()) and bool(rejected.strip())
            and chosen.strip() != rejected.strip())


def read_feedback(workspace: Workspace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Well-formed feedback pairs and, per file, its checksum and skipped line numbers."""
    pairs: list[dict[str, Any]] = []
    files: dict[str, Any] = {}
    for path in sorted(workspace.feedback_dir.glob("*.jsonl")):
        skipped = []
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except ValueError:
                    item = None
                if _valid(item):
                    pairs.append({**item, "file": path.name, "line": number})
                else:
                    skipped.append(number)
        files[path.name] = {"sha256": sha256_file(path), "skipped_lines": skipped}
    return pairs, files


def build_prefs(workspace: Workspace, config: BuildDatasetConfig, tokenizer: Any,
                progress: Progress, check_cancelled: Callable[[], None]) -> Built:
    pairs, files = read_feedback(workspace)
    malformed = sum(len(f["skipped_lines"]) for f in files.values())
    if not pairs:
        raise DatasetError(
            f"No usable preference pairs in {workspace.feedback_dir} "
            f"({len(files)} files, {malformed} malformed lines).",
            hint="accept or reject drafts in the drafting pane to collect feedback")
    rows: dict[str, dict[str, Any]] = {}
    unchecked = grounded = 0
    ground, why_not = grounder(workspace, config, tokenizer)
    for step, pair in enumerate(pairs, 1):
        check_cancelled()
        progress(step, len(pairs), f"rendered {pair['file']}:{pair['line']}")
        if UNVERIFIED.search(pair["chosen"]):
            unchecked += 1
            continue
        turn, shown = pair["prompt"], None
        if ground is not None and isinstance(turn, str):
            found = ground(turn, [], None)
            turn, shown = found.text, list(found.sources)
            grounded += bool(shown)
        prompt, chosen = render_pair(tokenizer, turn, pair["chosen"])
        _, rejected = render_pair(tokenizer, turn, UNVERIFIED.sub(r"\1", pair["rejected"]))
        key = hashlib.sha256(json.dumps([prompt, chosen, rejected]).encode()).hexdigest()
        if key not in rows:
            rows[key] = {"prompt": prompt, "chosen": chosen, "rejected": rejected,
                         "file": pair["file"], "line": pair["line"],
                         **({"request": pair["prompt"], "sources_shown": shown}
                            if shown is not None else {}),
                         "prompt_tokens": count_tokens(tokenizer, prompt),
                         "chosen_tokens": count_tokens(tokenizer, chosen),
                         "rejected_tokens": count_tokens(tokenizer, rejected)}
    if not rows:
        raise DatasetError(
            f"All {len(pairs)} preference pair(s) prefer a draft that still holds figures "
            "marked [unverified: …].",
            hint="edit the drafts you rated up: correct or delete the marked figures")
    # Rows with the same prompt stay on one side of the split.
    prompt_key = {k: hashlib.sha256(r["prompt"].encode()).hexdigest() for k, r in rows.items()}
    heldout_prompts = choose_heldout(prompt_key.values(), config.heldout_fraction, config.seed)
    train = [r for k, r in rows.items() if prompt_key[k] not in heldout_prompts]
    heldout = [r for k, r in rows.items() if prompt_key[k] in heldout_prompts]
    summary = {"pairs": len(rows), "train": len(train), "heldout": len(heldout),
               "malformed_lines": malformed,
               "duplicates_dropped": len(pairs) - unchecked - len(rows),
               "chosen_unverified": unchecked,
               "feedback_files": len(files),
               "lengths": Lengths.of(filter(None, map(example_tokens, rows.values())))
               .to_summary(),
               "examples": len(rows), "grounded": grounded,
               **({"not_grounded": why_not} if why_not else {})}
    return Built(files={"train.jsonl": train, "heldout.jsonl": heldout},
                 documents=shown_documents(workspace, rows.values()),
                 sources={"feedback": files}, summary=summary)
