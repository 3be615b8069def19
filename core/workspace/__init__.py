"""Workspace folder, manifest, audit log and model registry."""

from core.workspace.workspace import SCHEMA_VERSION, Manifest, Workspace

__all__ = ["SCHEMA_VERSION", "Manifest", "Workspace"]
