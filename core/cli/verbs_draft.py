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

FAILED_DRAFT = 3  # exit status of `draft` when the draft failed the quality checks


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
    parser.add_argument("--format", choices=("auto", "chat", "document"), default="auto",
                        help="prompt format: chat for instruction-following models, "
                        "document (a proposal to continue) for base models; auto decides "
                        "from the model's lineage")


def _add_first_token(parser: argparse.ArgumentParser) -> None:
    from core.drafting.budget import FIRST_TOKEN_S

    parser.add_argument(
        "--first-token-s", type=float, default=FIRST_TOKEN_S, metavar="SECONDS",
        help="show the model only as many sources as it reads in this time on this machine, "
        f"so the first words come quickly (default {FIRST_TOKEN_S:g}; 0: as many as fit "
        "the context window)")


def _first_token(args: argparse.Namespace) -> float | None:
    return args.first_token_s if args.first_token_s and args.first_token_s > 0 else None


def register(sub: argparse._SubParsersAction) -> None:
    draft = sub.add_parser(
        "draft", help="draft text with a local model or a remote server, citing the knowledge "
        "base (exit status 3: the draft failed the quality checks)")
    add_common(draft)
    draft.add_argument("prompt", help="what to write")
    _add_generation(draft, 512)
    _add_first_token(draft)
    draft.set_defaults(handler=cmd_draft)

    propose = sub.add_parser("propose", help="draft a whole proposal for an RFP and export it")
    add_common(propose)
    propose.add_argument("--rfp", required=True, metavar="DOC_ID", help="the RFP document id")
    propose.add_argument("--out", required=True, metavar="FILE.docx", help="DOCX to write")
    propose.add_argument("--markdown", metavar="FILE.md", help="also write Markdown")
    propose.add_argument("--section", action="append", metavar="KEY",
                         help="draft only these sections (repeatable; default: all)")
    _add_generation(propose, 384)
    _add_first_token(propose)
    propose.set_defaults(handler=cmd_propose)

    evaluate = sub.add_parser(
        "eval-drafts", help="draft held-out requests with each model and score the drafts "
        "(echo, citation validity, fact exactness, similarity to the reference)")
    add_common(evaluate)
    evaluate.add_argument("--models", nargs="+", metavar="ID",
                          help="GGUF model ids or paths, or servers (endpoint:NAME or a URL; "
                          "the token from the endpoint or $SCRIPTORIUM_ENDPOINT_TOKEN) "
                          "(default: the bundled base and the model drafting uses)")
    evaluate.add_argument("--pairs", metavar="FILE.jsonl",
                          help='JSONL of {"request", "reference", "rfp"} (default: the newest '
                          "SFT dataset's held-out pairs)")
    evaluate.add_argument("--dataset", metavar="ID", help="SFT dataset to take pairs from")
    evaluate.add_argument("--limit", type=int, default=6, help="pairs to draft (default 6)")
    evaluate.add_argument("--max-tokens", type=int, default=256)
    evaluate.add_argument("--format", choices=("auto", "chat", "document"), default="auto")
    _add_first_token(evaluate)
    evaluate.add_argument(
        "--prefill-rate", type=float, metavar="TOKENS_PER_S",
        help="size every prompt at this reading speed (default: measured once when the "
        "first model loads, then kept for every model; give an earlier report's rate to "
        "draft from the same prompts again)")
    evaluate.add_argument("--show", action="store_true",
                          help="print the drafts side by side with the reference")
    evaluate.set_defaults(handler=cmd_eval_drafts)

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
        from core.endpoints import REMOTE_PREFIX
        from core.generation.runtime import ModelCache
        from core.serving.backend import open_text_model

        if self.args.endpoint and self.args.model:
            from core.errors import ConfigError

            raise ConfigError("Give --model or --endpoint, not both.")
        where = self.args.endpoint
        if where and "://" not in where and not where.startswith(REMOTE_PREFIX):
            where = REMOTE_PREFIX + where
        cache = self.cache or ModelCache(n_ctx=self.args.n_ctx)
        return open_text_model(self.workspace, where or self.args.model, cache,
                               token=self.args.token, n_ctx=self.args.n_ctx)

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()


def cmd_draft(args: argparse.Namespace) -> int:
    from core.drafting.draft import Retrying, SourcesFound, stream_draft
    from core.drafting.export import draft_sources
    from core.generation.model import Finished, Token

    workspace = open_workspace(args)
    cache = _Models(workspace, args)
    try:
        model = cache.get()
        events = stream_draft(model, args.prompt, retriever=_retriever(workspace, args),
                              settings=_settings(args), format=args.format,
                              first_token_s=_first_token(args))
        result = None
        try:
            for event in events:
                if isinstance(event, SourcesFound):
                    for warning in event.warnings:
                        print(f"warning: {warning}", file=sys.stderr)
                elif isinstance(event, Retrying) and not args.json:
                    print(f"\n[the draft failed the checks ({event.reason}); "
                          "trying once more]\n", file=sys.stderr)
                elif isinstance(event, Token) and not args.json:
                    sys.stdout.write(event.text)
                    sys.stdout.flush()
                elif isinstance(event, Finished):
                    result = event.extra["draft"]
        except KeyboardInterrupt:
            print("\nstopped", file=sys.stderr)
            return 130
        finally:  # a stopped stream (Ctrl-C, a closed pipe) lets go of the model first
            events.close()
    finally:
        cache.close()
    assert result is not None
    if args.json:
        print_json(result.model_dump(mode="json"))
        return FAILED_DRAFT if result.failed else 0
    print()
    _print_outcome(result)
    if result.cited:
        cited, others = draft_sources(result)
        print("\nSources:")
        for citation in cited:
            print(f"[{citation.number}] {citation.where()} ({citation.doc_id})")
        if others:
            print("Also retrieved, not cited: "
                  + "; ".join(f"[{c.number}] {c.where()}" for c in others))
    elif result.citations:
        print(f"\n(no sentence could be tied to the {len(result.citations)} retrieved "
              "passages; none is cited)", file=sys.stderr)
    stats = result.stats
    first = result.checks.get("first_token_with_retrieval_s") or 0.0
    budget = result.checks.get("prompt_budget", {})
    print(f"\n{result.prompt_format} prompt ({result.format_reason}), "
          f"{budget.get('prompt_tokens', stats['prompt_tokens'])} tokens read; "
          f"{stats['completion_tokens']} tokens written, {stats['tokens_per_s']:.1f} tok/s, "
          f"first words after {first:.2f} s", file=sys.stderr)
    return FAILED_DRAFT if result.failed else 0


def _print_outcome(result) -> None:  # noqa: ANN001
    """What hygiene changed and, for a failed draft, why; the final text when it differs
    from what was streamed (cleaned, a second attempt, figures put right or marked)."""
    facts = result.checks.get("facts", {})
    if result.cleaned or result.attempts > 1 or facts.get("corrected") or facts.get(
            "unverified"):
        print("\n--- the draft as checked ---\n" + result.text, file=sys.stderr)
        if result.cleaned:
            print("removed: " + "; ".join(result.cleaned), file=sys.stderr)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if result.failed:
        print("draft FAILED the checks: " + "; ".join(result.problems)
              + " (nothing should be pasted from it)", file=sys.stderr)


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
                                                settings=_settings(args), format=args.format,
                                                first_token_s=_first_token(args)))
            section = proposal.section(key)
            if section.failed and not args.json:
                print(f"  {section.title}: draft FAILED the checks ("
                      f"{'; '.join(section.problems)}); left out of the document",
                      file=sys.stderr)
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
                    "sections": {s.key: {"characters": len(s.text), "status": s.status,
                                         "format": s.prompt_format,
                                         "problems": list(s.problems)}
                                 for s in proposal.sections}})
    else:
        print("\n".join(written))
    return 0


def cmd_eval_drafts(args: argparse.Namespace) -> int:
    from core.cli.common import run_job
    from core.drafting.eval_job import EvalDraftsConfig

    workspace = open_workspace(args)
    config = EvalDraftsConfig(
        models=tuple(args.models or ()), dataset=args.dataset, limit=args.limit,
        pairs_file=str(Path(args.pairs).expanduser().absolute()) if args.pairs else None,
        max_tokens=args.max_tokens, format=args.format, first_token_s=_first_token(args),
        prefill_rate=args.prefill_rate)
    status = run_job(workspace, "eval-drafts", config, as_json=args.json)
    from core.drafting.eval_report import format_report, read_report

    report = read_report(Path(status.result["report"]))
    if args.json:
        print_json(report)
    else:
        print(format_report(report, show_drafts=args.show))
    return 0
