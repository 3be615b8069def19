"""Benchmark: draft quality of the demo's tuned model against the bundled base model.

    .venv/bin/python bench/bench_drafts.py [--workspace W] [--pairs 6] [--tokens 200]
        [--cpt-steps 30] [--sft-steps 16] [--dpo-steps 4] [--json PATH]

Without ``--workspace`` the guided demo runs first in a temporary workspace (sample
documents, CPT → SFT → DPO → TIES merge → Q4_K_M export) to produce the tuned model; with
it, the workspace's last demo summary names the models. Both models draft the same
held-out request → reference pairs (the demo's SFT held-out split, the reference's own
documents kept out of retrieval) greedily, and ``core.drafting.evaluate`` scores them:
echo rate, citation validity, fact exactness, ROUGE-L and embedding similarity to the
reference, time to first token. Ratios are tuned / base. Targets (issue 22): echo 0 for
both, citation validity ≥ 0.9, the tuned model above the base on ROUGE-L and similarity,
time to first token with retrieval < 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from result_json import add_json_argument, figure, write_result  # noqa: E402

# (key, unit, better) of the figures compared tuned vs base
COMPARED = (("rouge_l", "F1", "higher"), ("similarity", "cosine", "higher"),
            ("citation_validity", "share", "higher"), ("fact_exactness", "share", "higher"),
            ("fact_exactness_model_written", "share", "higher"),
            ("echo_rate", "share", "lower"), ("failed_rate", "share", "lower"),
            ("ttft_with_retrieval_s", "s", "lower"))


def run_demo(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    from core.cli.main import main

    summary = root.parent / "demo-summary.json"
    code = main(["demo", "-w", str(root), "--cpt-steps", str(args.cpt_steps),
                 "--sft-steps", str(args.sft_steps), "--dpo-steps", str(args.dpo_steps),
                 "--summary", str(summary)])
    if code != 0:
        raise SystemExit(f"the demo failed (exit {code})")
    return json.loads(summary.read_text(encoding="utf-8"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, help="a workspace the demo ran in")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--cpt-steps", type=int, default=30)
    parser.add_argument("--sft-steps", type=int, default=16)
    parser.add_argument("--dpo-steps", type=int, default=4)
    add_json_argument(parser)
    args = parser.parse_args()

    from core.demo.pipeline import read_summary
    from core.drafting.eval_job import EvalDraftsConfig, evaluate_drafts
    from core.drafting.eval_report import format_report
    from core.drafting.evaluate import heldout_pairs
    from core.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="bench-drafts-") as tmp:
        root = args.workspace or Path(tmp) / "ws"
        started = time.perf_counter()
        summary = read_summary(root) if args.workspace else run_demo(root, args)
        if summary is None:
            raise SystemExit(f"{root} has no demo summary: run `scriptorium demo -w {root}`")
        setup_s = time.perf_counter() - started
        workspace = Workspace.open(root)
        models = [summary["models"]["base_gguf"], summary["models"]["gguf"]]
        pairs = heldout_pairs(workspace, summary["datasets"].get("sft"), args.pairs)
        config = EvalDraftsConfig(limit=len(pairs), max_tokens=args.tokens)
        report = evaluate_drafts(workspace, models, pairs, config,
                                 lambda done, total, message: print(
                                     f"[{done}/{total}] {message}", file=sys.stderr))
    base, tuned = report["models"]
    print(format_report(report, show_drafts=True))
    figures = [figure(f"{key} (tuned vs base)", tuned[key], base[key], unit, better)
               for key, unit, better in COMPARED
               if tuned[key] is not None and base[key] is not None]
    write_result(args.json, "drafts", "Draft quality: demo's tuned model vs bundled base",
                 figures, raw={"report": report, "setup_s": round(setup_s, 1),
                               "pairs": len(pairs)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
