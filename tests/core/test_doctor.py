"""The installation check (``scriptorium doctor``): verdicts, fixes, and a broken llama.cpp."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import core.fsutil
from core.cli.main import main
from core.system import doctor
from core.system.doctor import REBUILD_LLAMA, Check, report_lines, run_checks, worst

NAMES = ["Python", "Scriptorium", "PyTorch", "llama.cpp", "llama.cpp server", "Base model",
         "Embedding model", "Disk (workspaces)", "Disk (model cache)", "Memory", "Document readers",
         "Desktop app"]


def test_every_check_runs_and_this_machine_is_ready(tmp_path: Path) -> None:
    checks = run_checks(generate=False, workspaces_dir=tmp_path / "ws")
    assert [c.name for c in checks] == NAMES
    by_name = {c.name: c for c in checks}
    assert by_name["Python"].status == "ok"
    assert by_name["PyTorch"].status == "ok" and "2.13.0" in by_name["PyTorch"].detail
    assert by_name["llama.cpp"].status == "ok" and "0.3.36" in by_name["llama.cpp"].detail
    assert by_name["llama.cpp server"].status == "ok"  # the setup builds it
    assert by_name["Embedding model"].status == "ok"
    assert by_name["Desktop app"].status == "ok"  # QT_QPA_PLATFORM=offscreen counts
    assert worst(checks) in ("ok", "warn")
    assert all(c.fix for c in checks if c.status != "ok")


def test_test_generation_runs_on_the_bundled_model(base_workspace) -> None:  # noqa: ANN001
    # base_workspace assembled the bundled GGUF in the test cache.
    check = doctor.check_llama(generate=True)
    assert check.status == "ok", check
    assert "test generation ok" in check.detail


def test_a_llama_build_for_another_cpu_is_caught(base_workspace, monkeypatch) -> None:  # noqa: ANN001
    # The child dies the way a wheel built with -march=native does on a CPU without AMX.
    monkeypatch.setattr(doctor, "_SMOKE", "import os, signal; os.kill(os.getpid(), signal.SIGILL)")
    check = doctor.check_llama(generate=True)
    assert check.status == "fail"
    assert "Illegal instruction" in check.detail and check.fix == REBUILD_LLAMA


def test_a_damaged_model_file_fails_the_test_generation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    ok, problem = doctor._smoke_llama(bad)
    assert not ok and "test generation failed" in problem


def test_low_disk_fails_with_a_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core.fsutil, "free_bytes", lambda path: 1 << 30)
    [check] = doctor.check_disk({"workspaces": tmp_path / "not" / "yet"})
    assert check.status == "fail" and "1.0 GiB free" in check.detail
    assert "free at least 3 GiB" in check.fix
    monkeypatch.setattr(core.fsutil, "free_bytes", lambda path: 10 << 30)
    [check] = doctor.check_disk({"workspaces": tmp_path})
    assert check.status == "warn"


def test_no_display_is_a_warning_that_points_to_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    check = doctor.check_desktop()
    assert check.status == "warn" and "scriptorium demo" in check.fix


def test_report_says_ready_or_what_to_fix() -> None:
    lines = report_lines([Check("Python", "ok", "3.11"), Check("Disk", "fail", "1 GiB", "free")])
    assert lines[0].startswith("ok") and lines[1].startswith("FAIL")
    assert lines[2].strip() == "fix: free"
    assert lines[-1].startswith("Not ready")
    assert report_lines([Check("Python", "ok", "3.11")])[-1] == "Ready."


def test_cli_doctor(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["doctor", "--quick", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] in ("ok", "warn")
    assert [c["name"] for c in report["checks"]] == NAMES
    monkeypatch.setattr(core.fsutil, "free_bytes", lambda path: 1 << 20)
    assert main(["doctor", "--quick"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  Disk (workspaces)" in out and out.rstrip().endswith(
        "Not ready: fix the failed checks above.")


def test_qt_that_cannot_open_a_window_fails_with_the_reason(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # What a workstation without Qt's xcb libraries sees: the platform plugin does not load.
    monkeypatch.setenv("QT_QPA_PLATFORM", "no-such-platform")
    check = doctor.check_desktop()
    assert check.status == "fail"
    assert "no-such-platform" in check.detail and "install guide" in check.fix


@pytest.mark.parametrize(("nccl", "status"), [(True, "ok"), (False, "warn")])
def test_several_gpus_are_reported_with_how_training_uses_them(
        monkeypatch: pytest.MonkeyPatch, nccl: bool, status: str) -> None:
    import torch
    import torch.distributed as dist

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: f"GPU{i}")
    monkeypatch.setattr(dist, "is_nccl_available", lambda: nccl)
    check = doctor.check_torch()
    assert check.status == status and "GPU0, GPU1" in check.detail
    assert ("one process per GPU" in check.detail) is nccl


def test_doctor_checks_a_workspace_audit_log(workspace) -> None:  # noqa: ANN001
    from core.system.doctor import check_audit

    workspace.audit.record("test.event")
    assert check_audit(workspace.root).status == "ok"
    lines = workspace.audit.path.read_text().splitlines()
    workspace.audit.path.write_text("\n".join(lines[:-1]) + "\n")
    failed = check_audit(workspace.root)
    assert failed.status == "fail" and "cut short" in failed.detail and failed.fix


def test_a_missing_or_broken_llama_server_is_reported_with_its_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.serving.engines import SERVER_BINARY_ENV

    monkeypatch.setenv(SERVER_BINARY_ENV, str(tmp_path / "llama-server"))
    check = doctor.check_llama_server()
    assert check.status == "warn" and "one request at a time" in check.detail
    assert "build-llama-server.sh" in check.command and "several analysts" in check.fix
    broken = tmp_path / "llama-server"
    broken.write_text("#!/bin/sh\necho 'Illegal instruction' >&2\nexit 132\n")
    broken.chmod(0o755)
    check = doctor.check_llama_server()
    assert check.status == "fail" and "exit code 132" in check.detail
    assert "Illegal instruction" in check.detail
