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
