"""Benchmark: shared serving capacity: concurrent users against tokens/s.

    .venv/bin/python bench/bench_serving.py [--model PATH] [--users 1,2,4] [--tokens 64]
        [--threads N] [--rounds 2] [--engine auto|llama-server|llama-cpp-python]
        [--parallel 4] [--json PATH]

Starts the server ``scriptorium serve`` starts (``core.serving.server``: llama.cpp's
``llama-server`` with ``--parallel`` slots when installed, else llama-cpp-python's) on
loopback with the GGUF (default: the bundled Q4_K_M), then runs 1, 2, 4
… clients at once, each streaming the same greedy completion of ``--tokens`` tokens
through ``core.serving.client.RemoteModel``. Reported per level: aggregate tokens/s (all
tokens over the wall time), per-user tokens/s (a user's tokens over the time from their
request to their last token, queueing included) and time to first token (median and
worst). The baseline, measured in the same run, is one user generating in process with
plain ``llama_cpp.Llama`` (same file, threads and context). Rounds interleave the baseline
and every level, medians are reported, and every request has its own prompt (no request
reuses another's cached prefix).

Issue 18's target, checked on the largest level: aggregate tokens/s ≥ 1.8× one user on the
same server, and the worst time to first token < 2 s. llama-server decodes the users'
requests together (continuous batching); llama-cpp-python's server answers one at a time,
so there users queue: aggregate stays near one user's while per-user speed divides by the
number of users and the worst time to first token grows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from result_json import add_json_argument, figure, write_result  # noqa: E402

PROMPT = ("Request for Proposals: Cybersecurity Operations Center Support. 3.1 The contractor "
          "shall provide continuous monitoring of security alerts 24 hours a day, 7 days a "
          "week, and acknowledge each alert within 15 minutes. Proposal response to 3.1:")


TARGET_USERS = 4  # issue 18's targets are for this many concurrent users
TARGET_SCALING = 1.8  # issue 18: aggregate tokens/s at 4 users / 1 user
TARGET_TTFT_S = 2.0  # issue 18: worst time to first token at 4 users
_counter = iter(range(1_000_000))
_counter_lock = threading.Lock()


def fresh_prompt() -> str:
    """The prompt behind a new request number: no request reuses another's cached prefix."""
    with _counter_lock:
        return f"Request {next(_counter)}. {PROMPT}"


def load_plain(path: Path, threads: int, n_ctx: int):  # noqa: ANN201
    import llama_cpp

    return llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads,
                           n_threads_batch=threads, n_gpu_layers=0, verbose=False)


def baseline_run(llama, tokens: int) -> dict:  # noqa: ANN001
    """One user in process: tokens/s over the whole request, decode tokens/s, TTFT."""
    llama.reset()
    started = time.perf_counter()
    stamps = [time.perf_counter() for chunk in llama.create_completion(
        fresh_prompt(), max_tokens=tokens, temperature=0.0, top_k=40, top_p=0.9, min_p=0.0,
        repeat_penalty=1.1, stream=True) if chunk["choices"][0].get("text")]
    return {"tokens": len(stamps), "tokens_per_s": len(stamps) / (stamps[-1] - started),
            "decode_tokens_per_s": (len(stamps) - 1) / (stamps[-1] - stamps[0]),
            "ttft_s": stamps[0] - started}


def one_user(model, tokens: int, out: list, index: int, gate: threading.Barrier) -> None:  # noqa: ANN001
    from core.generation.model import GenerationSettings, Message, Token

    settings = GenerationSettings(temperature=0.0, top_k=40, top_p=0.9, max_tokens=tokens)
    gate.wait()
    started = time.perf_counter()
    stamps = [time.perf_counter() for event in model.stream(
        [Message(role="user", content=fresh_prompt())], settings, mode="completion")
        if isinstance(event, Token)]
    out[index] = (started, stamps)


def concurrent(model, users: int, tokens: int) -> dict:  # noqa: ANN001
    """``users`` clients at once: aggregate and per-user tokens/s, TTFT."""
    out: list = [None] * users
    gate = threading.Barrier(users)
    threads = [threading.Thread(target=one_user, args=(model, tokens, out, i, gate))
               for i in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first = min(t for t, _ in out)
    last = max(s[-1] for _, s in out)
    total = sum(len(s) for _, s in out)
    ttfts = [s[0] - t for t, s in out]
    return {"users": users, "tokens": total,
            "aggregate_tokens_per_s": total / (last - first),
            "per_user_tokens_per_s": statistics.mean(len(s) / (s[-1] - t) for t, s in out),
            "ttft_median_s": statistics.median(ttfts), "ttft_max_s": max(ttfts)}


def table(rows: list[dict], base: dict) -> str:
    lines = ["| users | aggregate tok/s | per-user tok/s | TTFT median | TTFT worst |",
             "|---:|---:|---:|---:|---:|",
             f"| 1 (in process, baseline) | {base['tokens_per_s']:.1f} | "
             f"{base['tokens_per_s']:.1f} | {base['ttft_s']:.2f} s | {base['ttft_s']:.2f} s |"]
    for row in rows:
        lines.append(f"| {row['users']} | {row['aggregate_tokens_per_s']:.1f} | "
                     f"{row['per_user_tokens_per_s']:.1f} | {row['ttft_median_s']:.2f} s | "
                     f"{row['ttft_max_s']:.2f} s |")
    return "\n".join(lines)


def medians(runs: list[dict]) -> dict:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a .gguf path (default: the bundled GGUF)")
    parser.add_argument("--users", default="1,2,4", help="concurrent users, comma-separated")
    parser.add_argument("--tokens", type=int, default=64, help="tokens per request")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--engine", default="auto",
                        choices=("auto", "llama-server", "llama-cpp-python"))
    parser.add_argument("--parallel", type=int, default=4, help="llama-server's slots")
    add_json_argument(parser)
    args = parser.parse_args()

    from core.serving.client import RemoteModel
    from core.serving.process import start_server
    from core.serving.server import ServeConfig, plan_server
    from core.workspace import Workspace

    if args.model:
        path = Path(args.model).absolute()
    else:
        from core.models.bundled import assemble_gguf

        path = assemble_gguf()
    levels = [int(n) for n in args.users.split(",")]
    plain = load_plain(path, args.threads, args.n_ctx)
    base_runs: list[dict] = []
    level_runs: dict[int, list[dict]] = {users: [] for users in levels}
    with tempfile.TemporaryDirectory() as folder:
        workspace = Workspace.create(Path(folder) / "ws")
        server = start_server(plan_server(workspace, ServeConfig(
            model=str(path), port=0, threads=args.threads, n_ctx=args.n_ctx, gpu=False,
            engine=args.engine, parallel=args.parallel)))
        engine, parallel = server.plan.engine, server.plan.parallel
        try:
            model = RemoteModel(server.plan.endpoint("bench"))
            baseline_run(plain, 4)  # warm-up both
            concurrent(model, 1, 4)
            for _ in range(args.rounds):  # interleaved: other load hits every level alike
                base_runs.append(baseline_run(plain, args.tokens))
                for users in levels:
                    level_runs[users].append(concurrent(model, users, args.tokens))
        finally:
            server.stop()
            plain.close()
    base = medians(base_runs)
    rows = [medians(level_runs[users]) for users in levels]
    one = next((r for r in rows if r["users"] == 1), None)
    top = rows[-1]
    report = {"model": path.name, "engine": engine, "parallel": parallel,
              "threads": args.threads, "tokens_per_request": args.tokens,
              "cpu_count": os.cpu_count(), "baseline_in_process": base, "levels": rows}
    print(json.dumps(report, indent=2))
    print(f"engine: {engine}, {parallel} slot(s)", file=sys.stderr)
    print(table(rows, base), file=sys.stderr)
    if one is not None and top is not one:
        scaling = top["aggregate_tokens_per_s"] / one["aggregate_tokens_per_s"]
        print(f"{top['users']} users: aggregate ×{scaling:.2f} "
              f"one user's (target ≥ {TARGET_SCALING:g}×), worst TTFT {top['ttft_max_s']:.2f} s "
              f"(target < {TARGET_TTFT_S:g} s)", file=sys.stderr)
    figures = [figure(f"aggregate tokens/s, {r['users']} user(s)", r["aggregate_tokens_per_s"],
                      base["tokens_per_s"], "tok/s", "higher",
                      "baseline: one user in process (plain llama_cpp.Llama)") for r in rows]
    figures += [figure(f"per-user tokens/s, {r['users']} user(s)", r["per_user_tokens_per_s"],
                       base["tokens_per_s"], "tok/s", "higher",
                       f"queueing included; {engine}, {parallel} slot(s)")
                for r in rows]
    if one is not None and top is not one:
        figures += [
            figure(f"aggregate tokens/s, {top['users']} users vs 1 user, same server",
                   top["aggregate_tokens_per_s"], one["aggregate_tokens_per_s"], "tok/s",
                   "higher", f"{engine}; target ratio >= {TARGET_SCALING:g}",
                   target=TARGET_SCALING if top["users"] == TARGET_USERS else None),
            figure(f"worst time to first token, {top['users']} users", top["ttft_max_s"],
                   TARGET_TTFT_S, "s", "lower",
                   f"baseline column: the target, < {TARGET_TTFT_S:g} s",
                   limit=TARGET_TTFT_S if top["users"] == TARGET_USERS else None)]
    write_result(args.json, "serving", "Shared serving: concurrent users vs tokens/s", figures,
                 series={"users": [r["users"] for r in rows],
                         "aggregate_tokens_per_s": [r["aggregate_tokens_per_s"] for r in rows],
                         "per_user_tokens_per_s": [r["per_user_tokens_per_s"] for r in rows]},
                 raw=report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
