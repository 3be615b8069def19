"""The command line: verbs in-process (``main([...])``) and the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli.main import main
from core.settings import load_settings, settings_path
from core.workspace import Workspace

pytestmark = pytest.mark.timeout(120)

SCRIPT = Path(sys.executable).parent / "scriptorium"


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    code, out, err = cli(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)  # stdout holds nothing but the JSON document


def assert_one_error_line(code: int, err: str, expected: str) -> None:
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    assert "Traceback" not in err


# -- in-process ------------------------------------------------------------------------

def test_init_without_base_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "proposals"
    result = cli_json(capsys, "init", str(target), "--no-base-model")
    assert result == {"workspace": str(target), "name": "proposals"}
    assert Workspace.open(target).name == "proposals"
    assert load_settings().recent_workspaces[0] == str(target)

    code, out, _ = cli(capsys, "init", "-w", str(tmp_path / "b"), "--name", "Team B",
                       "--no-base-model")
    assert code == 0 and out.startswith("created workspace 'Team B' at ")
    assert Workspace.open(tmp_path / "b").name == "Team B"


def test_models_of_a_new_workspace(workspace: Workspace,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_json(capsys, "models", "-w", str(workspace.root)) == []
    code, out, _ = cli(capsys, "models", "-w", str(workspace.root))
    assert code == 0 and "no models yet" in out


def test_the_workspace_comes_from_the_environment_or_the_current_folder(
    workspace: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCRIPTORIUM_WORKSPACE", str(workspace.root))
    assert cli_json(capsys, "models") == []
    monkeypatch.delenv("SCRIPTORIUM_WORKSPACE")
    monkeypatch.chdir(workspace.root)
    assert cli_json(capsys, "jobs") == []
    monkeypatch.chdir(workspace.root.parent)
    code, _, err = cli(capsys, "models")
    assert_one_error_line(code, err, "No workspace given")


def test_run_list_and_show_a_selftest_job(workspace: Workspace,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(workspace.root)
    status = cli_json(capsys, "jobs", "run", "selftest", "--set", "steps=3",
                      "--set", "delay_s=0", "-w", ws)
    assert status["state"] == "succeeded" and status["result"] == {"counted": 3}
    assert status["kind"] == "selftest"

    listed = cli_json(capsys, "jobs", "-w", ws)
    assert [j["id"] for j in listed] == [status["id"]]
    assert listed[0]["state"] == "succeeded"

    shown = cli_json(capsys, "jobs", "show", status["id"], "-w", ws)
    assert shown["id"] == status["id"] and shown["state"] == "succeeded"
    assert shown["progress"]["step"] == 3 and shown["progress"]["total"] == 3
    assert shown["progress"]["metrics"] == {"score": 3.0}

    code, out, _ = cli(capsys, "jobs", "-w", ws)
    assert code == 0 and status["id"] in out and "100%" in out and "succeeded" in out
    code, out, _ = cli(capsys, "jobs", "logs", status["id"], "-w", ws)
    assert code == 0


def test_run_in_the_terminal_shows_progress(workspace: Workspace,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "jobs", "run", "selftest", "--set", "steps=4",
                         "--set", "delay_s=0", "-w", str(workspace.root))
    assert code == 0
    assert "started (Ctrl-C cancels)" in err and "100%" in err and "score=4" in err
    assert out.strip().endswith("succeeded: {'counted': 4}")


def test_a_detached_job_can_be_cancelled(workspace: Workspace,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(workspace.root)
    started = cli_json(capsys, "jobs", "run", "selftest", "--detach", "--set", "steps=2000",
                       "--set", "delay_s=0.05", "-w", ws)
    final = cli_json(capsys, "jobs", "cancel", started["job"], "-w", ws)
    assert final["id"] == started["job"] and final["state"] == "cancelled"


def test_job_kinds(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    kinds = cli_json(capsys, "jobs", "kinds", "-w", str(workspace.root))
    assert {"selftest", "import-base-model", "import-documents"} <= set(kinds)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["models", "-w", "/nonexistent"], "No workspace at /nonexistent"),
        (["models", "show", "nope"], "No model 'nope'"),
        (["models", "show"], "needs a model id"),
        (["models", "import-base", "garbage.gguf"], "garbage.gguf does not exist"),
        (["jobs", "show", "nope"], "No job 'nope'"),
        (["jobs", "run"], "needs a job id or kind"),
        (["jobs", "run", "selftest", "--set", "steps"], "is not KEY=VALUE"),
        (["jobs", "run", "selftest", "--set", "steps=0", "--set", "colour=red"],
         "Invalid selftest config: steps"),
        (["jobs", "run", "selftest", "--set", "fail_at_step=1", "--set", "delay_s=0", "--json"],
         "Self-test failed on purpose at step 1."),
        (["jobs", "run", "train-the-world"], "Unknown job kind"),
    ],
    ids=lambda v: "_".join(v) if isinstance(v, list) else None,
)
def test_errors_print_one_line_and_exit_non_zero(
    argv: list[str], expected: str, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    if "-w" not in argv:
        argv = [*argv, "-w", str(workspace.root)]
    code, out, err = cli(capsys, *argv)
    assert_one_error_line(code, err, expected)
    assert code == 1 and out == ""


def test_init_refuses_an_existing_workspace(workspace: Workspace,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "init", str(workspace.root), "--no-base-model")
    assert_one_error_line(code, err, "already a workspace")


def test_settings_persist_and_bad_values_fail_cleanly(
    private_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert settings_path() == private_config / "settings.json"
    data = cli_json(capsys, "settings", "threads=2", "device=cpu")
    assert data["threads"] == 2 and data["device"] == "cpu"
    assert load_settings().threads == 2
    assert json.loads(settings_path().read_text())["threads"] == 2

    code, _, err = cli(capsys, "settings", "threads=abc")
    assert_one_error_line(code, err, "Invalid setting")
    code, _, err = cli(capsys, "settings", "threads=-1")
    assert_one_error_line(code, err, "Invalid setting")
    code, _, err = cli(capsys, "settings", "colour=blue")
    assert_one_error_line(code, err, "known key")
    assert "threads" in err and "recent_workspaces" not in err
    assert load_settings().threads == 2 and load_settings().device == "cpu"

    code, out, _ = cli(capsys, "settings")
    assert code == 0 and "threads: 2" in out


def test_the_threads_setting_reaches_the_job(workspace: Workspace,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from core.cli.common import runner_for

    assert runner_for(workspace).threads is None
    cli_json(capsys, "settings", "threads=3")
    assert runner_for(workspace).threads == 3


# -- the installed console script ----------------------------------------------------------

def run_script(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *argv], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ))


needs_script = pytest.mark.skipif(not SCRIPT.exists(), reason="console script not installed")


@needs_script
def test_console_script_init_and_run_a_job(tmp_path: Path) -> None:
    target = tmp_path / "ws"
    created = run_script("init", str(target), "--no-base-model", "--json")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["workspace"] == str(target)

    ran = run_script("jobs", "run", "selftest", "--set", "steps=3", "--set", "delay_s=0",
                     "--json", "-w", str(target))
    assert ran.returncode == 0, ran.stderr
    status = json.loads(ran.stdout)
    assert status["state"] == "succeeded" and status["result"] == {"counted": 3}

    listed = run_script("jobs", "--json", "-w", str(target))
    assert [j["id"] for j in json.loads(listed.stdout)] == [status["id"]]


@needs_script
@pytest.mark.parametrize(
    ("argv", "expected"),
    [(["models", "-w", "/nonexistent"], "No workspace at /nonexistent"),
     (["settings", "threads=abc"], "Invalid setting")],
)
def test_console_script_errors_are_one_line(argv: list[str], expected: str) -> None:
    result = run_script(*argv)
    assert_one_error_line(result.returncode, result.stderr, expected)
    assert result.returncode == 1 and result.stdout == ""


@needs_script
def test_console_script_version() -> None:
    result = run_script("--version")
    assert result.returncode == 0 and result.stdout.strip() == "scriptorium 0.1.0"
