"""Bundled data: sample workspace, recipes, prompt templates, icons."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent


def path(*parts: str) -> Path:
    """Absolute path of a bundled resource."""
    return ROOT.joinpath(*parts)
