"""What a dataset is: its build config, its record, and the error the package raises."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import ScriptoriumError
from core.ingest.model import DocumentKind
from core.workspace.registry import DocumentRef

DatasetKind = Literal["cpt", "sft", "prefs"]
DATASET_KINDS: tuple[str, ...] = ("cpt", "sft", "prefs")
DEFAULT_MODEL = "gemma3-270m"
# The columns training reads from each kind (other columns are kept for people to read).
TRAINING_COLUMNS: dict[str, tuple[str, ...]] = {
    "cpt": ("input_ids",),
    "sft": ("prompt", "completion"),
    "prefs": ("prompt", "chosen", "rejected"),
}


class DatasetError(ScriptoriumError):
    """A dataset cannot be built, or is missing or damaged."""


class BuildDatasetConfig(BaseModel):
    """Config of the ``build-dataset`` job; saved with the job and in ``dataset.json``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: DatasetKind
    model: str = Field(default=DEFAULT_MODEL, min_length=1,
                       description="registry model id or model folder whose tokenizer is used")
    seq_len: int = Field(default=256, ge=8, le=131_072, description="tokens per CPT sequence")
    heldout_fraction: float = Field(default=0.1, ge=0.0, lt=1.0,
                                    description="share of documents (CPT) or examples held out")
    seed: int = Field(default=42, ge=0)
    document_kinds: tuple[DocumentKind, ...] = Field(
        default=("rfp", "proposal", "reference", "other"), min_length=1,
        description="document kinds in the CPT corpus")
    documents: tuple[str, ...] = Field(
        default=(), description="only these document ids in the CPT corpus (default: all)")
    match_threshold: float = Field(
        default=0.15, ge=0.0, le=1.0,
        description="lowest TF-IDF cosine for a requirement↔response match without a number")
    grounded: bool = Field(
        default=True,
        description="SFT and prefs: each prompt carries the sources retrieval finds for it "
                    "(never the answer's own document), as drafting's prompts do; needs the "
                    "index")
    source_tokens: int = Field(
        default=256, ge=16, le=32_768,
        description="SFT and prefs: most tokens of sources in a grounded prompt")
    reuse: bool = Field(default=True,
                        description="return the latest dataset when inputs and config are the same")

    @field_validator("document_kinds", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    def fingerprint_dict(self) -> dict[str, Any]:
        """The config values that change what is built (``reuse`` does not)."""
        sft_only = set() if self.kind in ("sft", "prefs") else {"grounded", "source_tokens"}
        return self.model_dump(mode="json", exclude={"reuse", *sft_only})


class DatasetRecord(BaseModel):
    """``dataset.json``: everything known about one built dataset version."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    id: str
    kind: DatasetKind
    version: int
    created: str
    model: str
    tokenizer: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    documents: tuple[DocumentRef, ...] = ()
    sources: dict[str, Any] = Field(default_factory=dict)  # user pairs, feedback files
    summary: dict[str, Any] = Field(default_factory=dict)
    files: dict[str, str] = Field(default_factory=dict)  # file name → sha256
    fingerprint: str = ""

    def describe(self) -> str:
        s = self.summary
        grounded = ", prompts with their sources" if s.get("grounded") else ""
        return (f"{self.id} ({self.kind} v{self.version}, {s.get('train', 0)} train / "
                f"{s.get('heldout', 0)} held-out rows, {len(self.documents)} documents"
                f"{grounded})")


def grounding_line(summary: dict[str, Any], kind: str = "sft") -> str:
    """How an SFT or preference dataset's prompts were written, in a sentence."""
    grounded, total = summary.get("grounded"), summary.get("examples", 0)
    if grounded:
        return (f"{grounded} of its {total} prompts show the sources retrieval finds for "
                "them, as drafting does" + (" (never the answer's own document)."
                                            if kind == "sft" else "."))
    if grounded is None:
        return "Its prompts are the bare requests: it was built before prompts had sources."
    reason = summary.get("not_grounded") or "retrieval found no sources"
    if reason == "grounded=false":
        reason = "sources were turned off (grounded=false)"
    return f"Its prompts are the bare requests: {reason}."


def built_note(kind: str, summary: dict[str, Any]) -> str:
    """What a user should know of a dataset just built, in a sentence ("" for nothing)."""
    if kind == "sft":
        return grounding_line(summary)
    if kind != "prefs":
        return ""
    line = grounding_line(summary, kind)
    if unchecked := summary.get("chosen_unverified"):
        line += (f" {unchecked} feedback pair(s) were left out: the preferred draft still "
                 "holds figures marked [unverified: …]. Edit those drafts (correct or delete "
                 "the figures) to use them.")
    return line


class Built(BaseModel):
    """What a builder hands to the store: data files, lineage and a summary."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    files: dict[str, list[dict[str, Any]]]
    documents: list[DocumentRef] = Field(default_factory=list)
    sources: dict[str, Any] = Field(default_factory=dict)
    summary: dict[str, Any] = Field(default_factory=dict)
