"""Pair verification: is each pair the same (similar) or not? Thresholds, decisions and their metrics.

Convention: label 1 = similar. Scores come from a head with a direction, ``higher_is_similar``:
True for similarities (cosine, exp heads), False for distances (euclidean). Every function here takes
that direction and gives the same metrics for a distance as for the negated similarity; thresholds are
always returned in the head's own units (a distance threshold for a distance head).

Example:
    >>> scores, labels = [0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0]
    >>> t = calibrate_threshold(scores, labels, higher_is_similar=True)
    >>> round(t, 3), decide(scores, t, True).tolist()
    (0.55, [True, True, False, False])
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from pairsim.errors import DataError
from pairsim.metrics._inputs import as_labels, as_scores, oriented

_EDGE_MARGIN = 0.5  # how far outside the scores a threshold goes when every score takes one side


def decide(scores: Any, threshold: float, higher_is_similar: bool) -> np.ndarray:
    """Decide "same" per pair: ``score >= threshold`` for similarities, ``score <= threshold`` for distances.

    Args:
        scores: One score per pair (1-D).
        threshold: The decision threshold, in the head's units.
        higher_is_similar: True for similarity scores, False for distances.

    Returns:
        A boolean array, True where the pair is judged similar.

    Example:
        >>> decide([0.2, 1.5], 1.0, False).tolist()
        [True, False]
    """
    values = oriented(as_scores(scores), higher_is_similar)
    return values >= (threshold if higher_is_similar else -threshold)


def calibrate_threshold(scores: Any, labels: Any, *, higher_is_similar: bool) -> float:
    """Return the threshold that maximises accuracy of :func:`decide` on validation pairs.

    Every threshold between two adjacent distinct scores gives the same decisions, so the one returned
    is the midpoint of that gap (not a score itself), which is what generalises to new pairs. When
    several gaps reach the best accuracy, the widest gap wins (the largest margin), then the one nearest
    the "similar" end. A threshold outside all scores (everything judged the same way) is chosen only when
    no gap does as well; it lies half the nearest gap (or 0.5 when all scores are equal) beyond the scores.

    Args:
        scores: One score per validation pair (1-D).
        labels: One label per pair, 1 = similar, 0 = dissimilar; both must occur.
        higher_is_similar: True for similarity scores, False for distances.

    Returns:
        The threshold, in the head's units (a distance for a distance head).

    Raises:
        DataError: Lengths differ, a label is not 0/1, or only one class occurs.

    Example:
        >>> calibrate_threshold([0.1, 0.4, 2.0, 3.0], [1, 1, 0, 0], higher_is_similar=False)
        1.2
    """
    values = as_scores(scores)
    y = as_labels(labels, values.size, both_classes=True)
    s = oriented(values, higher_is_similar)
    # roc_curve lists every distinct operating point "same = s >= thr", from thr = inf (nothing same)
    # down to thr = min(s) (everything same), with the rates of each.
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    n_pos, n_neg = int(y.sum()), int(y.size - y.sum())
    correct = np.rint(tpr * n_pos).astype(np.int64) + np.rint((1.0 - fpr) * n_neg).astype(np.int64)
    distinct = thr[1:]  # the distinct scores, descending
    if distinct.size > 1:
        gaps = -np.diff(distinct)
        low_edge, high_edge = gaps[-1] / 2, gaps[0] / 2
    else:
        gaps = np.empty(0)
        low_edge = high_edge = _EDGE_MARGIN
    # Candidate k keeps operating point k: thresholds above all scores, in each gap, below all scores.
    candidates = np.concatenate(
        [[distinct[0] + high_edge], (distinct[:-1] + distinct[1:]) / 2, [distinct[-1] - low_edge]]
    )
    widths = np.concatenate([[-1.0], gaps, [-1.0]])  # edge thresholds lose ties to any gap
    best = np.flatnonzero(correct == correct.max())
    chosen = best[np.argmax(widths[best])]  # argmax takes the first (most "similar"-end) of equal widths
    threshold = float(candidates[chosen])
    return threshold if higher_is_similar else -threshold


def equal_error_rate(scores: Any, labels: Any, *, higher_is_similar: bool) -> tuple[float, float]:
    """Return the equal error rate and a threshold that operates near it.

    The EER is where the ROC curve (joined by straight lines, as for ROC AUC) crosses the line
    false-positive rate = false-negative rate; it is exact, interpolated between operating points. The
    threshold is that of the real operating point nearest the crossing (smallest
    ``|fnr - fpr|``, ties to the higher threshold), so :func:`decide` with it gives error rates close to the
    EER.

    Args:
        scores: One score per pair (1-D).
        labels: One label per pair, 1 = similar; both classes must occur.
        higher_is_similar: True for similarity scores, False for distances.

    Returns:
        ``(eer, threshold)``: the rate in [0, 1], and the threshold in the head's units.

    Raises:
        DataError: Lengths differ, a label is not 0/1, or only one class occurs.

    Example:
        >>> equal_error_rate([0.9, 0.8, 0.7, 0.6, 0.4, 0.3], [1, 1, 0, 1, 0, 0], higher_is_similar=True)
        (0.3333333333333333, 0.7)
    """
    values = as_scores(scores)
    y = as_labels(labels, values.size, both_classes=True)
    fpr, tpr, thr = roc_curve(y, oriented(values, higher_is_similar), drop_intermediate=False)
    n_pos, n_neg = int(y.sum()), int(y.size - y.sum())
    false_neg = n_pos - np.rint(tpr * n_pos).astype(np.int64)
    false_pos = np.rint(fpr * n_neg).astype(np.int64)
    # (fnr - fpr) * n_pos * n_neg, in exact integers: positive at the first point, negative at the last,
    # never increasing along the curve.
    gap = false_neg * n_neg - false_pos * n_pos
    i = int(np.flatnonzero(gap >= 0)[-1])
    if gap[i] == 0:
        eer = float(fpr[i])
    else:
        frac = gap[i] / (gap[i] - gap[i + 1])
        eer = float(fpr[i] + frac * (fpr[i + 1] - fpr[i]))
    nearest = 1 + int(np.argmin(np.abs(gap[1:])))  # point 0 has threshold inf: never a usable threshold
    threshold = float(thr[nearest])
    return eer, (threshold if higher_is_similar else -threshold)


def verification_metrics(scores: Any, labels: Any, *, higher_is_similar: bool, threshold: float) -> dict[str, float]:
    """Return the verification metrics of scored pairs: threshold metrics and threshold-free ones.

    Args:
        scores: One score per pair (1-D).
        labels: One label per pair, 1 = similar, 0 = dissimilar; both must occur.
        higher_is_similar: True for similarity scores, False for distances.
        threshold: The decision threshold (usually from :func:`calibrate_threshold` on validation pairs).

    Returns:
        A dict, rates as fractions in [0, 1] (not percentages):

        * ``accuracy``, ``f1``, ``precision``, ``recall``: of :func:`decide` at ``threshold``, the similar
          class being the positive one (precision is 0 when nothing is judged similar);
        * ``threshold``: the threshold used;
        * ``roc_auc``, ``average_precision``: threshold-free, over the scores;
        * ``eer``, ``eer_threshold``: from :func:`equal_error_rate`;
        * ``n_pairs``: number of pairs; ``positive_rate``: fraction of pairs labelled similar.

    Raises:
        DataError: Lengths differ, a label is not 0/1, only one class occurs, or ``threshold`` is not a
            finite number.

    Example:
        >>> m = verification_metrics([0.9, 0.8, 0.7, 0.6, 0.4, 0.3], [1, 1, 0, 1, 0, 0],
        ...                          higher_is_similar=True, threshold=0.65)
        >>> round(m["roc_auc"], 4), round(m["accuracy"], 4), m["eer"]
        (0.8889, 0.6667, 0.3333333333333333)
    """
    values = as_scores(scores)
    y = as_labels(labels, values.size, both_classes=True)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)) or not np.isfinite(threshold):
        raise DataError(f"threshold must be a finite number, got {threshold!r}")
    s = oriented(values, higher_is_similar)
    predicted = decide(values, threshold, higher_is_similar).astype(np.int64)
    eer, eer_threshold = equal_error_rate(values, y, higher_is_similar=higher_is_similar)
    return {
        "accuracy": float(accuracy_score(y, predicted)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "threshold": float(threshold),
        "roc_auc": float(roc_auc_score(y, s)),
        "average_precision": float(average_precision_score(y, s)),
        "eer": eer,
        "eer_threshold": eer_threshold,
        "n_pairs": int(y.size),
        "positive_rate": float(y.mean()),
    }
