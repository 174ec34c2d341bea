"""Verification metrics on tiny score sets whose values are worked out by hand in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from pairsim.errors import DataError, PairsimError
from pairsim.metrics.verification import calibrate_threshold, decide, equal_error_rate, verification_metrics

# Six pairs, 3 similar (1) and 3 dissimilar (0), sorted by similarity. Of the 9 (similar, dissimilar)
# pairings the similar one scores higher in 8 (only 0.6 < 0.7 is inverted): ROC AUC = 8/9.
# Precision at each similar pair, going down the ranking: 1/1, 2/2, 3/4 -> AP = (1 + 1 + 3/4) / 3 = 11/12.
# ROC points (fpr, tpr) for "same = score >= t": t=0.9 (0, 1/3), 0.8 (0, 2/3), 0.7 (1/3, 2/3), 0.6 (1/3, 1)...
# At t = 0.7: fpr = 1/3 and fnr = 1 - 2/3 = 1/3 -> EER = 1/3 exactly, at threshold 0.7.
SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.3])
LABELS = np.array([1, 1, 0, 1, 0, 0])


def test_threshold_free_metrics_match_hand_values() -> None:
    m = verification_metrics(SCORES, LABELS, higher_is_similar=True, threshold=0.65)
    assert m["roc_auc"] == pytest.approx(8 / 9)
    assert m["average_precision"] == pytest.approx(11 / 12)
    assert m["eer"] == pytest.approx(1 / 3)
    assert m["eer_threshold"] == pytest.approx(0.7)
    assert m["n_pairs"] == 6
    assert m["positive_rate"] == pytest.approx(0.5)


def test_threshold_metrics_match_hand_values() -> None:
    # t = 0.65: judged same 0.9, 0.8, 0.7 -> TP 2, FP 1, FN 1, TN 2.
    m = verification_metrics(SCORES, LABELS, higher_is_similar=True, threshold=0.65)
    assert (m["accuracy"], m["precision"], m["recall"], m["f1"]) == pytest.approx((4 / 6, 2 / 3, 2 / 3, 2 / 3))
    assert m["threshold"] == 0.65
    # t = 0.5: judged same 0.9, 0.8, 0.7, 0.6 -> TP 3, FP 1, TN 2: precision 3/4, recall 1, F1 6/7.
    m = verification_metrics(SCORES, LABELS, higher_is_similar=True, threshold=0.5)
    assert (m["accuracy"], m["precision"], m["recall"], m["f1"]) == pytest.approx((5 / 6, 3 / 4, 1.0, 6 / 7))


def test_eer_interpolates_between_operating_points() -> None:
    # P = 2, N = 3. ROC points: t=0.9 (0, 1/2), 0.7 (1/3, 1/2), 0.5 (2/3, 1/2), 0.3 (2/3, 1).
    # fnr - fpr is +1/6 at 0.7 and -1/6 at 0.5: the curve crosses fnr = fpr halfway along the flat
    # segment tpr = 1/2, so EER = 1/2 (no operating point has it). Both points are 1/6 away: the tie
    # goes to the higher threshold, 0.7.
    scores = [0.9, 0.7, 0.5, 0.3, 0.1]
    labels = [1, 0, 0, 1, 0]
    eer, threshold = equal_error_rate(scores, labels, higher_is_similar=True)
    assert eer == pytest.approx(0.5)
    assert threshold == pytest.approx(0.7)


def test_separable_scores_give_perfect_metrics() -> None:
    scores, labels = [0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0]
    threshold = calibrate_threshold(scores, labels, higher_is_similar=True)
    assert threshold == pytest.approx(0.55)  # midpoint of the gap 0.3 .. 0.8
    m = verification_metrics(scores, labels, higher_is_similar=True, threshold=threshold)
    assert (m["accuracy"], m["f1"], m["roc_auc"], m["average_precision"], m["eer"]) == (1.0, 1.0, 1.0, 1.0, 0.0)


def test_calibrated_threshold_separates_a_random_separable_set_at_the_gap_midpoint() -> None:
    rng = np.random.default_rng(0)
    similar = rng.uniform(0.55, 1.0, 40)
    dissimilar = rng.uniform(-1.0, 0.45, 60)
    scores = np.concatenate([similar, dissimilar])
    labels = np.array([1] * 40 + [0] * 60)
    order = rng.permutation(100)
    threshold = calibrate_threshold(scores[order], labels[order], higher_is_similar=True)
    assert threshold == pytest.approx((similar.min() + dissimilar.max()) / 2)
    assert np.array_equal(decide(scores[order], threshold, True), labels[order] == 1)


def test_calibrated_threshold_reaches_the_best_accuracy_of_any_threshold() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 200)
    scores = np.round(rng.normal(labels * 1.0, 1.0), 1)  # rounded: many tied scores
    threshold = calibrate_threshold(scores, labels, higher_is_similar=True)
    accuracy = np.mean(decide(scores, threshold, True) == labels)
    grid = np.concatenate([np.unique(scores), [scores.max() + 1]])  # every distinct decision rule
    best = max(np.mean((scores >= t) == labels) for t in grid)
    assert accuracy == best
    assert threshold not in set(scores.tolist())  # a midpoint, never a score itself


def test_calibration_prefers_the_widest_of_equally_accurate_gaps() -> None:
    # On SCORES, t = 0.75 (gap 0.8 .. 0.7, width 0.1) and t = 0.5 (gap 0.6 .. 0.4, width 0.2) both get
    # 5/6 right; every other threshold fewer. The wider gap wins.
    assert calibrate_threshold(SCORES, LABELS, higher_is_similar=True) == pytest.approx(0.5)


def test_calibration_can_judge_everything_similar() -> None:
    # Only the dissimilar pair scores highest: judging all four similar gets 3 right, every cut fewer.
    # The threshold lies half the lowest gap (0.2 - 0.1) below the lowest score.
    threshold = calibrate_threshold([0.1, 0.2, 0.3, 0.9], [1, 1, 1, 0], higher_is_similar=True)
    assert threshold == pytest.approx(0.05)
    assert calibrate_threshold([0.5] * 4, [1, 1, 1, 0], higher_is_similar=True) == pytest.approx(0.0)


def test_distance_equal_to_negated_similarity_gives_identical_metrics() -> None:
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 50)
    similarity = rng.normal(labels * 0.8, 1.0)
    distance = -similarity
    t_sim = calibrate_threshold(similarity, labels, higher_is_similar=True)
    t_dist = calibrate_threshold(distance, labels, higher_is_similar=False)
    assert t_dist == pytest.approx(-t_sim)
    m_sim = verification_metrics(similarity, labels, higher_is_similar=True, threshold=t_sim)
    m_dist = verification_metrics(distance, labels, higher_is_similar=False, threshold=t_dist)
    for key in ("threshold", "eer_threshold"):
        assert m_dist.pop(key) == pytest.approx(-m_sim.pop(key))
    assert m_dist == pytest.approx(m_sim)
    assert m_sim["roc_auc"] > 0.6  # the direction is really taken into account, not ignored


def test_distance_direction_on_hand_values() -> None:
    distances = [0.1, 0.4, 2.0, 3.0]  # small = similar
    labels = [1, 1, 0, 0]
    assert calibrate_threshold(distances, labels, higher_is_similar=False) == pytest.approx(1.2)
    m = verification_metrics(distances, labels, higher_is_similar=False, threshold=1.2)
    assert (m["accuracy"], m["roc_auc"], m["eer"]) == (1.0, 1.0, 0.0)
    # Read as similarities, the same numbers are perfectly wrong.
    assert verification_metrics(distances, labels, higher_is_similar=True, threshold=1.2)["roc_auc"] == 0.0


def test_decide_includes_the_threshold_itself_in_both_directions() -> None:
    assert decide([0.2, 0.5, 0.9], 0.5, True).tolist() == [False, True, True]
    assert decide([0.2, 1.0, 1.5], 1.0, False).tolist() == [True, True, False]


def test_accepts_torch_tensors_and_float_labels() -> None:
    torch = pytest.importorskip("torch")
    m = verification_metrics(
        torch.tensor(SCORES, requires_grad=True),
        torch.tensor(LABELS, dtype=torch.float32),
        higher_is_similar=True,
        threshold=0.65,
    )
    assert m["roc_auc"] == pytest.approx(8 / 9)


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        ([0.1, 0.2, 0.3], [1, 0], "need one label per score"),
        ([0.1, 0.2, 0.3], [1, 1, 1], "all similar"),
        ([0.1, 0.2], [0, 0], "all dissimilar"),
        ([0.1, 0.2], [1, 2], "must be 0"),
        ([0.1, float("nan")], [1, 0], "NaN"),
        ([[0.1, 0.2]], [1, 0], "1-D"),
        ([], [], "empty"),
    ],
)
def test_bad_inputs_raise_one_line_data_errors(scores: list, labels: list, message: str) -> None:
    for call in (
        lambda: calibrate_threshold(scores, labels, higher_is_similar=True),
        lambda: verification_metrics(scores, labels, higher_is_similar=True, threshold=0.5),
        lambda: equal_error_rate(scores, labels, higher_is_similar=True),
    ):
        with pytest.raises(DataError, match=message) as info:
            call()
        assert isinstance(info.value, PairsimError)
        assert "\n" not in str(info.value)


def test_threshold_must_be_a_finite_number() -> None:
    for threshold in (None, float("nan"), "0.5"):
        with pytest.raises(DataError, match="threshold must be a finite number"):
            verification_metrics(SCORES, LABELS, higher_is_similar=True, threshold=threshold)  # type: ignore[arg-type]


def test_direction_must_be_a_bool() -> None:
    with pytest.raises(DataError, match="higher_is_similar"):
        decide([0.1], 0.5, "yes")  # type: ignore[arg-type]
