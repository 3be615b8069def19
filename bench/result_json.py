"""The machine-readable result every benchmark writes with ``--json PATH``.

Shape (read by ``bench/run_all.py``)::

    {"bench": "retrieval", "title": "...",
     "figures": [{"name", "ours", "baseline", "unit", "ratio", "better", "note",
                  "target", "limit", "met"}, ...],
     "series": {...data for plots...}, "raw": {...everything else the bench reports...}}

``ratio`` is ours / baseline; ``better`` says which direction is better for the figure.
``target`` (on the ratio) and ``limit`` (on ours, in ``unit``) are optional thresholds read
in the ``better`` direction; ``met`` says whether all given ones hold (null: none given).
Results written before these keys existed have none of them.
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


def reaches(value: float, threshold: float, better: Better) -> bool:
    """``value`` is at ``threshold`` or past it in the better direction (NaN never is)."""
    return value >= threshold if better == "higher" else value <= threshold


def figure(name: str, ours: float, baseline: float, unit: str, better: Better,
           note: str = "", *, target: float | None = None,
           limit: float | None = None) -> dict[str, Any]:
    """One compared number: our code against the baseline measured in the same run.

    ``target`` is a threshold on the ratio ours / baseline and ``limit`` one on ``ours``
    (in ``unit``), both in the ``better`` direction: "higher" means at least, "lower" at
    most. ``met`` is None when neither is given, else whether every given one holds.
    """
    ours, baseline = float(ours), float(baseline)
    ratio = ours / baseline if baseline else math.nan
    target = None if target is None else float(target)
    limit = None if limit is None else float(limit)
    checks = [(value, threshold) for value, threshold in ((ratio, target), (ours, limit))
              if threshold is not None]
    met = all(reaches(v, t, better) for v, t in checks) if checks else None
    return {"name": name, "ours": ours, "baseline": baseline, "unit": unit,
            "ratio": ratio, "better": better, "note": note, "target": target,
            "limit": limit, "met": met}


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
