"""One rank of a multi-process training run: ``python -m core.training.worker JOB_DIR``.

Started by torchrun (see ``core.training.distributed``), never by hand. Runs the recipe
named in ``JOB_DIR/distributed/spec.json``; rank 0 reports progress into the job's event
stream and saves the adapter and the outcome; a failing rank writes its error first.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

from core.errors import JobCancelled
from core.jobs.child import apply_threads
from core.jobs.progress import JobContext, ProgressEvent
from core.training import distributed
from core.training.job import CHECKPOINTS
from core.training.recipes import recipe_class
from core.workspace import Workspace

EXIT_FAILED, EXIT_CANCELLED = 1, 130


class RankContext(JobContext):
    """A job context for one rank: only rank 0 writes events; cancel is agreed by all."""

    def __init__(self, job_dir: Path) -> None:
        self._flag = distributed.folder(job_dir) / distributed.CANCEL
        super().__init__(job_dir, self._cancel_requested)
        self._quiet = distributed.rank() != 0

    def _cancel_requested(self) -> bool:
        return distributed.agree(self._flag.exists())

    def _emit(self, event: ProgressEvent) -> None:
        if not self._quiet:
            super()._emit(event)


def run(job_dir: Path) -> int:
    import torch

    config, resume_from = distributed.read_spec(job_dir)
    apply_threads()  # the launcher shared the cores out among the ranks
    if config.device != "cpu" and torch.cuda.is_available():
        torch.cuda.set_device(distributed.local_rank())
    ctx = RankContext(job_dir)
    workspace = Workspace.open(job_dir.parent.parent)
    recipe = recipe_class(config.recipe)(config, ctx, workspace, job_dir / CHECKPOINTS)
    try:
        state = recipe.setup()
        outcome = recipe.train(resume_from)
        adapter = distributed.folder(job_dir) / distributed.ADAPTER
        distributed.save_full_adapter(state.model, adapter)
        if distributed.rank() == 0:
            distributed.write_outcome(job_dir, outcome)
        return 0
    except JobCancelled as error:
        distributed.write_error(job_dir, error)
        return EXIT_CANCELLED
    except BaseException as error:  # noqa: BLE001 - reported to the job, then the rank exits
        traceback.print_exc()
        distributed.write_error(job_dir, error)
        return EXIT_FAILED
    finally:
        recipe.cleanup()
        if distributed.process_group_ready():
            import torch.distributed as dist

            dist.destroy_process_group()


def main() -> None:
    if len(sys.argv) != 2:
        print("usage: torchrun ... -m core.training.worker JOB_DIR", file=sys.stderr)
        raise SystemExit(2)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    raise SystemExit(run(Path(sys.argv[1]).absolute()))


if __name__ == "__main__":
    main()
