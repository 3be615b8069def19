"""The approximate (ANN) vector index of a knowledge-base table, built once it pays.

Below ``ANN_MIN_ROWS`` passages an exhaustive scan is fast enough (tens of milliseconds)
and exact, so no index is built. Past it, LanceDB's IVF-PQ index (cosine, the distance
the search uses) is trained on the table: a query then reads ``NPROBES`` partitions of
compressed codes and re-scores the best ``REFINE_CANDIDATES`` with their full vectors,
which keeps recall@10 near exact search at a fraction of the cost.

The index is kept current incrementally: rows added later are searched exhaustively
until the next ``optimize`` folds them into the index (``update_index`` runs it at the
end of every update). The partitions were learnt from the rows the index was trained on;
once the table has grown ``RETRAIN_GROWTH`` × past that, the index is trained again so
that the new material gets partitions of its own. How many rows it was trained on is
kept in the index manifest, so the decision survives restarts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

ANN_MIN_ROWS = 20_000
RETRAIN_GROWTH = 2.0
NPROBES = 20
REFINE_CANDIDATES = 100
VECTOR_COLUMN = "vector"


def vector_index(table: Any) -> Any | None:
    """The table's index on the vector column (LanceDB's IndexConfig), or None."""
    for config in table.list_indices():
        if VECTOR_COLUMN in config.columns:
            return config
    return None


def needs_training(rows: int, trained_rows: int, indexed: bool,
                   min_rows: int = ANN_MIN_ROWS) -> bool:
    """Whether the index should be (re)trained: the table passed the size threshold and
    has no index yet, or has grown ``RETRAIN_GROWTH`` × past the rows it was trained on."""
    if rows < min_rows:
        return False
    return not indexed or not trained_rows or rows >= RETRAIN_GROWTH * trained_rows


def ensure_vector_index(table: Any, trained_rows: int, *, min_rows: int = ANN_MIN_ROWS,
                        log: Callable[[str], None] | None = None) -> int:
    """Train the table's ANN index when ``needs_training``; returns the rows the index
    is now trained on (0: none). Rows added since the last training are folded in by the
    table's ``optimize``, not here."""
    from lancedb.index import IvfPq

    indexed = vector_index(table) is not None
    rows = table.count_rows()
    if not needs_training(rows, trained_rows, indexed, min_rows):
        return trained_rows if indexed else 0
    if log:
        log(f"{'re' if indexed else ''}training the approximate search index on "
            f"{rows:,} passages (about a minute per 100,000)")
    start = time.perf_counter()
    table.create_index(VECTOR_COLUMN, config=IvfPq(distance_type="cosine"), replace=True)
    if log:
        log(f"approximate search index trained in {time.perf_counter() - start:.0f} s")
    return rows


def tune(builder: Any, limit: int, *, exact: bool = False) -> Any:
    """A vector query for ``limit`` rows set to search the ANN index as recall needs (or,
    ``exact``, to ignore it). Without an index, LanceDB scans every row either way.

    The compressed codes only rank candidates roughly; the best ``REFINE_CANDIDATES`` of
    them (at least twice the limit) are re-scored with their full vectors."""
    if exact:
        return builder.bypass_vector_index()
    factor = max(2, math.ceil(REFINE_CANDIDATES / max(1, limit)))
    return builder.nprobes(NPROBES).refine_factor(factor)
