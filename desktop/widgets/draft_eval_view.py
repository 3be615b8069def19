"""A draft-quality report (``core.drafting.eval_report``) as the app shows it: one column
of figures per model, each figure explained in plain words, then each request's drafts
side by side with the section a person wrote for it."""

from __future__ import annotations

import html
import textwrap
from typing import Any

from core.drafting.eval_report import (
    FIGURES,
    budget_sentence,
    summary_rows,
    trained_on_line,
)
from desktop.qt import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)
from desktop.widgets.draft_outcome import FAILED_COLOUR, FORMAT_TIP
from desktop.widgets.draft_render import mark_unverified
from desktop.widgets.icons import icon_html

# What each figure of FIGURES is called here and what it means, for someone who has never
# read an evaluation report. A figure core adds later shows under its FIGURES title.
PLAIN: dict[str, tuple[str, str]] = {
    "echo_rate": ("Copies the instructions",
                  "Share of drafts that still repeat 8 or more words of the instructions "
                  "given to the model. Lower is better."),
    "echo_rate_first_attempt": ("Copies the instructions (first try)",
                                "The same before Scriptorium's checks and its second attempt: "
                                "how often the model itself repeats its instructions. Lower "
                                "is better."),
    "failed_rate": ("Failed the quality checks",
                    "Share of drafts that failed the checks even after a second attempt "
                    "(instructions copied, too short, repeating itself). Lower is better."),
    "citation_validity": ("Citations that hold",
                          "Share of source markers such as [2] in the drafts you read whose "
                          "source really supports the sentence. Scriptorium moves or removes "
                          "a marker its source does not bear out. Higher is better."),
    "citation_validity_model_written": ("Model's own citations that hold",
                                        "The same for the markers the model wrote, before "
                                        "Scriptorium put them right: how well the model "
                                        "itself cites. Higher is better."),
    "fact_exactness": ("Figures correct (codes, rates, dates)",
                       "Share of labour codes, rates, dates and similar figures in the drafts "
                       "that match a reference table or a source shown. A figure marked "
                       "[unverified: …] counts as not correct. Higher is better."),
    "fact_exactness_model_written": ("Model's own figures correct",
                                     "The same for the figures the model wrote, before "
                                     "Scriptorium put them right from the reference tables "
                                     "or marked them: how far the model itself can be "
                                     "trusted with figures. Higher is better."),
    "facts_corrected": ("Figures put right from the tables",
                        "Codes and hourly rates the model got wrong that Scriptorium replaced "
                        "with the value of the reference row the sentence names, cited."),
    "facts_unverified": ("Figures marked [unverified]",
                         "Codes, rates and dates that match no source and that no reference "
                         "row can put right: left in the draft, marked [unverified: …], for "
                         "the analyst to check or delete. Lower is better."),
    "rouge_l": ("Wording like the reference (ROUGE-L)",
                "How much of the reference section's wording the draft shares, in the same "
                "order, from 0 (none) to 1 (all). Higher is closer."),
    "similarity": ("Meaning like the reference",
                   "How close the draft's meaning is to the reference section, measured by "
                   "the embedding model, from 0 to 1. Higher is closer."),
    "words": ("Length (words)", "Average number of words per draft."),
    "ttft_with_retrieval_s": ("Wait before the first words (s)",
                              "Average seconds from asking to the first words, including "
                              "the search of the knowledge base. Lower is faster."),
    "prompt_tokens": ("Text read by the model (tokens)",
                      "Average size of what the model read before writing: the sources, "
                      "the example and the request. More sources mean a longer wait."),
    "tokens_per_s": ("Writing speed (tokens/s)",
                     "Tokens written per second once started; a token is about three "
                     "quarters of a word. Higher is faster."),
}
FORMAT_ROW = ("Prompt format", "How each model was prompted.\n" + FORMAT_TIP)


def figure_labels() -> list[tuple[str, str]]:
    """(label, explanation) of each table row: the prompt format, then each figure."""
    return [FORMAT_ROW, *(PLAIN.get(key, (title, title)) for key, title, _ in FIGURES)]


def _cell(text: str) -> str:
    return mark_unverified(html.escape(text.strip()).replace("\n", "<br>"))


def pair_html(report: dict[str, Any], index: int) -> str:
    """One request: the reference section and each model's draft, side by side."""
    pair = report["pairs"][index]
    models = report.get("models", [])
    width = 100 // (len(models) + 1)
    heads = [f"<th width='{width}%' align='left'>Reference (written by your team)</th>"]
    cells = [f"<td valign='top'>{_cell(pair['reference'])}</td>"]
    for model in models:
        row = model["per_pair"][index]
        heads.append(f"<th width='{width}%' align='left'>{html.escape(model['model'])}<br>"
                     f"<small>{html.escape(row.get('format') or '')} prompt · wording like "
                     f"the reference: {row.get('rouge_l', 0):.2f}</small></th>")
        if row["status"] == "failed":
            why = "; ".join(row.get("problems") or []) or "see the checks"
            body = (f"<p style='color:{FAILED_COLOUR}'>{icon_html('warning')} <b>Failed the "
                    f"quality checks: {html.escape(why)}</b></p><p style='color:#777'>"
                    f"{_cell(row['text']) or '(no text)'}</p>")
        else:
            body = _cell(row["text"]) or "<i>(no text)</i>"
        cells.append(f"<td valign='top'>{body}</td>")
    request = html.escape(textwrap.shorten(pair["request"], 700, placeholder=" …"))
    return (f"<p><b>Request:</b> {request}</p>"
            "<table width='100%' border='1' cellspacing='0' cellpadding='6'>"
            f"<tr>{''.join(heads)}</tr><tr>{''.join(cells)}</tr></table>")


class EvalReportView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report: dict[str, Any] | None = None
        self.summary = QLabel()
        self.summary.setObjectName("evalSummary")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, 0)
        self.table.setObjectName("evalFigures")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.pair_choice = QComboBox()
        self.pair_choice.setObjectName("evalPair")
        self.pair_choice.currentIndexChanged.connect(self._show_pair)
        self.drafts = QTextBrowser()
        self.drafts.setObjectName("evalDrafts")
        self.drafts.setPlaceholderText("The drafts appear here, side by side.")
        pick = QHBoxLayout()
        pick.addWidget(QLabel("Drafts for request:"))
        pick.addWidget(self.pair_choice, 1)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addLayout(pick)
        lower_layout.addWidget(self.drafts, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(lower)
        split.setSizes([300, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        self.clear()

    def clear(self, hint: str = "No results yet: choose the models and press Run.") -> None:
        self.report = None
        self.summary.setText(f"<i>{html.escape(hint)}</i>")
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.pair_choice.clear()
        self.drafts.clear()

    def show_report(self, report: dict[str, Any]) -> None:
        self.report = report
        models = report.get("models", [])
        pairs = report.get("pairs", [])
        similarity = ("" if report.get("similarity") else
                      " Meaning similarity was not measured (no embedding model installed).")
        trained = [line for m in models if (line := trained_on_line(m))]
        self.summary.setText(
            f"{len(models)} model(s), each drafting the same {len(pairs)} held-out "
            f"request(s). Point at a row's name for what it means; a dash means there was "
            f"nothing to score (no codes, rates or dates quoted, say).{similarity} "
            f"{budget_sentence(report)}"
            + "".join(f"\n• {line}." for line in trained))
        labels = figure_labels()
        rows = summary_rows(report)  # per model: name, format, each figure
        self.table.clear()
        self.table.setRowCount(len(labels))
        self.table.setColumnCount(len(models))
        for c, (row, model) in enumerate(zip(rows, models)):
            column = QTableWidgetItem(row[0])
            column.setToolTip(trained_on_line(model))
            self.table.setHorizontalHeaderItem(c, column)
        for r, (label, tip) in enumerate(labels):
            header = QTableWidgetItem(label)
            header.setToolTip(tip)
            self.table.setVerticalHeaderItem(r, header)
            for c, row in enumerate(rows):
                item = QTableWidgetItem(row[r + 1])
                item.setToolTip(tip)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(r, c, item)
        self.pair_choice.blockSignals(True)
        self.pair_choice.clear()
        for index, pair in enumerate(pairs):
            failed = sum(m["per_pair"][index]["status"] == "failed" for m in models)
            mark = f"  — {failed} failed" if failed else ""
            self.pair_choice.addItem(
                f"{index + 1}. {textwrap.shorten(pair['request'], 90, placeholder=' …')}{mark}")
        self.pair_choice.blockSignals(False)
        self._show_pair(0)

    def _show_pair(self, index: int) -> None:
        if self.report is None or not 0 <= index < len(self.report.get("pairs", [])):
            self.drafts.clear()
            return
        self.drafts.setHtml(pair_html(self.report, index))
