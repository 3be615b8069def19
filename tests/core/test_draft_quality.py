"""Draft quality: model kinds, prompt formats, hygiene, citation and fact checks, the
evaluation's figures, and failed drafts kept out of documents. Fixed strings and fake
models only (the real model's figures are in test_draft_quality_integration)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from core.drafting.citecheck import attribute, check_citations, overlap
from core.drafting.draft import DraftResult, Retrying, choose_format, draft, stream_draft
from core.drafting.evaluate import EvalError, EvalPair, read_pairs, rouge_l, score_model
from core.drafting.export import export_draft, proposal_docx_bytes, proposal_markdown
from core.drafting.facts import (
    check_facts,
    citation_values,
    fact_warnings,
    facts_table,
    grounded_prefill,
    key_facts,
    rows_named,
    settle_facts,
)
from core.drafting.hygiene import clean_draft, echoed_phrases, has_echo
from core.drafting.prompt import (
    DOCUMENT_HEADER,
    DraftSpec,
    build_prompt,
    heading_for,
)
from core.drafting.proposal import Proposal, ProposalSection, section_from_draft
from core.drafting.sources import Citation, Source, number_sources
from core.generation.model import Finished, GenerationSettings, GenerationStats, Token
from core.models.resolve import resolve_model
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry

ROWS = [
    Source(kind="reference_row", doc_id="labor", title="Labor categories", ref_id="r1",
           text="code: NAS-CY-02 | labor_category: Cyber Analyst II | hourly_rate_usd: 131.00",
           fields={"code": "NAS-CY-02", "labor_category": "Cyber Analyst II",
                   "description": "Monitors alerts, triages incidents, writes detection "
                                  "content and escalates confirmed events to the lead.",
                   "hourly_rate_usd": "131.00"}, score=14.0),
    Source(kind="reference_row", doc_id="labor", title="Labor categories", ref_id="r2",
           text="code: NAS-PM-01 | labor_category: Program Manager | hourly_rate_usd: 212.00",
           fields={"code": "NAS-PM-01", "labor_category": "Program Manager",
                   "description": "Leads contract execution and reporting for the whole "
                                  "program, accountable for every deliverable.",
                   "hourly_rate_usd": "212.00"}, score=9.0),
]
PASSAGES = [
    Source(doc_id="rfp-1", title="RFP JL4410", section=("L.3 Submission",), ref_id="c1",
           text="Proposals are due no later than March 14, 2027 at 2:00 p.m. Eastern. The "
                "technical volume is limited to 25 pages. The contractor shall staff the "
                "security operations center around the clock."),
    Source(doc_id="prop-1", title="SOC proposal", section=("3. Staffing Plan",), ref_id="c2",
           text="Four shift teams of three analysts work twelve-hour shifts so that the floor "
                "is never left without coverage."),
]


def cites(sources: Sequence[Source]) -> list[Citation]:
    return number_sources(sources)


# -- model kinds ----------------------------------------------------------------------------
def _register(workspace: Workspace, model_id: str, kind: str, parents: tuple[str, ...] = (),
              config: dict | None = None, files: dict[str, str] | None = None) -> None:
    record = ModelRecord(id=model_id, name=model_id, kind=kind, architecture="Gemma3",
                         parents=parents, config=config or {},
                         format="gguf" if kind == "gguf" else "safetensors")
    with ModelRegistry(workspace).create(model_id, lambda folder: record) as folder:
        for name, text in (files or {}).items():
            (folder / name).write_text(text, encoding="utf-8")


def test_model_kind_follows_the_lineage(workspace: Workspace) -> None:
    _register(workspace, "base", "base", config={"source": "bundled"},
              files={"config.json": "{}"})
    _register(workspace, "cpt", "adapter", ("base",), {"recipe": "cpt"})
    _register(workspace, "sft", "adapter", ("cpt",), {"recipe": "sft"})
    _register(workspace, "merged", "merged", ("cpt", "sft"), {"method": "ties"})
    base, cpt = resolve_model(workspace, "base"), resolve_model(workspace, "cpt")
    sft, merged = resolve_model(workspace, "sft"), resolve_model(workspace, "merged")
    assert (base.kind, cpt.kind, sft.kind, merged.kind) == ("base", "base", "instruct",
                                                            "instruct")
    assert cpt.prompt_format == "document" and sft.prompt_format == "chat"
    assert "SFT" in sft.reason and "continued pre-training" in cpt.reason
    assert cpt.stages == ("cpt",) and set(merged.stages) == {"cpt", "sft"}


def test_an_instruct_release_is_recognised_by_its_own_template(workspace: Workspace) -> None:
    template = "{% for m in messages %}<|im_start|>{{ m.role }}{% endfor %}"
    _register(workspace, "qwen-instruct", "base",
              files={"tokenizer_config.json": json.dumps({"chat_template": template})})
    _register(workspace, "plain", "base", files={"tokenizer_config.json": "{}"})
    assert resolve_model(workspace, "qwen-instruct").kind == "instruct"
    assert resolve_model(workspace, "plain").kind == "base"


def test_the_attached_fallback_template_does_not_make_a_base_model_instruct(
        workspace: Workspace) -> None:
    import resources

    fallback = resources.path("templates/gemma-turns.jinja").read_text(encoding="utf-8")
    _register(workspace, "imported", "base",
              files={"tokenizer_config.json": json.dumps({"chat_template": fallback})})
    assert resolve_model(workspace, "imported").kind == "base"


class _Kinded:
    def __init__(self, kind: str) -> None:
        self.kind, self.kind_reason = kind, "test"


def test_format_choice() -> None:
    assert choose_format(_Kinded("base"))[0] == "document"  # type: ignore[arg-type]
    assert choose_format(_Kinded("instruct"))[0] == "chat"  # type: ignore[arg-type]
    assert choose_format(_Kinded("base"), "chat")[0] == "chat"  # type: ignore[arg-type]
    assert choose_format(object())[0] == "chat"  # type: ignore[arg-type]  (remote endpoint)


# -- prompts ------------------------------------------------------------------------------------
def test_document_prompt_is_a_proposal_to_continue() -> None:
    spec = DraftSpec(request="Draft the Staffing Plan section for RFP JL4410.",
                     document_title="Response to JLSA CSOC Support",
                     requirements=("3.2: The contractor shall staff the SOC 24x7.",))
    prompt = build_prompt("document", spec, cites(PASSAGES))
    text = prompt.messages[0].content
    assert prompt.format == "document" and prompt.mode == "completion"
    assert len(prompt.messages) == 1
    assert text.rstrip().endswith("## Staffing Plan")
    assert DOCUMENT_HEADER in text and "[1] RFP JL4410" in text
    assert text.index("3.2: The contractor") < text.index("## Staffing Plan")
    assert "\n## " in prompt.stops and "<start_of_turn>" in prompt.stops


def test_chat_prompt_keeps_instructions_and_sources() -> None:
    prompt = build_prompt("chat", DraftSpec(request="Summarise the deadline."), cites(PASSAGES))
    assert prompt.format == "chat" and prompt.messages[0].role == "system"
    assert "<sources>" in prompt.messages[-1].content


def test_heading_from_a_free_request() -> None:
    assert heading_for("Draft the Staffing Plan section for RFP X") == "Staffing Plan"
    assert heading_for('Write the "Past Performance" section using three contracts') == \
        "Past Performance"
    assert heading_for("Summarise the evaluation criteria") == "Response"


# -- hygiene --------------------------------------------------------------------------------------
SCAFFOLD = ("You are a proposal writer for a government contractor. Write clear, specific, "
            "professional text.",)


def test_echo_is_eight_words_of_scaffolding_not_of_sources() -> None:
    echo = "you are a proposal writer for a government contractor and we write"
    assert echoed_phrases(echo, SCAFFOLD)
    assert not has_echo("You are a proposal writer for us.", SCAFFOLD)  # 7 words
    quoted = ["you are a proposal writer for a government contractor, says the source"]
    assert not has_echo(echo, SCAFFOLD, quoted)  # the source says it too: a quotation


def test_clean_draft_strips_markup_echo_repeats_and_cut_sentence() -> None:
    raw = ("</sources> <start_of_turn>model\n"
           "You are a proposal writer for a government contractor. Write clear text.\n"
           "Our four shift teams keep three analysts on the floor at all times [2].\n"
           "Our four shift teams keep three analysts on the floor at all times [2].\n"
           "Each shift lead reviews every escalation before it leaves the SOC.\n"
           "[1] RFP JL4410, reference table row\n"
           "The handover between shifts takes fif")
    cleaned = clean_draft(raw, scaffolding=SCAFFOLD, stops=("\n## ",))
    assert "<" not in cleaned.text and "proposal writer" not in cleaned.text
    assert cleaned.text.count("Our four shift teams") == 1
    assert cleaned.text.endswith("leaves the SOC.")
    assert cleaned.ok, cleaned.problems
    assert any("markup" in r for r in cleaned.removed)


def test_clean_draft_fails_a_draft_with_nothing_left() -> None:
    raw = "<sources>\n</sources>\nYou are a proposal writer for a government contractor."
    cleaned = clean_draft(raw, scaffolding=SCAFFOLD)
    assert not cleaned.ok and "too short" in cleaned.problems[0] or "almost no" in \
        cleaned.problems[0]


def test_stops_cut_the_next_section() -> None:
    cleaned = clean_draft("Our team is ready to start on day one of the contract with a "
                          "complete staff.\n## Past Performance\nIrrelevant text.",
                          scaffolding=(), stops=("\n## ",))
    assert "Past Performance" not in cleaned.text


# -- facts ---------------------------------------------------------------------------------------
def test_facts_table_has_exact_values_and_a_citation_per_row() -> None:
    table = facts_table(cites(ROWS))
    assert "| NAS-CY-02 | Cyber Analyst II | 131.00 | [1] |" in table
    assert "| NAS-PM-01 | Program Manager | 212.00 | [2] |" in table
    assert "Description" not in table  # long text columns stay out of the table


def test_key_facts_quote_dates_and_page_limits() -> None:
    facts = key_facts(cites(PASSAGES))
    assert "March 14, 2027" in facts and "25 pages" in facts and "[1]" in facts
    assert "twelve-hour" not in facts


def test_prefill_only_when_the_request_asks() -> None:
    citations = cites(ROWS + PASSAGES)
    assert "NAS-CY-02" in grounded_prefill("Draft the staffing plan with labour rates",
                                           citations)
    assert grounded_prefill("Describe our approach to quality", citations) == ""
    assert "March 14" in grounded_prefill("What is the proposal due date?", citations)


def test_fact_check_flags_invented_codes_and_rates() -> None:
    shown = [r.text for r in ROWS]
    check = check_facts("A Cyber Analyst II (NAS-CY-02) at $131.00 per hour and a lead "
                        "(NAS-CY-09) at $150.00.", shown)
    assert set(check.facts) == {"NAS-CY-02", "NAS-CY-09", "$131.00", "$150.00"}
    assert set(check.unmatched) == {"NAS-CY-09", "$150.00"}
    assert check.exactness == 0.5
    assert check_facts("No codes here.", shown).exactness is None


# -- citations ------------------------------------------------------------------------------------
def test_citation_validity_uses_content_word_overlap() -> None:
    citations = cites(PASSAGES)
    good = "Four shift teams work twelve-hour shifts so the floor keeps coverage [2]."
    bad = "Our cloud migration saved the agency forty percent of its hosting costs [2]."
    assert check_citations(good, citations).validity == 1.0
    assert check_citations(bad, citations).validity == 0.0
    assert check_citations(good + " " + bad, citations).validity == 0.5
    assert check_citations("No markers at all.", citations).validity is None
    assert overlap("shift teams", "Four shift teams") == 1.0


def test_attribution_cites_supported_sentences_and_drops_unknown_numbers() -> None:
    citations = cites(PASSAGES)
    text = ("Four shift teams of three analysts work twelve-hour shifts. "
            "We value our customers greatly. See also [9].")
    fixed = attribute(text, citations)
    assert "twelve-hour shifts [2]." in fixed.text
    assert "greatly." in fixed.text and "greatly [" not in fixed.text
    assert "[9]" not in fixed.text and (fixed.added, fixed.removed) == (1, 1)


def test_a_marker_its_source_does_not_support_is_moved_or_removed() -> None:
    citations = cites(PASSAGES)
    # [1] does not say this; [2] does: the marker moves to [2], even written after the stop
    moved = attribute("Four shift teams work twelve-hour shifts. [1] Next we plan.", citations)
    assert moved.text.startswith("Four shift teams work twelve-hour shifts [2].")
    assert (moved.moved, moved.dropped) == (1, 0)
    assert check_citations(moved.text, citations).validity == 1.0
    # no shown source says this: the marker goes, the sentence stays
    dropped = attribute("Our cloud migration saved the agency forty percent of its hosting "
                        "costs [2].", citations)
    assert dropped.text == ("Our cloud migration saved the agency forty percent of its "
                            "hosting costs.")
    assert (dropped.moved, dropped.dropped) == (0, 1)
    # a supported marker is left exactly where the model put it
    good = "Four shift teams [2] work twelve-hour shifts."
    assert attribute(good, citations).text == good


@pytest.mark.parametrize("draft", [
    # a stop inside a sentence ("p.m.", "approx.") is no sentence end for the scorer either
    "The SOC is staffed around the clock, approx. four shift teams of three analysts [1].",
    "Proposals are due by 2:00 p.m. Eastern, and four shift teams of analysts cover [2].",
    "four shift teams work twelve-hour shifts. the technical volume has 25 pages [2].",
    "Four shift teams [1][2] work. Proposals are due March 14, 2027 [2]. [1]",
    "| Shift | Analysts |\n| Day | 3 [2] |\nFour shift teams of three analysts [1].",
])
def test_what_the_reader_sees_has_only_citations_that_hold(draft: str) -> None:
    citations = cites(PASSAGES)
    fixed = attribute(draft, citations)
    assert check_citations(fixed.text, citations).validity in (None, 1.0), fixed.text


# -- the whole draft, with a fake model --------------------------------------------------------
class FakeModel:
    """Replies from a script, one reply per request; records what it was sent."""

    name = "fake"
    n_ctx = 4096

    def __init__(self, replies: list[str], kind: str = "base") -> None:
        self.replies = list(replies)
        self.kind, self.kind_reason = kind, "test"
        self.sent: list[tuple[str, GenerationSettings]] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class FakeRetriever:
    def __init__(self, sources: list[Source], rows: list[Source]) -> None:
        self.sources, self.rows = sources, rows

    def search(self, query: str, k: int) -> list[Source]:
        return self.sources[:k]

    def lookup(self, question: str, k: int = 5) -> list[Source]:
        return self.rows[:k]


@pytest.fixture
def fake_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    def reply(model: FakeModel, messages, settings=None, *, cancelled=lambda: False,
              mode="auto") -> Iterator[object]:
        model.sent.append((messages[-1].content, settings))
        text = model.replies.pop(0)
        finish = "cancelled" if cancelled() else "stop"
        yield Token(text)
        yield Finished(text, GenerationStats(10, 5, 0.1, 0.1, 0.2, finish))

    monkeypatch.setattr("core.drafting.draft.stream_reply", reply)


GOOD = ("Our four shift teams of three analysts work twelve-hour shifts, so the floor is "
        "never left without coverage. Each shift lead reviews every escalation.")


def test_a_base_model_gets_a_document_and_a_staffing_table(fake_reply: None) -> None:
    model = FakeModel([GOOD])
    events = list(stream_draft(model, "Draft the Staffing Plan section with labour categories "
                               "and rates", retriever=FakeRetriever(PASSAGES, ROWS)))
    result: DraftResult = events[-1].extra["draft"]  # type: ignore[union-attr]
    assert result.prompt_format == "document" and result.status == "ok"
    sent = model.sent[0][0]
    assert sent.endswith("\n## Staffing Plan\n\n")  # the model writes the section's body
    assert result.text.startswith("Our four shift teams")
    assert result.text.rstrip().endswith("| [2] |")  # then the table, from the rows
    assert "| NAS-CY-02 | Cyber Analyst II | 131.00 | [1] |" in result.text
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    assert "| NAS-CY-02 |" in streamed  # the viewer sees the table too
    assert result.checks["facts"]["exactness"] == 1.0
    assert "\n## " in model.sent[0][1].stop


def test_rows_found_only_by_similarity_stay_out_of_the_table() -> None:
    loose = Source(kind="reference_row", doc_id="labor", title="Labor categories", ref_id="r9",
                   text="code: NAS-TW-02 | labor_category: Technical Writer",
                   fields={"code": "NAS-TW-02", "labor_category": "Technical Writer"},
                   score=0.03)
    named = loose.model_copy(update={"ref_id": "r8", "text": "code: NAS-CY-02",
                                     "fields": {"code": "NAS-CY-02",
                                                "labor_category": "Shift Analyst"}})
    passage = Source(doc_id="rfp", title="RFP", text="Each shift analyst monitors alerts.",
                     ref_id="c")
    table = grounded_prefill("Draft the staffing plan", cites([passage, loose, named]))
    assert "NAS-CY-02" in table and "Technical Writer" not in table


def test_an_echoing_draft_is_retried_then_marked_failed(fake_reply: None) -> None:
    request = "Write the executive summary of our proposal for the records digitization RFP"
    echo = f"Task: {request} and then some more words follow here."
    model = FakeModel([echo, echo], kind="base")
    events = list(stream_draft(model, request, retriever=None))
    assert any(isinstance(e, Retrying) for e in events)
    result: DraftResult = events[-1].extra["draft"]  # type: ignore[union-attr]
    assert result.failed and result.attempts == 2
    assert result.checks["echo"]["first_attempt"]
    seeds = [s.seed for _, s in model.sent]
    assert seeds[0] != seeds[1]


def test_a_retry_that_succeeds_delivers_the_second_draft(fake_reply: None) -> None:
    model = FakeModel(["<sources></sources>", GOOD])
    result = draft(model, "Describe the shift design", retriever=None)
    assert result.status == "ok" and result.attempts == 2 and "twelve-hour" in result.text
    assert result.checks["time_to_first_token_s"] == 0.1  # the wait before the first try


# -- failed drafts never reach a document ---------------------------------------------------------
def _failed_result() -> DraftResult:
    return DraftResult(prompt="Draft X", text="You are a proposal writer for a government "
                       "contractor", status="failed", problems=("it repeats the prompt",))


def test_a_failed_section_is_not_written_into_the_docx(tmp_path: Path) -> None:
    from docx import Document

    section = ProposalSection(key="s", title="Staffing Plan", guidance="g")
    failed = section_from_draft(section, _failed_result())
    assert failed.status == "failed" and failed.text == "" and failed.rejected_text
    proposal = Proposal(title="P", rfp_id="r", rfp_title="R", sections=(failed,))
    path = tmp_path / "p.docx"
    path.write_bytes(proposal_docx_bytes(proposal))
    body = "\n".join(p.text for p in Document(str(path)).paragraphs)
    assert "proposal writer" not in body and "Not included" in body
    assert "Not included" in proposal_markdown(proposal)
    out = export_draft([_failed_result()], tmp_path / "d.docx")
    assert "proposal writer" not in "\n".join(p.text for p in Document(str(out)).paragraphs)


def test_the_facts_table_becomes_a_docx_table(tmp_path: Path) -> None:
    from docx import Document

    text = facts_table(cites(ROWS)) + "\n\nOur team is ready."
    section = ProposalSection(key="s", title="Staffing Plan", guidance="g", text=text,
                              status="drafted")
    proposal = Proposal(title="P", rfp_id="r", rfp_title="R", sections=(section,))
    document = Document(__import__("io").BytesIO(proposal_docx_bytes(proposal)))
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    assert "NAS-CY-02" in cells and "131.00" in cells


def test_an_unverified_figure_is_highlighted_in_the_docx() -> None:
    from docx import Document
    from docx.enum.text import WD_COLOR_INDEX

    text = "Travel is [unverified: $35] a day.\n\n- Badges [unverified: NAS-XX-1] issued."
    section = ProposalSection(key="s", title="Staffing Plan", guidance="g", text=text,
                              status="drafted")
    proposal = Proposal(title="P", rfp_id="r", rfp_title="R", sections=(section,))
    document = Document(__import__("io").BytesIO(proposal_docx_bytes(proposal)))
    runs = [(r.text, r.font.highlight_color) for p in document.paragraphs for r in p.runs
            if "unverified" in p.text]
    assert ("[unverified: $35]", WD_COLOR_INDEX.YELLOW) in runs
    assert ("[unverified: NAS-XX-1]", WD_COLOR_INDEX.YELLOW) in runs
    assert ("Travel is ", None) in runs and (" a day.", None) in runs


# -- evaluation figures ---------------------------------------------------------------------------
def test_rouge_l() -> None:
    assert rouge_l("the cat sat on the mat", "the cat sat on the mat") == 1.0
    assert rouge_l("", "anything") == 0.0
    assert 0.0 < rouge_l("the cat ate", "the cat sat on the mat") < 1.0


def test_pairs_file_errors_are_specific(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"request": "Write X", "reference": "X is done."}\n{"request": ""}\n')
    with pytest.raises(EvalError, match="line 2"):
        read_pairs(path)
    path.write_text('{"request": "Write X", "reference": "X is done.", "rfp": "d1"}\n')
    assert read_pairs(path)[0].rfp == "d1"


def test_pair_retrieval_leaves_out_the_reference_and_other_rfps(workspace: Workspace) -> None:
    from core.drafting.evaluate import EvalPair, pair_retriever
    from core.drafting.sources import WorkspaceRetriever

    pair = EvalPair(request="r", reference="x", rfp=None, exclude=("prop-1",))
    scoped = pair_retriever(WorkspaceRetriever(workspace), pair)
    assert isinstance(scoped, WorkspaceRetriever) and scoped.exclude_docs == ("prop-1",)
    fake = FakeRetriever(PASSAGES, ROWS)
    assert pair_retriever(fake, pair) is fake


def test_a_retry_still_ends_with_the_facts_table(fake_reply: None) -> None:
    model = FakeModel(["<sources></sources>", GOOD])
    events = list(stream_draft(model, "Draft the staffing plan with labour rates",
                               retriever=FakeRetriever(PASSAGES, ROWS)))
    retry = next(e for e in events if isinstance(e, Retrying))
    assert retry.kept == ""
    after = events[events.index(retry) + 1:]
    streamed = "".join(e.text for e in after if isinstance(e, Token))
    result: DraftResult = events[-1].extra["draft"]  # type: ignore[union-attr]
    assert result.attempts == 2 and "| NAS-CY-02 |" in streamed
    assert result.text.startswith("Our four shift teams") and "| NAS-CY-02 |" in result.text


def test_failed_turns_are_left_out_of_the_history() -> None:
    from core.drafting.conversations import Conversation, Turn

    conversation = Conversation().with_turn(Turn(role="user", content="Draft A"))
    conversation = conversation.with_turn(Turn(role="assistant", content="junk",
                                               status="failed", problems=("echo",)))
    conversation = conversation.with_turn(Turn(role="user", content="Draft B"))
    assert [m.content for m in conversation.history()] == ["Draft B"]
    fixed = conversation.replace_turn(1, conversation.turns[1].edited("A, by hand."))
    assert [m.content for m in fixed.history()] == ["Draft A", "A, by hand.", "Draft B"]


def test_copied_source_headers_and_reference_rows_are_removed() -> None:
    citations = cites(PASSAGES + ROWS)
    prompt = build_prompt("document", DraftSpec(request="Draft the executive summary"),
                          citations)
    raw = ("[1] RFP JL4410, L.3 Submission\n"
           "code: NAS-CY-02 | labor_category: Cyber Analyst II | hourly_rate_usd: 131.00\n"
           "Our analysts keep the floor covered on every shift, with a lead on call.")
    cleaned = clean_draft(raw, scaffolding=prompt.scaffolding, quoted=prompt.quoted,
                          headers=prompt.headers, rows=prompt.rows)
    assert cleaned.text == ("Our analysts keep the floor covered on every shift, with a lead "
                            "on call.")
    assert any("reference-table data" in r for r in cleaned.removed)


def test_known_section_names_become_the_heading() -> None:
    assert heading_for("Draft a 250-word executive summary for RFP X") == "Executive Summary"
    assert heading_for("Write the past performance section") == "Past Performance"


def test_the_gate_blocks_a_candidate_whose_drafts_are_worse(
        workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.adaptation import gate
    from core.drafting.evaluate import EvalPair

    figures = {"failed_rate": 0.0, "fact_exactness": None, "rouge_l": 0.2, "similarity": 0.5}
    reports = {
        "same": ({"echo_rate": 0.0, "citation_validity": 0.95, **figures},
                 {"echo_rate": 0.0, "citation_validity": 0.95, **figures}),
        "echo": ({"echo_rate": 0.0, "citation_validity": 0.95, **figures},
                 {"echo_rate": 0.5, "citation_validity": 0.95, **figures}),
        # what reaches the reader is put right either way: the model's own citations count
        "own cites": ({"echo_rate": 0.0, "citation_validity": 1.0,
                       "citation_validity_model_written": 0.9, **figures},
                      {"echo_rate": 0.0, "citation_validity": 1.0,
                       "citation_validity_model_written": 0.5, **figures}),
        "cites": ({"echo_rate": 0.0, "citation_validity": 0.95, **figures},
                  {"echo_rate": 0.0, "citation_validity": 0.6, **figures}),
    }
    pairs = [EvalPair(request="r", reference="x")]
    monkeypatch.setattr("core.drafting.evaluate.heldout_pairs", lambda *a, **k: pairs)
    for case, (before, after) in reports.items():
        monkeypatch.setattr("core.drafting.eval_job.evaluate_drafts",
                            lambda *a, b=before, c=after, **k: {"models": [b, c]})
        verdict = gate.compare_drafts(workspace, "deployed", "candidate")
        assert verdict["compared"] and verdict["worse"] == (case != "same"), case
    assert "citation validity 60%" in verdict["reason"]

    def no_pairs(*a: object, **k: object) -> list[EvalPair]:
        raise EvalError("no pairs")

    monkeypatch.setattr("core.drafting.evaluate.heldout_pairs", no_pairs)
    assert gate.compare_drafts(workspace, "a", "b") == {"compared": False, "worse": False,
                                                        "reason": "no pairs"}


def test_a_remote_endpoint_set_to_completion_gets_the_document_prompt() -> None:
    from core.endpoints import RemoteEndpoint
    from core.serving.client import RemoteModel

    chat = RemoteModel(RemoteEndpoint(name="a", url="http://127.0.0.1:1"))
    plain = RemoteModel(RemoteEndpoint(name="b", url="http://127.0.0.1:1",
                                       prompt_format="completion"))
    assert choose_format(chat)[0] == "chat" and choose_format(plain)[0] == "document"


def test_a_model_tuned_here_gets_its_training_prompt_shape() -> None:
    spec = DraftSpec(request="Write the section that responds to requirement 3.1", system=False)
    prompt = build_prompt("chat", spec, cites(PASSAGES))
    assert [m.role for m in prompt.messages] == ["user"]
    assert prompt.messages[0].content.startswith(DOCUMENT_HEADER)
    assert heading_for("responds to this RFP requirement 3.1: The contractor") == \
        "Response to 3.1"


def test_fragments_and_empty_headings_are_removed() -> None:
    raw = ("### 3.1.1\n\nOur team completes discovery in 56 days with two analysts on site.\n"
           "\n### 3.1.2\n\n### 3.1.3\n[1]. denaro\nreferencing source:\n[1].")
    cleaned = clean_draft(raw, scaffolding=())
    assert cleaned.text == ("### 3.1.1\n\nOur team completes discovery in 56 days with two "
                            "analysts on site.")


def test_files_outside_the_registry_are_judged_by_their_own_template(tmp_path: Path) -> None:
    import gguf

    def write(path: Path, template: str | None) -> Path:
        writer = gguf.GGUFWriter(str(path), "llama")
        if template:
            writer.add_chat_template(template)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        return path

    chat = write(tmp_path / "chat.gguf", "{% for m in messages %}{{ m.content }}{% endfor %}")
    plain = write(tmp_path / "plain.gguf", None)
    assert resolve_model(None, chat).kind == "instruct"
    assert resolve_model(None, plain).kind == "base" and resolve_model(None, plain).gguf == plain
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ x }}"}))
    assert resolve_model(None, folder).kind == "instruct"


def test_headings_left_empty_by_a_cut_sentence_are_removed() -> None:
    raw = ("Our team completes discovery in 56 days with two analysts on site.\n\n"
           "### 3.1.2\n\nThe contractor sh")
    cleaned = clean_draft(raw, scaffolding=())
    assert cleaned.text == "Our team completes discovery in 56 days with two analysts on site."


def test_generated_pairs_are_never_references(workspace: Workspace,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from core.datasets import DatasetStore
    from core.drafting.evaluate import heldout_pairs

    rows = [{"source": "synthetic", "instruction": "Describe our SOC.", "response": "A teacher's."},
            {"source": "rfp-proposal", "instruction": "Staff the SOC.", "response": "Ours."}]
    monkeypatch.setattr(DatasetStore, "latest",
                        lambda self, kind: SimpleNamespace(id="sft-v1", kind="sft"))
    monkeypatch.setattr(DatasetStore, "rows", lambda self, dataset, split="train": list(rows))
    assert [p.reference for p in heldout_pairs(workspace)] == ["Ours."]


def test_a_column_named_with_its_currency_keeps_one_pair_of_brackets() -> None:
    from core.drafting.facts import _label

    assert _label("hourly_rate_usd") == "Hourly rate (USD)"
    assert _label("Hourly rate (USD)") == "Hourly rate (USD)"  # a PDF table's own header


# -- figures the model got wrong ------------------------------------------------------------
def _settle(prose: str) -> tuple[str, list]:
    citations = cites(ROWS + PASSAGES)
    return settle_facts(prose, citations, citation_values(citations))


def test_a_wrong_rate_or_code_is_put_right_from_the_row_its_sentence_names() -> None:
    text, settled = _settle("Our Cyber Analyst II (NAS-CY-09) bills $150.00 per hour. The "
                            "Program Manager bills $212.00 per hour. NAS-PM-01's hourly rate "
                            "is $180.00.")
    assert text == ("Our Cyber Analyst II (NAS-CY-02) bills $131.00 per hour [1]. The "
                    "Program Manager bills $212.00 per hour. NAS-PM-01's hourly rate is "
                    "$212.00 [2].")
    # one marker per sentence, before its stop; a row is named by its code too
    assert [(s.written, s.now, s.corrected) for s in settled] == [
        ("NAS-CY-09", "NAS-CY-02", True), ("$150.00", "$131.00", True),
        ("$180.00", "$212.00", True)]
    assert "Cyber Analyst II, [1]" in settled[0].describe()


def test_a_figure_no_row_vouches_for_is_marked_unverified_in_the_text() -> None:
    text, settled = _settle("1. A live stream, with an hourly rate of $35 per hour;\n"
                            "2. Both the Program Manager and the Cyber Analyst II at $99.00.")
    # no row named, then two rows named: neither can say which value was meant
    assert "an hourly rate of [unverified: $35] per hour;" in text
    assert "Cyber Analyst II at [unverified: $99.00]." in text
    assert [s.corrected for s in settled] == [False, False]
    assert check_facts(text, citation_values(cites(ROWS))).unmatched  # still not a fact


def test_a_date_is_checked_in_any_of_its_spellings() -> None:
    shown = [p.text for p in PASSAGES]  # "due no later than March 14, 2027"
    assert check_facts("Due 03/14/2027, or 14 March 2027, or 2027-03-14.", shown).unmatched == ()
    assert check_facts("Due Mar. 14, 2027.", shown).exactness == 1.0
    text, settled = _settle("Proposals are due March 3, 2027, by noon.")
    assert text == "Proposals are due [unverified: March 3, 2027], by noon."
    assert [s.written for s in settled] == ["March 3, 2027"]


def test_only_a_value_that_can_only_be_the_rows_is_put_right() -> None:
    vehicle = Source(kind="reference_row", doc_id="vehicles", title="Contract vehicles",
                     ref_id="v1", text="vehicle: OASIS+ SB | expires: 2029-06-30",
                     fields={"vehicle": "OASIS+ SB", "expires": "2029-06-30"}, score=3.0)
    citations = cites(ROWS + [vehicle])
    prose = ("The Program Manager oversees a $3.5 million labor budget. "  # not a rate
             "The Program Manager's hourly rate comes to $63,851 a year. "  # nor this
             "The Cyber Analyst II's hourly rate is $95.00 per year. "  # nor this
             "The Program Manager reports on task order W91-26-R-0043 monthly. "  # another scheme
             "The Cyber Analyst II works in shifts at $95.00 a shift. "  # not about rates
             "Our OASIS+ SB contract runs until June 30, 2028.")  # a date: whose event?
    text, settled = settle_facts(prose, citations, citation_values(citations))
    assert [s.corrected for s in settled] == [False] * 6
    assert text == ("The Program Manager oversees a [unverified: $3.5] million labor budget. "
                    "The Program Manager's hourly rate comes to [unverified: $63,851] a year. "
                    "The Cyber Analyst II's hourly rate is [unverified: $95.00] per year. "
                    "The Program Manager reports on task order [unverified: W91-26-R-0043] "
                    "monthly. The Cyber Analyst II works in shifts at [unverified: $95.00] a "
                    "shift. Our OASIS+ SB contract runs until [unverified: June 30, 2028].")


def test_a_value_other_rows_share_names_no_row() -> None:
    rows = [r.model_copy(update={"fields": {**r.fields, "education": "Bachelor's degree"}})
            for r in ROWS]
    citations = cites(rows)
    text, settled = settle_facts(
        "Staff with a Bachelor's degree bill $150.00 per hour.\n"
        "code: NAS-CY-09; labor_category: Cyber Analyst II; education: Bachelor's degree",
        citations, citation_values(citations))
    assert text.startswith("Staff with a Bachelor's degree bill [unverified: $150.00] per hour.")
    assert text.endswith("code: NAS-CY-02; labor_category: Cyber Analyst II; education: "
                         "Bachelor's degree [1]")  # a copied row line: one sentence
    assert [s.corrected for s in settled] == [False, True]


def test_a_figure_given_to_another_row_is_marked() -> None:
    text, settled = _settle(
        "Our Program Manager (NAS-CY-02) leads the program.\n"
        "The Program Manager bills $131.00 per hour.\n"
        "Cyber Analysts (NAS-CY-02) report to the Program Manager.\n"
        "The Program Manager (NAS-PM-01) supervises the Cyber Analyst II (NAS-CY-02).\n"
        "Our analysts bill $131.00 per hour, less than the Program Manager.\n"
        "The Program Manager oversees a $131.00 million budget.")
    assert text.splitlines() == [
        "Our Program Manager ([unverified: NAS-CY-02]) leads the program.",
        "The Program Manager bills [unverified: $131.00] per hour.",
        # the code's own row, by a word of its name; two rows; the analysts; not a rate
        "Cyber Analysts (NAS-CY-02) report to the Program Manager.",
        "The Program Manager (NAS-PM-01) supervises the Cyber Analyst II (NAS-CY-02).",
        "Our analysts bill $131.00 per hour, less than the Program Manager.",
        "The Program Manager oversees a $131.00 million budget."]
    assert [s.describe() for s in settled] == [
        "NAS-CY-02 is Cyber Analyst II's, not Program Manager's",
        "$131.00 is Cyber Analyst II's, not Program Manager's"]
    assert not any(s.corrected for s in settled)
    assert fact_warnings(settled) == [
        "Marked [unverified: …] in the text, for you to check (the tables give the figure to "
        "another category): NAS-CY-02 is Cyber Analyst II's, not Program Manager's; $131.00 "
        "is Cyber Analyst II's, not Program Manager's."]


def test_a_misplaced_figure_counts_against_the_draft(fake_reply: None) -> None:
    model = FakeModel([GOOD + " Our Program Manager bills $131.00 per hour."])
    result = draft(model, "Describe our shift coverage and rates",
                   retriever=FakeRetriever(PASSAGES, ROWS))
    assert "Our Program Manager bills [unverified: $131.00] per hour" in result.text
    facts = result.checks["facts"]
    assert "$131.00" in facts["unverified"] and "$131.00" in facts["unmatched"]
    assert facts["model_exactness"] < 1 and facts["exactness"] < 1


class TableRetriever(FakeRetriever):
    """Looks rows up as the reference tables do: the rows a question names."""

    def lookup(self, question: str, k: int = 5) -> list[Source]:
        self.asked = [*getattr(self, "asked", []), question]
        return [r for r in self.rows if any(v.lower() in question.lower()
                                            for v in r.fields.values())][:k]


def test_a_row_the_model_was_not_shown_is_looked_up_to_put_its_figure_right(
        fake_reply: None) -> None:
    retriever = TableRetriever(PASSAGES, ROWS)
    model = FakeModel([GOOD + " Our Program Manager bills $199.00 per hour."])
    result = draft(model, "Describe our shift coverage", retriever=retriever)
    assert len(result.citations) == 3  # the two passages, then the row looked up
    assert result.citations[-1].fields["code"] == "NAS-PM-01"
    assert "Our Program Manager bills $212.00 per hour [3]." in result.text
    assert result.checks["facts"]["corrected"][0]["row"] == "Program Manager, [3]"
    assert retriever.asked[-1] == "Our Program Manager bills $199.00 per hour"  # its sentence


def test_a_figure_from_memory_that_the_row_bears_out_is_kept_and_cited(
        fake_reply: None) -> None:
    model = FakeModel([GOOD + " Our Program Manager bills $212.00 per hour. Our Program "
                              "Manager (NAS-CY-02) leads the floor."])
    result = draft(model, "Describe our shift coverage",
                   retriever=TableRetriever(PASSAGES, ROWS))
    assert "Our Program Manager bills $212.00 per hour [3]." in result.text  # confirmed
    # a code of another row beside this row's name: which is wrong? marked, not guessed
    assert "Our Program Manager ([unverified: NAS-CY-02]) leads the floor" in result.text
    facts = result.checks["facts"]
    assert facts["confirmed"] == ["$212.00"] and facts["corrected"] == []
    assert facts["unverified"] == ["NAS-CY-02"] and facts["model_exactness"] == 0.5
    assert [c.fields.get("code") for c in result.citations[2:]] == ["NAS-PM-01"]
    assert not any("Put right" in w for w in result.warnings)


def test_a_sentence_naming_the_longer_label_names_only_that_row() -> None:
    deputy = Source(kind="reference_row", doc_id="labor", title="Labor categories", ref_id="r3",
                    text="code: NAS-PM-02 | labor_category: Deputy Program Manager",
                    fields={"code": "NAS-PM-02", "labor_category": "Deputy Program Manager",
                            "hourly_rate_usd": "171.00"})
    rows = cites(ROWS + [deputy])
    assert [r.fields["code"] for r in rows_named("Our Deputy Program Manager, Ana.", rows)] == [
        "NAS-PM-02"]
    assert [r.fields["code"] for r in rows_named("Program Managers and NAS-CY-02", rows)] == [
        "NAS-CY-02", "NAS-PM-01"]


def test_a_figure_written_twice_is_reported_once(fake_reply: None) -> None:
    model = FakeModel([GOOD + " Travel is $35. Lodging is $35 as well."])
    result = draft(model, "Draft the staffing plan", retriever=FakeRetriever(PASSAGES, ROWS))
    assert result.text.count("[unverified: $35]") == 2
    assert result.checks["facts"]["unverified"] == ["$35"]
    assert any(w.endswith("shown): $35.") for w in result.warnings)
    pair = EvalPair(request="Draft the staffing plan", reference="Four shift teams.")
    assert score_model("fake", [result], [pair], [], None)[
        "fact_exactness_model_written"] == 0.0


def test_figures_that_match_a_source_are_left_alone() -> None:
    prose = ("Proposals are due March 14, 2027; our Program Manager (NAS-PM-01) is billed "
             "at $212.00 per hour and our analysts at $131.00.")
    assert _settle(prose) == (prose, [])


def test_the_draft_puts_figures_right_and_says_so(fake_reply: None) -> None:
    model = FakeModel([GOOD + " A Cyber Analyst II costs $150.00 per hour. Travel is $35."])
    result = draft(model, "Draft the Staffing Plan section with labour categories and rates",
                   retriever=FakeRetriever(PASSAGES, ROWS))
    assert "costs $131.00 per hour [1]." in result.text and "$150.00" not in result.text
    assert "Travel is [unverified: $35]." in result.text
    facts = result.checks["facts"]
    assert facts["corrected"] == [{"written": "$150.00", "now": "$131.00",
                                   "row": "Cyber Analyst II, [1]"}]
    assert facts["unverified"] == ["$35"] and facts["model_exactness"] == 0.0
    assert any("Put right from the reference tables" in w and "$150.00 → $131.00" in w
               for w in result.warnings)
    assert any("[unverified: …]" in w and "$35" in w for w in result.warnings)
    assert not any(w.startswith("Codes, rates or dates that match") for w in result.warnings)
    pair = EvalPair(request="Draft the staffing plan", reference="Four shift teams.")
    scores = score_model("fake", [result], [pair], [], None)
    assert (scores["facts_corrected"], scores["facts_unverified"]) == (1, 1)
    assert scores["fact_exactness_model_written"] == 0.0  # $150.00 and $35, both wrong
    assert scores["fact_exactness"] == 0.75  # the table's values and $131.00; $35 marked
    assert scores["per_pair"][0]["corrected_facts"] == ["$150.00"]


def test_the_cli_prints_the_draft_again_when_figures_were_put_right(
        fake_reply: None, capsys: pytest.CaptureFixture[str]) -> None:
    from core.cli.verbs_draft import _print_outcome

    model = FakeModel([GOOD + " A Cyber Analyst II costs $150.00 per hour."])
    _print_outcome(draft(model, "Draft the staffing plan with rates",
                         retriever=FakeRetriever(PASSAGES, ROWS)))
    err = capsys.readouterr().err  # what streamed said $150.00: the checked text follows
    assert "--- the draft as checked ---" in err and "costs $131.00 per hour [1]." in err
    assert "warning: Put right from the reference tables" in err


def test_rows_are_looked_up_for_a_shown_figure_given_to_another_row(fake_reply: None) -> None:
    retriever = TableRetriever(PASSAGES, ROWS)
    model = FakeModel([GOOD + " Our Program Manager (NAS-CY-02) leads the floor."])
    result = draft(model, "Describe our shift coverage under NAS-CY-02", retriever=retriever)
    shown = [c.fields.get("code") for c in result.citations]
    assert "NAS-PM-01" not in shown  # the Program Manager's row was not shown...
    assert "Our Program Manager ([unverified: NAS-CY-02]) leads the floor." in result.text
    assert any("another category): NAS-CY-02 is Cyber Analyst II's, not Program Manager's"
               in w for w in result.warnings)  # ... but looked up
    assert any("Program Manager" in q for q in retriever.asked)


def test_a_code_recited_under_another_name_is_marked() -> None:
    text, settled = _settle(
        "NAS-CY-02 Labor Category: Record Keeper\n"
        "NAS-PM-01 labor_category: Program Manager; hourly_rate_usd: 212.00\n"
        "NAS-CY-02 Labor category: Cyber Analyst, on every shift\n"
        "NAS-CY-02 Labor Category: Cyber Analyst III")
    assert text.splitlines() == [
        "[unverified: NAS-CY-02] Labor Category: Record Keeper",
        "NAS-PM-01 labor_category: Program Manager; hourly_rate_usd: 212.00",
        "NAS-CY-02 Labor category: Cyber Analyst, on every shift",  # its name, shortened
        "[unverified: NAS-CY-02] Labor Category: Cyber Analyst III"]
    assert [s.describe() for s in settled] == [
        "NAS-CY-02 is Cyber Analyst II's, not Record Keeper's",
        "NAS-CY-02 is Cyber Analyst II's, not Cyber Analyst III's"]


def test_a_looked_up_code_under_another_name_is_not_confirmed(fake_reply: None) -> None:
    model = FakeModel([GOOD + " Our lead is NAS-PM-01 (labor category: Burn Rate Forecast)."])
    result = draft(model, "Describe our shift coverage",
                   retriever=TableRetriever(PASSAGES, ROWS))
    assert "[unverified: NAS-PM-01] (labor category: Burn Rate Forecast)." in result.text
    assert "NAS-PM-01 is Program Manager's, not Burn Rate Forecast's" in " ".join(result.warnings)
    assert result.checks["facts"]["confirmed"] == []
    assert result.checks["facts"]["unverified"] == ["NAS-PM-01"]


def test_a_row_shown_as_a_passage_settles_figures_and_is_cited_as_that_passage(
        fake_reply: None) -> None:
    as_text = Source(doc_id="labor", title="Labor categories", ref_id="r1", text=ROWS[0].text)
    retriever = TableRetriever([*PASSAGES, as_text], ROWS)  # the row came back as a passage
    model = FakeModel([GOOD + " Our Cyber Analyst II bills $150.00 per hour. Our Program "
                       "Manager (NAS-CY-02) leads the floor."])
    result = draft(model, "Describe our shift coverage", retriever=retriever)
    number = next(c.number for c in result.citations if c.key == as_text.key)
    assert f"Our Cyber Analyst II bills $131.00 per hour [{number}]." in result.text
    assert "Our Program Manager ([unverified: NAS-CY-02]) leads the floor." in result.text
    assert len(result.citations) == 3  # no second citation of the same row


def test_a_stopped_draft_is_settled_without_looking_rows_up(fake_reply: None) -> None:
    retriever = TableRetriever(PASSAGES, ROWS)
    model = FakeModel([GOOD + " Our Program Manager bills $199.00 per hour."])
    result = draft(model, "Describe our shift coverage", retriever=retriever,
                   cancelled=lambda: True)
    assert "bills [unverified: $199.00] per hour" in result.text  # marked, not looked up
    assert retriever.asked == ["Describe our shift coverage"]  # the sources only


# A table and staffing prose of another company, written in its own habits: role titles
# that are not category names, codes listed together, acronyms, prices beside rates.
OTHER_TABLE = [("LC-101", "Project Manager", "165.00"), ("LC-203", "Systems Engineer", "118.50"),
               ("LC-204", "Senior Systems Engineer", "146.25"),
               ("LC-301", "Help Desk Technician I", "58.00"),
               ("LC-302", "Help Desk Technician II", "71.75"),
               ("LC-410", "Information Assurance Engineer", "139.00")]
OTHER_ROWS = [Source(kind="reference_row", doc_id="lcats", title="LCATs", ref_id=code,
                     text=f"LCAT Code: {code} | Labor Category: {name} | Hourly Rate: {rate}",
                     fields={"LCAT Code": code, "Labor Category": name, "Hourly Rate": rate},
                     score=1.0) for code, name, rate in OTHER_TABLE]
HUMAN_STAFFING = """\
Our Project Manager, Dana Whitfield (LC-101), is the single point of contact for the CO.
Lead Systems Engineer Omar Haddad (LC-204) directs the engineering team.
The engineering team pairs two systems engineers (LC-203) with one senior engineer (LC-204).
Help Desk Technicians (LC-301 and LC-302) staff the service desk from 0700 to 1900.
Three help desk technicians (one LC-302 and two LC-301) cover each shift.
LC-203: Mid-level Systems Engineer, three positions.
LC-410 – IA Engineer, responsible for the ATO package.
Labor Category: Systems Engineer; LCAT Code: LC-203; Hourly Rate: $118.50
The Year 1 hourly rate for LC-203 is $118.50, escalating 3% annually.
At the hourly rates above, the base-year price is $1,245,000.00.
The hourly rates total $1,245,000.00 for the base year.
| Systems Engineer | LC-203 | $118.50 |
Information Assurance Engineer (LC-410): maintains the System Security Plan.
Our senior engineer, LC-204, reviews every design.
Principal Project Manager (LC-101) Ruth Ames holds a PMP.
Our Sr. Systems Engineer (LC-204) signs off each release."""


def test_staffing_prose_written_by_people_is_left_alone() -> None:
    citations = cites(OTHER_ROWS)
    text, settled = settle_facts(HUMAN_STAFFING, citations, [
        *citation_values(citations), "the base-year price is $1,245,000.00"])
    assert [s.describe() for s in settled] == []
    assert text == HUMAN_STAFFING


def test_the_sample_proposals_are_left_alone() -> None:
    """Every code and rate in our own written proposals stands where the tables put it:
    none may be marked (shown only the tables, the hardest case)."""
    import csv

    from core.ingest.sample import sample_source

    documents = sample_source() / "documents"
    with (documents / "reference" / "labor-categories.csv").open(encoding="utf-8") as f:
        rows = [Source(kind="reference_row", doc_id="labor", title="Labor categories",
                       ref_id=row["code"], text=str(row), fields=row, score=1.0)
                for row in csv.DictReader(f)]
    proposals = sorted((documents / "proposals").iterdir())
    assert len(rows) > 20 and len(proposals) >= 3
    for proposal in proposals:
        text = proposal.read_text(encoding="utf-8")
        citations = cites([*rows, Source(doc_id="p", title="p", ref_id="p", text=text)])
        marked = [s.describe() for s in settle_facts(text, citations,
                                                     citation_values(citations))[1]]
        assert marked == [], proposal.name


def test_a_code_beside_another_name_and_a_price_called_a_rate_are_marked() -> None:
    citations = cites(OTHER_ROWS)
    shown = [*citation_values(citations), "the base-year price is $1,245,000.00"]
    text, settled = settle_facts(
        "LC-203 Senior Systems Engineer leads design reviews.\n"
        "Help Desk Technician II (LC-301) handles escalations.\n"
        "LC-410: Network Administrator\n"
        "The hourly rate for the team: $1,245,000.00.\n"
        "Our Senior Systems Engineer (LC-204) and two Systems Engineers (LC-203) lead.",
        citations, shown)
    assert text.splitlines() == [
        "[unverified: LC-203] Senior Systems Engineer leads design reviews.",
        "Help Desk Technician II ([unverified: LC-301]) handles escalations.",
        "[unverified: LC-410]: Network Administrator",
        "The hourly rate for the team: [unverified: $1,245,000.00].",
        "Our Senior Systems Engineer (LC-204) and two Systems Engineers (LC-203) lead."]
    assert [s.describe() for s in settled] == [
        "LC-203 is Systems Engineer's, not Senior Systems Engineer's",
        "LC-301 is Help Desk Technician I's, not Help Desk Technician II's",
        "LC-410 is Information Assurance Engineer's, not Network Administrator's",
        "$1,245,000.00 is not an hourly rate"]
    assert fact_warnings(settled)[-1].startswith(
        "Marked [unverified: …] in the text, for you to check (called an hourly rate")
