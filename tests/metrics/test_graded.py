"""Graded similarity correlations against hand-computed coefficients."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pairsim.errors import DataError
from pairsim.metrics.graded import graded_metrics


def test_spearman_by_hand() -> None:
    # Score ranks 1, 3, 2, 4 vs gold ranks 1, 2, 3, 4: d^2 sums to 2 -> 1 - 6 * 2 / (4 * 15) = 0.8.
    m = graded_metrics([0.1, 0.4, 0.35, 0.9], [0.0, 2.0, 3.0, 5.0], higher_is_similar=True)
    assert m["spearman"] == pytest.approx(0.8)
    assert m["n_pairs"] == 4


def test_pearson_by_hand_and_raw_not_times_100() -> None:
    # x = 1..4, y = 1, 2, 3, 5: sum dx*dy = 6.5, sum dx^2 = 5, sum dy^2 = 8.75 -> r = 6.5 / sqrt(43.75).
    m = graded_metrics([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 5.0], higher_is_similar=True)
    assert m["pearson"] == pytest.approx(6.5 / math.sqrt(43.75))  # 0.9827, not 98.27
    assert m["spearman"] == pytest.approx(1.0)


def test_distance_equal_to_negated_similarity_gives_identical_correlations() -> None:
    rng = np.random.default_rng(0)
    gold = rng.uniform(0, 5, 30)
    similarity = gold + rng.normal(0, 1, 30)
    m_sim = graded_metrics(similarity, gold, higher_is_similar=True)
    m_dist = graded_metrics(-similarity, gold, higher_is_similar=False)
    assert m_dist == pytest.approx(m_sim)
    assert m_sim["spearman"] > 0.5
    assert graded_metrics(-similarity, gold, higher_is_similar=True)["spearman"] == pytest.approx(-m_sim["spearman"])


def test_constant_scores_give_nan() -> None:
    m = graded_metrics([0.5, 0.5, 0.5], [1.0, 2.0, 3.0], higher_is_similar=True)
    assert math.isnan(m["spearman"]) and math.isnan(m["pearson"])


@pytest.mark.parametrize(
    ("scores", "gold", "message"),
    [
        ([0.1, 0.2, 0.3], [1.0, 2.0], "need one rating per score"),
        ([0.1], [1.0], "at least 2 pairs"),
        ([0.1, 0.2, 0.3], [2.0, 2.0, 2.0], "gold ratings are all equal"),
        ([0.1, 0.2], [1.0, float("nan")], "gold contains"),
    ],
)
def test_bad_inputs_raise_data_errors(scores: list, gold: list, message: str) -> None:
    with pytest.raises(DataError, match=message):
        graded_metrics(scores, gold, higher_is_similar=True)
