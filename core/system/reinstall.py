"""How to reinstall a package Scriptorium runs on: a sentence and a terminal command.

Such a fix cannot be made from inside the running app: it replaces the app's own packages
(torch, llama-cpp-python, PySide6, the model packages). The doctor shows the command for
the reader to run in a terminal with Scriptorium closed. The command depends on how
Scriptorium was installed: from an offline bundle (its ``install.sh`` again, into the same
folder), from a source checkout (pip in that environment; llama.cpp from our own build
script), or with pip into some other environment.
"""

from __future__ import annotations

import importlib.metadata
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Installation = Literal["bundle", "checkout", "pip"]

CHECKOUT = Path(__file__).resolve().parents[2]  # the source tree, when run from one
LLAMA_FLAGS = "-DGGML_NATIVE=OFF"  # a build for a CPU family, not for this exact CPU
BUNDLE_FIX = ("reinstall Scriptorium from its bundle: run install.sh again in the bundle's "
              "folder (your workspaces and settings are kept)")


@dataclass(frozen=True)
class Reinstall:
    fix: str      # what to do, in a sentence
    command: str  # the command that does it, for a terminal


def installation() -> Installation:
    """How this copy of Scriptorium was installed."""
    if (CHECKOUT / "installers" / "dev-setup.sh").is_file():
        return "checkout"
    if (bundle_prefix() / "bundle.json").is_file():  # install.sh copies it there
        return "bundle"
    return "pip"


def bundle_prefix() -> Path:
    """The folder install.sh installed into: its environment is ``PREFIX/scriptorium-…``."""
    return Path(sys.prefix).resolve().parent


def requirement(distribution: str) -> str:
    """Scriptorium's own pin on ``distribution`` ("torch==2.13.0"), without extras."""
    wanted = _canonical(distribution)
    try:
        requires = importlib.metadata.requires("scriptorium") or []
    except importlib.metadata.PackageNotFoundError:
        requires = []
    for line in requires:
        spec = line.split(";")[0].strip()
        name = re.split(r"[\[<>=!~ ]", spec, maxsplit=1)[0]
        if _canonical(name) == wanted:
            return re.sub(r"\[[^\]]*\]", "", spec).replace(" ", "")
    return distribution


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip(*args: str) -> str:
    return shlex.join([sys.executable, "-m", "pip", "install", *args])


def _bundle() -> Reinstall:
    return Reinstall(BUNDLE_FIX, shlex.join(["./install.sh", "--prefix", str(bundle_prefix())]))


def reinstall(distribution: str, what: str) -> Reinstall:
    """Reinstall ``distribution`` (``what`` names it for the reader: "PyTorch")."""
    if installation() == "bundle":
        return _bundle()
    pinned = requirement(distribution)
    return Reinstall(f"reinstall {what} ({pinned})",
                     _pip("--force-reinstall", "--no-deps", pinned))


def rebuild_llama(fix: str) -> Reinstall:
    """Rebuild llama-cpp-python for this CPU's family (not -march=native) and reinstall it."""
    kind = installation()
    if kind == "bundle":
        return _bundle()
    pinned = requirement("llama-cpp-python")
    if kind == "checkout":
        script = shlex.join(["bash", str(CHECKOUT / "installers" / "build-llama-wheel.sh"),
                             sys.executable])
        return Reinstall(fix, _pip("--force-reinstall", "--no-deps") + f' "$({script})"')
    return Reinstall(fix, f"CMAKE_ARGS={shlex.quote(LLAMA_FLAGS)} " + _pip(
        "--force-reinstall", "--no-deps", "--no-cache-dir", "--no-binary", "llama-cpp-python",
        pinned))


def rebuild_llama_server() -> Reinstall:
    """Build llama.cpp's server (``llama-server``) beside this Python."""
    kind = installation()
    if kind == "bundle":
        return _bundle()
    destination = Path(sys.executable).parent / "llama-server"
    script = CHECKOUT / "installers" / "build-llama-server.sh"
    fix = ("build llama.cpp's server (about 11 minutes on 2 cores) so that shared serving "
           "answers several analysts at once")
    if kind == "checkout":
        return Reinstall(fix, shlex.join(["bash", str(script), sys.executable,
                                          str(destination)]))
    return Reinstall(fix + " with installers/build-llama-server.sh from Scriptorium's "
                     "source, into " + str(destination), "")
