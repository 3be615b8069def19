"""What this machine offers for training and inference."""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

from core.cpu import cpu_has_bf16_matmul


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    memory_bytes: int


@dataclass(frozen=True)
class Hardware:
    cpu_count: int
    memory_bytes: int
    gpus: tuple[GpuInfo, ...]
    torch_version: str | None
    cpu_bf16: bool = False  # bfloat16 multiplied in hardware (AMX, AVX-512 BF16)

    @property
    def has_cuda(self) -> bool:
        return bool(self.gpus)

    def describe(self) -> str:
        memory = f"{self.memory_bytes / 2**30:.0f} GiB RAM"
        cpu = f"{self.cpu_count} CPU threads" + (" (with bfloat16 units)" if self.cpu_bf16
                                                 else "")
        if self.gpus:
            gpus = ", ".join(f"{g.name} ({g.memory_bytes / 2**30:.0f} GiB)" for g in self.gpus)
            return f"{cpu}, {memory}, GPU: {gpus}"
        return f"{cpu}, {memory}, no GPU (training runs on the CPU)"


def detect_hardware() -> Hardware:
    """Detect CPUs, memory and CUDA GPUs (imports torch, which takes a second or two)."""
    gpus: list[GpuInfo] = []
    torch_version = None
    try:
        import torch

        torch_version = torch.__version__
        if torch.cuda.is_available():
            for index in range(torch.cuda.device_count()):
                props = torch.cuda.get_device_properties(index)
                gpus.append(GpuInfo(index, props.name, int(props.total_memory)))
    except ImportError:
        pass
    return Hardware(
        cpu_count=os.cpu_count() or 1,
        memory_bytes=psutil.virtual_memory().total,
        gpus=tuple(gpus),
        torch_version=torch_version,
        cpu_bf16=cpu_has_bf16_matmul(),
    )
