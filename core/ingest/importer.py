"""The import operation: files and folders in, documents (or new versions) in the store.

Each file is checked (size, magic bytes, already imported?), parsed and cleaned in an
isolated process, checked for near-duplicates, and stored atomically; a failure costs
only that file. The ``import-documents`` job is ``core.ingest.job``.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import DiskSpaceError, ScriptoriumError
from core.fsutil import require_free_space, sha256_file
from core.ingest.dedup import SignatureIndex
from core.ingest.errors import IngestError
from core.ingest.files import check_file, collect_files
from core.ingest.guess import guess_kind
from core.ingest.host import enabled as host_enabled
from core.ingest.hosted import HostedParser
from core.ingest.isolation import ParserPool
from core.ingest.limits import MB, IngestLimits
from core.ingest.model import DOCUMENT_KINDS, DocumentKind, DocumentRecord
from core.ingest.parsers import ParseResult
from core.ingest.preview import Preview, preview
from core.ingest.report import FileResult, ImportReport
from core.ingest.sniff import Sniffed
from core.ingest.store import (
    AlreadyStored,
    DocumentError,
    DocumentStore,
    NewVersion,
    VersionBatch,
)
from core.ingest.titles import guess_title
from core.workspace import Workspace

Progress = Callable[[int, int, str], None]

__all__ = ["Preview", "expand_paths", "import_paths", "preview"]

# Parsed files are stored in groups, with one sync and one audit append per group (a
# group commit): at most this many files, and none waits longer than this to be stored.
BATCH_FILES = 16
BATCH_SECONDS = 0.5


def expand_paths(paths: Sequence[Path | str], recursive: bool = True) -> list[Path]:
    """The files an import of ``paths`` would take (folders expanded), in order."""
    return collect_files(paths, recursive)[0]


def default_workers(limits: IngestLimits | None = None) -> int:
    """Parser processes to run side by side: one per core, at most 4, within free memory."""
    import psutil

    memory = (limits or IngestLimits()).memory_bytes
    by_memory = psutil.virtual_memory().available // max(memory // 2, 1)
    return int(max(1, min(4, os.cpu_count() or 1, by_memory)))


@dataclass
class _Plan:
    path: Path
    result: FileResult
    sha256: str = ""
    sniffed: Sniffed | None = None
    duplicate_of: int | None = None  # index of an earlier file of the batch with these bytes
    restore: DocumentRecord | None = None
    parse: bool = False  # passed every check: parse and store it


@dataclass
class _Importer:
    workspace: Workspace
    kind: str | None
    limits: IngestLimits
    kinds: dict[str, str] = field(default_factory=dict)  # absolute path -> kind, per file
    store: DocumentStore = field(init=False)
    batch: VersionBatch = field(init=False)
    staged: list[tuple[_Plan, str, _Before]] = field(default_factory=list)
    first_staged: float = 0.0  # when the oldest staged file was staged
    by_sha: dict[str, tuple[DocumentRecord, int]] = field(default_factory=dict)
    batch_sha: dict[str, int] = field(default_factory=dict)
    by_name: dict[str, DocumentRecord] = field(default_factory=dict)  # live, by source name

    def __post_init__(self) -> None:
        self.store = DocumentStore(self.workspace)
        self.batch = self.store.batch()
        for record in self.store.list(include_deleted=True):
            for version in record.versions:
                self.by_sha[version.sha256] = (record, version.version)
            if not record.deleted:
                self.by_name.setdefault(record.latest.source_name, record)
        self.signatures = SignatureIndex(self.workspace)
        self.signatures.sync(self.store)
        self.store.sweep_staging()

    def plan(self, index: int, path: Path) -> _Plan:
        result = FileResult(path=str(path), name=path.name, status="failed")
        plan = _Plan(path, result)
        try:
            result.size_bytes = path.stat().st_size
            plan.sniffed = check_file(path, self.limits)
            result.format = plan.sniffed.format
            plan.sha256 = sha256_file(path)
        except IngestError as error:
            result.message, result.reason = str(error), error.reason
            return plan
        except OSError as error:
            result.message, result.reason = (
                f"{path.name} could not be read: {error.strerror}.",
                "unreadable",
            )
            return plan
        if plan.sha256 in self.batch_sha:  # an earlier file of this import, maybe not
            plan.duplicate_of = self.batch_sha[plan.sha256]  # committed yet: its outcome
            return plan
        known = self.by_sha.get(plan.sha256)
        if known and known[0].deleted:
            plan.restore = known[0]
        if known and not plan.restore:
            record, version = known
            result.status, result.doc_id, result.version, result.kind = (
                "already-imported",
                record.id,
                version,
                record.kind,
            )
            result.message = f"already imported as {record.id} (version {version})"
            return plan
        self.batch_sha[plan.sha256] = index
        plan.parse = True
        return plan

    def _record(self, doc_id: str) -> DocumentRecord:
        """A document as this import sees it: as staged in the batch, else as stored."""
        return self.batch.pending(doc_id) or self.store.get(doc_id)

    def _find_source(self, path: Path) -> DocumentRecord | None:
        """The live document this file is a new version of: the one last imported from a
        file of the same name, unless the kind asked for differs (a proposal is never a new
        version of an RFP that happens to share its file name)."""
        record = self.by_name.get(path.name)
        if record is None:
            return None
        record = self._record(record.id)
        wanted = self.kind_for(path)
        return None if wanted and record.kind != wanted else record

    def kind_for(self, path: Path) -> str | None:
        """The kind the user asked for this file (per file, else for the batch), if any."""
        return self.kinds.get(str(path)) or self.kind

    def stage_file(self, plan: _Plan, parsed: ParseResult) -> None:
        """Write the file's version into the batch; ``commit`` stores it."""
        path = plan.path
        assert plan.sniffed is not None
        warnings = plan.sniffed.warnings + parsed.warnings
        existing = plan.restore or self._find_source(path)
        sig = parsed.signature
        if sig:
            near = self.signatures.nearest(sig, exclude=existing.id if existing else None)
            if near:
                other = self._record(near[0])
                warnings.append(
                    f"Nearly the same text as {other.title!r} ({other.id}): {near[1]:.0%} similar."
                )
        if plan.restore:
            warnings.append(f"{path.name} had been removed from the workspace; restored it.")
        kind = self.kind_for(path) or (
            existing.kind if existing else parsed.kind or guess_kind(path.name, parsed.blocks)
        )
        record = self.batch.stage(NewVersion(
            source=path, sha256=plan.sha256, format=plan.sniffed.format, blocks=parsed.blocks,
            title=guess_title(path.name, parsed.blocks, parsed.title), kind=kind,
            pages=parsed.pages, warnings=tuple(warnings),
            doc_id=existing.id if existing else None,
        ))
        before = _Before(self.by_sha.get(plan.sha256), self.by_name.get(path.name),
                         self.signatures.signatures.get(record.id),
                         "new-version" if record.latest.version > 1 else "imported")
        self.by_sha[plan.sha256] = (record, record.latest.version)
        self.by_name[path.name] = record
        if sig:
            self.signatures.set(record.id, plan.sha256, sig)
        plan.result.warnings = warnings
        self.staged.append((plan, record.id, before))
        self.first_staged = self.first_staged or time.monotonic()

    def staged_status(self, result: FileResult) -> str | None:
        """What a staged file's status will be once committed (None: not staged)."""
        return next((b.status for plan, _, b in self.staged if plan.result is result), None)

    def due(self) -> bool:
        """Time to commit: a full batch, or a stored file waiting long enough."""
        return len(self.staged) >= BATCH_FILES or bool(
            self.staged and time.monotonic() - self.first_staged >= BATCH_SECONDS)

    def commit(self) -> list[FileResult]:
        """Commit the staged files together; their results, final."""
        staged, self.staged, self.first_staged = self.staged, [], 0.0
        if not staged:
            return []
        outcomes = self.batch.commit()
        for (plan, doc_id, before), outcome in zip(staged, outcomes):
            if isinstance(outcome, DocumentRecord):
                self._stored(plan, outcome)
                continue
            self._undo(plan, doc_id, before)
            if isinstance(outcome, AlreadyStored):  # another import stored it since
                result = plan.result
                result.status, result.doc_id, result.version = (
                    "already-imported", outcome.record.id, outcome.version)
                result.kind, result.message = outcome.record.kind, str(outcome)
                self.by_sha[plan.sha256] = (outcome.record, outcome.version)
            else:
                _failed_store(plan, outcome)
        return [plan.result for plan, _, _ in staged]

    def discard(self) -> None:
        """Drop what is staged and not committed (the import stops on an error)."""
        self.batch.discard()
        self.staged = []

    def _stored(self, plan: _Plan, record: DocumentRecord) -> None:
        version = next(v for v in reversed(record.versions) if v.sha256 == plan.sha256)
        self.by_sha[plan.sha256] = (record, version.version)
        if self.by_name.get(plan.path.name, record).id == record.id:
            self.by_name[plan.path.name] = record
        result = plan.result
        result.status = "new-version" if version.version > 1 else "imported"
        result.doc_id, result.version, result.kind = record.id, version.version, record.kind
        result.pages, result.blocks, result.characters = (
            version.pages, version.blocks, version.characters)
        result.message = (f"version {version.version} of {record.id}"
                          if version.version > 1 else f"imported as {record.id}")

    def _undo(self, plan: _Plan, doc_id: str, before: _Before) -> None:
        """Forget what staging told this import about a file that was not stored."""
        if before.sha is None:
            self.by_sha.pop(plan.sha256, None)
        else:
            self.by_sha[plan.sha256] = before.sha
        if before.name is None:
            self.by_name.pop(plan.path.name, None)
        else:
            self.by_name[plan.path.name] = before.name
        self.signatures.restore(doc_id, before.signature)


@dataclass(frozen=True)
class _Before:
    """What the importer knew of a file's bytes, name and document before staging it,
    and the status the file will have once committed."""

    sha: tuple[DocumentRecord, int] | None
    name: DocumentRecord | None
    signature: tuple[str, list[int]] | None
    status: str


def _failed_store(plan: _Plan, error: BaseException) -> None:
    """A parsed file that could not be stored: why, in the user's words."""
    result, name = plan.result, plan.path.name
    if isinstance(error, DiskSpaceError):
        result.message, result.reason = str(error), "disk-full"
    elif isinstance(error, OSError):
        full = error.errno == errno.ENOSPC
        result.message = (f"The disk is full: {name} could not be stored." if full
                          else f"{name} could not be stored: {error}")
        result.reason = "disk-full" if full else "store"
    else:
        result.message, result.reason = f"{name} could not be stored: {error}", "store"


def _settle(
    importer: _Importer, plans: list[_Plan], index: int, parsed: ParseResult | IngestError | None
) -> FileResult:
    """Take one file's turn: stage what parsed, explain what did not (a staged file's
    result is final once ``commit`` has run)."""
    plan = plans[index]
    result = plan.result
    if plan.duplicate_of is not None:
        first = plans[plan.duplicate_of]
        if any(staged is first for staged, _, _ in importer.staged):
            importer.commit()  # its outcome is this file's too
        if first.result.doc_id:
            result.status, result.doc_id, result.version = (
                "already-imported",
                first.result.doc_id,
                first.result.version,
            )
            result.message = f"same bytes as {first.result.name} ({first.result.doc_id})"
        else:
            result.message, result.reason = (
                f"same bytes as {first.result.name}: {first.result.message}",
                first.result.reason,
            )
    elif isinstance(parsed, IngestError):
        result.message, result.reason = str(parsed), parsed.reason
    elif isinstance(parsed, ParseResult):
        try:
            importer.stage_file(plan, parsed)
        except (ScriptoriumError, OSError) as error:
            _failed_store(plan, error)
    return result


def _parser_maker() -> Callable[[IngestLimits, int], HostedParser] | None:
    """Warm parsers from this user's parser host where it can be used, else ``None``
    (the import starts its own workers)."""
    return HostedParser if host_enabled() else None


def import_paths(
    workspace: Workspace,
    paths: Sequence[Path | str],
    kind: DocumentKind | str | None = None,
    recursive: bool = True,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    *,
    limits: IngestLimits | None = None,
    workers: int | None = None,
    kinds: Mapping[str, str] | None = None,
) -> ImportReport:
    """Import files and folders into ``workspace``; one failure never stops the batch.

    ``kind`` tags every document; ``kinds`` (file path → kind) tags single files, as the
    Import wizard does; without either, each document's kind is guessed.
    """
    started = time.monotonic()
    for asked in (kind, *(kinds or {}).values()):
        if asked is not None and asked not in DOCUMENT_KINDS:
            raise DocumentError(
                f"Unknown document kind {asked!r} (use {', '.join(DOCUMENT_KINDS)})."
            )
    limits = limits or IngestLimits()
    files, notes = collect_files(paths, recursive, exclude=workspace.root)
    report = ImportReport(files=list(notes))
    if not files:
        return report
    total_bytes = sum(p.stat().st_size for p in files if p.exists())
    require_free_space(
        workspace.root, 2 * total_bytes + 50 * MB, f"importing {len(files)} document(s)"
    )
    per_file = {str(Path(p).expanduser().absolute()): k for p, k in (kinds or {}).items()}
    importer = _Importer(workspace, kind, limits, per_file)
    plans: list[_Plan] = []

    def tasks() -> Iterator[tuple[Path, str] | None]:
        for index, path in enumerate(files):
            plan = importer.plan(index, path)
            plans.append(plan)
            yield (path, plan.sniffed.format) if plan.parse and plan.sniffed else None

    workers = min(workers or default_workers(limits), len(files))

    def commit_if_due() -> None:
        if importer.due():
            importer.commit()

    try:
        with ParserPool(limits, workers, make_parser=_parser_maker()) as pool:
            for index, parsed in enumerate(pool.map(tasks(), cancelled, commit_if_due)):
                if cancelled and cancelled():
                    report.cancelled = True
                    pool.abort()
                    break
                result = _settle(importer, plans, index, parsed)
                report.files.append(result)
                if progress:  # a staged file as it will be once committed
                    status = importer.staged_status(result) or result.status
                    progress(index + 1, len(files), f"{result.name}: {status}")
                if result.reason == "disk-full":
                    break
                commit_if_due()
            importer.commit()  # what was parsed is kept, on a cancel too
    finally:
        importer.discard()  # only after an unexpected error: anything left uncommitted
    done = {r.path for r in report.files}
    for path in files:
        if str(path) not in done:
            reason = "the import was cancelled" if report.cancelled else "the disk is full"
            report.files.append(
                FileResult(path=str(path), name=path.name, status="skipped", message=reason)
            )
    importer.signatures.save()
    report.elapsed_s = round(time.monotonic() - started, 3)
    return report
