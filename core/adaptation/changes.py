"""What changed since the deployed model was trained, and whether to propose an update.

The reference model is the deployed release (else nothing has been trained on the
documents yet). Its lineage records every document version it was trained on; the
document store says what is there now. Reference tables (document kind ``reference``)
never need retraining: their changes go to the retrieval index at once. Text changes
count towards the update thresholds (documents, tokens, the model's age), set per
workspace in ``W/adapt.json``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import ScriptoriumError
from core.fsutil import atomic_write_json, read_json
from core.ingest.model import DocumentRecord
from core.ingest.store import DocumentStore
from core.workspace import Workspace
from core.workspace.registry import ModelRegistry
from core.workspace.releases import read_releases_quietly

POLICY_FILE = "adapt.json"
Change = Literal["added", "changed", "removed"]


class AdaptPolicy(BaseModel):
    """When to propose an update, and how to retrain (``W/adapt.json``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    min_documents: int = Field(default=5, ge=1, description="new or changed text documents")
    min_tokens: int = Field(default=50_000, ge=1, description="tokens of new or changed text")
    max_age_days: int = Field(default=182, ge=1, description="age of the deployed model")
    replay_ratio: float = Field(default=0.5, ge=0.0, le=4.0,
                                description="earlier tokens replayed per new token")
    tolerance: float = Field(default=0.05, ge=0.0, le=1.0,
                             description="allowed rise of old-data perplexity at the gate")


def load_policy(workspace: Workspace) -> AdaptPolicy:
    path = workspace.root / POLICY_FILE
    if not path.exists():
        return AdaptPolicy()
    try:
        return AdaptPolicy.model_validate(read_json(path))
    except (ValueError, ValidationError) as error:
        raise ScriptoriumError(f"{path} is not a valid adaptation policy: {error}") from error


def save_policy(workspace: Workspace, policy: AdaptPolicy) -> None:
    atomic_write_json(workspace.root / POLICY_FILE, policy.model_dump(mode="json"))


class DocumentChange(BaseModel):
    model_config = ConfigDict(frozen=True)
    document_id: str
    title: str
    kind: str
    change: Change
    trained_version: int | None
    current_version: int | None
    tokens: int


ReleaseState = Literal["no-documents", "first-release", "current", "below-threshold",
                       "update-proposed"]


class UpdateCheck(BaseModel):
    """Where the workspace stands against its deployed release: the one truth that
    `adapt --check` prints and the Releases pane shows."""

    model_config = ConfigDict(frozen=True)
    reference_model: str | None  # the deployed release's model, if any
    release: int | None
    model_age_days: float | None
    text_changes: tuple[DocumentChange, ...]
    reference_changes: tuple[DocumentChange, ...]
    new_tokens: int
    propose: bool
    reasons: tuple[str, ...]
    index_updated: bool = False

    @property
    def state(self) -> ReleaseState:
        if self.reference_model is None:
            return "first-release" if self.text_changes else "no-documents"
        if self.propose:
            return "update-proposed"
        return "below-threshold" if self.text_changes else "current"

    def headline(self) -> str:
        """One sentence for the state, the same in the app and on the command line."""
        waiting = (f"{len(self.text_changes)} document(s), about {self.new_tokens:,} tokens")
        return {
            "no-documents": "No release yet, and no text documents to train one on: import "
                            "your RFPs and proposals first.",
            "first-release": f"No release yet: {waiting}, are ready to train the first one "
                             "on.",
            "current": f"Release {self.release} is current: it was trained on every text "
                       "document in the workspace.",
            "below-threshold": f"Release {self.release} is current enough: {waiting} changed "
                               "since, below the thresholds for an update.",
            "update-proposed": "Update proposed: " + "; ".join(self.reasons) + ".",
        }[self.state]


def trained_versions(workspace: Workspace, model_id: str) -> dict[str, int]:
    """Document id → the newest version any model in ``model_id``'s lineage trained on."""
    versions: dict[str, int] = {}
    for record in ModelRegistry(workspace).lineage(model_id):
        for ref in record.documents:
            versions[ref.document_id] = max(versions.get(ref.document_id, 0), ref.version)
    return versions


def estimate_tokens(characters: int) -> int:
    """Tokens of a text of that length (about four characters a token for English prose)."""
    return (characters + 3) // 4


def diff_documents(records: list[DocumentRecord], trained: dict[str, int]) -> list[DocumentChange]:
    changes = []
    for record in records:
        before = trained.get(record.id)
        if record.deleted:
            if before is not None:
                changes.append(DocumentChange(
                    document_id=record.id, title=record.title, kind=record.kind,
                    change="removed", trained_version=before, current_version=None, tokens=0))
            continue
        latest = record.latest
        if before == latest.version:
            continue
        changes.append(DocumentChange(
            document_id=record.id, title=record.title, kind=record.kind,
            change="added" if before is None else "changed", trained_version=before,
            current_version=latest.version, tokens=estimate_tokens(latest.characters)))
    return changes


def _age_days(stamp: str, now: datetime) -> float | None:
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return (now - when).total_seconds() / 86_400


def check_for_update(workspace: Workspace, *, update_index: bool = True,
                     now: datetime | None = None) -> UpdateCheck:
    """What changed since the deployed release, and whether an update is proposed.

    With ``update_index``, changed reference tables are indexed right away (and, with
    them, any other document the index lacks).
    """
    now = now or datetime.now(UTC)
    policy = load_policy(workspace)
    book = read_releases_quietly(workspace)
    release = book.current if book else None
    registry = ModelRegistry(workspace)
    model_id = release.model_id if release and registry.exists(release.model_id) else None
    trained = trained_versions(workspace, model_id) if model_id else {}
    changes = diff_documents(DocumentStore(workspace).list(include_deleted=True), trained)
    text = tuple(c for c in changes if c.kind != "reference")
    reference = tuple(c for c in changes if c.kind == "reference")
    new_tokens = sum(c.tokens for c in text)
    age = _age_days(release.promoted, now) if release else None
    reasons = []
    if model_id is None:
        if text:
            reasons.append(f"no release is trained on your documents yet; {len(text)} "
                           f"document(s), about {new_tokens:,} tokens, are waiting")
    else:
        touched = [c for c in text if c.change != "removed"]
        if len(touched) >= policy.min_documents:
            reasons.append(f"{len(touched)} text document(s) are new or changed since release "
                           f"{release.version} (threshold {policy.min_documents})")
        if new_tokens >= policy.min_tokens:
            reasons.append(f"about {new_tokens:,} tokens of new text (threshold "
                           f"{policy.min_tokens:,})")
        if age is not None and age >= policy.max_age_days and text:
            reasons.append(f"release {release.version} is {age:.0f} days old (threshold "
                           f"{policy.max_age_days})")
    indexed = False
    if update_index and unindexed_references(workspace, reference):
        from core.retrieval.index import update_index as run_index

        run_index(workspace)
        indexed = True
    return UpdateCheck(
        reference_model=model_id, release=release.version if release else None,
        model_age_days=age, text_changes=text, reference_changes=reference,
        new_tokens=new_tokens, propose=bool(reasons), reasons=tuple(reasons),
        index_updated=indexed)


def unindexed_references(workspace: Workspace,
                         changes: tuple[DocumentChange, ...]) -> list[str]:
    """The changed reference tables the retrieval index does not hold as they are now."""
    if not changes:
        return []
    from core.retrieval.index import index_status

    stale = set(index_status(workspace)["out_of_date"])
    return [c.document_id for c in changes if c.document_id in stale]


def summary_lines(check: UpdateCheck) -> list[str]:
    """The check as text for the CLI and the app."""
    lines = []
    if check.reference_model:
        age = f", {check.model_age_days:.0f} days old" if check.model_age_days is not None else ""
        lines.append(f"deployed: release {check.release} ({check.reference_model}{age})")
    else:
        lines.append("deployed: no release yet")
    for change in (*check.text_changes, *check.reference_changes):
        versions = {"added": f"v{change.current_version}",
                    "changed": f"v{change.trained_version} → v{change.current_version}",
                    "removed": f"v{change.trained_version}"}[change.change]
        lines.append(f"  {change.change:8} {change.title} ({change.kind}, {versions}, "
                     f"~{change.tokens:,} tokens)")
    if check.reference_changes:
        lines.append("reference tables: " + ("indexed now, no retraining needed"
                                             if check.index_updated else
                                             "changed; they need no retraining, only the "
                                             "index (`scriptorium index`)"))
    lines.append(check.headline())
    return lines


def check_json(check: UpdateCheck) -> dict[str, Any]:
    return check.model_dump(mode="json") | {"state": check.state, "headline": check.headline()}
