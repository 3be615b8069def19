"""Benchmark: decode speed of our runtime against plain ``llama_cpp.Llama``, and time to
first token with and without retrieval.

    .venv/bin/python bench/bench_generation.py [--workspace W] [--model ID|PATH]
        [--tokens 64] [--rounds 3] [--threads N] [--json PATH]

Both sides load the same GGUF with the same context and threads and stream the same
prompt greedily for the same number of tokens; rounds alternate (plain, ours, plain, …)
so that load from other processes hits both alike; medians are reported. Decode speed is
tokens after the first over the time since the first. Time to first token is measured
through ``core.drafting.draft.stream_draft`` with retrieval off and on (the latter needs
an indexed workspace: ``scriptorium index``). Target: ours ≥ 0.95× plain.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from result_json import add_json_argument, figure, write_result  # noqa: E402

PROMPT = ("Request for Proposals: Cybersecurity Operations Center Support. 3.1 The contractor "
          "shall provide continuous monitoring of security alerts 24 hours a day, 7 days a "
          "week, and acknowledge each alert within 15 minutes. Proposal response to 3.1:")


def decode_rate(stamps: list[float]) -> float:
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0


def run_plain(llama, prompt: str, tokens: int) -> tuple[float, float, int]:  # noqa: ANN001
    llama.reset()
    started = time.perf_counter()
    stamps = []
    for chunk in llama.create_completion(prompt, max_tokens=tokens, temperature=0.0,
                                         top_k=40, top_p=1.0, min_p=0.0, repeat_penalty=1.0,
                                         stream=True):
        if chunk["choices"][0].get("text"):
            stamps.append(time.perf_counter())
    return decode_rate(stamps), stamps[0] - started, len(stamps)


def run_ours(model, prompt: str, tokens: int) -> tuple[float, float, int]:  # noqa: ANN001
    from core.generation.model import Finished, GenerationSettings, Message, Token
    from core.generation.stream import stream_generate

    settings = GenerationSettings(max_tokens=tokens, temperature=0.0, top_k=40, top_p=1.0,
                                  repeat_penalty=1.0)
    model.llama.reset()  # no prefix reuse: the same work as the plain side
    started = time.perf_counter()
    stamps = []
    final = None
    for event in stream_generate(model, [Message(role="user", content=prompt)], settings):
        if isinstance(event, Token):
            stamps.append(time.perf_counter())
        elif isinstance(event, Finished):
            final = event
    assert final is not None
    return decode_rate(stamps), stamps[0] - started, len(stamps)


def ttft(model, workspace, retrieval: bool, rounds: int) -> dict[str, float] | str:  # noqa: ANN001
    from core.drafting.draft import SourcesFound, stream_draft
    from core.drafting.sources import WorkspaceRetriever
    from core.generation.model import Finished, GenerationSettings, Token

    if retrieval and workspace is None:
        return "skipped (no workspace)"
    retriever = WorkspaceRetriever(workspace) if retrieval else None
    request = "Write the staffing plan for a 24x7 security operations center with labour codes."
    times, retrieval_s, prompt_tokens = [], [], 0
    for _ in range(rounds):
        model.llama.reset()
        started = time.perf_counter()
        found = None
        first = None
        for event in stream_draft(model, request, retriever=retriever,
                                  settings=GenerationSettings(max_tokens=4, temperature=0.0)):
            if isinstance(event, SourcesFound):
                found = time.perf_counter()
                if retrieval and not event.citations:
                    return f"skipped ({'; '.join(event.warnings) or 'no sources'})"
            elif isinstance(event, Token) and first is None:
                first = time.perf_counter()
            elif isinstance(event, Finished):
                prompt_tokens = event.stats.prompt_tokens
        if first is None:
            continue
        times.append(first - started)
        retrieval_s.append((found or started) - started)
    return {"ttft_s": round(statistics.median(times), 3),
            "retrieval_s": round(statistics.median(retrieval_s), 3),
            "prompt_tokens": prompt_tokens}


def write_json(path: Path | None, report: dict) -> None:
    """The machine-readable result (``--json``): decode speed, and TTFT with retrieval."""
    figures = [figure("decode speed", report["ours_tokens_per_s"], report["plain_tokens_per_s"],
                      "tok/s", "higher", "baseline: plain llama_cpp.Llama; target >= 0.95x")]
    with_, without = report["ttft_with_retrieval"], report["ttft_without_retrieval"]
    if isinstance(with_, dict) and isinstance(without, dict):
        figures.append(figure("time to first token, with retrieval", with_["ttft_s"],
                              without["ttft_s"], "s", "lower",
                              "baseline: the same draft without retrieval"))
    write_result(path, "generation", "Generation: our runtime vs plain llama_cpp", figures,
                 raw=report)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", "-w", help="an indexed workspace (for retrieval TTFT)")
    parser.add_argument("--model", help="GGUF id in the workspace or a .gguf path "
                        "(default: the bundled GGUF)")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--n-ctx", type=int, default=2048)
    add_json_argument(parser)
    args = parser.parse_args()

    import llama_cpp

    from core.generation.runtime import ModelCache
    from core.models.resolve import resolve_gguf
    from core.workspace import Workspace

    workspace = Workspace.open(args.workspace) if args.workspace else None
    if args.model:
        path, _ = resolve_gguf(workspace, args.model)
    else:
        from core.models.bundled import assemble_gguf

        path = assemble_gguf()
    cache = ModelCache(n_ctx=args.n_ctx, threads=args.threads, capacity=1)
    ours = cache.get(workspace, path)
    gpu = ours.llama.model_params.n_gpu_layers != 0
    plain = llama_cpp.Llama(model_path=str(path), n_ctx=args.n_ctx,
                            n_gpu_layers=-1 if gpu else 0, n_threads=args.threads,
                            n_threads_batch=args.threads, verbose=False)
    run_plain(plain, PROMPT, 4)  # warm-up both
    run_ours(ours, PROMPT, 4)
    plain_rates, our_rates, counts = [], [], []
    for _ in range(args.rounds):
        rate, _, count = run_plain(plain, PROMPT, args.tokens)
        plain_rates.append(rate)
        counts.append(count)
        rate, _, count = run_ours(ours, PROMPT, args.tokens)
        our_rates.append(rate)
        counts.append(count)
    plain.close()
    report = {
        "model": path.name, "threads": args.threads, "gpu_offload": gpu,
        "tokens_per_round": counts,
        "plain_tokens_per_s": round(statistics.median(plain_rates), 2),
        "ours_tokens_per_s": round(statistics.median(our_rates), 2),
        "ratio": round(statistics.median(our_rates) / statistics.median(plain_rates), 3),
        "all_plain": [round(r, 2) for r in plain_rates],
        "all_ours": [round(r, 2) for r in our_rates],
        "ttft_without_retrieval": ttft(ours, workspace, False, args.rounds),
        "ttft_with_retrieval": ttft(ours, workspace, True, args.rounds),
    }
    cache.close()
    print(json.dumps(report, indent=2))
    print(f"decode: ours {report['ours_tokens_per_s']} tok/s vs plain "
          f"{report['plain_tokens_per_s']} tok/s = {report['ratio']}x (target >= 0.95x)",
          file=sys.stderr)
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
