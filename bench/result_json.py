"""The machine-readable result every benchmark writes with ``--json PATH``.

Shape (read by ``bench/run_all.py``)::

    {"bench": "retrieval", "title": "...",
     "figures": [{"name", "ours", "baseline", "unit", "ratio", "better", "note"}, ...],
     "series": {...data for plots...}, "raw": {...everything else the bench reports...}}

``ratio`` is ours / baseline; ``better`` says which direction is better for the figure.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any, Literal

Better = Literal["higher", "lower"]


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write a machine-readable result (for bench/run_all)")


def figure(name: str, ours: float, baseline: float, unit: str, better: Better,
           note: str = "") -> dict[str, Any]:
    """One compared number: our code against the baseline measured in the same run."""
    ours, baseline = float(ours), float(baseline)
    ratio = ours / baseline if baseline else math.nan
    return {"name": name, "ours": ours, "baseline": baseline, "unit": unit,
            "ratio": ratio, "better": better, "note": note}


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_result(path: Path | None, bench: str, title: str, figures: list[dict[str, Any]],
                 series: dict[str, Any] | None = None, raw: dict[str, Any] | None = None) -> None:
    """Write the result to ``path`` (nothing when ``path`` is None)."""
    if path is None:
        return
    result = {"bench": bench, "title": title, "figures": figures, "series": series or {},
              "raw": raw or {}}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_finite(result), indent=2, default=str) + "\n", encoding="utf-8")
