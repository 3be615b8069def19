"""Reference tables: exact lookups by code or name, and questions answered by the exact row."""

from __future__ import annotations

import pytest
from retrieval_corpus import build_corpus

from core.retrieval.index import update_index
from core.retrieval.reference import all_rows, ask_reference, lookup
from core.workspace import Workspace


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """One indexed corpus for the module (the tests only read it)."""
    folder = tmp_path_factory.mktemp("reference")
    workspace = Workspace.create(folder / "ws")
    build_corpus(workspace, folder / "corpus")
    update_index(workspace)
    return workspace


def test_rows_keep_their_fields(indexed: Workspace) -> None:
    rows = all_rows(indexed)
    assert len(rows) == 7  # 5 labour categories + 2 past-performance references
    senior = next(r for r in rows if r.fields.get("code") == "NAS-SE-03")
    assert senior.fields == {"code": "NAS-SE-03", "labor_category": "Senior Systems Engineer",
                             "hourly_rate_usd": "185.00",
                             "description": "Leads system architecture and integration"}
    assert senior.title == "Labor categories" and senior.row == 0


def test_exact_lookup_by_code_and_name(indexed: Workspace) -> None:
    by_code = lookup(indexed, "NAS-SE-03")
    assert [r.fields["code"] for r in by_code] == ["NAS-SE-03"]
    assert by_code[0].match == "exact" and by_code[0].matched_field == "code"
    by_name = lookup(indexed, "  senior SYSTEMS engineer ")
    assert by_name[0].fields["code"] == "NAS-SE-03" and by_name[0].match == "exact"
    # "Systems Engineer" is an exact name of one row and part of another: exact first
    both = lookup(indexed, "systems engineer")
    assert [(r.fields["code"], r.match) for r in both] == [
        ("NAS-SE-02", "exact"), ("NAS-SE-03", "contains")]
    assert lookup(indexed, "NAS-XX-99") == []
    assert lookup(indexed, "") == []


def test_the_question_returns_the_exact_row_first(indexed: Workspace) -> None:
    answers = ask_reference(indexed, "what is the code for a senior systems engineer?")
    assert answers[0].fields["code"] == "NAS-SE-03"
    assert answers[0].match == "mentioned" and answers[0].matched_field == "labor_category"
    plural = ask_reference(indexed, "Hourly rate for Senior Systems Engineers?")
    assert plural[0].fields["code"] == "NAS-SE-03"
    by_code = ask_reference(indexed, "Which category is NAS-DB-02?")
    assert by_code[0].fields["labor_category"] == "Database Administrator"


def test_question_without_a_name_falls_back_to_semantic_search(indexed: Workspace) -> None:
    answers = ask_reference(indexed, "who handles security incidents and threats?", k=3)
    assert answers and all(a.match == "semantic" for a in answers)
    assert answers[0].fields.get("code") == "NAS-CY-04"


def test_a_name_inside_a_longer_name_is_not_a_mention(indexed: Workspace) -> None:
    """"Systems Engineer" is one row's name and part of "Senior Systems Engineer": a request
    for the senior one names only it; a request naming both gets both."""
    senior = ask_reference(indexed, "Hourly rate of the Senior Systems Engineer?", k=2)
    assert [(a.fields["code"], a.match) for a in senior][:1] == [("NAS-SE-03", "mentioned")]
    assert all(a.match != "mentioned" for a in senior[1:])
    both = ask_reference(indexed, "Rates for a Senior Systems Engineer and a Systems Engineer",
                         k=2)
    assert sorted((a.fields["code"], a.match) for a in both) == [
        ("NAS-SE-02", "mentioned"), ("NAS-SE-03", "mentioned")]
