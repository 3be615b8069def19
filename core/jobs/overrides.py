"""``--set KEY=VALUE`` overrides of a job's config, as the CLI and the wizards take them:
dotted keys reach nested sections (``lora.r=16``), values are read as YAML scalars
(numbers, booleans, null, lists)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml


def parse_overrides(pairs: Iterable[str]) -> tuple[dict[str, Any], list[str]]:
    """``["lora.r=16", "max_steps=20"]`` → nested dict, plus the malformed entries."""
    result: dict[str, Any] = {}
    bad = []
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            bad.append(f"--set {pair!r} is not KEY=VALUE")
            continue
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        node = result
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                bad.append(f"--set {pair!r}: {part} is not a section")
                break
        else:
            node[parts[-1]] = value
    return result, bad
