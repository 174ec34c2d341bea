"""Quality ranking (RankIQA): how well one score per item orders items by a rank label (0 = best).

Used for a ranker (a tower with ``out_dim: 1``, higher score = ranks higher) on items labelled by rank within
groups, e.g. versions of one image at distortion levels 0 (original) .. 5: the Spearman correlation of the
scores with the *negated* rank, pooled over every item and averaged over the groups.

Example:
    >>> m = ranking_metrics([3.0, 2.0, 1.0, 9.0, 8.0], [0, 1, 2, 0, 1], ["x", "x", "x", "y", "y"])
    >>> m["rank_spearman_per_group"], round(m["rank_spearman"], 4)
    (1.0, 0.7379)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from pairsim.errors import DataError
from pairsim.metrics._inputs import as_scores


def _spearman(scores: np.ndarray, ranks: np.ndarray) -> float:
    """Spearman of ``scores`` with ``-ranks``; NaN when every score is equal."""
    if np.all(scores == scores[0]):
        return float("nan")
    return float(stats.spearmanr(scores, -ranks).statistic)


def ranking_metrics(scores: Any, ranks: Sequence[int], groups: Sequence[str] | None = None) -> dict[str, float | int]:
    """Spearman correlation of scores (higher = better) with the negated rank labels (lower = better).

    Args:
        scores: One score per item (1-D), higher = ranks higher (better quality).
        ranks: One rank label per item, lower = better (a distortion level: 0 = the original).
        groups: The group of each item (one image under one distortion); None: one group.

    Returns:
        ``rank_spearman``: pooled over all items; ``rank_spearman_per_group``: the mean over groups of each
        group's own Spearman (groups whose ranks are all equal are skipped); ``rank_groups``: how many groups
        that mean covers; ``n_items``. Raw coefficients in [-1, 1]; NaN where every score is equal.

    Raises:
        DataError: Lengths differ, fewer than 2 items, non-finite scores, or every rank is equal.

    Example:
        >>> ranking_metrics([0.9, 0.5, 0.7], [0, 2, 1])["rank_spearman"]
        1.0
    """
    s = as_scores(scores)
    r = np.asarray(ranks, dtype=np.float64)  # (N,)
    g = np.asarray(["" for _ in r] if groups is None else list(groups))  # (N,)
    if r.size != s.size or g.size != s.size:
        raise DataError(f"ranking: {s.size} scores, {r.size} ranks and {g.size} groups; need one of each per item")
    if s.size < 2 or np.all(r == r[0]):
        raise DataError("ranking: need at least 2 items with different ranks for a correlation")
    per_group = []
    for name in np.unique(g):
        mask = g == name
        if mask.sum() >= 2 and not np.all(r[mask] == r[mask][0]):
            per_group.append(_spearman(s[mask], r[mask]))
    return {
        "rank_spearman": _spearman(s, r),
        "rank_spearman_per_group": float(np.mean(per_group)),
        "rank_groups": len(per_group),
        "n_items": int(s.size),
    }
