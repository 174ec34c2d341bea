"""One-shot episode accuracy on hand-checked episodes."""

from __future__ import annotations

import numpy as np
import pytest

from pairsim.errors import DataError
from pairsim.metrics.oneshot import episode_accuracies, episode_accuracy, oneshot_metrics

# Episode 1: query 0 best matches support 0 (right), query 1 best matches support 1 but the answer is 2
# (wrong) -> 1/2. Episode 2: both right -> 1. Mean over episodes: 3/4.
MATRICES = [
    np.array([[0.9, 0.1, 0.2], [0.3, 0.8, 0.1]]),
    np.array([[0.1, 0.2, 0.7], [0.6, 0.5, 0.4]]),
]
ANSWERS = [np.array([0, 2]), np.array([2, 0])]


def test_accuracy_matches_hand_count() -> None:
    assert episode_accuracies(MATRICES, ANSWERS, higher_is_similar=True).tolist() == [0.5, 1.0]
    assert episode_accuracy(MATRICES, ANSWERS, higher_is_similar=True) == 0.75


def test_episodes_weigh_the_same_whatever_their_size() -> None:
    # 1 query right, then 3 queries all wrong: mean of (1, 0) = 0.5, not 1/4 pooled over queries.
    matrices = [np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]] * 3)]
    answers = [[0], [1, 1, 1]]
    assert episode_accuracy(matrices, answers, higher_is_similar=True) == 0.5


def test_distance_equal_to_negated_similarity_gives_identical_accuracy() -> None:
    distances = [-m for m in MATRICES]
    assert episode_accuracy(distances, ANSWERS, higher_is_similar=False) == 0.75
    # Read as similarities, the distances pick the worst support: episode 1 query 1 lowest is index 2
    # (right), everything else wrong -> (1/2 + 0) / 2.
    assert episode_accuracy(distances, ANSWERS, higher_is_similar=True) == 0.25


def test_stacked_array_equals_list_of_episodes() -> None:
    stacked = oneshot_metrics(np.stack(MATRICES), np.stack(ANSWERS), higher_is_similar=True)
    listed = oneshot_metrics(MATRICES, ANSWERS, higher_is_similar=True)
    assert stacked == listed


def test_ties_earn_fractional_credit() -> None:
    # The answer ties with one other support -> 1/2; constant scores in a 4-way episode -> chance, 1/4.
    assert episode_accuracy([[[0.5, 0.5, 0.1]]], [[0]], higher_is_similar=True) == 0.5
    assert episode_accuracy([np.zeros((3, 4))], [[0, 0, 0]], higher_is_similar=True) == 0.25


def test_confidence_interval_two_episodes_by_hand() -> None:
    # Accuracies 0.5 and 1.0: sample std = 0.5 / sqrt(2), standard error = 0.25, and the 97.5% point of
    # Student's t with 1 degree of freedom is 12.7062 -> half-width 3.1766.
    m = oneshot_metrics(MATRICES, ANSWERS, higher_is_similar=True)
    assert m["accuracy"] == 0.75
    assert m["per_episode"] == [0.5, 1.0]
    assert m["n_episodes"] == 2
    assert m["ci95"] == pytest.approx(12.7062 * 0.25, abs=1e-4)
    assert (m["ci95_low"], m["ci95_high"]) == pytest.approx((0.75 - m["ci95"], 0.75 + m["ci95"]))


def test_confidence_interval_of_many_episodes_is_the_usual_1_96_sigma() -> None:
    # 1000 episodes scoring 1 and 0 alternately: std ~ 0.5, so the half-width is ~ 1.96 * 0.5 / sqrt(1000).
    matrices = [np.array([[1.0, 0.0]])] * 1000
    answers = [[i % 2] for i in range(1000)]
    m = oneshot_metrics(matrices, answers, higher_is_similar=True)
    assert m["accuracy"] == 0.5
    assert m["ci95"] == pytest.approx(1.96 * 0.5 / np.sqrt(1000), rel=2e-3)


def test_single_episode_has_no_interval() -> None:
    m = oneshot_metrics([MATRICES[0]], [ANSWERS[0]], higher_is_similar=True)
    assert m["accuracy"] == 0.5
    assert np.isnan(m["ci95"])


@pytest.mark.parametrize(
    ("matrices", "answers", "message"),
    [
        ([], [], "no episodes"),
        (MATRICES, ANSWERS[:1], "2 episodes but 1 answer lists"),
        ([MATRICES[0]], [[0]], "episode 0: answers has shape"),
        ([MATRICES[0]], [[0, 3]], r"in \[0, 2\]"),
        ([MATRICES[0]], [[0, -1]], r"in \[0, 2\]"),
        ([MATRICES[0]], [[0.0, 1.0]], "integer"),
        ([np.array([0.1, 0.9])], [[1]], "expected \\(n_query, n_way\\)"),
        ([np.array([[0.1], [0.9]])], [[0, 0]], "n_way >= 2"),
        ([np.array([[0.1, np.nan]])], [[0]], "NaN"),
    ],
)
def test_bad_episodes_raise_data_errors(matrices: list, answers: list, message: str) -> None:
    with pytest.raises(DataError, match=message) as info:
        episode_accuracy(matrices, answers, higher_is_similar=True)
    assert "\n" not in str(info.value)
