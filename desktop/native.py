"""Native libraries loaded on the GUI thread before any worker uses them.

Loading llama.cpp's shared libraries (``import llama_cpp``) for the first time on a worker
thread while Qt runs on the main thread crashed the process now and then (a segmentation
fault inside ctypes' function binding). Panes that hand llama.cpp work to threads call
``preload_llama()`` when they are built; it is a no-op after the first call.

PyTorch, sentence-transformers and LanceDB (the knowledge base's embedder and storage, the
hardware check) are imported at start for another reason: importing them takes seconds of
C-extension initialisation that holds Python's GIL throughout, so an import on a worker
thread froze the window for up to 3 s at a time (torch), 0.35 s (lancedb): the first
search, the first hardware check.
``preload_ml_libraries`` imports them while the splash screen shows, before the window
takes input.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable

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


# each library, and what the splash screen says while it loads
ML_LIBRARIES = (("torch", "Loading the machine-learning libraries…"),
                ("sentence_transformers", "Loading the knowledge base's search…"),
                ("lancedb", "Loading the knowledge base's storage…"))


def preload_ml_libraries(say: Callable[[str], None] = lambda _: None) -> float:
    """Import PyTorch, sentence-transformers and LanceDB on this thread (the GUI thread, before
    the window shows); ``say`` hears what is loading. Seconds taken; a library that is
    not installed is left for its first use to report."""
    start = time.monotonic()
    for name, message in ML_LIBRARIES:
        say(message)
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    return time.monotonic() - start
