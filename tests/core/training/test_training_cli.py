"""`scriptorium train` and `scriptorium eval` drive the engine end to end."""

from __future__ import annotations

import json

import pytest
from training_fixtures import FAST, TINY_BASE

from core.cli.main import main
from core.workspace import Workspace
from core.workspace.registry import ModelRegistry

pytestmark = pytest.mark.timeout(300)


def test_train_then_eval_from_the_command_line(train_workspace: Workspace,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(train_workspace.root)
    sets = [arg for item in FAST for arg in ("--set", item)]
    code = main(["train", "-w", ws, "--recipe", "cpt", "--base", TINY_BASE,
                 "--dataset", "cpt-v1", "--preset", "quick", *sets, "--set", "max_steps=4",
                 "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    adapter = result["model_id"]
    assert ModelRegistry(train_workspace).get(adapter).config["recipe"] == "cpt"

    assert main(["eval", "-w", ws, adapter, "--json"]) == 0
    tuned = json.loads(capsys.readouterr().out)
    assert main(["eval", "-w", ws, TINY_BASE, "--dataset", "cpt-v1", "--json"]) == 0
    base = json.loads(capsys.readouterr().out)
    assert tuned["dataset"] == "cpt-v1" and tuned["split"] == "heldout"
    assert tuned["perplexity"] < base["perplexity"]
    assert tuned["perplexity"] == pytest.approx(result["metrics"]["heldout_ppl_after"], rel=1e-3)


def test_dry_run_prints_config_and_estimate(train_workspace: Workspace,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "-w", str(train_workspace.root), "--recipe", "sft",
                 "--base", TINY_BASE, "--dataset", "sft-v1", "--preset", "balanced",
                 "--set", "lora.r=4", "--dry-run", "--json"])
    assert code == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["config"]["lora"]["r"] == 4 and shown["config"]["epochs"] == 2
    assert shown["estimate"]["fits"] is True and shown["estimate"]["memory_bytes"] > 0


def test_config_errors_print_one_line_and_exit_non_zero(
        train_workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "-w", str(train_workspace.root), "--recipe", "dpo",
                 "--set", "batch_size=0", "--set", "beta=-1"])
    assert code != 0
    err = capsys.readouterr().err
    assert err.startswith("error: Invalid training config") and "beta" in err
    assert "batch_size" in err and "dataset" in err and "Traceback" not in err


def test_a_cpt_dataset_from_another_tokenizer_is_refused(train_workspace: Workspace,
                                                         train_run) -> None:  # noqa: ANN001
    from training_fixtures import commit_dataset

    from core.errors import ConfigError

    class Other:
        eos_token_id = 1

        def __len__(self) -> int:
            return 262_144

    other = commit_dataset(train_workspace, "cpt", [{"input_ids": [5] * 32}] * 4, [], Other())
    with pytest.raises(ConfigError, match="tokenized for another model"):
        train_run(train_workspace, "cpt", dataset=other)


def test_resume_reuses_the_runs_saved_config(train_workspace: Workspace,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from training_fixtures import fast_config

    from core.jobs.store import JobStore

    run = JobStore(train_workspace).create("train", fast_config("sft", "sft-v1", "lora.r=2")).id
    code = main(["train", "-w", str(train_workspace.root), "--resume", run, "--set",
                 "max_steps=99", "--dry-run", "--json"])
    assert code == 0
    config = json.loads(capsys.readouterr().out)["config"]
    assert config["recipe"] == "sft" and config["dataset"] == "sft-v1"
    assert config["lora"]["r"] == 2 and config["max_steps"] == 99 and config["resume"] == run
    code = main(["train", "-w", str(train_workspace.root), "--resume", run, "--recipe", "cpt"])
    assert code != 0 and "used the sft recipe" in capsys.readouterr().err
