"""The ``dataset`` and ``datasets`` verbs end to end (the build runs as a real child job)."""

from __future__ import annotations

import json

import pytest
from dataset_fixtures import TINY

from core.cli.main import main
from core.datasets import DatasetStore
from core.jobs.kinds import KINDS, validate_config
from core.workspace import Workspace

pytestmark = pytest.mark.timeout(180)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_build_list_show_remove(corpus_workspace: Workspace,
                                capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(corpus_workspace.root)
    result = run_json(capsys, "dataset", "-w", ws, "cpt", "--model", TINY,
                      "--set", "seq_len=32", "--set", "heldout_fraction=0.2", "--json")
    assert result["dataset_id"] == "cpt-v1" and result["reused"] is False
    assert result["summary"]["seq_len"] == 32 and result["summary"]["heldout_documents"] == 2
    again = run_json(capsys, "dataset", "-w", ws, "cpt", "--model", TINY,
                     "--set", "seq_len=32", "--set", "heldout_fraction=0.2", "--json")
    assert again["dataset_id"] == "cpt-v1" and again["reused"] is True
    listed = run_json(capsys, "datasets", "-w", ws, "--json")
    assert [d["id"] for d in listed] == ["cpt-v1"]
    shown = run_json(capsys, "datasets", "-w", ws, "show", "cpt-v1", "--json")
    assert shown["config"]["seq_len"] == 32 and len(shown["documents"]) == 12
    assert main(["datasets", "-w", ws]) == 0
    assert "cpt-v1" in capsys.readouterr().out
    assert main(["datasets", "-w", ws, "remove", "cpt-v1"]) == 0
    assert DatasetStore(corpus_workspace).list() == []


def test_user_pairs_and_errors(ds_workspace: Workspace,
                               capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(ds_workspace.root)
    added = run_json(capsys, "datasets", "-w", ws, "add-pair", "--instruction", "Q?",
                     "--response", "A.", "--json")
    assert run_json(capsys, "datasets", "-w", ws, "pairs", "--json")[0]["id"] == added["id"]
    assert main(["dataset", "-w", ws, "cpt", "--set", "seq_len=0", "--set", "bogus=1"]) == 1
    err = capsys.readouterr().err
    assert "seq_len" in err and "bogus" in err and "Traceback" not in err
    assert main(["datasets", "-w", ws, "show", "sft-v9"]) == 1
    assert "No dataset 'sft-v9'" in capsys.readouterr().err


def test_job_kind_is_registered() -> None:
    assert "build-dataset" in KINDS
    config = validate_config("build-dataset", {"kind": "sft", "document_kinds": "rfp,proposal"})
    assert config.document_kinds == ("rfp", "proposal") and config.model == "gemma3-270m"
