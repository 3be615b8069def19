"""One small module per recipe; each has ``setup / train / save / cleanup``.

``recipe_class(name)`` imports only the recipe asked for (torch, trl, peft are heavy).
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "cpt": "core.training.recipes.cpt:CptRecipe",
    "sft": "core.training.recipes.sft:SftRecipe",
    "dpo": "core.training.recipes.prefs:DpoRecipe",
    "orpo": "core.training.recipes.prefs:OrpoRecipe",
}


def recipe_class(name: str) -> Any:
    module, _, attribute = _MODULES[name].partition(":")
    return getattr(importlib.import_module(module), attribute)
