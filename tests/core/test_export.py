"""GGUF export of a tiny Gemma-3-shaped model: f16 + Q8_0, verified, registered with lineage.

llama.cpp's converter identifies a BPE tokenizer by hashing how it splits a probe text, so it
cannot know the tiny test tokenizer; the tests name its pre-tokenizer (``gpt-2``: byte-level
with GPT-2's split), which is what the ``pre_tokenizer`` option is for.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.cli.main import main
from core.errors import ConfigError, ModelError
from core.export.config import parse_export_config
from core.export.job import export_model
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def tiny_workspace(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Workspace:
    from core.models.info import hf_model_facts

    workspace = Workspace.create(tmp_path_factory.mktemp("export") / "ws")
    facts = hf_model_facts(tiny_model_dir)
    for model_id, parents in (("tiny", ()), ("tiny-ft", ("tiny",))):
        record = ModelRecord(id=model_id, name=f"Tiny {model_id}", kind="base" if not parents
                             else "merged", architecture=facts.architecture,
                             model_type=facts.model_type, parameters=facts.parameters,
                             parents=parents)
        with ModelRegistry(workspace).create(model_id, lambda folder, r=record: r) as folder:
            for path in tiny_model_dir.iterdir():
                shutil.copy2(path, folder / path.name)
    return workspace


def test_config_normalises_and_validates() -> None:
    config = parse_export_config({"model": "m", "quants": ["Q8_0", "q4-k-m", "q8_0"]})
    assert config.quants == ("q8_0", "q4_k_m")
    with pytest.raises(ConfigError, match="quants"):
        parse_export_config({"model": "m", "quants": ["q3_k"]})


def test_without_a_type_a_small_model_gets_q8_and_a_large_one_q4() -> None:
    from core.export.config import SMALL_MODEL_PARAMETERS, default_quants

    assert parse_export_config({"model": "m"}).quants == ()
    assert default_quants(268_098_176) == ("q8_0",)  # the bundled Gemma 3 270M
    assert default_quants(None) == ("q8_0",)
    assert default_quants(SMALL_MODEL_PARAMETERS) == ("q4_k_m",)
    assert default_quants(8_030_261_248) == ("q4_k_m",)


def test_an_export_without_a_type_makes_the_default_for_the_size(
    tiny_workspace: Workspace
) -> None:
    config = parse_export_config({"model": "tiny-ft", "pre_tokenizer": "gpt-2",
                                  "eval_tokens": 32, "gain_tokens": 0})
    result = export_model(tiny_workspace, config)
    assert result["quants"] == ["q8_0"]
    assert [o["quant"] for o in result["outputs"]] == ["q8_0"]


def test_export_f16_and_q8_verified_and_registered(tiny_workspace: Workspace) -> None:
    from gguf import GGUFReader

    config = parse_export_config({"model": "tiny-ft", "quants": ["f16", "q8_0"],
                                  "pre_tokenizer": "gpt-2", "eval_tokens": 96,
                                  "name": "Tiny fine-tune"})
    result = export_model(tiny_workspace, config)
    registry = ModelRegistry(tiny_workspace)
    by_quant = {o["quant"]: o for o in result["outputs"]}
    assert set(by_quant) == {"f16", "q8_0"}
    assert by_quant["f16"]["perplexity_ratio"] == 1.0
    assert 0.9 < by_quant["q8_0"]["perplexity_ratio"] < 1.1
    assert by_quant["q8_0"]["size_bytes"] < by_quant["f16"]["size_bytes"]
    for output in result["outputs"]:
        record = registry.get(output["model_id"])
        assert record.kind == "gguf" and record.format == "gguf"
        assert record.parents == ("tiny-ft",)
        assert record.config["quantization"] == output["label"]
        assert record.config["chat_template"] is True
        assert record.metrics["size_bytes"] == output["size_bytes"] > 0
        assert record.metrics["perplexity_ratio_vs_f16"] == output["perplexity_ratio"]
        assert registry.verify(record.id) == []
        gguf_file = registry.path_of(record) / output["file"]
        fields = GGUFReader(str(gguf_file)).fields

        def text(key: str, fields: dict = fields) -> str:
            field = fields[key]
            return bytes(field.parts[field.data[0]]).decode("utf-8")

        assert text("general.name") == "Tiny fine-tune"
        assert text("scriptorium.model_id") == "tiny-ft"
        assert text("scriptorium.parents") == "tiny"
        assert [r["id"] for r in json.loads(text("scriptorium.lineage"))] == ["tiny-ft", "tiny"]
        assert "start_of_turn" in text("tokenizer.chat_template")
    lineage = [r.id for r in registry.lineage(by_quant["q8_0"]["model_id"])]
    assert lineage == [by_quant["q8_0"]["model_id"], "tiny-ft", "tiny"]
    assert not list(tiny_workspace.root.glob(".export-*"))  # scratch removed


def test_unknown_tokenizer_gets_a_clear_message(tiny_workspace: Workspace) -> None:
    with pytest.raises(ModelError, match="does not recognise this model's tokenizer") as error:
        export_model(tiny_workspace, parse_export_config({"model": "tiny", "quants": ["f16"]}))
    assert "pre_tokenizer" in str(error.value)
    assert not list(tiny_workspace.root.glob(".export-*"))


def test_a_gguf_cannot_be_exported_again(tiny_workspace: Workspace) -> None:
    registry = ModelRegistry(tiny_workspace)
    gguf_ids = [r.id for r in registry.list() if r.kind == "gguf"]
    if not gguf_ids:
        pytest.skip("needs the export test's output")
    with pytest.raises(ModelError, match="already a GGUF"):
        export_model(tiny_workspace, parse_export_config({"model": gguf_ids[0]}))


def test_cli_export_runs_the_job(tiny_workspace: Workspace,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["export", "-w", str(tiny_workspace.root), "tiny", "--quant", "q8_0",
                 "--pre-tokenizer", "gpt-2", "--eval-tokens", "64", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert [o["label"] for o in result["outputs"]] == ["Q8_0"]
    record = ModelRegistry(tiny_workspace).get(result["outputs"][0]["model_id"])
    assert record.parents == ("tiny",) and record.config["run"] == result["job"]
