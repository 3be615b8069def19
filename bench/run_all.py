"""Run every benchmark in bench/ and write one report: report.md, report.json, PNG plots.

    bench/run_all [--quick] [--only import,retrieval] [--out bench/report] [--with-merge]

Each benchmark runs in its own process with ``--json PATH`` and its output goes to
``OUT/logs/``. One that fails is recorded in the report as failed, with the tail of its
stderr, and the others still run; the exit status is 1 if any failed.

``--quick`` uses small settings (a few minutes in all) and leaves out the merge/export
benchmark unless ``--with-merge`` is given or ``--only`` names it. Plots need matplotlib
(``pip install '.[bench]'``); without it the report is written without plots.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DEFAULT_OUT = BENCH_DIR / "report"
STDERR_TAIL_LINES = 40
RAW_SCALARS_SHOWN = 40
NO_MATPLOTLIB = ("matplotlib is not installed, so this report has no plots "
                 "(install it with `.venv/bin/pip install matplotlib`, or the `bench` extra).")


@dataclass(frozen=True)
class Bench:
    """One benchmark script and its arguments in full and in quick mode."""

    name: str
    script: str
    full_args: tuple[str, ...] = ()
    quick_args: tuple[str, ...] = ()
    in_quick: bool = True


BENCHES = (
    Bench("import", "bench_import.py", quick_args=("--pages", "100")),
    Bench("retrieval", "bench_retrieval.py", full_args=("--sizes", "1000,10000,100000"),
          quick_args=("--sizes", "1000,10000", "--embed-sample", "64")),
    Bench("training", "bench_training.py", full_args=("--real",)),
    Bench("preference", "bench_preference.py", full_args=("--real", "--rows", "8"),
          quick_args=("--repeats", "1")),
    Bench("generation", "bench_generation.py", quick_args=("--rounds", "1")),
    Bench("merge_export", "bench_merge_export.py", in_quick=False),
    Bench("merge_memory", "bench_merge_memory.py", in_quick=False),
    Bench("merge_memory_1b", "bench_merge_memory.py", full_args=("--model", "1b"),
          in_quick=False),
    Bench("drafts", "bench_drafts.py", in_quick=False),
    Bench("serving", "bench_serving.py", quick_args=("--rounds", "1", "--users", "1,4")),
    Bench("synth", "bench_synth.py", quick_args=("--items", "2", "--rounds", "1")),
    Bench("model_store", "bench_model_store.py"),
)
BENCH_NAMES = tuple(bench.name for bench in BENCHES)


# -- running the benchmarks ----------------------------------------------------------------
def bench_command(bench: Bench, json_path: Path, quick: bool,
                  retrieval_sizes: str | None) -> list[str]:
    args = list(bench.quick_args if quick else bench.full_args)
    if bench.name == "retrieval" and retrieval_sizes:
        args += ["--sizes", retrieval_sizes]  # the last --sizes wins
    return [sys.executable, str(BENCH_DIR / bench.script), "--json", str(json_path), *args]


def tail(path: Path, lines: int = STDERR_TAIL_LINES) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def load_result(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The bench's ``--json`` result, or None and why it is unusable."""
    if not path.exists():
        return None, "the benchmark wrote no --json result"
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        return None, f"its --json result is not valid JSON ({error})"
    if not isinstance(result, dict) or not isinstance(result.get("figures"), list):
        return None, "its --json result has no list of figures"
    return result, ""


def run_bench(bench: Bench, command: list[str], json_path: Path, logs: Path,
              timeout: float | None) -> dict[str, Any]:
    """Run one benchmark; returns its outcome (status ok or failed) for the report."""
    logs.mkdir(parents=True, exist_ok=True)
    stdout_log, stderr_log = logs / f"{bench.name}.stdout.txt", logs / f"{bench.name}.stderr.txt"
    started = time.perf_counter()
    code: int | None = None
    with stdout_log.open("w") as out, stderr_log.open("w") as err:
        try:
            code = subprocess.run(command, cwd=ROOT, stdout=out, stderr=err, timeout=timeout,
                                  check=False).returncode
        except subprocess.TimeoutExpired:
            code = None
    outcome: dict[str, Any] = {
        "name": bench.name, "command": shlex.join(command),
        "seconds": round(time.perf_counter() - started, 1), "returncode": code,
        "logs": [str(stdout_log), str(stderr_log)],
    }
    if code is None:
        error, result = f"timed out after {timeout:.0f} s", None
    elif code != 0:
        error, result = f"exit status {code}", None
    else:
        result, error = load_result(json_path)
    if result is None:
        return {**outcome, "status": "failed", "error": error, "stderr_tail": tail(stderr_log)}
    return {**outcome, "status": "ok", "result": result}


def skipped(bench: Bench, reason: str) -> dict[str, Any]:
    return {"name": bench.name, "status": "skipped", "error": reason}


def should_run(bench: Bench, quick: bool, with_merge: bool, named: bool) -> bool:
    return not quick or bench.in_quick or with_merge or named


# -- machine facts -------------------------------------------------------------------------
def ram_gib() -> float | None:
    try:
        import psutil

        return round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        try:
            return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
        except (ValueError, OSError, AttributeError):
            return None


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, Any]:
    return {"cpu_count": os.cpu_count(), "ram_gib": ram_gib(),
            "python": platform.python_version(), "torch": package_version("torch"),
            "platform": platform.platform()}


# -- plots ---------------------------------------------------------------------------------
def load_pyplot() -> Any | None:
    """matplotlib.pyplot on the Agg backend, or None where matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def loss_panels(data: dict[str, Any]) -> dict[str, dict[str, list]]:
    """``{variant: points}`` is one panel; ``{case: {variant: points}}`` one panel per case."""
    if data and all(isinstance(v, list) for v in data.values()):
        return {"": data}
    return {str(k): v for k, v in data.items() if isinstance(v, dict) and v}


def plot_loss_curves(plt: Any, data: dict[str, Any], path: Path) -> bool:
    panels = loss_panels(data)
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for ax, (title, curves) in zip(axes[0], panels.items()):
        for label, points in curves.items():
            points = [p for p in points or [] if p[1] is not None]
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], label=label)
        ax.set(title=f"training loss: {title}" if title else "training loss", xlabel="step",
               ylabel="loss")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_latency(plt: Any, data: dict[str, Any], path: Path) -> bool:
    sizes = data.get("sizes") or []
    lines = {key.removesuffix("_ms"): values for key, values in data.items()
             if key.endswith("_ms") and len(values) == len(sizes)}
    if not sizes or not lines:
        return False
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for label, values in lines.items():
        baseline = label.startswith("numpy")
        ax.plot(sizes, values, "--" if baseline else "-", marker="o",
                label=label.replace("_", " ") + (" (baseline)" if baseline else ""))
    ax.set_xscale("log")
    ax.set(title="Query latency vs index size", xlabel="index size (chunks)",
           ylabel="latency (ms)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


PLOTTERS: dict[str, tuple[str, Callable[[Any, dict[str, Any], Path], bool]]] = {
    "loss_curves": ("loss curves", plot_loss_curves),
    "latency_vs_size": ("latency vs index size", plot_latency),
}


def make_plots(outcomes: list[dict[str, Any]], folder: Path) -> str | None:
    """Draw each bench's series into ``folder``; records ``plots`` on each outcome.

    Returns a note for the report when plots could not be drawn at all.
    """
    plt = load_pyplot()
    if plt is None:
        return NO_MATPLOTLIB
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.png"):
        stale.unlink()
    for outcome in outcomes:
        series = (outcome.get("result") or {}).get("series") or {}
        for key, data in series.items():
            if key not in PLOTTERS or not isinstance(data, dict):
                continue
            title, plot = PLOTTERS[key]
            path = folder / f"{outcome['name']}-{key}.png"
            try:
                drawn = plot(plt, data, path)
            except Exception as error:  # a bad series must not cost the whole report
                outcome.setdefault("plot_errors", []).append(f"{title}: {error}")
                plt.close("all")
                continue
            if drawn:
                outcome.setdefault("plots", []).append(
                    {"title": title, "path": f"{folder.name}/{path.name}"})
    return None


# -- the Markdown report -------------------------------------------------------------------
def fmt(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "n/a" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 1 or value == 0:
        return f"{value:.2f}"
    return f"{value:.3g}"


def with_unit(value: Any, unit: str) -> str:
    text = fmt(value)
    return f"{text} {unit}" if unit and text != "n/a" else text


def ratio_text(figure: dict[str, Any]) -> str:
    ratio = figure.get("ratio")
    if not isinstance(ratio, (int, float)) or not math.isfinite(ratio):
        return "n/a"
    return f"{ratio:.2f}×"


def threshold(value: float) -> float | int:
    """A target as written: 20 rather than 20.00."""
    return int(value) if float(value).is_integer() else value


def target_text(figure: dict[str, Any]) -> str:
    """The figure's target on the ratio and limit on ours, e.g. "≥ 1.50×", "≤ 20 ms"."""
    sign = "≥" if figure.get("better") == "higher" else "≤"
    target, limit = figure.get("target"), figure.get("limit")
    parts = []
    if isinstance(target, (int, float)) and not isinstance(target, bool):
        parts.append(f"{sign} {target:.2f}×")
    if isinstance(limit, (int, float)) and not isinstance(limit, bool):
        parts.append(f"{sign} {with_unit(threshold(limit), figure.get('unit', ''))}")
    return " and ".join(parts) or "—"


def met_text(figure: dict[str, Any]) -> str:
    return {True: "yes", False: "no"}.get(figure.get("met"), "—")


def figure_table(figures: list[dict[str, Any]]) -> list[str]:
    lines = ["| figure | ours | baseline | ratio (ours/baseline) | better | target | met |",
             "|---|---:|---:|---:|---|---|---|"]
    for f in figures:
        unit = f.get("unit", "")
        lines.append(f"| {f.get('name', '?')} | {with_unit(f.get('ours'), unit)} | "
                     f"{with_unit(f.get('baseline'), unit)} | {ratio_text(f)} | "
                     f"{f.get('better', '?')} | {target_text(f)} | {met_text(f)} |")
    return lines


def note_lines(figures: list[dict[str, Any]]) -> list[str]:
    """Each distinct note once, naming its figures unless every figure has it."""
    carriers: dict[str, list[str]] = {}
    for f in figures:
        if f.get("note"):
            carriers.setdefault(f["note"], []).append(str(f.get("name", "?")))
    lines = []
    for note, names in carriers.items():
        lines.append(f"- {note}" if len(names) == len(figures) else
                     f"- {', '.join(names)}: {note}")
    return lines


def flat_scalars(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, value) for the numbers and strings in nested dicts; lists left out."""
    if isinstance(value, dict):
        pairs = []
        for key, item in value.items():
            pairs += flat_scalars(item, f"{prefix}.{key}" if prefix else str(key))
        return pairs
    if isinstance(value, (int, float, str, bool)) or value is None:
        return [(prefix, value)]
    return []


def raw_lines(raw: dict[str, Any]) -> list[str]:
    pairs = flat_scalars(raw)
    if not pairs:
        return []
    shown = [f"- {key}: {fmt(value)}" for key, value in pairs[:RAW_SCALARS_SHOWN]]
    if len(pairs) > RAW_SCALARS_SHOWN:
        shown.append(f"- … {len(pairs) - RAW_SCALARS_SHOWN} more in report.json")
    return ["<details><summary>Other measurements</summary>", "", *shown, "", "</details>"]


def bench_section(outcome: dict[str, Any]) -> list[str]:
    result = outcome["result"]
    title = result.get("title") or outcome["name"]
    lines = [f"## {outcome['name']}: {title}", "",
             f"Ran in {fmt(outcome.get('seconds'))} s.", ""]
    figures = result.get("figures") or []
    if figures:
        lines += [*figure_table(figures), ""]
        notes = note_lines(figures)
        lines += [*notes, ""] if notes else []
    else:
        lines += ["No figures reported.", ""]
    for plot in outcome.get("plots", []):
        lines += [f"![{plot['title']}]({plot['path']})", ""]
    for error in outcome.get("plot_errors", []):
        lines += [f"Plot failed: {error}", ""]
    raw = raw_lines(result.get("raw") or {})
    return lines + ([*raw, ""] if raw else [])


def fenced(text: str) -> list[str]:
    fence = "```"
    while fence in text:
        fence += "`"
    return [fence + "text", text or "(stderr was empty)", fence]


def failed_section(failed: list[dict[str, Any]]) -> list[str]:
    lines = ["## Failed benchmarks", ""]
    for outcome in failed:
        lines += [f"### {outcome['name']}: {outcome.get('error', 'failed')}", ""]
        if outcome.get("command"):
            lines += [f"Command: `{outcome['command']}`", ""]
        lines += ["Last lines of its stderr:", "", *fenced(outcome.get("stderr_tail", "")), ""]
        if outcome.get("logs"):
            lines += [f"Full output: `logs/{outcome['name']}.stdout.txt`, "
                      f"`logs/{outcome['name']}.stderr.txt`.", ""]
    return lines


def targets_met(outcome: dict[str, Any]) -> str:
    """How many of the bench's targeted figures met their target ("2/3 met"), or "—"."""
    figures = (outcome.get("result") or {}).get("figures") or []
    checked = [f.get("met") for f in figures if f.get("met") is not None]
    return f"{sum(m is True for m in checked)}/{len(checked)} met" if checked else "—"


def summary_table(outcomes: list[dict[str, Any]]) -> list[str]:
    lines = ["| bench | status | seconds | targets |", "|---|---|---:|---|"]
    for outcome in outcomes:
        status = outcome["status"]
        if status != "ok" and outcome.get("error"):
            status += f" ({outcome['error']})"
        seconds = fmt(outcome["seconds"]) if "seconds" in outcome else ""
        lines.append(f"| {outcome['name']} | {status} | {seconds} | {targets_met(outcome)} |")
    return lines


def header_lines(report: dict[str, Any]) -> list[str]:
    machine = report["machine"]
    ram = f"{fmt(machine.get('ram_gib'))} GiB RAM" if machine.get("ram_gib") else "RAM unknown"
    lines = ["# Scriptorium benchmark report", "",
             f"- Date: {report['generated']}",
             f"- Mode: {report['mode']}",
             f"- Machine: {machine.get('cpu_count')} CPUs, {ram}, {machine.get('platform', '')}",
             f"- Python {machine.get('python')}, torch {machine.get('torch')}",
             "- Ratio is ours / baseline, both measured in the same run; "
             "*better* says which direction is better.",
             "- Target: a threshold on the ratio (×) or on ours (in its unit), read in the "
             "*better* direction; *met* says whether this run reached every one given."]
    if report.get("plots_note"):
        lines.append(f"- Plots: {report['plots_note']}")
    return [*lines, ""]


def render_markdown(report: dict[str, Any]) -> str:
    outcomes = report["benches"]
    lines = [*header_lines(report), "## Summary", "", *summary_table(outcomes), ""]
    for outcome in outcomes:
        if outcome["status"] == "ok":
            lines += bench_section(outcome)
    failed = [o for o in outcomes if o["status"] == "failed"]
    if failed:
        lines += failed_section(failed)
    return "\n".join(lines).rstrip() + "\n"


def json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def write_report(out: Path, outcomes: list[dict[str, Any]], machine: dict[str, Any],
                 mode: str, generated: str | None = None) -> Path:
    """Write report.json, report.md and the plots into ``out``; returns report.md's path."""
    out.mkdir(parents=True, exist_ok=True)
    plots_note = make_plots(outcomes, out / "plots")
    report = {"generated": generated or datetime.datetime.now().astimezone().isoformat(
                  timespec="seconds"),
              "mode": mode, "machine": machine, "plots_note": plots_note,
              "failed": [o["name"] for o in outcomes if o["status"] == "failed"],
              "benches": outcomes}
    (out / "report.json").write_text(json.dumps(json_safe(report), indent=2, default=str) + "\n",
                                     encoding="utf-8")
    markdown = out / "report.md"
    markdown.write_text(render_markdown(report), encoding="utf-8")
    return markdown


# -- command line --------------------------------------------------------------------------
def names_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(BENCH_NAMES))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown bench {', '.join(unknown)} (choose from {', '.join(BENCH_NAMES)})")
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small settings, a few minutes in all (merge/export left out)")
    parser.add_argument("--only", type=names_list, metavar="NAME,NAME",
                        help=f"run only these ({', '.join(BENCH_NAMES)})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output folder (default: bench/report)")
    parser.add_argument("--with-merge", action="store_true",
                        help="include merge_export in --quick mode")
    parser.add_argument("--retrieval-sizes", metavar="N,N",
                        help="override the retrieval benchmark's index sizes")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds after which one benchmark counts as failed")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = [b for b in BENCHES if args.only is None or b.name in args.only]
    outcomes: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-run-all-") as tmp:
        for number, bench in enumerate(chosen, 1):
            named = args.only is not None and bench.name in args.only
            if not should_run(bench, args.quick, args.with_merge, named):
                outcomes.append(skipped(bench, "left out of --quick; add --with-merge"))
                print(f"[{number}/{len(chosen)}] {bench.name}: skipped", flush=True)
                continue
            json_path = Path(tmp) / f"{bench.name}.json"
            command = bench_command(bench, json_path, args.quick, args.retrieval_sizes)
            print(f"[{number}/{len(chosen)}] {bench.name}: {shlex.join(command)}", flush=True)
            outcome = run_bench(bench, command, json_path, args.out / "logs", args.timeout)
            print(f"    {outcome['status']} in {outcome['seconds']} s"
                  + (f": {outcome['error']}" if outcome["status"] == "failed" else ""),
                  flush=True)
            outcomes.append(outcome)
    markdown = write_report(args.out, outcomes, machine_info(), "quick" if args.quick else "full")
    print(f"report: {markdown}")
    return 1 if any(o["status"] == "failed" for o in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
