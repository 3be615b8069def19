"""Side-by-side generations of several models on the same prompts (job ``compare-models``).

Used by the Training wizard's results page and the Merge wizard to show whether a tuned
or merged model kept its skills. Greedy decoding, so a comparison is reproducible.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.jobs.progress import JobContext
from core.models.resolve import resolve_model
from core.workspace import Workspace


class CompareConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    models: tuple[str, ...] = Field(min_length=1, max_length=8)
    prompts: tuple[str, ...] = Field(min_length=1, max_length=32)
    max_new_tokens: int = Field(default=48, ge=1, le=1024)


def _render(tokenizer: Any, prompt: str, chat: bool) -> str:
    if chat and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
    return prompt


def generate_all(
    workspace: Workspace, config: CompareConfig, ctx: JobContext | None = None
) -> dict[str, list[str]]:
    """Model id → one completion per prompt."""
    import torch

    from core.training.modeling import Placement, cuda_available, load_for_inference

    where = Placement("cuda", "float32") if cuda_available() else Placement("cpu", "float32")
    total = len(config.models) * len(config.prompts)
    outputs: dict[str, list[str]] = {}
    done = 0
    for model_id in config.models:
        chat = resolve_model(workspace, model_id).instruct
        model, tokenizer = load_for_inference(workspace, model_id, where)
        model.eval()
        texts = []
        for prompt in config.prompts:
            if ctx:
                ctx.check_cancelled()
                ctx.report(done, total, f"{model_id}: generating")
            encoded = tokenizer(_render(tokenizer, prompt, chat), return_tensors="pt",
                                add_special_tokens=not chat).to(model.device)
            with torch.no_grad():
                generated = model.generate(
                    **encoded, max_new_tokens=config.max_new_tokens, do_sample=False,
                    pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
            new_tokens = generated[0, encoded["input_ids"].shape[1]:]
            texts.append(tokenizer.decode(new_tokens, skip_special_tokens=True).strip())
            done += 1
        outputs[model_id] = texts
        del model
    if ctx:
        ctx.report(total, total, "done", force=True)
    return outputs


def run_compare_job(config: CompareConfig, ctx: JobContext) -> dict[str, Any]:
    outputs = generate_all(ctx.workspace(), config, ctx)
    return {"prompts": list(config.prompts), "outputs": outputs}


class EvaluateConfig(BaseModel):
    """Held-out perplexity of each model on each dataset (e.g. one per source domain)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    models: tuple[str, ...] = Field(min_length=1, max_length=8)
    datasets: tuple[str, ...] = Field(min_length=1, max_length=8)
    limit: int = Field(default=64, ge=1, le=100_000, description="held-out rows per dataset")


def run_evaluate_job(config: EvaluateConfig, ctx: JobContext) -> dict[str, Any]:
    """``{"perplexity": {model: {dataset: ppl}}}``."""
    from core.training.evaluate import evaluate_model

    workspace = ctx.workspace()
    total = len(config.models) * len(config.datasets)
    table: dict[str, dict[str, float]] = {}
    done = 0
    for model_id in config.models:
        for dataset_id in config.datasets:
            ctx.check_cancelled()
            ctx.report(done, total, f"{model_id} on {dataset_id}")
            result = evaluate_model(workspace, model_id, dataset_id, limit=config.limit)
            table.setdefault(model_id, {})[dataset_id] = float(result["perplexity"])
            done += 1
    ctx.report(total, total, "done", force=True)
    return {"perplexity": table}
