"""Offline guard: no code path in Scriptorium may reach a model hub.

This module is imported first by ``core/__init__.py`` so the variables are set before
any Hugging Face library is imported anywhere in the process (and inherited by child
jobs, which import ``core`` too).
"""

from __future__ import annotations

import os

OFFLINE_VARIABLES: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def enforce_offline() -> None:
    """Set the variables that keep transformers, hub and datasets off the network."""
    for name, value in OFFLINE_VARIABLES.items():
        os.environ[name] = value


enforce_offline()
