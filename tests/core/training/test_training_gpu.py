"""The GPU paths (issue 16, item 3): bf16 where the GPU supports it, QLoRA through
bitsandbytes, the probe's GPU memory. They run only where a CUDA device is present; on the
CPU-only CI they are skipped with the reason."""

from __future__ import annotations

import pytest

from core.training.config import build_config
from core.training.modeling import bitsandbytes_available, cuda_available, placement
from core.workspace import Workspace

pytestmark = pytest.mark.skipif(not cuda_available(), reason="no CUDA device on this machine: "
                                "the GPU code paths are tested where one is present")


def test_auto_places_training_on_the_gpu_in_its_best_precision() -> None:
    import torch

    where = placement(build_config("cpt", base="b", dataset="d"))
    assert where.device == "cuda"
    assert where.dtype == ("bfloat16" if torch.cuda.is_bf16_supported() else "float16")


def test_lora_trains_on_the_gpu(train_workspace: Workspace, train_run) -> None:  # noqa: ANN001
    result, recorder = train_run(train_workspace, "cpt", "max_steps=2")
    assert recorder.losses() and result["metrics"]["steps"] == 2


@pytest.mark.skipif(not bitsandbytes_available(), reason="bitsandbytes is not installed")
def test_qlora_trains_a_4bit_base(train_workspace: Workspace, train_run) -> None:  # noqa: ANN001
    result, _ = train_run(train_workspace, "cpt", "max_steps=2", "quantize_4bit=true")
    assert result["metrics"]["steps"] == 2


def test_the_probe_reports_gpu_memory(train_workspace: Workspace) -> None:
    from core.training.probe import probe_training

    probe = probe_training(train_workspace, build_config(
        "cpt", base="tiny-base", dataset="cpt-v1", overrides=["batch_size=2", "max_length=32"]),
        steps=1)
    assert probe.device == "cuda" and probe.peak_gpu and probe.peak_gpu > 0
