"""Generating instruction pairs with the real bundled teacher on the sample workspace
(slow): the job runs as a child process from the CLI, reports what it filtered, and
every pair it kept passes the grounding checks."""

from __future__ import annotations

import json

import pytest

from core.workspace import Workspace

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
BASE = "gemma3-270m-q4km"  # the bundled GGUF: a base model, prompted with documents


def test_the_bundled_teacher_makes_grounded_pairs_or_none(
        sample_workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    from core.cli.main import main
    from core.datasets.synthetic import filtered, pairs, read_batch
    from core.synth.grounding import Filters, FilterSettings

    code = main(["dataset", "synth", "-w", str(sample_workspace.root), "--teacher", BASE, "--tasks",
                 "qa,section", "--per-chunk", "1", "--limit", "3", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["items"] == 3 and result["format"] == "document"  # a base model teacher
    assert result["completion_tokens"] > 0
    batch = read_batch(sample_workspace, result["batch"])
    assert batch["teacher"] == result["teacher"]
    kept = pairs(sample_workspace, result["batch"])
    removed = filtered(sample_workspace, result["batch"])
    assert len(kept) == result["kept"] and len(removed) >= result["generated"] - result["kept"]
    settings = FilterSettings(**batch["filters"])
    for pair in kept:  # every kept pair passes the checks again, on its own
        scale = 0.5 if pair.task == "section" else 1.0
        check = Filters(settings.model_copy(update={
            "min_overlap": settings.min_overlap * scale})).check(
            pair.instruction, pair.response, pair.generated, pair.source, ())
        assert check.kept, (pair, check)
    # the same command again goes on with the next passages, not the same ones
    assert main(["dataset", "synth", "-w", str(sample_workspace.root), "--teacher", BASE, "--tasks",
                 "qa,section", "--per-chunk", "1", "--limit", "1", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["batch"] == result["batch"] and again["resumed_after"] == 3
