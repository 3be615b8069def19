"""CLI verbs of drafting: draft (grounded, streamed), propose (RFP → DOCX); serve and
endpoints (shared serving) are in ``verbs_serve``.

``draft`` and ``propose`` generate with a local GGUF model or, with ``--endpoint``, through
a remote OpenAI-compatible server (retrieval and citations stay local).

The generation modules (llama.cpp, LanceDB) are imported inside the handlers so that
``scriptorium --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli.common import add_common, open_workspace
from core.cli.output import print_json


def _add_generation(parser: argparse.ArgumentParser, max_tokens: int) -> None:
    parser.add_argument("--model", "-m", metavar="ID",
                        help="GGUF model id or .gguf path (default: the newest GGUF)")
    parser.add_argument("--max-tokens", type=int, default=max_tokens)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--top-p", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--n-ctx", type=int, default=2048, help="context window in tokens")
    parser.add_argument("--no-retrieval", action="store_true",
                        help="draft without the knowledge base")
    parser.add_argument("--endpoint", metavar="URL|NAME",
                        help="generate on a remote server (http://host:port or the name of "
                        "a configured endpoint) instead of a local model")
    parser.add_argument("--token", help="the remote server's token (default: "
                        "$SCRIPTORIUM_ENDPOINT_TOKEN, or the configured endpoint's)")


def register(sub: argparse._SubParsersAction) -> None:
    draft = sub.add_parser(
        "draft", help="draft text with a local model or a remote server, citing the knowledge base")
    add_common(draft)
    draft.add_argument("prompt", help="what to write")
    _add_generation(draft, 512)
    draft.set_defaults(handler=cmd_draft)

    propose = sub.add_parser("propose", help="draft a whole proposal for an RFP and export it")
    add_common(propose)
    propose.add_argument("--rfp", required=True, metavar="DOC_ID", help="the RFP document id")
    propose.add_argument("--out", required=True, metavar="FILE.docx", help="DOCX to write")
    propose.add_argument("--markdown", metavar="FILE.md", help="also write Markdown")
    propose.add_argument("--section", action="append", metavar="KEY",
                         help="draft only these sections (repeatable; default: all)")
    _add_generation(propose, 384)
    propose.set_defaults(handler=cmd_propose)

    from core.cli import verbs_serve

    verbs_serve.register(sub)


def _settings(args: argparse.Namespace):  # noqa: ANN202
    from core.generation.model import GenerationSettings

    return GenerationSettings(max_tokens=args.max_tokens, temperature=args.temperature,
                              top_p=args.top_p, seed=args.seed)


def _retriever(workspace, args: argparse.Namespace):  # noqa: ANN001, ANN202
    if args.no_retrieval:
        return None
    from core.drafting.sources import WorkspaceRetriever

    return WorkspaceRetriever(workspace)


class _Models:
    """The model a verb generates with: local (loaded in a cache it closes) or remote."""

    def __init__(self, workspace, args: argparse.Namespace) -> None:  # noqa: ANN001
        from core.generation.runtime import ModelCache

        self.workspace = workspace
        self.args = args
        self.cache = None if args.endpoint else ModelCache(n_ctx=args.n_ctx)

    def get(self):  # noqa: ANN201
        from core.generation.runtime import default_model_id

        if self.cache is None:
            from core.cli.verbs_serve import remote_model

            if self.args.model:
                from core.errors import ConfigError

                raise ConfigError("Give --model or --endpoint, not both.")
            return remote_model(self.args.endpoint, self.args.token, self.args.n_ctx)
        return self.cache.get(self.workspace,
                              self.args.model or default_model_id(self.workspace))

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()


def cmd_draft(args: argparse.Namespace) -> int:
    from core.drafting.draft import SourcesFound, stream_draft
    from core.generation.model import Finished, Token

    workspace = open_workspace(args)
    cache = _Models(workspace, args)
    try:
        model = cache.get()
        events = stream_draft(model, args.prompt, retriever=_retriever(workspace, args),
                              settings=_settings(args))
        result = None
        try:
            for event in events:
                if isinstance(event, SourcesFound):
                    for warning in event.warnings:
                        print(f"warning: {warning}", file=sys.stderr)
                elif isinstance(event, Token) and not args.json:
                    sys.stdout.write(event.text)
                    sys.stdout.flush()
                elif isinstance(event, Finished):
                    result = event.extra["draft"]
        except KeyboardInterrupt:
            events.close()
            print("\nstopped", file=sys.stderr)
            return 130
    finally:
        cache.close()
    assert result is not None
    if args.json:
        print_json(result.model_dump(mode="json"))
        return 0
    print()
    if result.citations:
        print("\nSources:")
        for citation in result.citations:
            mark = "*" if citation.number in result.cited else " "
            print(f"{mark}[{citation.number}] {citation.where()} ({citation.doc_id})")
    stats = result.stats
    print(f"\n{stats['completion_tokens']} tokens, {stats['tokens_per_s']:.1f} tok/s, "
          f"first token after {stats['time_to_first_token_s'] or 0:.2f} s", file=sys.stderr)
    return 0


def cmd_propose(args: argparse.Namespace) -> int:
    from core.drafting.export import export_proposal
    from core.drafting.proposal import ProposalStore, draft_section, new_proposal

    workspace = open_workspace(args)
    proposal = new_proposal(workspace, args.rfp)
    store = ProposalStore(workspace)
    store.save(proposal)
    keys = args.section or [s.key for s in proposal.sections]
    unknown = sorted(set(keys) - {s.key for s in proposal.sections})
    if unknown:
        from core.errors import ConfigError

        raise ConfigError(f"Unknown section(s) {', '.join(unknown)} (sections: "
                          f"{', '.join(s.key for s in proposal.sections)}).")
    if not args.json:
        print(f"proposal {proposal.id}: {len(proposal.requirements)} requirements, "
              f"{len(proposal.sections)} sections", file=sys.stderr)
    cache = _Models(workspace, args)
    try:
        model = cache.get()
        retriever = _retriever(workspace, args)
        for number, key in enumerate(keys, 1):
            if not args.json:
                print(f"[{number}/{len(keys)}] drafting {proposal.section(key).title}…",
                      file=sys.stderr)
            proposal = store.save(draft_section(model, proposal, key, retriever=retriever,
                                                settings=_settings(args)))
    finally:
        cache.close()
    out = export_proposal(proposal, Path(args.out))
    written = [str(out)]
    if args.markdown:
        written.append(str(export_proposal(proposal, Path(args.markdown).with_suffix(".md")
                                           if not args.markdown.endswith(".md")
                                           else Path(args.markdown))))
    if args.json:
        print_json({"proposal_id": proposal.id, "files": written,
                    "requirements": len(proposal.requirements),
                    "sections": {s.key: len(s.text) for s in proposal.sections}})
    else:
        print("\n".join(written))
    return 0
