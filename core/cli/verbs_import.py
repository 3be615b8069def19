"""CLI verbs: import (documents into the workspace) and documents (list, show, tag, pair...)."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli.common import add_common, open_workspace, run_job
from core.cli.output import print_json, table
from core.errors import ScriptoriumError
from core.formatting import format_size
from core.ingest.model import DOCUMENT_KINDS, DocumentRecord
from core.ingest.report import ImportReport
from core.ingest.store import DocumentError, DocumentStore


def register(sub: argparse._SubParsersAction) -> None:
    imp = sub.add_parser("import", help="import documents (PDF, DOCX, TXT/MD, HTML, CSV, JSONL)")
    add_common(imp)
    imp.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    imp.add_argument("--kind", choices=DOCUMENT_KINDS, help="tag every document (default: guess)")
    imp.add_argument(
        "--no-recursive",
        dest="recursive",
        action="store_false",
        help="do not descend into sub-folders",
    )
    imp.add_argument("--max-size-mb", type=float, default=200, help="largest file to accept")
    imp.add_argument("--no-index", dest="index", action="store_false",
                     help="do not update the knowledge base afterwards (`index` does it later)")
    imp.set_defaults(handler=cmd_import)

    docs = sub.add_parser("documents",
                          help="imported documents: list, show, text, tag, rename, pair")
    add_common(docs)
    docs.add_argument(
        "action",
        nargs="?",
        default="list",
        choices=["list", "show", "text", "tag", "rename", "pair", "unpair", "remove"],
    )
    docs.add_argument("targets", nargs="*", metavar="ID", help="document id(s)")
    docs.add_argument("--kind", choices=DOCUMENT_KINDS, help="new kind (for tag)")
    docs.add_argument("--tags", help="comma-separated tags (for tag)")
    docs.add_argument("--title", help="the new title (for rename)")
    docs.add_argument("--version", type=int, help="version (for show, text)")
    docs.set_defaults(handler=cmd_documents)


def report_rows(report: ImportReport) -> list[list[str]]:
    rows = []
    for result in report.files:
        detail = result.message
        if result.warnings:
            detail += f" ({len(result.warnings)} warning{'s' if len(result.warnings) > 1 else ''})"
        rows.append(
            [
                result.name,
                result.status,
                result.kind or "-",
                result.doc_id or "-",
                str(result.version or "-"),
                detail,
            ]
        )
    return rows


def cmd_import(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    paths = [str(Path(p).expanduser().absolute()) for p in args.paths]
    config = {
        "paths": paths,
        "kind": args.kind,
        "recursive": args.recursive,
        "max_file_mb": args.max_size_mb,
        "index": args.index,
    }
    status = run_job(
        workspace,
        "import-documents",
        config,
        as_json=args.json,
        title=f"Import {len(paths)} path(s)",
    )
    report = ImportReport.model_validate(status.result)
    indexed, index_error = status.result.get("index"), status.result.get("index_error")
    if args.json:
        print_json(report.model_dump(mode="json") | {"counts": report.counts, "index": indexed,
                                                     "index_error": index_error})
    else:
        if report.files:
            print(table(report_rows(report), ["file", "status", "kind", "document", "v", "detail"]))
        for result in report.files:
            for warning in result.warnings:
                print(f"warning: {result.name}: {warning}")
        print(report.summary())
        if indexed:
            print(f"knowledge base updated: {len(indexed.get('indexed', []))} document(s) "
                  "indexed, searchable and citable now")
        elif index_error:
            print(f"warning: the knowledge base was not updated: {index_error}")
    return 1 if report.failed else 0


def _doc_row(record: DocumentRecord) -> list[str]:
    latest = record.latest
    return [
        record.id,
        record.kind,
        record.title[:40],
        str(latest.version),
        latest.format,
        str(latest.pages or "-"),
        f"{latest.characters:,}",
        format_size(latest.size_bytes),
        ", ".join(record.paired_with) or "-",
    ]


def _need(args: argparse.Namespace, count: int) -> list[str]:
    if len(args.targets) != count:
        raise DocumentError(
            f"`scriptorium documents {args.action}` needs {count} document "
            f"id{'s' if count > 1 else ''}."
        )
    return list(args.targets)


def cmd_documents(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    store = DocumentStore(workspace)
    action = args.action
    if action == "list":
        records = store.list()
        if args.json:
            print_json([r.model_dump(mode="json") for r in records])
        elif not records:
            print("no documents yet (import some: `scriptorium import PATH...`)")
        else:
            headers = [
                "id",
                "kind",
                "title",
                "v",
                "format",
                "pages",
                "chars",
                "size",
                "paired with",
            ]
            print(table([_doc_row(r) for r in records], headers))
        return 0
    if action in ("show", "text"):
        (doc_id,) = _need(args, 1)
        record = store.get(doc_id)
        if action == "text":
            text = store.text(doc_id, args.version)
            print_json({"id": doc_id, "text": text}) if args.json else print(text)
            return 0
        if args.json:
            print_json(record.model_dump(mode="json"))
            return 0
        for key in ("id", "title", "kind", "tags", "paired_with", "deleted"):
            print(f"{key}: {getattr(record, key)}")
        for version in record.versions:
            print(
                f"v{version.version}: {version.source_name} ({version.format}, "
                f"{format_size(version.size_bytes)}, {version.pages or '-'} pages, "
                f"{version.blocks} blocks) imported {version.imported}"
            )
            for warning in version.warnings:
                print(f"  warning: {warning}")
        return 0
    if action == "tag":
        (doc_id,) = _need(args, 1)
        if not args.kind and args.tags is None:
            raise ScriptoriumError("`documents tag` needs --kind K and/or --tags a,b.")
        record = store.get(doc_id)
        if args.kind:
            record = store.set_kind(doc_id, args.kind)
        if args.tags is not None:
            record = store.set_tags(doc_id, args.tags.split(","))
        print_json(record.model_dump(mode="json")) if args.json else print(
            f"{doc_id}: kind {record.kind}, tags {', '.join(record.tags) or '-'}"
        )
        return 0
    if action == "rename":
        (doc_id,) = _need(args, 1)
        if not args.title:
            raise ScriptoriumError("`documents rename ID --title \"New title\"` needs --title.")
        record = store.set_title(doc_id, args.title)
        print_json(record.model_dump(mode="json")) if args.json else print(
            f"{doc_id}: now titled “{record.title}” (`scriptorium index` updates the "
            "knowledge base's citations)")
        return 0
    if action in ("pair", "unpair"):
        first, second = _need(args, 2)
        (store.pair if action == "pair" else store.unpair)(first, second)
        print_json({action: [first, second]}) if args.json else print(
            f"{action}ed {first} and {second}"
        )
        return 0
    (doc_id,) = _need(args, 1)
    store.remove(doc_id)
    print_json({"removed": doc_id}) if args.json else print(f"removed {doc_id}")
    return 0
