"""The report writing of bench/run_all.py, on synthetic bench results (no benchmark runs)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

RUN_ALL = Path(__file__).resolve().parent.parent / "bench" / "run_all.py"
MACHINE = {"cpu_count": 2, "ram_gib": 7.8, "python": "3.11.9", "torch": "2.13.0",
           "platform": "Linux-test"}


@pytest.fixture(scope="module")
def run_all() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run_all", RUN_ALL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while it loads
    spec.loader.exec_module(module)
    return module


def fig(name: str, ours: float, baseline: float, unit: str, better: str,
        note: str = "") -> dict[str, Any]:
    return {"name": name, "ours": ours, "baseline": baseline, "unit": unit,
            "ratio": ours / baseline, "better": better, "note": note}


def outcomes() -> list[dict[str, Any]]:
    retrieval = {
        "bench": "retrieval", "title": "Retrieval latency",
        "figures": [fig("vector p50, 1,000 chunks", 2.0, 0.5, "ms", "lower", "numpy baseline"),
                    fig("vector p50, 10,000 chunks", 3.0, 1.5, "ms", "lower", "numpy baseline")],
        "series": {"latency_vs_size": {"sizes": [1000, 10000], "numpy_p50_ms": [0.5, 1.5],
                                       "vector_p50_ms": [2.0, 3.0]}},
        "raw": {"embed_chunks_per_s": 123.4, "sizes": [{"size": 1000}]},
    }
    training = {
        "bench": "training", "title": "Training",
        "figures": [fig("equal: tokens/s", 1500.0, 1000.0, "tok/s", "higher")],
        "series": {"loss_curves": {"equal": {"baseline": [[1, 3.0], [2, 2.5]],
                                             "ours": [[1, 3.1], [2, 2.4]]}}},
        "raw": {"settings": {"seq": 128}},
    }
    return [
        {"name": "retrieval", "status": "ok", "seconds": 12.5, "result": retrieval},
        {"name": "training", "status": "ok", "seconds": 30.0, "result": training},
        {"name": "import", "status": "failed", "seconds": 1.0, "returncode": 1,
         "command": "python bench/bench_import.py --json x", "error": "exit status 1",
         "stderr_tail": "Traceback (most recent call last):\nValueError: broken corpus"},
        {"name": "merge_export", "status": "skipped", "error": "left out of --quick"},
    ]


def test_report_tables_ratios_and_failures(run_all: ModuleType, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    markdown = run_all.write_report(tmp_path, outcomes(), MACHINE, "quick",
                                    generated="2026-01-01T00:00:00+00:00").read_text()
    assert "Date: 2026-01-01T00:00:00+00:00" in markdown
    assert "2 CPUs, 7.80 GiB RAM" in markdown and "torch 2.13.0" in markdown
    assert "| figure | ours | baseline | ratio (ours/baseline) | better |" in markdown
    assert "| vector p50, 1,000 chunks | 2.00 ms | 0.5 ms | 4.00× | lower |" in markdown
    assert "| equal: tokens/s | 1,500 tok/s | 1,000 tok/s | 1.50× | higher |" in markdown
    assert "- numpy baseline" in markdown  # a note shared by all figures, said once
    assert "embed_chunks_per_s: 123.4" in markdown and "settings.seq: 128" in markdown
    assert "| import | failed (exit status 1) |" in markdown
    assert "| merge_export | skipped (left out of --quick) |" in markdown
    failed = markdown.split("## Failed benchmarks", 1)[1]
    assert "### import: exit status 1" in failed and "ValueError: broken corpus" in failed
    assert "![latency vs index size](plots/retrieval-latency_vs_size.png)" in markdown
    assert "![loss curves](plots/training-loss_curves.png)" in markdown
    for name in ("retrieval-latency_vs_size.png", "training-loss_curves.png"):
        assert (tmp_path / "plots" / name).read_bytes().startswith(b"\x89PNG")
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["failed"] == ["import"] and report["plots_note"] is None
    assert [b["name"] for b in report["benches"]] == ["retrieval", "training", "import",
                                                      "merge_export"]


def test_report_without_matplotlib(run_all: ModuleType, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_all, "load_pyplot", lambda: None)
    markdown = run_all.write_report(tmp_path, outcomes(), MACHINE, "full").read_text()
    assert "matplotlib is not installed" in markdown
    assert "![" not in markdown and not (tmp_path / "plots").exists()
    assert "| vector p50, 10,000 chunks | 3.00 ms | 1.50 ms | 2.00× | lower |" in markdown
    assert "matplotlib is not installed" in json.loads(
        (tmp_path / "report.json").read_text())["plots_note"]


def test_missing_or_bad_results_count_as_failed(run_all: ModuleType, tmp_path: Path) -> None:
    assert run_all.load_result(tmp_path / "none.json")[0] is None
    (tmp_path / "bad.json").write_text("{not json")
    assert "not valid JSON" in run_all.load_result(tmp_path / "bad.json")[1]
    (tmp_path / "ok.json").write_text(json.dumps({"bench": "x", "figures": []}))
    assert run_all.load_result(tmp_path / "ok.json") == ({"bench": "x", "figures": []}, "")


def test_formatting_and_options(run_all: ModuleType) -> None:
    assert run_all.ratio_text({"ratio": None}) == "n/a"
    assert run_all.fmt(float("nan")) == "n/a" and run_all.fmt(0.01234) == "0.0123"
    assert run_all.parse_args(["--only", "import,retrieval"]).only == ["import", "retrieval"]
    with pytest.raises(SystemExit):
        run_all.parse_args(["--only", "nope"])
    merge = next(b for b in run_all.BENCHES if b.name == "merge_export")
    assert not run_all.should_run(merge, quick=True, with_merge=False, named=False)
    assert run_all.should_run(merge, quick=True, with_merge=True, named=False)
    assert run_all.should_run(merge, quick=False, with_merge=False, named=False)


def test_a_failing_bench_is_recorded_with_its_stderr(run_all: ModuleType, tmp_path: Path) -> None:
    bench = run_all.Bench("broken", "none.py")
    command = [sys.executable, "-c", "import sys; sys.stderr.write('boom\\n'); sys.exit(3)"]
    outcome = run_all.run_bench(bench, command, tmp_path / "broken.json", tmp_path / "logs", 60)
    assert outcome["status"] == "failed" and outcome["error"] == "exit status 3"
    assert outcome["stderr_tail"] == "boom"


@pytest.fixture(scope="module")
def result_json() -> ModuleType:
    path = RUN_ALL.parent / "result_json.py"
    spec = importlib.util.spec_from_file_location("bench_result_json", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def row(run_all: ModuleType, figure: dict[str, Any]) -> str:
    return run_all.figure_table([figure])[2]


def test_targets_and_limits_render_with_met(run_all: ModuleType,
                                             result_json: ModuleType) -> None:
    figure = result_json.figure
    ratio = figure("equal: tokens/s", 1500, 1000, "tok/s", "higher", target=1.3)
    assert (ratio["target"], ratio["limit"], ratio["met"]) == (1.3, None, True)
    assert row(run_all, ratio).endswith("| 1.50× | higher | ≥ 1.30× | yes |")
    lower = figure("DPO step", 4.0, 1.0, "s", "lower", target=3)
    assert row(run_all, lower).endswith("| 4.00× | lower | ≤ 3.00× | no |")
    limit = figure("vector ANN p95, 100,000 chunks", 12.5, 40.0, "ms", "lower", limit=20)
    assert limit["met"] is True
    assert row(run_all, limit).endswith("| lower | ≤ 20 ms | yes |")
    recall = figure("recall@10", 0.93, 1.0, "", "higher", limit=0.95)
    assert row(run_all, recall).endswith("| higher | ≥ 0.95 | no |")
    both = figure("peak RSS", 900, 1000, "MB", "lower", target=1.0, limit=850)
    assert both["met"] is False  # the ratio holds, the limit does not
    assert row(run_all, both).endswith("| lower | ≤ 1.00× and ≤ 850 MB | no |")
    none = figure("wall time", 2.0, 1.0, "s", "lower")
    assert (none["target"], none["limit"], none["met"]) == (None, None, None)
    assert row(run_all, none).endswith("| 2.00× | lower | — | — |")


def test_a_nan_ratio_does_not_meet_its_target(run_all: ModuleType,
                                              result_json: ModuleType) -> None:
    nan = result_json.figure("speed", 5.0, 0.0, "tok/s", "higher", target=1.0)
    assert nan["met"] is False
    assert row(run_all, nan).endswith("| n/a | higher | ≥ 1.00× | no |")
    assert result_json.figure("t", float("nan"), 1.0, "s", "lower", limit=2)["met"] is False
    # as read back from --json, where NaN is written as null
    assert row(run_all, {**nan, "ratio": None}).endswith("| n/a | higher | ≥ 1.00× | no |")


def test_old_figures_and_the_summary_count(run_all: ModuleType, tmp_path: Path) -> None:
    old = fig("vector p50, 1,000 chunks", 2.0, 0.5, "ms", "lower")  # no target keys at all
    assert "target" not in old
    assert row(run_all, old) == "| vector p50, 1,000 chunks | 2.00 ms | 0.5 ms | 4.00× | lower " \
                                "| — | — |"
    runs = outcomes()
    runs[1]["result"]["figures"] += [
        {**fig("variable: tokens/s", 1200.0, 1000.0, "tok/s", "higher"), "target": 1.3,
         "limit": None, "met": False},
        {**fig("equal: peak RSS", 900.0, 1000.0, "MB", "lower"), "target": 1.0,
         "limit": None, "met": True}]
    markdown = run_all.write_report(tmp_path, runs, MACHINE, "full").read_text()
    assert "| bench | status | seconds | targets |" in markdown
    assert "| retrieval | ok | 12.50 | — |" in markdown
    assert "| training | ok | 30.00 | 1/2 met |" in markdown
    assert "| figure | ours | baseline | ratio (ours/baseline) | better | target | met |" \
        in markdown
    assert "| variable: tokens/s | 1,200 tok/s | 1,000 tok/s | 1.20× | higher | ≥ 1.30× | no |" \
        in markdown
    assert "| import | failed (exit status 1) | 1.00 | — |" in markdown
