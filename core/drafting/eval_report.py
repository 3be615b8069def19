"""Reading and showing a draft-quality report (``core.drafting.eval_job``).

``format_report`` is the plain-text view the CLI prints and the app shows beside its
table: one row of figures per model, then, on request, each pair's drafts side by side
with the reference section.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from core.drafting.evaluate import EvalError
from core.fsutil import read_json

# (key, column title, format): the figures in the order an analyst reads them.
FIGURES: tuple[tuple[str, str, str], ...] = (
    ("echo_rate", "echo", "pct"),
    ("echo_rate_first_attempt", "echo (1st try)", "pct"),
    ("failed_rate", "failed", "pct"),
    ("citation_validity", "citations valid", "pct"),
    ("citation_validity_model_written", "model's own valid", "pct"),
    ("fact_exactness", "facts exact", "pct"),
    ("fact_exactness_model_written", "model's own exact", "pct"),
    ("facts_corrected", "facts put right", "int"),
    ("facts_unverified", "facts marked", "int"),
    ("rouge_l", "ROUGE-L", "num"),
    ("similarity", "similarity", "num"),
    ("words", "words", "int"),
    ("ttft_with_retrieval_s", "TTFT s", "num"),
    ("prompt_tokens", "prompt tok", "int"),
    ("tokens_per_s", "tok/s", "num"),
)


def read_report(path: Path) -> dict[str, Any]:
    try:
        return dict(read_json(path))
    except (OSError, ValueError) as error:
        raise EvalError(f"The evaluation report {path} cannot be read: {error}") from error


def figure(value: Any, kind: str) -> str:
    """One figure as shown: a percentage, a number, or "–" when there is nothing to score."""
    if value is None:
        return "–"
    if kind == "pct":
        return f"{100 * value:.0f} %"
    if kind == "int":
        return f"{value:.0f}"
    return f"{value:.3g}"


def summary_rows(report: dict[str, Any]) -> list[list[str]]:
    """Per model: its name, prompt format, then each figure of ``FIGURES``."""
    return [[m["model"], "/".join(m.get("format") or []) or "–",
             *(figure(m.get(key), kind) for key, _, kind in FIGURES)]
            for m in report.get("models", [])]


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def trained_on_line(model: dict[str, Any]) -> str:
    """What a model in a report was trained on, in a sentence ("" for old reports)."""
    trained = model.get("trained_on")
    if trained is None:
        return ""
    if not trained["datasets"]:
        return f"{model['model']}: not trained on your documents"
    line = f"{model['model']}: trained on {', '.join(trained['datasets'])}"
    if trained["synthetic_pairs"]:
        line += (f", with {trained['synthetic_pairs']} generated pair(s) from "
                 f"{', '.join(trained['teachers'])}")
    return line


def report_rate(report: dict[str, Any]) -> float | None:
    """The reading speed (tokens/s) every prompt of ``report`` was sized at, if any."""
    budget = report.get("prompt_budget") or {}
    rate = budget.get("prefill_rate") if budget.get("first_token_s") else None
    return float(rate) if rate else None


def budget_sentence(report: dict[str, Any]) -> str:
    """How the prompts were sized, in words."""
    budget = report.get("prompt_budget") or {}
    target, rate = budget.get("first_token_s"), report_rate(report)
    if not budget:
        return "Prompts: sized by each model's own reading speed (an older report)."
    if not target or not rate:
        return "Prompts: as many sources as fit the context window."
    how = "measured once" if budget.get("measured") else "as asked"
    return (f"Prompts: sized to what a model reads in {target:g} s at {rate:g} tokens/s "
            f"({how}), the same size for every model.")


def format_report(report: dict[str, Any], show_drafts: bool = False) -> str:
    header = ["model", "format", *(title for _, title, _ in FIGURES)]
    parts = [f"{len(report.get('pairs', []))} held-out request(s); similarity: "
             f"{report.get('similarity') or 'not measured (no embedding model)'}",
             budget_sentence(report) + (
                 f" --prefill-rate {rate:g} drafts from the same prompts again."
                 if (rate := report_rate(report)) else ""),
             _table(header, summary_rows(report))]
    lines = [line for m in report.get("models", []) if (line := trained_on_line(m))]
    if lines:
        parts.append("\n".join(lines))
    if show_drafts:
        for index, pair in enumerate(report.get("pairs", [])):
            parts.append(f"\n=== {pair['id']}: {textwrap.shorten(pair['request'], 200)}")
            parts.append("--- reference\n" + textwrap.shorten(pair["reference"], 600))
            for model in report.get("models", []):
                row = model["per_pair"][index]
                note = f" [FAILED: {'; '.join(row['problems'])}]" if row["status"] == "failed" \
                    else ""
                parts.append(f"--- {model['model']} ({row['format']}, ROUGE-L "
                             f"{row['rouge_l']:.3f}){note}\n{row['text'] or '(empty)'}")
    return "\n".join(parts)
