"""Handing freed memory back to the system between the phases of a long job.

glibc keeps memory a process has freed for its next allocations, so a job whose phases
each need a lot (embedding passages, then LanceDB writing them) holds the sum of their
peaks. ``release_freed_memory`` returns what is free to the system (``malloc_trim``) so
the peak is the larger of them; elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import lru_cache


@lru_cache(maxsize=1)
def _trim() -> object | None:
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


def release_freed_memory() -> None:
    gc.collect()
    trim = _trim()
    if trim is not None:
        trim(0)  # type: ignore[operator]
