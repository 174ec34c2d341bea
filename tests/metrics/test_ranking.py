"""Quality-ranking correlations against hand-computed coefficients."""

from __future__ import annotations

import math

import pytest

from pairsim.errors import DataError
from pairsim.metrics.ranking import ranking_metrics


def test_pooled_and_per_group_spearman_by_hand() -> None:
    # Group x: scores 3, 1, 2 at levels 0, 1, 2 -> ranks of score 3, 1, 2 vs of -level 3, 2, 1: d^2 = 0 + 1 + 1 = 2,
    # rho = 1 - 6 * 2 / (3 * 8) = 0.5. Group y: scores 5, 4 at levels 0, 1 -> rho = 1. Mean over groups: 0.75.
    # Pooled: scores 3, 1, 2, 5, 4 (ranks 3, 1, 2, 5, 4) vs -levels 0, -1, -2, 0, -1 (average ranks 4.5, 2.5, 1,
    # 4.5, 2.5): Pearson of those ranks = 5.5 / sqrt(10 * 9) = 0.5798.
    m = ranking_metrics([3.0, 1.0, 2.0, 5.0, 4.0], [0, 1, 2, 0, 1], ["x", "x", "x", "y", "y"])
    assert m["rank_spearman_per_group"] == pytest.approx(0.75)
    assert m["rank_spearman"] == pytest.approx(5.5 / math.sqrt(90))
    assert (m["rank_groups"], m["n_items"]) == (2, 5)


def test_a_perfect_ranker_scores_one_and_the_reverse_minus_one() -> None:
    levels = [0, 1, 2, 3, 0, 1, 2, 3]
    groups = ["a"] * 4 + ["b"] * 4
    best = ranking_metrics([-v + 10 * (g == "b") for v, g in zip(levels, groups, strict=True)], levels, groups)
    # b's scores all sit higher: perfect within each group, not pooled
    assert best["rank_spearman_per_group"] == pytest.approx(1.0) and best["rank_spearman"] < 1.0
    worst = ranking_metrics([float(v) for v in levels], levels, groups)
    assert worst["rank_spearman"] == pytest.approx(-1.0) and worst["rank_spearman_per_group"] == pytest.approx(-1.0)


def test_groups_with_one_level_are_left_out_of_the_mean() -> None:
    m = ranking_metrics([1.0, 0.0, 7.0, 9.0], [0, 1, 2, 2], ["a", "a", "b", "b"])
    assert m["rank_groups"] == 1 and m["rank_spearman_per_group"] == pytest.approx(1.0)


def test_equal_scores_give_nan_and_bad_input_a_data_error() -> None:
    assert math.isnan(ranking_metrics([1.0, 1.0, 1.0], [0, 1, 2])["rank_spearman"])
    with pytest.raises(DataError, match="different ranks"):
        ranking_metrics([1.0, 2.0], [3, 3])
    with pytest.raises(DataError, match="one of each per item"):
        ranking_metrics([1.0, 2.0], [0, 1, 2])
