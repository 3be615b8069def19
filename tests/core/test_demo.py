"""The guided demo: every stage on the sample with the real Gemma 3 270M (slow), and
its summary as text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli.main import main
from core.demo.pipeline import STAGES, DemoConfig, read_summary, summary_lines
from core.errors import ConfigError
from core.jobs.kinds import validate_config
from core.workspace import Workspace
from core.workspace.registry import ModelRegistry


def test_config_is_validated_as_a_job() -> None:
    assert validate_config("demo", {}) == DemoConfig()
    with pytest.raises(ConfigError, match="cpt_steps"):
        validate_config("demo", {"cpt_steps": 0})
    with pytest.raises(ConfigError, match="merge_method"):
        validate_config("demo", {"merge_method": "average"})


def test_summary_lines_name_every_stage_and_the_key_metrics() -> None:
    summary = {
        "workspace": "/w", "seconds": 400.0,
        "metrics": {"heldout_ppl_base": 30.0, "heldout_ppl_tuned": 20.0,
                    "heldout_ppl_ratio": 0.6667, "retrieval_recall_at_5": 0.75,
                    "retrieval_mrr": 0.5, "training_tokens_per_s": 300.0,
                    "generation_tokens_per_s": 41.5},
        "stages": [
            {"stage": "cpt", "seconds": 100.0, "steps": 4, "train_loss": 3.2,
             "heldout_ppl_before": 30.0, "heldout_ppl_after": 21.0},
            {"stage": "draft", "seconds": 9.0, "section": "Staffing", "tokens": 80,
             "citations": ["[1] rates"]},
            {"stage": "adaptation check", "seconds": 1.0, "propose_update": True},
        ]}
    text = "\n".join(summary_lines(summary))
    assert "held-out perplexity: base 30.00 → tuned 20.00 (×0.667)" in text
    assert "recall@5 0.75" in text and "generation 41.5" in text
    assert "4 steps, loss 3.2, held-out ppl 30.0 → 21.0" in text
    assert "Staffing: 80 tokens, 1 citations" in text and "update proposed" in text


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_demo_runs_every_stage_on_the_sample(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "demo"
    code = main(["demo", "-w", str(root), "--json", "--cpt-steps", "8", "--sft-steps", "2",
                 "--dpo-steps", "2", "--draft-tokens", "48",
                 "--summary", str(tmp_path / "summary.json")])
    out = capsys.readouterr().out
    assert code == 0
    summary = json.loads(out)
    assert [s["stage"] for s in summary["stages"]] == list(STAGES)
    assert read_summary(root) == json.loads((tmp_path / "summary.json").read_text())
    metrics = summary["metrics"]
    # CPT on the sample lowers held-out perplexity, and the merged, quantized model keeps it
    assert metrics["heldout_ppl_tuned"] < metrics["heldout_ppl_base"]
    stages = {s["stage"]: s for s in summary["stages"]}
    assert stages["cpt"]["heldout_ppl_after"] < stages["cpt"]["heldout_ppl_before"]
    assert metrics["retrieval_recall_at_5"] >= 0.75
    assert metrics["training_tokens_per_s"] > 0 and metrics["generation_tokens_per_s"] > 0
    assert stages["draft"]["citations"] and stages["draft"]["tokens"] > 0
    assert stages["adaptation check"]["lines"]
    # the tuned model (SFT in its lineage) gets the chat prompt; no draft echoes the prompt
    assert stages["draft"]["format"] == "chat"
    quality = stages["draft quality"]
    assert quality["pairs"] >= 1
    assert quality["base_echo_rate"] == 0 and quality["tuned_echo_rate"] == 0
    for name in ("base", "tuned"):
        validity = quality[f"{name}_citation_validity"]
        assert validity is None or validity >= 0.9

    registry = ModelRegistry(Workspace.open(root))
    models = summary["models"]
    gguf = registry.get(models["gguf"])
    assert gguf.kind == "gguf" and models["merged"] in gguf.parents
    merged = registry.get(models["merged"])
    assert set(merged.parents) >= {models["sft"], models["dpo"]}
    assert registry.get(models["dpo"]).parents[-1] == models["sft"]  # DPO continued SFT
    audit = (root / "audit.log").read_text(encoding="utf-8")
    assert "demo.run" in audit
