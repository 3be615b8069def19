"""Generated instruction pairs: the filters, the teacher's replies read back, the job
(resume after a kill), the review queue and the SFT dataset they end up in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dataset_fixtures import TINY
from helpers.synth_teacher import PASSAGE, SECOND, THIRD, Teacher, WordEmbedder, scripted

from core.cli.main import main
from core.datasets import BuildDatasetConfig, DatasetStore, build_dataset
from core.datasets.synthetic import accept_remaining, list_batches, pairs, review
from core.drafting.eval_job import trained_on
from core.drafting.eval_report import trained_on_line
from core.drafting.evaluate import EvalError, heldout_pairs
from core.jobs.kinds import validate_config
from core.jobs.progress import JobContext
from core.retrieval.chunking import Chunk
from core.synth.grounding import Filters, FilterSettings, invented_values
from core.synth.job import SynthConfig, passages, run_synth
from core.synth.tasks import build_request, parse_reply
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry


def chunk(text: str = PASSAGE, kind: str = "proposal") -> Chunk:
    return Chunk(doc_id="d1", version=1, ordinal=0, text=text, section=("Past performance",),
                 page=1, block_start=0, block_end=0, block_kind="text", kind=kind,
                 title="Archive proposal")


# -- the filters -----------------------------------------------------------------------------
def test_an_answer_with_a_number_not_in_the_source_is_filtered() -> None:
    filters = Filters(FilterSettings())
    answer = "The team migrated 45 million scanned records to the cloud archive in 14 months."
    verdict = filters.check("How many records were migrated to the archive?", answer, answer,
                            PASSAGE, ())
    assert verdict.check == "numbers" and "45" in verdict.reason
    assert {"SE-3", "145.00"} <= set(invented_values("SE-3 at $145.00 an hour", PASSAGE))
    assert invented_values("41 million records, 99.98 percent, in 14 months", PASSAGE) == []
    grounded = "The team migrated 41 million scanned records in 14 months."
    assert filters.check("How many records were migrated to the archive?", grounded,
                         grounded, PASSAGE, ()).kept
    assert filters.counts["numbers"] == 1


@pytest.mark.parametrize(("instruction", "answer", "check"), [
    ("Why?", "The team migrated 41 million records in 14 months.", "length"),
    ("How fast is retrieval from the archive now?", "| -- | -- | 40 | -- | -- | -- |",
     "language"),
    ("What does the staffing look like on each shift?",
     "Our satellites orbit the planet carrying telescopes for astronomers everywhere.",
     "support"),
])
def test_each_check_names_why(instruction: str, answer: str, check: str) -> None:
    verdict = Filters(FilterSettings()).check(instruction, answer, answer, PASSAGE, ())
    assert verdict.check == check, verdict


def test_echoes_of_the_prompt_and_near_duplicates_are_filtered() -> None:
    scaffolding = ("Read this passage from our company's documents and write questions a "
                   "proposal reviewer would ask about it",)
    filters = Filters(FilterSettings(), existing=[
        ("How many records were migrated?", "The team migrated 41 million scanned records to "
         "a searchable cloud archive in 14 months.")])
    echo = ("Read this passage from our company's documents and write questions a proposal "
            "reviewer would ask about it.")
    assert filters.check("What was archived by the team?", echo, echo, PASSAGE,
                         scaffolding).check == "scaffolding"
    again = ("The team migrated 41 million scanned records to a searchable cloud archive in "
             "14 months.")
    assert filters.check("How many records were migrated?", again, again, PASSAGE,
                         ()).check == "duplicate"


def test_similarity_below_the_threshold_is_unsupported() -> None:
    filters = Filters(FilterSettings(min_similarity=0.5), similarity=lambda a, b: 0.1)
    answer = "Four analysts support the archive on every shift."
    verdict = filters.check("Who supports the archive on each shift?", answer, answer,
                            PASSAGE, ())
    assert verdict.check == "support" and verdict.figures["similarity"] == 0.1


# -- the teacher's replies ---------------------------------------------------------------------
def test_replies_become_pairs_in_both_prompt_formats() -> None:
    chat = build_request("qa", chunk(), "chat", 2)
    reply = ("Question: How many records were migrated?\nAnswer: 41 million scanned records.\n"
             "**Q2:** How available was the archive?\n**A2:** 99.98 percent, through the "
             "whole period.")
    got = parse_reply(chat, reply, chunk(), 2)
    assert [(g.instruction, g.response) for g in got] == [
        ("How many records were migrated?", "41 million scanned records."),
        ("How available was the archive?", "99.98 percent, through the whole period.")]
    document = build_request("qa", chunk(), "document", 1)
    assert document.mode == "completion" and document.messages[0].content.endswith("Question:")
    got = parse_reply(document, " How long did the migration take?\nAnswer: 14 months.\n\n"
                      "## Passage: another", chunk(), 1)
    assert [(g.instruction, g.response) for g in got] == [
        ("How long did the migration take?", "14 months.")]
    section = build_request("section", chunk(), "document")
    [made] = parse_reply(section, " describe its records migration approach.\n\nMore",
                         chunk())
    assert "The contractor shall describe its records migration approach." in made.instruction
    assert made.response == PASSAGE and made.generated.startswith("The contractor shall")
    rewrite = build_request("rewrite", chunk(), "chat")
    [notes] = parse_reply(rewrite, "- 41 million records moved in 14 months\n- 40 s lookups",
                          chunk())
    assert notes.instruction.startswith("Rewrite this in our proposal style:")
    assert notes.response == PASSAGE


# -- the job, its resume, the review queue and the dataset ------------------------------------


@pytest.fixture
def prose_workspace(ds_workspace: Workspace, tmp_path: Path) -> Workspace:
    from helpers.workspaces import add_text_document

    add_text_document(ds_workspace, tmp_path / "src", "archive.md", PASSAGE + "\n" + SECOND)
    add_text_document(ds_workspace, tmp_path / "src", "transition.md", THIRD, kind="rfp")
    return ds_workspace


def test_the_job_resumes_after_a_kill_and_reviewed_pairs_make_an_sft_dataset(
        prose_workspace: Workspace, tmp_path: Path) -> None:
    workspace = prose_workspace
    config = SynthConfig(tasks=("qa", "section"), passage_words=60)
    items = sum(1 for c in passages(workspace, config) for _ in
                [t for t in config.tasks if t == "qa" or c.kind == "proposal"])
    assert items >= 4
    ctx = JobContext(workspace.root / "runs" / "synth-1")
    ask, asked = scripted(kill_after=2)
    with pytest.raises(SystemExit):
        run_synth(workspace, config, ctx, teacher=Teacher(), embedder=WordEmbedder(), ask=ask)
    [batch] = list_batches(workspace)
    before = pairs(workspace, batch["id"])
    assert before, "the pairs made before the kill are kept"
    first = before[0]
    review(workspace, batch["id"], first.id, "accepted")

    ask, asked = scripted()
    result = run_synth(workspace, config, ctx, teacher=Teacher(), embedder=WordEmbedder(),
                       ask=ask)
    assert result["batch"] == batch["id"] and result["resumed_after"] == 2
    assert result["items"] == items - 2 and result["items_left"] == 0
    assert result["filtered"]["numbers"] >= 1  # "1234 staff" is in no passage
    after = pairs(workspace, batch["id"])
    assert {p.id for p in before} <= {p.id for p in after}
    assert next(p for p in after if p.id == first.id).state == "accepted"
    assert all("1234" not in p.response for p in after)
    assert {p.task for p in after} == {"qa", "section"}

    # the review queue: edit, reject, accept the rest of one task
    pending = [p for p in after if p.state == "pending" and p.task == "qa"]
    edited = review(workspace, batch["id"], pending[0].id, "edited",
                    response="An answer an analyst rewrote, from the passage.")
    assert edited.state == "edited" and edited.response.startswith("An answer an analyst")
    review(workspace, batch["id"], pending[1].id, "rejected")
    accepted = accept_remaining(workspace, batch["id"], task="qa")
    states = {p.id: p.state for p in pairs(workspace, batch["id"])}
    assert states[pending[1].id] == "rejected"
    assert all(states[i] == "accepted" for i in accepted)
    assert any(p.task == "section" and p.state == "pending"
               for p in pairs(workspace, batch["id"]))

    record = build_dataset(workspace, BuildDatasetConfig(kind="sft", model=TINY)).record
    rows = DatasetStore(workspace).rows(record.id) + DatasetStore(workspace).rows(
        record.id, "heldout")
    synthetic = [r for r in rows if r["source"] == "synthetic"]
    chosen = {p.id for p in pairs(workspace, batch["id"]) if p.accepted}
    assert {r["pair_id"] for r in synthetic} == chosen
    assert any(r["response"].startswith("An answer an analyst") for r in synthetic)
    lineage = record.sources["synthetic"][batch["id"]]
    assert lineage["teacher"] == "teacher-gguf" and lineage["pairs"] == len(chosen)
    assert lineage["filters"]["min_overlap"] == FilterSettings().min_overlap
    assert {ref.document_id for ref in record.documents} >= {
        p.doc_id for p in pairs(workspace, batch["id"]) if p.accepted}

    # a model trained on it says so in the draft-quality report; no generated pair is a
    # reference to grade drafts against
    try:
        references = {p.reference for p in heldout_pairs(workspace, record.id)}
        assert not references & {r["response"] for r in synthetic}
    except EvalError:
        pass  # its held-out rows were all generated ones
    adapter = ModelRecord(id="sft-synth", name="a", kind="adapter", architecture="gemma3",
                          datasets=(record.id,))
    with ModelRegistry(workspace).create("sft-synth", lambda _: adapter) as folder:
        (folder / "adapter_model.safetensors").write_bytes(b"weights")
    trained = trained_on(workspace, "sft-synth")
    assert trained == {"datasets": [record.id], "synthetic_pairs": len(chosen),
                       "teachers": ["teacher-gguf"]}
    assert trained_on_line({"model": "sft-synth", "trained_on": trained}) == (
        f"sft-synth: trained on {record.id}, with {len(chosen)} generated pair(s) from "
        "teacher-gguf")
    assert trained_on(workspace, "not-registered.gguf")["datasets"] == []


def test_config_and_cli(prose_workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    config = validate_config("synthesize-pairs", {"tasks": "qa,rewrite", "per_chunk": 3})
    assert config.tasks == ("qa", "rewrite")
    with pytest.raises(Exception, match="unknown task"):
        validate_config("synthesize-pairs", {"tasks": "poems"})
    workspace = prose_workspace
    assert main(["datasets", "synthetic", "-w", str(workspace.root)]) == 0
    assert "no generated pairs yet" in capsys.readouterr().out
    ask, _ = scripted()
    result = run_synth(workspace, SynthConfig(tasks=("qa",), passage_words=60, limit=1),
                       JobContext(workspace.root / "runs" / "s"), teacher=Teacher(),
                       embedder=WordEmbedder(), ask=ask)
    batch = result["batch"]
    assert main(["datasets", "synthetic", "-w", str(workspace.root), "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["id"] == batch and listed["states"]["pending"] == result["kept"]
    [pair] = pairs(workspace, batch)
    assert main(["datasets", "review", batch, "--reject", pair.id, "-w",
                 str(workspace.root)]) == 0
    assert f"{pair.id}: rejected" in capsys.readouterr().out
    assert main(["datasets", "review", batch, "-w", str(workspace.root)]) != 0
    assert "Give one of" in capsys.readouterr().err
