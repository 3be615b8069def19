"""GGUF f16 → quantized GGUF through ``llama_cpp.llama_model_quantize`` (no binary needed).

llama.cpp picks a fallback type for tensors whose rows do not fit a K-quant block (Gemma 3
270M: 90 of 236 tensors) and copies every metadata key of the source file.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import ModelError

FTYPES: dict[str, str] = {
    "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
    "q6_k": "LLAMA_FTYPE_MOSTLY_Q6_K",
    "q5_k_m": "LLAMA_FTYPE_MOSTLY_Q5_K_M",
    "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
}
LABELS: dict[str, str] = {"f16": "F16", "q8_0": "Q8_0", "q6_k": "Q6_K",
                          "q5_k_m": "Q5_K_M", "q4_k_m": "Q4_K_M"}


def quantize(source: Path, target: Path, quant: str, threads: int | None = None) -> Path:
    """Quantize ``source`` (an f16 GGUF) to ``quant`` at ``target``."""
    import llama_cpp

    if quant not in FTYPES:
        raise ModelError(f"Unknown quantization {quant!r} (known: {', '.join(FTYPES)}).")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, FTYPES[quant])
    params.nthread = threads or os.cpu_count() or 1
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), params)
    if status != 0 or not Path(target).exists():
        Path(target).unlink(missing_ok=True)
        raise ModelError(f"llama.cpp could not quantize {Path(source).name} to "
                         f"{LABELS[quant]} (status {status}).")
    return Path(target)
