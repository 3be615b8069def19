"""Programs the setup installs beside Scriptorium's Python, found the same way everywhere.

``llama-server`` (llama.cpp's own server, ``installers/build-llama-server.sh``) goes into
the virtual environment's ``bin`` folder; ``$SCRIPTORIUM_LLAMA_SERVER`` names another copy.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SERVER_BINARY_ENV = "SCRIPTORIUM_LLAMA_SERVER"
SERVER_BINARY_NAME = "llama-server"


def llama_server_path() -> Path:
    """Where ``llama-server`` should be: ``$SCRIPTORIUM_LLAMA_SERVER``, else beside this
    Python."""
    named = os.environ.get(SERVER_BINARY_ENV)
    return Path(named) if named else Path(sys.executable).parent / SERVER_BINARY_NAME


def llama_server_binary() -> Path | None:
    """The installed ``llama-server``; None when it is missing or not executable."""
    path = llama_server_path()
    return path if path.is_file() and os.access(path, os.X_OK) else None
