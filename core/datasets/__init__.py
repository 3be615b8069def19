"""Versioned training datasets built from the workspace's documents and feedback.

``build_dataset(workspace, BuildDatasetConfig(kind=...))`` makes a CPT (packed token
sequences), SFT (chat-rendered prompt/completion pairs) or prefs (prompt/chosen/rejected)
dataset; ``DatasetStore`` lists, reads and removes them.
"""

from core.datasets.build import BuildResult, build_dataset
from core.datasets.model import (
    DATASET_KINDS,
    BuildDatasetConfig,
    DatasetError,
    DatasetRecord,
)
from core.datasets.store import DatasetStore
from core.datasets.user_pairs import add_user_pair, list_user_pairs

__all__ = [
    "DATASET_KINDS", "BuildDatasetConfig", "BuildResult", "DatasetError", "DatasetRecord",
    "DatasetStore", "add_user_pair", "build_dataset", "list_user_pairs",
]
