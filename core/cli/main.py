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


def _value_count(action: argparse.Action | None, word: str) -> int | None:
    """How many words after option ``word`` are its values (None: as many as follow)."""
    if action is None or "=" in word or action.nargs == 0:
        return 0
    if action.nargs is None:
        return 1
    return action.nargs if isinstance(action.nargs, int) else None


def positionals_first(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """``argv`` with the verb's options (and their values) moved after its positionals.

    argparse takes a verb's positionals in one go where the first of them stands, so
    ``documents show -w W ID`` leaves ID unparsed; read in this order, every positional may
    come before or after the options, as users type them."""
    words = list(argv)
    sub = next((a for a in getattr(parser, "_actions", ())
                if isinstance(a, argparse._SubParsersAction)), None)
    verb = next((w for w in words if not w.startswith("-")), None)
    if sub is None or verb not in sub.choices:
        return words
    at = words.index(verb)
    options = sub.choices[verb]._option_string_actions
    positional: list[str] = []
    optional: list[str] = []
    index = at + 1
    while index < len(words):
        word = words[index]
        index += 1
        if word == "--":
            positional.extend(words[index:])
            break
        if not word.startswith("-") or word == "-" or word[1:2].isdigit():
            positional.append(word)
            continue
        optional.append(word)
        count = _value_count(options.get(word.split("=", 1)[0]), word)
        while index < len(words) and (count is None or count > 0):
            if count is None and words[index].startswith("-"):
                break
            optional.append(words[index])
            index += 1
            count = None if count is None else count - 1
    return words[:at + 1] + positional + optional


def main(argv: Sequence[str] | None = None) -> int:
    """Run one CLI verb; returns the process exit code."""
    keep_private()
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    args, extra = parser.parse_known_args(words)
    if extra:  # a positional after an option: read it again in the order argparse likes
        args = parser.parse_args(positionals_first(parser, words))
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
