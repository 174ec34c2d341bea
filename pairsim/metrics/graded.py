"""Graded similarity (semantic textual similarity, STS-B / SICK-R): correlation of scores with gold ratings.

The coefficients are reported raw, in [-1, 1] — not multiplied by 100 as STS papers and leaderboards
usually print them; multiply by 100 yourself to compare with those tables.

Example:
    >>> m = graded_metrics([0.1, 0.4, 0.35, 0.9], [0.0, 2.0, 3.0, 5.0], higher_is_similar=True)
    >>> round(m["spearman"], 6)
    0.8
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from pairsim.errors import DataError
from pairsim.metrics._inputs import as_scores, oriented


def graded_metrics(scores: Any, gold: Any, *, higher_is_similar: bool) -> dict[str, float | int]:
    """Return the Spearman and Pearson correlations between pair scores and gold similarity ratings.

    Distances (``higher_is_similar=False``) are negated first, so a good distance head also gets a
    positive correlation and both directions give identical numbers.

    Args:
        scores: One score per pair (1-D).
        gold: One gold rating per pair, higher = more similar (e.g. STS-B's 0-5).
        higher_is_similar: True for similarity scores, False for distances.

    Returns:
        A dict: ``spearman`` (rank correlation) and ``pearson`` (linear correlation), raw coefficients in
        [-1, 1] (not ×100), NaN when every score is equal (a collapsed model); and ``n_pairs``.

    Raises:
        DataError: Lengths differ, fewer than 2 pairs, non-finite values, or every gold rating is equal.

    Example:
        >>> m = graded_metrics([3.0, 1.0, 2.0], [1, 3, 2], higher_is_similar=False)
        >>> m["spearman"], round(m["pearson"], 6)
        (1.0, 1.0)
    """
    s = oriented(as_scores(scores), higher_is_similar)
    g = as_scores(gold, "gold")
    if g.size != s.size:
        raise DataError(f"gold has {g.size} ratings but there are {s.size} scores; need one rating per score")
    if s.size < 2:
        raise DataError(f"need at least 2 pairs for a correlation, got {s.size}")
    if np.all(g == g[0]):
        raise DataError("gold ratings are all equal; a correlation needs at least two different ratings")
    if np.all(s == s[0]):
        spearman = pearson = float("nan")
    else:
        spearman = float(stats.spearmanr(s, g).statistic)
        pearson = float(stats.pearsonr(s, g).statistic)
    return {"spearman": spearman, "pearson": pearson, "n_pairs": int(s.size)}
