"""Benchmark: a second workspace's base model from the machine's model store (issue 18,
item 4) against copying the model files into it.

    .venv/bin/python bench/bench_model_store.py [--json PATH]

One workspace is created first (it converts the bundled model once per machine if this
machine has not yet). Then, timed: ``init`` of a second workspace with the base model
(``import_base_model``: hard links to the store, checksums, the registry), against the
baseline measured in the same run: copying the same model files into a fresh folder and
flushing them to disk. New disk is measured as the free-space drop. Targets: a second
``init`` under 10 s and under 50 MB of new disk.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from result_json import add_json_argument, figure, write_result  # noqa: E402


def _free(path: Path) -> int:
    return shutil.disk_usage(path).free


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_json_argument(parser)
    args = parser.parse_args()
    from core.models.bundled import BASE_GGUF_ID, BASE_MODEL_ID, import_base_model
    from core.workspace import Workspace
    from core.workspace.registry import ModelRegistry

    scratch = Path(tempfile.mkdtemp(prefix="bench-store-"))
    try:
        first = Workspace.create(scratch / "first")
        started = time.perf_counter()
        import_base_model(first)
        first_s = time.perf_counter() - started
        registry = ModelRegistry(first)
        files = [p for model in (BASE_MODEL_ID, BASE_GGUF_ID)
                 for p in registry.path_of(registry.get(model)).iterdir() if p.is_file()]

        copy_to = scratch / "copied"
        copy_to.mkdir()
        free = _free(scratch)
        started = time.perf_counter()
        for index, path in enumerate(files):
            target = copy_to / f"{index}-{path.name}"
            shutil.copyfile(path, target)
            with open(target, "rb+") as handle:
                os.fsync(handle.fileno())
        copy_s = time.perf_counter() - started
        copy_bytes = free - _free(scratch)
        shutil.rmtree(copy_to)

        free = _free(scratch)
        started = time.perf_counter()
        second = Workspace.create(scratch / "second")
        import_base_model(second)
        second_s = time.perf_counter() - started
        second_bytes = max(0, free - _free(scratch))
        assert ModelRegistry(second).verify(BASE_MODEL_ID) == []
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"first workspace's base model: {first_s:.1f} s (converts once per machine)")
    print(f"second init: {second_s:.2f} s, {second_bytes / 1e6:.1f} MB new disk "
          f"(targets: < 10 s, < 50 MB)")
    print(f"baseline, copying the model files: {copy_s:.2f} s, {copy_bytes / 1e6:.0f} MB")
    print(f"  ratio time: {second_s / copy_s:.2f}x   ratio disk: "
          f"{second_bytes / max(1, copy_bytes):.4f}x")
    write_result(args.json, "model_store", "Second workspace's base model vs copying it", [
        figure("second init time", second_s, copy_s, "s", "lower", "target < 10 s",
               limit=10),
        figure("second init new disk", second_bytes / 1e6, copy_bytes / 1e6, "MB", "lower",
               "target < 50 MB", limit=50),
    ], raw={"first_s": first_s, "files": len(files)})


if __name__ == "__main__":
    main()
