"""The tracker follows a planted moving pattern; the OTB protocol and the forward-backward error give the values
their definitions say; the baselines run behind the same call."""

from __future__ import annotations

import numpy as np
import pytest
from planted_pattern import planted

from pairsim.track.baselines import BASELINES, baseline
from pairsim.track.geometry import iou
from pairsim.track.model import SiamFC
from pairsim.track.otb import THRESHOLDS, center_errors, forward_backward_error, otb_scores
from pairsim.track.tracker import Tracker


def test_the_tracker_follows_a_planted_moving_pattern(tiny_siamfc: SiamFC) -> None:
    frames, truth = planted(frames=24, step=(3, 2))
    boxes = np.array(list(Tracker(tiny_siamfc).track(frames, tuple(truth[0]))))
    assert boxes.shape == (24, 4)
    errors = center_errors(boxes, truth)
    assert errors.max() < 15, errors  # random features still peak where the pattern is (lagging a little)
    moved, followed = truth[-1, :2] - truth[0, :2], boxes[-1, :2] - boxes[0, :2]  # 69 and 46 pixels
    assert np.linalg.norm(followed - moved) < 0.2 * np.linalg.norm(moved)
    assert otb_scores(boxes, truth)["precision_20"] == 1.0


def test_otb_scores_by_definition() -> None:
    truth = np.array([[0, 0, 10, 10]] * 5, dtype=float)
    assert otb_scores(truth.copy(), truth)["success_auc"] == pytest.approx(20 / 21)  # IoU 1 > every threshold < 1
    shifted = truth + np.array([5, 0, 0, 0])  # IoU 50 / 150 = 1/3, centre error 5
    scores = otb_scores(shifted, truth)
    assert scores["mean_iou"] == pytest.approx(1 / 3)
    assert scores["success_auc"] == pytest.approx(float((THRESHOLDS < 1 / 3).mean()))
    assert scores["precision_20"] == 1.0
    far = truth + np.array([30, 0, 0, 0])
    assert otb_scores(far, truth)["precision_20"] == 0.0 and iou(far, truth).max() == 0


def test_forward_backward_error_of_a_perfect_and_a_drifting_tracker() -> None:
    frames = [np.zeros((10, 10, 3), np.uint8)] * 6

    def still(fr, box):
        return [box] * len(fr)

    def drift(fr, box):
        return [(box[0] + i, box[1], box[2], box[3]) for i in range(len(fr))]

    assert forward_backward_error(still, frames, (1, 1, 4, 4)) == {"error": 0.0, "iou": 1.0}
    assert forward_backward_error(drift, frames, (1, 1, 4, 4))["error"] == pytest.approx(10.0)


@pytest.mark.parametrize("name", BASELINES)
def test_baselines_follow_the_planted_pattern(name: str) -> None:
    frames, truth = planted(frames=12, step=(2, 1))
    boxes = np.array(baseline(name)(frames, tuple(truth[0])))
    assert boxes.shape == (12, 4)
    assert center_errors(boxes, truth).max() < 10
