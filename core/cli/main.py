"""The ``scriptorium`` command line: one verb per capability.

Errors the engine raises on purpose print one line and exit non-zero; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from core import __version__
from core.cli import (
    verbs_adapt,
    verbs_cluster,
    verbs_dataset,
    verbs_demo,
    verbs_doctor,
    verbs_draft,
    verbs_import,
    verbs_jobs,
    verbs_merge_export,
    verbs_models,
    verbs_retrieval,
    verbs_train,
    verbs_workspace,
)
from core.errors import DiskSpaceError, ScriptoriumError, disk_full, is_disk_full
from core.privacy import keep_private

VERB_MODULES = (
    verbs_workspace, verbs_models, verbs_jobs, verbs_demo, verbs_doctor, verbs_import, verbs_train,
    verbs_retrieval, verbs_dataset,
    verbs_merge_export,
    verbs_draft,
    verbs_adapt,
    verbs_cluster,
)


def build_parser() -> argparse.ArgumentParser:
    return _parser_and_verbs()[0]


def verb_names() -> frozenset[str]:
    """Every CLI verb (the launcher tells them from the app's own options)."""
    return frozenset(_parser_and_verbs()[1].choices)


def _parser_and_verbs() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    parser = argparse.ArgumentParser(
        prog="scriptorium",
        description="Offline workbench for adapting small language models to your documents. "
        "With no verb, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"scriptorium {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for module in VERB_MODULES:
        module.register(sub)
    return parser, sub


def main(argv: Sequence[str] | None = None) -> int:
    """Run one CLI verb; returns the process exit code."""
    keep_private()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except ScriptoriumError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`scriptorium draft … | head`)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's exit flush must not fail again
        return 0  # what was asked for was read, as far as the reader wanted it
    except OSError as error:
        if not is_disk_full(error):
            raise
        print(f"error: {disk_full(error)}", file=sys.stderr)
        return DiskSpaceError.exit_code
