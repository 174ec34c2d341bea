"""Checking and converting the arrays the metric functions are given (private to :mod:`pairsim.metrics`).

Every metric function turns its inputs into numpy arrays here, so the checks (same length, finite
scores, labels 0/1, both classes present) and their one-line :class:`~pairsim.errors.DataError` messages
are the same everywhere.

Example:
    >>> as_scores([0.2, 0.9], "scores").tolist()
    [0.2, 0.9]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pairsim.errors import DataError


def to_numpy(values: Any) -> np.ndarray:
    """Return ``values`` (list, numpy array, or torch tensor, even one on a GPU or with grad) as an array.

    Args:
        values: Anything numpy can read, or a torch tensor.

    Returns:
        A numpy array (not copied when already one).

    Example:
        >>> to_numpy([1, 2]).shape
        (2,)
    """
    if hasattr(values, "detach") and hasattr(values, "cpu"):  # a torch tensor, without importing torch
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def as_scores(scores: Any, name: str = "scores") -> np.ndarray:
    """Return ``scores`` as a non-empty 1-D float array of finite values.

    Args:
        scores: One score per pair.
        name: What to call the argument in an error message.

    Returns:
        The scores as ``float64``.

    Raises:
        DataError: They are not 1-D, are empty, or contain NaN or infinity.

    Example:
        >>> as_scores([1, 2]).dtype
        dtype('float64')
    """
    array = to_numpy(scores)
    if array.ndim != 1:
        raise DataError(f"{name} must be 1-D (one score per pair), got shape {tuple(array.shape)}")
    if array.size == 0:
        raise DataError(f"{name} is empty; need at least one pair")
    try:
        array = array.astype(np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{name} must be numbers, got dtype {array.dtype}") from None
    if not np.all(np.isfinite(array)):
        raise DataError(f"{name} contains {int(np.sum(~np.isfinite(array)))} NaN or infinite values")
    return array


def as_score_matrix(sim: Any, higher_is_similar: bool, axes: str) -> np.ndarray:
    """Return a score matrix as finite ``float64``, turned so that higher means more similar.

    Args:
        sim: One score per (row, column) pair, e.g. captions x images or queries x corpus.
        higher_is_similar: The head's direction (see :func:`oriented`).
        axes: The rows and columns named for an error message, e.g. ``"n_queries, n_corpus"``.

    Returns:
        The oriented matrix.

    Raises:
        DataError: It is not a non-empty 2-D matrix, or holds NaN or infinity.

    Example:
        >>> as_score_matrix([[0.5, 2.0]], False, "n_queries, n_corpus").tolist()
        [[-0.5, -2.0]]
    """
    scores = to_numpy(sim)
    if scores.ndim != 2 or scores.size == 0:
        raise DataError(f"sim must be a ({axes}) matrix, got shape {tuple(scores.shape)}")
    scores = oriented(scores.astype(np.float64), higher_is_similar)
    if not np.all(np.isfinite(scores)):
        raise DataError("sim contains NaN or infinite values")
    return scores


def as_labels(labels: Any, n: int, *, both_classes: bool) -> np.ndarray:
    """Return ``labels`` as a 1-D int array of 0/1 (1 = similar) with ``n`` entries.

    Args:
        labels: One label per pair: 1 (or True) for a similar pair, 0 (or False) for a dissimilar one.
        n: The number of scores they go with.
        both_classes: Whether both labels must occur (for ROC AUC, EER, a calibrated threshold).

    Returns:
        The labels as ``int64``.

    Raises:
        DataError: The length differs from ``n``, a label is not 0 or 1, or (with ``both_classes``) only
            one class occurs.

    Example:
        >>> as_labels([True, False], 2, both_classes=True).tolist()
        [1, 0]
    """
    array = to_numpy(labels)
    if array.ndim != 1 or array.shape[0] != n:
        raise DataError(f"labels has shape {tuple(array.shape)} but there are {n} scores; need one label per score")
    if not np.all(np.isin(array, (0, 1))):
        bad = array[~np.isin(array, (0, 1))][:3].tolist()
        raise DataError(f"labels must be 0 (dissimilar) or 1 (similar), found {bad}")
    array = array.astype(np.int64)
    if both_classes and np.unique(array).size < 2:
        only = "similar (1)" if array[0] == 1 else "dissimilar (0)"
        raise DataError(f"labels are all {only}; this metric needs both similar and dissimilar pairs")
    return array


def oriented(scores: np.ndarray, higher_is_similar: bool) -> np.ndarray:
    """Return scores turned so that higher means more similar (distances are negated).

    Args:
        scores: Scores from a head.
        higher_is_similar: The head's direction: True for similarities, False for distances.

    Returns:
        ``scores`` itself, or ``-scores`` for distances.

    Example:
        >>> oriented(np.array([0.5, 2.0]), False).tolist()
        [-0.5, -2.0]
    """
    if not isinstance(higher_is_similar, (bool, np.bool_)):
        raise DataError(f"higher_is_similar must be True or False, got {higher_is_similar!r}")
    return scores if higher_is_similar else -scores
