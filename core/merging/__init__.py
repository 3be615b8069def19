"""Merging models of one architecture and size with mergekit (linear, SLERP, TIES,
DARE-TIES, task arithmetic). Plain Python API; the work runs as the ``merge`` job."""

from core.merging.compat import check_compatible, compare_folders, explain
from core.merging.config import METHODS, MergeConfig, MergeSource, merge_yaml, parse_merge_config

__all__ = [
    "METHODS", "MergeConfig", "MergeSource", "check_compatible", "compare_folders", "explain",
    "merge_yaml", "parse_merge_config",
]
