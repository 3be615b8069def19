"""Training on several processes with torch.distributed: DDP or FSDP, set up by accelerate.

The train job (one process) launches ``torchrun --standalone --nproc-per-node N -m
core.training.worker JOB_DIR``. Every rank runs the same recipe; the transformers Trainer
(through accelerate) joins the process group, gives each rank its share of every global
batch and wraps the model (DDP, or FSDP2 with sharded checkpoints). Rank 0 reports
progress into the job's event stream and writes the trained adapter and the outcome. A
rank that fails writes its error; torchrun then stops the others and the job ends with
that rank's message. The job process evaluates and registers the adapter as it does for a
one-process run.

Files under ``runs/<job>/distributed/``: ``spec.json`` (what the workers run),
``cancel`` (set by the job when the user cancels; the ranks agree on it at a step
boundary), ``error-rank<k>.json``, ``outcome.json``, ``adapter/`` and ``logs/`` (each
rank's stdout and stderr, kept by torchrun).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError, JobCancelled, ScriptoriumError
from core.fsutil import atomic_write_text
from core.jobs.progress import JobContext
from core.training.config import TrainConfig
from core.training.outcome import TrainOutcome

if TYPE_CHECKING:
    from peft import PeftModel

FOLDER = "distributed"
SPEC, CANCEL, OUTCOME, ADAPTER, LOGS = "spec.json", "cancel", "outcome.json", "adapter", "logs"
# Seconds the ranks get to save a checkpoint and stop after a cancel before they are killed.
CANCEL_GRACE_S = 300.0
# Fault injection for tests: "RANK:STEP" makes that rank raise at that step.
FAIL_AT_ENV = "SCRIPTORIUM_TRAIN_FAIL_AT"


class DistributedTrainingError(ScriptoriumError):
    """A rank of a multi-process training run failed."""


# -- where am I --------------------------------------------------------------------------
def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0") or 0)


def process_group_ready() -> bool:
    try:
        import torch.distributed as dist
    except ImportError:
        return False
    return dist.is_available() and dist.is_initialized()


def barrier() -> None:
    if process_group_ready():
        import torch.distributed as dist

        dist.barrier()


def agree(flag: bool) -> bool:
    """True on every rank when it is true on any rank (a no-op outside a process group)."""
    if not process_group_ready():
        return flag
    import torch
    import torch.distributed as dist

    device = (torch.device("cuda", torch.cuda.current_device())
              if dist.get_backend() == "nccl" else torch.device("cpu"))
    value = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


# -- planning ----------------------------------------------------------------------------
def visible_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def plan_processes(config: TrainConfig, gpus: int) -> int:
    """Processes for ``config`` on a machine with ``gpus`` visible GPUs (no torch import)."""
    gpus = gpus if config.device != "cpu" else 0
    if config.nproc == 0:
        return gpus if gpus > 1 else 1
    if config.nproc > 1 and gpus and config.nproc > gpus:
        raise ConfigError(
            f"nproc: {config.nproc} processes were asked for but {gpus} GPUs are visible.",
            hint="use one process per GPU, or device=cpu to train on CPU processes")
    return config.nproc


def resolve_nproc(config: TrainConfig) -> int:
    """How many processes the run uses: ``nproc``, or one per visible GPU when it is 0."""
    return plan_processes(config, visible_gpus() if config.device != "cpu" else 0)


def describe_plan(config: TrainConfig, gpus: int) -> str:
    """One line for the wizard and the dry run, e.g. "2 processes (FSDP, one per GPU)"."""
    count = plan_processes(config, gpus)
    if count == 1:
        return "1 process"
    where = "one per GPU" if gpus and config.device != "cpu" else "CPU, gloo"
    return f"{count} processes ({strategy(config).upper()}, {where})"


def strategy(config: TrainConfig) -> str:
    return "fsdp" if config.strategy == "fsdp" else "ddp"


def strategy_arguments(config: TrainConfig, model: Any, device: str) -> dict[str, Any]:
    """TrainingArguments for the process group (empty in a one-process run)."""
    if world_size() <= 1:
        return {}
    arguments: dict[str, Any] = {"ddp_backend": "nccl" if device == "cuda" else "gloo"}
    if strategy(config) == "fsdp":
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        layers = list(getattr(base, "_no_split_modules", None) or [])
        fsdp_config: dict[str, Any] = {
            "version": 2,
            "reshard_after_forward": True,
            "state_dict_type": "SHARDED_STATE_DICT",  # each rank saves its own shard
            "cpu_ram_efficient_loading": False,
        }
        if layers:
            fsdp_config.update(auto_wrap_policy="TRANSFORMER_BASED_WRAP",
                               transformer_layer_cls_to_wrap=layers)
        arguments.update(fsdp=True, fsdp_config=fsdp_config)
    else:
        arguments["ddp_find_unused_parameters"] = False
    return arguments


def enable_cpu_fsdp(trainer: Any) -> None:
    """Shard on CPU ranks too: accelerate applies its FSDP plugin only on accelerators.

    torch's FSDP2 itself runs on CPU over gloo; this hands the plugin the Trainer built to
    accelerate's state, as it does on GPUs, so the model is sharded and checkpoints are
    saved per rank (used by tests and CPU clusters; GPUs take the normal path).
    """
    from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

    plugin_args = getattr(trainer.args, "fsdp_plugin_args", None)
    state = trainer.accelerator.state
    if plugin_args is None or getattr(state, "fsdp_plugin", None) is not None:
        return
    state.fsdp_plugin = FullyShardedDataParallelPlugin(**plugin_args)
    state.distributed_type = DistributedType.FSDP
    trainer.is_fsdp_enabled = True


def folder(job_dir: Path) -> Path:
    return Path(job_dir) / FOLDER


def write_spec(job_dir: Path, config: TrainConfig, resume_from: Path | None) -> None:
    spec = {"config": config.to_yaml_dict(),
            "resume_from": str(resume_from) if resume_from else None}
    atomic_write_text(folder(job_dir) / SPEC, json.dumps(spec, indent=2))


def read_spec(job_dir: Path) -> tuple[TrainConfig, Path | None]:
    from core.training.config import parse_config

    raw = json.loads((folder(job_dir) / SPEC).read_text(encoding="utf-8"))
    resume = raw.get("resume_from")
    return parse_config(raw["config"]), Path(resume) if resume else None


def torchrun_command(job_dir: Path, nproc: int, *, nnodes: str = "1",
                     rendezvous: str | None = None) -> list[str]:
    """The exact command that runs the ranks (also written into cluster bundles)."""
    command = [sys.executable, "-m", "torch.distributed.run"]
    if rendezvous:
        command += [f"--nnodes={nnodes}", "--rdzv-backend=c10d", f"--rdzv-endpoint={rendezvous}"]
    else:
        command += ["--standalone", "--nnodes=1"]
    command += [f"--nproc-per-node={nproc}", "--max-restarts=0",
                f"--log-dir={folder(job_dir) / LOGS}", "--redirects=3",
                "-m", "core.training.worker", str(job_dir)]
    return command


def worker_environment(nproc: int, device: str) -> dict[str, str]:
    """Threads per rank: the machine's cores shared out (CPU), so ranks do not oversubscribe."""
    env = dict(os.environ)
    if device == "cpu":
        cores = int(os.environ.get("SCRIPTORIUM_THREADS", "0") or 0) or (os.cpu_count() or 1)
        env["OMP_NUM_THREADS"] = str(max(1, cores // max(1, nproc)))
        env["SCRIPTORIUM_THREADS"] = env["OMP_NUM_THREADS"]
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


# -- running -----------------------------------------------------------------------------
def launch(config: TrainConfig, ctx: JobContext, nproc: int, device: str,
           resume_from: Path | None) -> TrainOutcome:
    """Run the ranks to the end; returns rank 0's ``TrainOutcome`` or raises."""
    job_dir = ctx.job_dir
    where = folder(job_dir)
    for stale in (CANCEL, OUTCOME):
        (where / stale).unlink(missing_ok=True)
    for error_file in where.glob("error-rank*.json"):
        error_file.unlink()
    write_spec(job_dir, config, resume_from)
    ctx.log(f"starting {nproc} training processes ({strategy(config).upper()}, "
            f"{'gloo on CPU' if device == 'cpu' else 'NCCL on GPU'})")
    # its own session, so the job's cancel (SIGTERM to the job's group) reaches the ranks
    # as a graceful stop through the flag file, not as torchrun's kill
    process = subprocess.Popen(torchrun_command(job_dir, nproc),
                               env=worker_environment(nproc, device),
                               start_new_session=True, preexec_fn=_die_with_parent)
    cancel_sent: float | None = None
    try:
        while process.poll() is None:
            if cancel_sent is None and ctx.cancelled():
                atomic_write_text(where / CANCEL, "cancel\n")
                cancel_sent = time.monotonic()
            elif cancel_sent is not None and time.monotonic() - cancel_sent > CANCEL_GRACE_S:
                _stop(process)
            time.sleep(0.2)
    finally:
        if process.poll() is None:
            _stop(process)
    if process.returncode != 0:
        if cancel_sent is not None:
            raise JobCancelled("The job was cancelled while its processes were starting.")
        raise failure(job_dir, nproc, process.returncode)
    return read_outcome(job_dir)[0]


def read_outcome(job_dir: Path) -> tuple[TrainOutcome, int]:
    """Rank 0's ``TrainOutcome`` and the number of processes that trained."""
    path = folder(job_dir) / OUTCOME
    if not path.exists():
        raise DistributedTrainingError(
            f"The training processes of {Path(job_dir).name} have not finished "
            f"(no {FOLDER}/{OUTCOME}).", hint="run them first (see run.sh or slurm.sbatch)")
    raw = json.loads(path.read_text(encoding="utf-8"))
    processes = int(raw.pop("world_size", 1))
    raw["history"] = tuple(raw.get("history") or ())
    return TrainOutcome(**raw), processes


def _die_with_parent() -> None:
    """In the torchrun child: get SIGTERM if the job process dies (killed, out of memory),
    so torchrun stops the ranks instead of leaving them running without a job."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop(process: subprocess.Popen[bytes]) -> None:
    import signal

    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def failure(job_dir: Path, nproc: int, code: int) -> DistributedTrainingError:
    """The clearest message for a failed run: the first rank's own error, else its log."""
    where = folder(job_dir)
    reports = [json.loads(p.read_text(encoding="utf-8")) for p in where.glob("error-rank*.json")]
    logs = where.relative_to(Path(job_dir).parent.parent) / LOGS
    if reports:
        # the first failure is the cause; the others lost their peer because of it
        first = min(reports, key=lambda r: (r.get("time", 0.0), r["rank"]))
        return DistributedTrainingError(
            f"Training failed on rank {first['rank']} of {nproc}: {first['message']}",
            hint=first.get("hint") or f"each rank's log is under {logs}")
    tail = _log_tail(where / LOGS)
    return DistributedTrainingError(
        f"A training process ended without a report (torchrun exit code {code}); "
        "it was probably killed (out of memory?)." + (f" Last lines: {tail}" if tail else ""),
        hint=f"each rank's log is under {logs}")


def _log_tail(logs: Path, lines: int = 6) -> str:
    found = sorted(logs.rglob("stderr.log"), key=lambda p: p.stat().st_mtime)
    for path in reversed(found):
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        if text:
            return " | ".join(text[-lines:])
    return ""


def write_error(job_dir: Path, error: BaseException) -> None:
    message = str(error) if isinstance(error, ScriptoriumError) else (
        f"{type(error).__name__}: {error}")
    hint = error.hint if isinstance(error, ScriptoriumError) else None
    atomic_write_text(folder(job_dir) / f"error-rank{rank()}.json",
                      json.dumps({"rank": rank(), "message": message, "hint": hint,
                                  "time": time.time()}))


def write_outcome(job_dir: Path, outcome: TrainOutcome) -> None:
    atomic_write_text(folder(job_dir) / OUTCOME,
                      json.dumps({**asdict(outcome), "world_size": world_size()}))


def save_full_adapter(model: PeftModel, destination: Path) -> None:
    """Gather the adapter from every rank (FSDP shards it) and save it on rank 0."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    full = get_model_state_dict(
        model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if rank() == 0:
        destination.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(str(destination), safe_serialization=True,
                                    selected_adapters=["default"], state_dict=full)
    barrier()


def load_trained_adapter(model: Any, source: Path) -> None:
    """Put the weights saved by rank 0 into this process's (fresh) adapter."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = load_file(str(source / "adapter_model.safetensors"))
    result = set_peft_model_state_dict(model, weights)
    unexpected = list(getattr(result, "unexpected_keys", []) or [])
    if unexpected:
        raise DistributedTrainingError(
            f"The trained adapter does not fit the model ({len(unexpected)} unknown tensors, "
            f"e.g. {unexpected[0]}).")


def fail_if_asked(step: int) -> None:
    """Test hook: ``SCRIPTORIUM_TRAIN_FAIL_AT=RANK:STEP`` makes that rank fail there."""
    asked = os.environ.get(FAIL_AT_ENV, "")
    if asked and asked == f"{rank()}:{step}":
        raise RuntimeError(f"injected failure at step {step}")
