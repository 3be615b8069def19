"""CLI verbs of the knowledge base: index, index-status, search, lookup, eval-retrieval.

The retrieval modules (LanceDB, sentence-transformers) are imported inside the handlers so
that ``scriptorium --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli.common import add_common, open_workspace, run_job
from core.cli.output import print_json, table
from core.ingest.model import DOCUMENT_KINDS
from core.retrieval.ann import ANN_MIN_ROWS

MODES = ("hybrid", "vector", "text")


def register(sub: argparse._SubParsersAction) -> None:
    index = sub.add_parser("index", help="index the workspace's documents for retrieval")
    add_common(index)
    index.add_argument("--rebuild", action="store_true", help="re-index every document")
    index.add_argument("--embedding-model", metavar="DIR",
                       help="local sentence-transformers folder (default: bundled MiniLM)")
    index.add_argument("--reranker", metavar="DIR", help="local cross-encoder folder")
    index.add_argument("--chunk-tokens", type=int, default=200, help="tokens per chunk")
    index.add_argument("--chunk-overlap", type=int, default=30, help="overlap in tokens")
    index.set_defaults(handler=cmd_index)

    status = sub.add_parser("index-status", help="what the retrieval index holds")
    add_common(status)
    status.set_defaults(handler=cmd_index_status)

    search = sub.add_parser("search", help="search the knowledge base")
    add_common(search)
    search.add_argument("query")
    search.add_argument("--k", type=int, default=5, help="number of results")
    search.add_argument("--mode", choices=MODES, default="hybrid")
    search.add_argument("--kind", action="append", choices=DOCUMENT_KINDS,
                        help="only documents of this kind (repeatable)")
    search.add_argument("--tag", action="append", help="only documents with this tag")
    search.add_argument("--since", metavar="YYYY-MM-DD", help="imported on or after")
    search.add_argument("--until", metavar="YYYY-MM-DD", help="imported on or before")
    search.set_defaults(handler=cmd_search)

    lookup = sub.add_parser("lookup", help="find reference-table rows by code or name")
    add_common(lookup)
    lookup.add_argument("term", help="a code or name, or a question with --ask")
    lookup.add_argument("--ask", action="store_true",
                        help="treat the term as a question (exact mentions, then semantic)")
    lookup.add_argument("--k", type=int, default=5)
    lookup.set_defaults(handler=cmd_lookup)

    evaluation = sub.add_parser("eval-retrieval", help="recall@k and MRR of a question set")
    add_common(evaluation)
    evaluation.add_argument("questions", metavar="QUESTIONS.jsonl")
    evaluation.add_argument("--k", type=int, default=5)
    evaluation.set_defaults(handler=cmd_eval)


def cmd_index(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    config = {"rebuild": args.rebuild, "chunk_tokens": args.chunk_tokens,
              "chunk_overlap": args.chunk_overlap}
    if args.embedding_model:
        config["embedding_model"] = str(Path(args.embedding_model).expanduser().absolute())
    if args.reranker:
        config["reranker_model"] = str(Path(args.reranker).expanduser().absolute())
    status = run_job(workspace, "index-documents", config, as_json=args.json,
                     title="Index documents")
    result = status.result or {}
    if args.json:
        print_json(result)
    else:
        print(f"indexed {len(result.get('indexed', []))} document(s), removed "
              f"{len(result.get('removed', []))}, {result.get('unchanged', 0)} unchanged; the "
              f"index holds {result.get('documents', 0)} documents, {result.get('chunks', 0)} "
              f"chunks, {result.get('reference_rows', 0)} reference rows")
    return 0


def cmd_index_status(args: argparse.Namespace) -> int:
    from core.retrieval.index import index_status

    status = index_status(open_workspace(args))
    if args.json:
        print_json(status)
    elif not status["built"]:
        print("not indexed yet (run `scriptorium index`)")
    else:
        print(f"documents: {status['documents']}\nchunks: {status['chunks']}\n"
              f"reference rows: {status['reference_rows']}\nlast update: {status['last_update']}\n"
              f"embedding model: {status['embedding_model']}\n"
              f"vector search: {_vector_search(status['approximate_index_rows'])}")
        if status["reranker_model"]:
            print(f"re-ranker: {status['reranker_model']}")
        if status["out_of_date"]:
            print(f"out of date: {', '.join(status['out_of_date'])} (run `scriptorium index`)")
    return 0


def _vector_search(trained_rows: int | None) -> str:
    if not trained_rows:
        return "exact (every passage is compared; an approximate index is built past " \
               f"{ANN_MIN_ROWS:,} passages)"
    return f"approximate index (IVF-PQ, trained on {trained_rows:,} passages)"


def _where(section: tuple[str, ...], page: int | None) -> str:
    parts = [" > ".join(section)] if section else []
    if page:
        parts.append(f"p. {page}")
    return ", ".join(parts) or "-"


def cmd_search(args: argparse.Namespace) -> int:
    from core.retrieval.search import search

    results = search(open_workspace(args), args.query, k=args.k, mode=args.mode,
                     kinds=args.kind or (), tags=args.tag or (), since=args.since,
                     until=args.until)
    if args.json:
        print_json([r.model_dump(mode="json") for r in results])
        return 0
    if not results:
        print("no results")
    for rank, result in enumerate(results, 1):
        print(f"{rank}. [{result.score:.4f}] {result.title} (v{result.version}, {result.kind}) "
              f"— {_where(result.section, result.page)}")
        print("   " + " ".join(result.text.split())[:300])
    return 0


def cmd_lookup(args: argparse.Namespace) -> int:
    from core.retrieval.reference import ask_reference, lookup

    workspace = open_workspace(args)
    rows = ask_reference(workspace, args.term, args.k) if args.ask else lookup(
        workspace, args.term, args.k)
    if args.json:
        print_json([r.model_dump(mode="json") for r in rows])
        return 0
    if not rows:
        print(f"no reference row matches {args.term!r}")
        return 1
    for row in rows:
        fields = "; ".join(f"{k}: {v}" for k, v in row.fields.items())
        print(f"[{row.match}] {row.title} row {row.row + 1}: {fields}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from core.retrieval.evaluate import evaluate, scores_json

    scores = evaluate(open_workspace(args), Path(args.questions).expanduser(), k=args.k)
    if args.json:
        print_json(scores_json(scores))
        return 0
    rows = [[s.mode, s.questions, f"{s.recall_at_k:.3f}", f"{s.mrr:.3f}"]
            for s in scores.values()]
    print(table(rows, ["mode", "questions", f"recall@{args.k}", "MRR"]))
    return 0
