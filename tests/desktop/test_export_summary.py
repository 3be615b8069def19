"""The Export pane says which files keep the fine-tune's gain and which to use instead."""

from __future__ import annotations

from core.jobs.results import ExportResult
from desktop.panes.export import export_summary


def test_a_file_that_lost_the_gain_is_not_called_verified() -> None:
    result = {
        "outputs": [
            {"label": "Q4_K_M", "quant": "q4_k_m", "model_id": "m-q4", "verified": False,
             "gain_kept": 0.19, "size_bytes": 261 << 20, "perplexity_ratio": 1.04},
            {"label": "Q8_0", "quant": "q8_0", "model_id": "m-q8", "verified": True,
             "gain_kept": 0.98, "size_bytes": 300 << 20, "perplexity_ratio": 1.001},
        ],
        "recommended": {"q4_k_m": "m-q8"},
        "warnings": ["Q4_K_M keeps only 19 % of the gain."],
    }
    text = export_summary(ExportResult(model="m", **result))
    assert "Q4_K_M: NOT verified" in text and "keeps 19%" in text
    assert "Q8_0: verified" in text
    assert "Use m-q8 instead of the Q4_K_M file" in text
    assert "Q4_K_M keeps only 19 %" in text


def test_the_tokenizer_type_shows_only_when_an_export_asks_for_it(qtbot, window) -> None:  # noqa: ANN001
    """Issue 17: "Pre-tokenizer" sat in the Export pane's row for everyone."""
    from core.jobs import JobStatus

    pane = window.panes["Export"]
    window.show_section("Export")
    assert not pane.pre_tokenizer.isVisible()
    pane._ended(JobStatus(id="j", kind="export", title="", state="failed",
                          error="llama.cpp's converter does not recognise this model's "
                                "tokenizer (its BPE pre-tokenizer is not in its list)."))
    assert pane.pre_tokenizer.isVisible() and pane.tokenizer_label.isVisible()
    assert "Pick its tokenizer type" in pane.message.text()


def test_the_pane_preselects_the_type_for_the_chosen_models_size(  # noqa: ANN001
        qtbot, window, workspace) -> None:
    from core.workspace.registry import ModelRecord, ModelRegistry

    registry = ModelRegistry(workspace)
    for model_id, parameters in (("small-ft", 268_098_176), ("large-ft", 8_030_261_248)):
        record = ModelRecord(id=model_id, name=model_id, kind="merged",
                             architecture="Gemma3ForCausalLM", parameters=parameters)
        with registry.create(model_id, lambda folder, r=record: r) as folder:
            (folder / "config.json").write_text("{}")
    window.state.models_changed.emit()
    pane = window.panes["Export"]

    def ticked() -> list[str]:
        return pane.selected_quants()

    pane.model.setCurrentIndex(pane.model.findData("large-ft"))
    assert ticked() == ["q4_k_m"]
    pane.model.setCurrentIndex(pane.model.findData("small-ft"))
    assert ticked() == ["q8_0"]
    assert "under a billion parameters" in pane.quants["q8_0"].toolTip()
    pane.quants["f16"].setChecked(True)  # the user's choice
    window.state.models_changed.emit()  # a refresh keeps it for the same model
    assert ticked() == ["f16", "q8_0"]
