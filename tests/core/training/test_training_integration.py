"""The real bundled Gemma 3 270M: CPT then SFT on a small in-domain set, on the CPU.

Held-out perplexity on in-domain text must drop against the base model at each stage.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from training_fixtures import commit_dataset, turn

from core.training.config import build_config
from core.workspace import Workspace
from core.workspace.registry import ModelRegistry

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

SUBJECTS = ["hydrographic survey vessels", "the help desk", "rocket telemetry archives",
            "labour category LC-12 (Senior Analyst)", "the transition plan", "cloud hosting"]
CLAUSES = ["The contractor shall provide {s} under CLIN 0001 within 30 days of award.",
           "Section L requires the offeror to describe {s} in no more than five pages.",
           "Our approach to {s} follows ISO 9001 and reports monthly to the COR.",
           "Past performance: we delivered {s} for NAVSEA on contract N00024-21-C-4410."]


def _corpus() -> list[str]:
    return [c.format(s=s) for s in SUBJECTS for c in CLAUSES]


def test_cpt_then_sft_lower_in_domain_perplexity(tmp_path: Path, make_ctx) -> None:  # noqa: ANN001
    from transformers import AutoTokenizer

    from core.models.bundled import BASE_MODEL_ID, import_base_model
    from core.training.job import run_training

    workspace = Workspace.create(tmp_path / "ws")
    import_base_model(workspace)  # cached conversion: hard links into the test cache
    registry = ModelRegistry(workspace)
    tokenizer = AutoTokenizer.from_pretrained(str(registry.path_of(registry.get(BASE_MODEL_ID))))

    lines = _corpus()
    heldout_lines = [line for i, line in enumerate(lines) if i % 6 == 0]
    train_lines = [line for i, line in enumerate(lines) if i % 6 != 0]

    def packed(texts: list[str], seq: int = 64) -> list[dict[str, list[int]]]:
        ids: list[int] = []
        for text in texts:
            ids.extend(tokenizer(text)["input_ids"] + [tokenizer.eos_token_id])
        return [{"input_ids": ids[i:i + seq]} for i in range(0, len(ids) - seq + 1, seq)]

    cpt_id = commit_dataset(workspace, "cpt", packed(train_lines * 3), packed(heldout_lines),
                            tokenizer)

    def pair(line: str) -> dict[str, str]:
        words = line.split()
        return {"prompt": "<bos>" + turn("user", "Continue: " + " ".join(words[:5]))
                + "<start_of_turn>model\n",
                "completion": " ".join(words[5:]) + "<end_of_turn>\n"}

    sft_id = commit_dataset(workspace, "sft", [pair(x) for x in train_lines],
                            [pair(x) for x in heldout_lines], tokenizer)
    common = ["learning_rate=0.001", "batch_size=2", "max_length=64", "eval_every=0",
              "save_every=100", "warmup_ratio=0", "seed=3"]
    cpt_config = build_config("cpt", base=BASE_MODEL_ID, dataset=cpt_id,
                              overrides=[*common, "max_steps=8"])
    ctx, _ = make_ctx(workspace, "run-cpt")
    cpt = run_training(cpt_config, ctx)
    assert cpt["metrics"]["heldout_ppl_after"] < 0.8 * cpt["metrics"]["heldout_ppl_before"]

    sft_config = build_config("sft", base=BASE_MODEL_ID, dataset=sft_id,
                              overrides=[*common, "max_steps=6",
                                         f"init_adapter={cpt['model_id']}"])
    ctx, _ = make_ctx(workspace, "run-sft")
    sft = run_training(sft_config, ctx)
    assert sft["metrics"]["heldout_ppl_after"] < sft["metrics"]["heldout_ppl_before"]
    record = registry.get(sft["model_id"])
    assert record.parents == (BASE_MODEL_ID, cpt["model_id"])
    print("\nCPT held-out ppl", cpt["metrics"]["heldout_ppl_before"], "→",
          cpt["metrics"]["heldout_ppl_after"], f"({cpt['metrics']['seconds']:.0f} s)")
    print("SFT held-out ppl", sft["metrics"]["heldout_ppl_before"], "→",
          sft["metrics"]["heldout_ppl_after"], f"({sft['metrics']['seconds']:.0f} s)")
