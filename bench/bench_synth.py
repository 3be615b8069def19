"""Benchmark: generating instruction pairs (``core.synth``) against raw llama.cpp decoding
with the same teacher.

    .venv/bin/python bench/bench_synth.py [--items 6] [--rounds 2] [--json PATH]

A scratch workspace gets the bundled sample documents; the bundled Gemma 3 270M GGUF is the
teacher (a base model, so it gets document prompts). Ours: ``run_synth`` on the first
``--items`` passage×task items, end to end (prompts, generation, parsing, the grounding
and quality filters with the embedder, the batch files), as generated tokens per second
of wall time. Baseline, measured in the same run on the same requests: plain
``llama_cpp.Llama.create_completion`` with the same prompts, sampling settings and seeds,
nothing else. Rounds alternate (plain, ours, …) and medians are reported.
Target (issue 20): ours ≥ 0.9× plain.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from result_json import add_json_argument, figure, write_result  # noqa: E402

TASKS = ("qa", "section")


def plain_round(llama, requests: list, config) -> float:  # noqa: ANN001
    """Tokens per second of plain llama.cpp on ``requests`` (prompt + generation)."""
    from core.generation.plain import plain_prompt

    tokens, started = 0, time.perf_counter()
    for step, request in enumerate(requests):
        llama.reset()
        prompt = llama.tokenize(plain_prompt(request.messages).encode(), add_bos=True,
                                special=True)
        out = llama.create_completion(prompt, max_tokens=request.max_tokens,
                                      temperature=config.temperature, top_p=0.9, top_k=40,
                                      repeat_penalty=1.15, seed=config.seed + step,
                                      stop=list(request.stops))
        tokens += out["usage"]["completion_tokens"]
    return tokens / (time.perf_counter() - started)


def ours_round(workspace, teacher, embedder, config, round_no: int) -> float:  # noqa: ANN001
    from core.datasets.synthetic import synthetic_dir
    from core.jobs.progress import JobContext
    from core.synth.job import run_synth

    shutil.rmtree(synthetic_dir(workspace), ignore_errors=True)  # a fresh batch each round
    started = time.perf_counter()
    result = run_synth(workspace, config, JobContext(workspace.root / "runs" / f"b{round_no}"),
                       teacher=teacher, embedder=embedder)
    return result["completion_tokens"] / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    add_json_argument(parser)
    args = parser.parse_args()

    from core.drafting.draft import choose_format
    from core.generation.runtime import ModelCache
    from core.ingest.sample import populate_sample
    from core.models.bundled import assemble_gguf
    from core.retrieval.embedder import load_embedder
    from core.synth.job import SynthConfig, passages
    from core.synth.tasks import build_request, suits
    from core.workspace import Workspace

    root = Path(tempfile.mkdtemp(prefix="bench-synth-"))
    try:
        workspace = Workspace.create(root / "ws")
        populate_sample(workspace)
        teacher = ModelCache(n_ctx=2048).get(None, assemble_gguf())
        embedder = load_embedder(None)
        config = SynthConfig(tasks=TASKS, per_chunk=1, limit=args.items)
        fmt, _ = choose_format(teacher, "auto")
        items = [(c, t) for c in passages(workspace, config) for t in config.tasks
                 if suits(t, c)][:args.items]
        requests = [build_request(t, c, fmt, config.per_chunk) for c, t in items]
        plain, ours = [], []
        for round_no in range(args.rounds):
            with teacher.lock:
                plain.append(plain_round(teacher.llama, requests, config))
            ours.append(ours_round(workspace, teacher, embedder, config, round_no))
            print(f"round {round_no + 1}: plain {plain[-1]:.1f} tok/s, ours {ours[-1]:.1f} "
                  "tok/s", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    base, mine = statistics.median(plain), statistics.median(ours)
    print(f"pair generation, {len(requests)} items ({fmt} prompts): ours {mine:.1f} tok/s vs "
          f"plain llama.cpp {base:.1f} tok/s = ×{mine / base:.2f} (target ≥ 0.9)")
    write_result(args.json, "synth", "Instruction-pair generation vs raw llama.cpp",
                 [figure("generated tokens/s, end to end", mine, base, "tok/s", "higher",
                         "baseline: plain llama_cpp create_completion on the same requests; "
                         "target ≥ 0.9×")],
                 raw={"items": len(requests), "format": fmt, "plain": plain, "ours": ours})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
