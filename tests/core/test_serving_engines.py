"""Which server program ``serve`` runs, and how: llama.cpp's llama-server when the setup built
it (several requests at once), else llama-cpp-python's; no server is started here."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from core.endpoints import ServingError
from core.serving.engines import (
    SERVER_BINARY_ENV,
    choose_engine,
    engine_environment,
    llama_server_binary,
    llama_server_command,
)


def _fake_binary(folder: Path) -> Path:
    path = folder / "llama-server"
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_auto_takes_llama_server_when_installed_else_the_binding(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SERVER_BINARY_ENV, str(tmp_path / "missing"))
    assert llama_server_binary() is None
    assert choose_engine("auto") == ("llama-cpp-python", None)
    with pytest.raises(ServingError, match="llama-server.*is not installed") as refused:
        choose_engine("llama-server")
    assert "build-llama-server.sh" in (refused.value.hint or "")
    binary = _fake_binary(tmp_path)
    monkeypatch.setenv(SERVER_BINARY_ENV, str(binary))
    assert choose_engine("auto") == ("llama-server", binary)
    assert choose_engine("llama-cpp-python") == ("llama-cpp-python", None)
    binary.chmod(0o644)  # not executable: not taken
    assert choose_engine("auto") == ("llama-cpp-python", None)


def test_the_llama_server_command_keeps_secrets_and_extras_off(tmp_path: Path) -> None:
    command = llama_server_command(
        tmp_path / "llama-server", model=tmp_path / "m.gguf", alias="release-3",
        host="0.0.0.0", port=8765, n_ctx=2048, parallel=4, threads=2, gpu=False,
        chat_template=tmp_path / "chat-template.jinja")
    joined = " ".join(command)
    assert "--api-key" not in joined  # the token goes in the environment
    for flag in ("--no-webui", "--no-slots", "--cont-batching", "--jinja", "--offline"):
        assert flag in command
    assert "--tools" not in command
    assert command[command.index("--ctx-size") + 1] == str(2048 * 4)  # n_ctx for each slot
    assert command[command.index("--parallel") + 1] == "4"
    assert command[command.index("--alias") + 1] == "release-3"
    assert command[command.index("--n-gpu-layers") + 1] == "0"
    assert command[command.index("--chat-template-file") + 1].endswith("chat-template.jinja")


def test_the_environment_carries_the_token_and_no_stray_settings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLAMA_ARG_PORT", "1")
    monkeypatch.setenv("LLAMA_ARG_MODEL", "/elsewhere.gguf")
    monkeypatch.setenv("MODEL", "/elsewhere.gguf")
    monkeypatch.setenv("API_KEY", "stray")
    monkeypatch.setenv("PATH_KEPT", "yes")
    monkeypatch.setenv("LLAMA_API_KEY", "stray-key")
    monkeypatch.setenv("LLAMA_CPP_LIB_PATH", "/kept")  # not a server setting
    env = engine_environment("llama-server", "t" * 20)
    assert env["LLAMA_API_KEY"] == "t" * 20 and env["PATH_KEPT"] == "yes"
    assert not {"LLAMA_ARG_PORT", "LLAMA_ARG_MODEL", "MODEL", "API_KEY"} & set(env)
    assert env["LLAMA_CPP_LIB_PATH"] == "/kept"
    env = engine_environment("llama-cpp-python", "u" * 20)
    assert env["API_KEY"] == "u" * 20 and "LLAMA_API_KEY" not in env
    assert "API_KEY" not in engine_environment("llama-cpp-python", "")


def test_an_admin_can_add_llama_server_options(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from core.serving.engines import EXTRA_ARGS_ENV

    monkeypatch.setenv(EXTRA_ARGS_ENV, "--flash-attn on --cache-type-k 'q8_0'")
    command = llama_server_command(
        tmp_path / "llama-server", model=tmp_path / "m.gguf", alias="m", host="127.0.0.1",
        port=1, n_ctx=512, parallel=1, threads=1, gpu=True,
        chat_template=tmp_path / "t.jinja")
    assert command[-4:] == ["--flash-attn", "on", "--cache-type-k", "q8_0"]
    assert command[command.index("--n-gpu-layers") + 1] == "all"


def test_bad_serve_options_get_one_clear_line(
        workspace, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    from core.cli.main import main

    for option, value, named in (("--parallel", "0", "parallel"), ("--n-ctx", "10", "n_ctx")):
        assert main(["serve", "-w", str(workspace.root), option, value]) != 0
        err = capsys.readouterr().err
        assert f"Invalid option: {named}" in err and "Traceback" not in err
