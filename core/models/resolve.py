"""One answer to "which model is this, and does it follow instructions?".

A model is named by a registry id (any kind: base, adapter, merged, gguf) or by a path to a
``.gguf`` file or a Hugging Face folder. ``resolve_model`` returns its files and its *kind*:

- **instruct**: it follows instructions. Its registry lineage holds an instruction stage
  (SFT, DPO or ORPO), or its base model shipped its own chat template (an "-Instruct" or
  "-it" release), or, for a file outside the registry, the file carries a chat template.
- **base**: it continues documents. A base model and anything trained from it by continued
  pre-training only. Scriptorium attaches a fallback chat template to such models so that
  SFT can render pairs; that template says nothing about the model, so it is not counted.

Drafting prompts an instruct model with chat messages and a base model with a document to
continue (``core.drafting.prompt``). Every stage asks this module rather than guessing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.errors import ModelError
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry

ModelKind = Literal["instruct", "base"]
PromptFormat = Literal["chat", "document"]
INSTRUCTION_RECIPES = ("sft", "dpo", "orpo")
# How a base record says where its chat template came from ("model": shipped with it).
TEMPLATE_ORIGIN_KEY = "chat_template_origin"


@dataclass(frozen=True)
class ResolvedModel:
    """A model's files and kind, as every stage should see them."""

    name: str
    record: ModelRecord | None
    gguf: Path | None
    folder: Path | None
    stages: tuple[str, ...]  # training recipes in its lineage, nearest first
    has_chat_template: bool
    kind: ModelKind
    reason: str

    @property
    def instruct(self) -> bool:
        return self.kind == "instruct"

    @property
    def prompt_format(self) -> PromptFormat:
        return "chat" if self.instruct else "document"


def is_path(model: str | Path) -> bool:
    text = str(model)
    return isinstance(model, Path) or text.endswith(".gguf") or os.sep in text


def _single_gguf(registry: ModelRegistry, record: ModelRecord) -> Path:
    files = sorted(registry.path_of(record).glob("*.gguf"))
    if len(files) != 1:
        raise ModelError(f"Model {record.id!r} should hold exactly one .gguf file, "
                         f"found {len(files)}.")
    return files[0]


def resolve_gguf(workspace: Workspace | None, model: str | Path) -> tuple[Path, str]:
    """The .gguf file of a registry id or a path, and a display name."""
    if is_path(model):
        path = Path(model).expanduser().absolute()
        if not path.is_file():
            raise ModelError(f"No GGUF file at {path}.")
        return path, path.name
    if workspace is None:
        raise ModelError(f"{model!r} is neither a GGUF file nor a model of an open workspace.")
    registry = ModelRegistry(workspace)
    record = registry.get(str(model))
    if record.kind != "gguf":
        raise ModelError(f"Model {record.id!r} is a {record.kind} model; this step runs GGUF "
                         "models.", hint="export it to GGUF first")
    return _single_gguf(registry, record), record.id


def exported_gguf(registry: ModelRegistry, model_id: str) -> str | None:
    """The model itself when it is a GGUF, else its newest GGUF export, else None."""
    if registry.get(model_id).kind == "gguf":
        return model_id
    exports = [r for r in registry.list() if r.kind == "gguf" and model_id in r.parents]
    return max(exports, key=lambda r: (r.created, r.id)).id if exports else None


def gguf_chat_template(path: Path) -> str | None:
    """The chat template embedded in a GGUF file's metadata (reads the header only)."""
    from core.models.gguf_header import read_header

    template = read_header(path).values.get("tokenizer.chat_template")
    return str(template) if template else None


def folder_chat_template(folder: Path) -> str | None:
    """The chat template a Hugging Face folder ships (tokenizer_config.json or a .jinja)."""
    import json

    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    config = folder / "tokenizer_config.json"
    if config.is_file():
        try:
            value = json.loads(config.read_text(encoding="utf-8")).get("chat_template")
        except ValueError:
            return None
        if isinstance(value, list):  # named templates: the default one
            value = next((t.get("template") for t in value if t.get("name") == "default"), None)
        return value or None
    return None


def _fallback_template() -> str:
    import resources

    return resources.path("templates/gemma-turns.jinja").read_text(encoding="utf-8")


def _shipped_template(template: str | None) -> bool:
    """A template that came with the model, not the one Scriptorium attaches."""
    return bool(template) and template.strip() != _fallback_template().strip()


def _stages(lineage: list[ModelRecord]) -> tuple[str, ...]:
    found = []
    for record in lineage:
        recipe = str(record.config.get("recipe", "")).lower()
        if recipe and recipe not in found:
            found.append(recipe)
    return tuple(found)


def _root_ships_template(registry: ModelRegistry, lineage: list[ModelRecord]) -> bool:
    """Whether a base model at the root of the lineage came with its own chat template."""
    for record in lineage:
        if record.kind != "base":
            continue
        origin = record.config.get(TEMPLATE_ORIGIN_KEY)
        if origin is not None:
            if origin == "model":
                return True
            continue
        if record.config.get("source") == "bundled":
            continue  # the bundled Gemma 3 270M is a pretrained base
        folder = registry.path_of(record)
        if _shipped_template(folder_chat_template(folder)):
            return True
    return False


def _kind_from_lineage(registry: ModelRegistry, lineage: list[ModelRecord],
                       stages: tuple[str, ...]) -> tuple[ModelKind, str]:
    instruction = [s for s in stages if s in INSTRUCTION_RECIPES]
    if instruction:
        return "instruct", f"{instruction[0].upper()} stage in its lineage"
    if _root_ships_template(registry, lineage):
        return "instruct", "its base model ships a chat template (instruction-tuned release)"
    if stages:
        return "base", "continued pre-training only; no instruction stage in its lineage"
    return "base", "a pretrained base model with no instruction stage"


def resolve_model(workspace: Workspace | None, model: str | Path) -> ResolvedModel:
    """Files and kind of a registry id, a ``.gguf`` file or a model folder."""
    if is_path(model):
        path = Path(model).expanduser().absolute()
        gguf = path if path.is_file() and path.suffix == ".gguf" else None
        if gguf is not None or path.is_dir():
            template = gguf_chat_template(path) if gguf else folder_chat_template(path)
            kind, reason = model_kind(None, path, template)
            return ResolvedModel(name=path.name, record=None, gguf=gguf,
                                 folder=None if gguf else path, stages=(),
                                 has_chat_template=bool(template), kind=kind, reason=reason)
        raise ModelError(f"No model file or folder at {path}.")
    if workspace is None:
        raise ModelError(f"{model!r} is neither a model file nor a model of an open workspace.")
    registry = ModelRegistry(workspace)
    record = registry.get(str(model))
    lineage = registry.lineage(record.id)
    stages = _stages(lineage)
    kind, reason = _kind_from_lineage(registry, lineage, stages)
    gguf = _single_gguf(registry, record) if record.kind == "gguf" else None
    template = gguf_chat_template(gguf) if gguf else folder_chat_template(
        registry.path_of(record))
    return ResolvedModel(
        name=record.id, record=record, gguf=gguf,
        folder=None if gguf else registry.path_of(record), stages=stages,
        has_chat_template=bool(template), kind=kind, reason=reason)


def tuned_here(reason: str) -> bool:
    """Whether a kind's reason is an instruction stage Scriptorium trained: such a model
    knows the prompts of its SFT data (a user turn, no system message), nothing more."""
    return reason.endswith("stage in its lineage")


def model_kind(workspace: Workspace | None, model: str | Path,
               chat_template: str | None) -> tuple[ModelKind, str]:
    """The kind of a model whose chat template is already known (a loaded GGUF's metadata):
    from the registry lineage for an id, from the template for a file."""
    if is_path(model) or workspace is None:
        if _shipped_template(chat_template):
            return "instruct", "the model carries a chat template"
        return "base", "the model has no chat template of its own"
    registry = ModelRegistry(workspace)
    lineage = registry.lineage(str(model))
    return _kind_from_lineage(registry, lineage, _stages(lineage))


def prompt_format(workspace: Workspace | None, model: str | Path) -> PromptFormat:
    """"chat" for an instruction-following model, "document" for a base one."""
    return resolve_model(workspace, model).prompt_format
