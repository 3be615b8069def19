"""Does the export keep the adaptation? Base vs tuned on the workspace's held-out text.

A LoRA's deltas are small: quantizing the merged model can round them away, most of all
when the base's weights already lie on the quantization grid (the bundled Gemma 3 270M came
as Q4_K_M). Comparing a quantized file with the tuned f16 file cannot see that, so the
export also scores the *base* model, converted and quantized the same way, on the held-out
text of the CPT datasets behind the tuned model, and reports the share of the f16 gain
(base perplexity − tuned perplexity) that each quantized file keeps. Below ``min_kept`` the
file is registered but not called verified.

The base's side of the comparison depends only on the base's weights, the type, the text
and the scoring settings, so its scores are kept in the machine's cache under a key of
those (the base's file checksums, not its id): a second export of a model tuned on the same
data, or of the same model at another type, scores only the tuned files and converts
nothing of the base.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.datasets.heldout import cpt_datasets, heldout_text
from core.export.convert import convert_to_f16
from core.export.quantize import LABELS, quantize
from core.export.verify import HeldoutScore, score_heldout
from core.merging.sources import full_model_folder
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry

KEPT_MIN = 0.8
# A tuned model less than 0.5 % better than its base at f16 has no measurable gain to keep.
MIN_GAIN = 0.005
SCORES_FOLDER = "heldout-scores"
SCORES_VERSION = 1  # bump when scoring changes what a cached figure means


@dataclass(frozen=True)
class GainKept:
    """Held-out perplexity of the base and the tuned model at f16 and at one quant."""

    quant: str
    base_f16: float
    tuned_f16: float
    base: float
    tuned: float
    tokens: int
    min_kept: float = KEPT_MIN

    @property
    def gain_f16(self) -> float:
        return self.base_f16 - self.tuned_f16

    @property
    def gain(self) -> float:
        return self.base - self.tuned

    @property
    def kept(self) -> float | None:
        """gain at this quant / gain at f16; None when tuning gained nothing measurable."""
        if self.gain_f16 <= MIN_GAIN * self.base_f16:
            return None
        return self.gain / self.gain_f16

    @property
    def verified(self) -> bool:
        return self.kept is None or self.kept >= self.min_kept - 1e-9  # float noise

    def message(self) -> str:
        label = LABELS[self.quant]
        figures = (f"held-out perplexity base → tuned: F16 {self.base_f16:.2f} → "
                   f"{self.tuned_f16:.2f}, {label} {self.base:.2f} → {self.tuned:.2f} "
                   f"({self.tokens} tokens)")
        if self.kept is None:
            return f"{label}: the tuned model gains nothing measurable at F16; {figures}"
        if self.verified:
            return f"{label} keeps {self.kept:.0%} of the adaptation's gain; {figures}"
        fix = ("Use the F16 file (--quant f16)" if self.quant == "q8_0"
               else "Export at Q8_0 instead (--quant q8_0)")
        return (f"{label} keeps only {self.kept:.0%} of the adaptation's gain (at least "
                f"{self.min_kept:.0%} is needed), so it is NOT verified: quantization rounds "
                f"the fine-tune's small weight changes away; {figures}. {fix}, or train "
                "longer or with a higher learning rate so the changes outgrow the rounding.")

    def f16_metrics(self) -> dict[str, float]:
        """The f16 figures alone (for files whose own check was not needed)."""
        return {"heldout_ppl_base_f16": self.base_f16, "heldout_ppl_tuned_f16": self.tuned_f16,
                "gain_tokens": float(self.tokens)}

    def metrics(self) -> dict[str, float]:
        """The figures for the GGUF's registry record."""
        values = {**self.f16_metrics(), "heldout_ppl_base": self.base,
                  "heldout_ppl_tuned": self.tuned, "verified": float(self.verified)}
        if self.kept is not None:
            values["gain_kept"] = self.kept
        return values


@dataclass(frozen=True)
class GainPlan:
    """What the adaptation check compares: the base model and the held-out text."""

    base: ModelRecord
    datasets: list[str]
    text: str


def plan_gain_check(workspace: Workspace, record: ModelRecord) -> GainPlan | str:
    """The plan for ``record``, or why there is nothing to compare."""
    registry = ModelRegistry(workspace)
    base = next((r for r in registry.lineage(record.id)[1:] if r.kind == "base"), None)
    if base is None:
        return ("the model is a base model" if record.kind == "base"
                else "no base model in its lineage")
    datasets = cpt_datasets(workspace, record.id)
    if not datasets:
        return "no CPT dataset in its lineage, so no held-out text"
    text = heldout_text(workspace, datasets)
    if not text.strip():
        return f"the CPT datasets ({', '.join(datasets)}) hold no held-out text"
    return GainPlan(base=base, datasets=datasets, text=text)


class GainCheck:
    """Scores the base and the tuned model on the plan's text, at f16 and at each quant.

    ``start`` scores both at f16, ``at`` at one type: the base converted to f16 in
    ``scratch`` and quantized like the tuned file, unless its score is in the cache."""

    def __init__(self, registry: ModelRegistry, plan: GainPlan, scratch: Path, *,
                 max_tokens: int, window: int, min_kept: float = KEPT_MIN,
                 pre_tokenizer: str | None = None, threads: int | None = None) -> None:
        self.registry, self.plan, self.scratch = registry, plan, Path(scratch)
        self.max_tokens, self.window, self.min_kept = max_tokens, window, min_kept
        self.pre_tokenizer, self.threads = pre_tokenizer, threads
        self.base_f16: Path | None = None
        self.f16: tuple[HeldoutScore, HeldoutScore] | None = None
        self.seconds = 0.0
        self.cached: list[str] = []  # types whose base score came from the cache

    def _score(self, path: Path) -> HeldoutScore:
        start = time.perf_counter()
        try:
            return score_heldout(path, self.plan.text, max_tokens=self.max_tokens,
                                 window=self.window)
        finally:
            self.seconds += time.perf_counter() - start

    def _cache_file(self, quant: str) -> Path | None:
        """Where the base's score at ``quant`` is kept; None when the base's files have no
        checksums to name its weights by."""
        import llama_cpp

        from core.settings import cache_dir

        if not self.plan.base.files:
            return None
        identity = {"version": SCORES_VERSION, "llama_cpp": llama_cpp.__version__,
                    "files": self.plan.base.files, "quant": quant,
                    "text": hashlib.sha256(self.plan.text.encode("utf-8")).hexdigest(),
                    "max_tokens": self.max_tokens, "window": self.window,
                    "pre_tokenizer": self.pre_tokenizer}
        key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
        return cache_dir() / SCORES_FOLDER / f"{key[:32]}.json"

    def _base_file(self) -> Path:
        """The base converted to f16 in the scratch folder (once, when first needed)."""
        if self.base_f16 is None:
            folder = full_model_folder(self.registry, self.plan.base, self.scratch)
            self.base_f16 = convert_to_f16(folder, self.scratch / "gain-base-F16.gguf",
                                           name=self.plan.base.name,
                                           pre_tokenizer=self.pre_tokenizer)
        return self.base_f16

    def _base_score(self, quant: str) -> HeldoutScore:
        """The base's score at ``quant``: from the cache, else converted, quantized and
        scored here (and kept)."""
        from core.errors import DiskSpaceError
        from core.fsutil import atomic_write_json

        cached = self._cache_file(quant)
        try:
            if cached is not None and cached.exists():
                score = HeldoutScore(**json.loads(cached.read_text(encoding="utf-8")))
                self.cached.append(quant)
                return score
        except (OSError, ValueError, TypeError):
            pass  # unreadable: score again and write it afresh
        if quant == "f16":
            score = self._score(self._base_file())
        else:
            base_file = quantize(self._base_file(),
                                 self.scratch / f"gain-base-{LABELS[quant]}.gguf", quant,
                                 threads=self.threads)
            try:
                score = self._score(base_file)
            finally:
                base_file.unlink(missing_ok=True)
        if cached is not None:
            try:
                atomic_write_json(cached, asdict(score))
            except (OSError, DiskSpaceError):
                pass  # a cache that cannot be written only costs time next export
        return score

    def start(self, tuned_f16: Path) -> GainKept:
        self.f16 = (self._base_score("f16"), self._score(tuned_f16))
        return self._kept("f16", *self.f16)

    def at(self, quant: str, tuned_file: Path) -> GainKept:
        assert self.f16 is not None, "start() first"
        return self._kept(quant, self._base_score(quant), self._score(tuned_file))

    def _kept(self, quant: str, base: HeldoutScore, tuned: HeldoutScore) -> GainKept:
        assert self.f16 is not None
        return GainKept(quant=quant, base_f16=self.f16[0].perplexity,
                        tuned_f16=self.f16[1].perplexity, base=base.perplexity,
                        tuned=tuned.perplexity, tokens=tuned.tokens, min_kept=self.min_kept)

    def summary(self) -> dict[str, Any]:
        """What was compared and scored (for the job result)."""
        scored = self.f16[1] if self.f16 else None
        return {"checked": True, "base_model": self.plan.base.id,
                "datasets": list(self.plan.datasets), "min_kept": self.min_kept,
                "tokens": scored.tokens if scored else 0,
                "windows": scored.windows if scored else 0,
                "window": scored.window if scored else self.window,
                "scoring_seconds": round(self.seconds, 3),
                "base_scores_cached": list(self.cached)}
