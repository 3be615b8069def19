"""The ``scriptorium`` console script: a CLI verb, or the desktop app when there is none.

This module imports no Qt, so every CLI verb works on a machine without a display.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from core.privacy import keep_private
from core.system.doctor import has_display

NO_DISPLAY = (
    "No display found: the Scriptorium desktop app needs a graphical session.\n"
    "On this machine, try the headless walk-through: scriptorium demo\n"
    "or see every command: scriptorium --help"
)


def app_arguments(argv: Sequence[str]) -> argparse.Namespace | None:
    """Parse ``argv`` as app options, or None when it names a CLI verb or asks for help."""
    from core.cli.main import verb_names

    if any(arg in ("-h", "--help", "--version") for arg in argv):
        return None
    verbs = verb_names()
    if any(arg in verbs for arg in argv if not arg.startswith("-")):
        return None
    parser = argparse.ArgumentParser(prog="scriptorium", add_help=False)
    parser.add_argument("--workspace", "-w")
    parser.add_argument("--sample", action="store_true")
    args, unknown = parser.parse_known_args(list(argv))
    return None if unknown else args


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    keep_private()  # every file the app, the CLI and their jobs write is the user's alone
    app_args = app_arguments(argv)
    if app_args is None:
        from core.cli.main import main as cli_main

        raise SystemExit(cli_main(argv))
    if not has_display():
        print(NO_DISPLAY, file=sys.stderr)
        raise SystemExit(2)
    from desktop.app import run

    workspace = Path(app_args.workspace).expanduser() if app_args.workspace else None
    raise SystemExit(run(workspace=workspace, sample=app_args.sample))


if __name__ == "__main__":
    main()
