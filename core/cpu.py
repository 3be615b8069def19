"""What the CPU can do, read from the operating system (no torch import)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # instructions that multiply bfloat16 natively


@cache
def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags (Linux), or none where they cannot be read."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def cpu_has_bf16_matmul(flags: frozenset[str] | None = None) -> bool:
    """Whether the CPU multiplies bfloat16 in hardware (AMX or AVX-512 BF16). There a
    bfloat16 forward pass runs several times faster than float32; elsewhere bfloat16 is
    emulated and slower."""
    flags = cpu_flags() if flags is None else flags
    return any(flag in flags for flag in BF16_FLAGS)
