"""N-way one-shot (few-shot) evaluation: pick the support item each query is most similar to.

An episode is a ``(n_query, n_way)`` score matrix, query ``q`` against support ``w``, and for each query
the index of its correct support. The accuracy over episodes is the mean of the per-episode accuracies
(each episode weighs the same), reported with a 95% confidence interval as in the few-shot literature.

Example:
    >>> episodes = [[[0.9, 0.1], [0.2, 0.8]], [[0.3, 0.7], [0.6, 0.4]]]
    >>> episode_accuracy(episodes, [[0, 1], [0, 0]], higher_is_similar=True)
    0.75
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from pairsim.errors import DataError
from pairsim.metrics._inputs import oriented, to_numpy


def _episode_hits(matrix: Any, answers: Any, higher_is_similar: bool, index: int) -> np.ndarray:
    """Return one episode's per-query credit: 1 for a hit, 1/k when the answer ties with k-1 others."""
    scores = to_numpy(matrix)
    answer = to_numpy(answers)
    if scores.ndim != 2 or scores.shape[1] < 2 or scores.shape[0] == 0:
        raise DataError(
            f"episode {index}: score matrix has shape {tuple(scores.shape)}; expected (n_query, n_way) "
            "with n_query >= 1 and n_way >= 2"
        )
    if answer.shape != (scores.shape[0],):
        raise DataError(
            f"episode {index}: answers has shape {tuple(answer.shape)} but there are {scores.shape[0]} "
            "queries; need one support index per query"
        )
    if not np.issubdtype(answer.dtype, np.integer):
        raise DataError(f"episode {index}: answers must be integer support indices, got dtype {answer.dtype}")
    if answer.min() < 0 or answer.max() >= scores.shape[1]:
        raise DataError(
            f"episode {index}: answers must be in [0, {scores.shape[1] - 1}] for a {scores.shape[1]}-way episode"
        )
    scores = scores.astype(np.float64)
    if not np.all(np.isfinite(scores)):
        raise DataError(f"episode {index}: score matrix contains NaN or infinite values")
    s = oriented(scores, higher_is_similar)
    best = s.max(axis=1, keepdims=True)
    ties = (s == best).sum(axis=1)
    correct_is_best = s[np.arange(s.shape[0]), answer] == best[:, 0]
    return correct_is_best / ties


def episode_accuracies(
    score_matrices: Sequence[Any] | np.ndarray,
    answers: Sequence[Any] | np.ndarray,
    *,
    higher_is_similar: bool,
) -> np.ndarray:
    """Return the accuracy of each episode.

    A query is right when its correct support scores best. When the correct support ties with ``k - 1``
    others for the best score, the query counts ``1/k`` (the expected accuracy of breaking the tie at
    random), so constant scores score chance level rather than a lucky 100%.

    Args:
        score_matrices: One ``(n_query, n_way)`` matrix per episode (a list; episodes may differ in size),
            or one ``(n_episodes, n_query, n_way)`` array.
        answers: Per episode, the index of each query's correct support (``n_query`` ints), or one
            ``(n_episodes, n_query)`` array.
        higher_is_similar: True for similarity scores (the best support is the highest), False for
            distances (the lowest).

    Returns:
        A float array, one accuracy in [0, 1] per episode.

    Raises:
        DataError: No episodes, a different number of answer lists, or an episode with a bad shape,
            answers out of range or non-finite scores (the message names the episode).

    Example:
        >>> episode_accuracies([[[0.1, 0.9]], [[0.5, 0.5]]], [[1], [0]], higher_is_similar=True).tolist()
        [1.0, 0.5]
    """
    if len(score_matrices) == 0:
        raise DataError("no episodes given; need at least one (n_query, n_way) score matrix")
    if len(answers) != len(score_matrices):
        raise DataError(f"{len(score_matrices)} episodes but {len(answers)} answer lists; need one per episode")
    return np.array(
        [
            float(_episode_hits(matrix, answer, higher_is_similar, i).mean())
            for i, (matrix, answer) in enumerate(zip(score_matrices, answers, strict=True))
        ]
    )


def episode_accuracy(
    score_matrices: Sequence[Any] | np.ndarray,
    answers: Sequence[Any] | np.ndarray,
    *,
    higher_is_similar: bool,
) -> float:
    """Return the mean accuracy over one-shot episodes (see :func:`episode_accuracies`).

    Args:
        score_matrices: One ``(n_query, n_way)`` matrix per episode, or an ``(n_episodes, n_query, n_way)``
            array.
        answers: Per episode, the correct support index of each query.
        higher_is_similar: True for similarity scores, False for distances.

    Returns:
        The mean of the per-episode accuracies, in [0, 1].

    Raises:
        DataError: As :func:`episode_accuracies`.

    Example:
        >>> episode_accuracy([[[2.0, 0.5, 1.0]]], [[1]], higher_is_similar=False)
        1.0
    """
    return float(episode_accuracies(score_matrices, answers, higher_is_similar=higher_is_similar).mean())


def oneshot_metrics(
    score_matrices: Sequence[Any] | np.ndarray,
    answers: Sequence[Any] | np.ndarray,
    *,
    higher_is_similar: bool,
) -> dict[str, Any]:
    """Return the one-shot accuracy with its per-episode values and 95% confidence interval.

    The interval is the Student-t interval of the mean of the per-episode accuracies,
    ``mean ± t(0.975, n-1) · std/√n`` (about ``1.96 · std/√n`` for the usual hundreds of episodes). With one
    episode, or when every episode has the same accuracy, it cannot be estimated or is zero-width.

    Args:
        score_matrices: One ``(n_query, n_way)`` matrix per episode, or an ``(n_episodes, n_query, n_way)``
            array.
        answers: Per episode, the correct support index of each query.
        higher_is_similar: True for similarity scores, False for distances.

    Returns:
        A dict: ``accuracy`` (mean, in [0, 1]), ``ci95`` (half-width: report ``accuracy ± ci95``; NaN with
        one episode), ``ci95_low``, ``ci95_high``, ``n_episodes`` and ``per_episode`` (list of floats).

    Raises:
        DataError: As :func:`episode_accuracies`.

    Example:
        >>> m = oneshot_metrics([[[0.9, 0.1]], [[0.2, 0.8]]], [[0], [0]], higher_is_similar=True)
        >>> m["accuracy"], m["per_episode"], round(m["ci95"], 3)
        (0.5, [1.0, 0.0], 6.353)
    """
    per_episode = episode_accuracies(score_matrices, answers, higher_is_similar=higher_is_similar)
    n = per_episode.size
    mean = float(per_episode.mean())
    half = float(stats.t.ppf(0.975, n - 1) * stats.sem(per_episode)) if n > 1 else float("nan")
    return {
        "accuracy": mean,
        "ci95": half,
        "ci95_low": mean - half,
        "ci95_high": mean + half,
        "n_episodes": n,
        "per_episode": per_episode.tolist(),
    }
