"""Native libraries that must be loaded on the GUI thread before any worker uses them.

Loading llama.cpp's shared libraries (``import llama_cpp``) for the first time on a worker
thread while Qt runs on the main thread crashed the process now and then (a segmentation
fault inside ctypes' function binding). Panes that hand llama.cpp work to threads call
``preload_llama()`` when they are built; it is a no-op after the first call.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_loaded = False


def preload_llama() -> bool:
    """Import ``llama_cpp`` now, on this thread; False when it is not installed."""
    global _loaded
    with _lock:
        if not _loaded:
            try:
                import llama_cpp  # noqa: F401
            except ImportError:
                return False
            _loaded = True
    return True
