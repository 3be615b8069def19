"""The kinds of job the child process can run.

Each kind names its config class and its function as import strings, so listing kinds
never imports torch. A job function is ``fn(config, ctx) -> dict`` (the result).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from core.errors import ConfigError, JobError


@dataclass(frozen=True)
class JobKind:
    name: str
    title: str
    config: str  # "module:Class"
    function: str  # "module:function"


KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        JobKind(
            "import-base-model",
            "Import the bundled base model",
            "core.models.bundled:ImportBaseConfig",
            "core.models.bundled:run_import_job",
        ),
        JobKind(
            "selftest",
            "Job system self-test",
            "core.jobs.selftest:SelfTestConfig",
            "core.jobs.selftest:run_selftest",
        ),
    )
}


def _load(reference: str) -> Any:
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


def get_kind(name: str) -> JobKind:
    if name not in KINDS:
        raise JobError(f"Unknown job kind {name!r} (known: {', '.join(sorted(KINDS))}).")
    return KINDS[name]


def validate_config(kind: str, raw: dict[str, Any]) -> BaseModel:
    """Validate a raw config for ``kind``; every problem is reported at once."""
    config_class: type[BaseModel] = _load(get_kind(kind).config)
    try:
        return config_class.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError(f"Invalid {kind} config: {problems}.") from error


def job_function(kind: str) -> Callable[..., dict[str, Any]]:
    return _load(get_kind(kind).function)
