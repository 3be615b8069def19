"""User settings (per user, not per workspace): recent workspaces, paths, device, threads,
remote endpoints.

Stored as JSON in the platform's config folder, or ``$SCRIPTORIUM_CONFIG_DIR``, with mode
0600 (the endpoints' tokens are secrets).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.endpoints import RemoteEndpoint
from core.fsutil import atomic_write_json, read_json

MAX_RECENT = 10


def config_dir() -> Path:
    override = os.environ.get("SCRIPTORIUM_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir("scriptorium"))


def cache_dir() -> Path:
    override = os.environ.get("SCRIPTORIUM_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir("scriptorium"))


def default_workspaces_dir() -> Path:
    return Path.home() / "Scriptorium"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    recent_workspaces: tuple[str, ...] = ()
    workspaces_dir: str = Field(default_factory=lambda: str(default_workspaces_dir()))
    model_cache_dir: str = Field(default_factory=lambda: str(cache_dir() / "models"))
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = Field(default=0, ge=0, le=1024, description="0 = all cores")
    heavy_jobs: int = Field(default=1, ge=1, le=16, description="heavy jobs (training, "
                            "merge, export, index, evaluation, import) run at once in a "
                            "workspace; the others wait their turn")
    embedding_precision: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto", description="the embedding model's arithmetic: auto = bfloat16 "
        "where the CPU multiplies it in hardware (AMX, AVX-512 BF16), else float32")
    checked_version: str = Field(default="", description="version whose first run checked "
                                 "the installation (the app shows the report once per version)")
    remote_endpoints: tuple[RemoteEndpoint, ...] = Field(
        default=(), description="OpenAI-compatible servers the drafting pane can use")

    @field_validator("remote_endpoints", mode="before")
    @classmethod
    def _valid_endpoints(cls, value: Any) -> Any:
        """Drop a damaged endpoint entry rather than every setting."""
        if not isinstance(value, (list, tuple)):
            return ()
        kept = []
        for item in value:
            try:
                kept.append(RemoteEndpoint.model_validate(item))
            except ValidationError:
                continue
        return tuple(kept)

    def with_recent(self, workspace: Path) -> Settings:
        path = str(Path(workspace).absolute())
        recent = [path, *(p for p in self.recent_workspaces if p != path)][:MAX_RECENT]
        return self.model_copy(update={"recent_workspaces": tuple(recent)})


def settings_path() -> Path:
    return config_dir() / "settings.json"


def load_settings() -> Settings:
    """The saved settings, or defaults if none or if the file is damaged."""
    path = settings_path()
    if not path.exists():
        return Settings()
    try:
        return Settings.model_validate(read_json(path))
    except (ValueError, ValidationError):
        return Settings()


def save_settings(settings: Settings) -> None:
    atomic_write_json(settings_path(), settings.model_dump(mode="json"))
