"""A fix that reinstalls Scriptorium's own packages comes as a command for a terminal,
fitted to how this copy was installed (issue 17)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from core.system import doctor, reinstall
from core.system.doctor import REBUILD_LLAMA, Check, report_lines


def test_a_checkout_reinstalls_with_pip_and_builds_llama_with_our_script() -> None:
    assert reinstall.installation() == "checkout"  # the tests run from the source tree
    assert reinstall.requirement("torch") == "torch==2.13.0"
    assert reinstall.requirement("llama_cpp_python") == "llama-cpp-python==0.3.36"  # no extras
    torch = reinstall.reinstall("torch", "PyTorch")
    assert torch.fix == "reinstall PyTorch (torch==2.13.0)"
    assert shlex.split(torch.command) == [sys.executable, "-m", "pip", "install",
                                          "--force-reinstall", "--no-deps", "torch==2.13.0"]
    llama = reinstall.rebuild_llama(REBUILD_LLAMA)
    assert llama.fix == REBUILD_LLAMA
    script = reinstall.CHECKOUT / "installers" / "build-llama-wheel.sh"
    assert script.is_file() and str(script) in llama.command


def test_a_bundle_install_runs_install_sh_again(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = tmp_path / "opt scriptorium"  # a space: the command quotes it
    (prefix / "scriptorium-0.1.0-20250101").mkdir(parents=True)
    (prefix / "bundle.json").write_text("{}")
    monkeypatch.setattr(reinstall, "CHECKOUT", tmp_path / "site-packages")
    monkeypatch.setattr(sys, "prefix", str(prefix / "scriptorium-0.1.0-20250101"))
    assert reinstall.installation() == "bundle"
    for how in (reinstall.reinstall("torch", "PyTorch"), reinstall.rebuild_llama("x")):
        assert "install.sh again" in how.fix
        assert shlex.split(how.command) == ["./install.sh", "--prefix", str(prefix)]


def test_elsewhere_pip_builds_llama_for_a_cpu_family(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reinstall, "CHECKOUT", tmp_path)
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))
    assert reinstall.installation() == "pip"
    words = shlex.split(reinstall.rebuild_llama(REBUILD_LLAMA).command)
    assert words[0] == "CMAKE_ARGS=-DGGML_NATIVE=OFF" and words[-1] == "llama-cpp-python==0.3.36"
    assert "--no-binary" in words and "--force-reinstall" in words


def test_a_missing_package_fails_with_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    version = doctor._version
    monkeypatch.setattr(doctor, "_version",
                        lambda name: None if name == "llama-cpp-python" else version(name))
    check = doctor.check_llama(generate=False)
    assert check.status == "fail" and check.fix == REBUILD_LLAMA
    assert "build-llama-wheel.sh" in check.command
    assert check.as_dict()["command"] == check.command  # in doctor --json too


def test_the_report_prints_the_command_under_the_fix() -> None:
    lines = report_lines([Check("PyTorch", "fail", "broken", "reinstall PyTorch", command="pip x")])
    assert [line.strip() for line in lines[1:3]] == ["fix: reinstall PyTorch", "run: pip x"]
