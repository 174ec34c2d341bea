"""The OTB protocol (Wu et al. 2013): success AUC over IoU thresholds and precision at 20 pixels; and, for video
without labels, the forward-backward error (Kalal et al. 2010): track N frames forward, then back to the first,
and measure how far from the starting box the tracker comes back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pairsim.track.geometry import Box, iou

THRESHOLDS = np.linspace(0, 1, 21)  # IoU thresholds of the success plot (OTB: 0, 0.05, ..., 1)


def center_errors(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Distances between box centres ``(N, 4), (N, 4) -> (N,)`` in pixels."""
    p, t = np.asarray(predicted, np.float64), np.asarray(truth, np.float64)
    return np.hypot(p[:, 0] + p[:, 2] / 2 - t[:, 0] - t[:, 2] / 2, p[:, 1] + p[:, 3] / 2 - t[:, 1] - t[:, 3] / 2)


def otb_scores(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Success AUC and precision@20 of one sequence (the first frame, given to the tracker, not counted).

    Returns:
        ``{"success_auc", "precision_20", "mean_iou"}``.
    """
    overlaps = iou(predicted[1:], truth[1:])  # (N-1,)
    success = np.array([(overlaps > t).mean() for t in THRESHOLDS])  # (21,)
    return {
        "success_auc": float(success.mean()),
        "precision_20": float((center_errors(predicted[1:], truth[1:]) <= 20).mean()),
        "mean_iou": float(overlaps.mean()),
    }


def mean_scores(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """Averages of :func:`otb_scores` over sequences (OTB averages per-sequence curves, so means of AUCs)."""
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


TrackFn = Callable[[Sequence[np.ndarray], Box], list[Box]]  # frames, first box -> one box per frame


def forward_backward_error(track: TrackFn, frames: Sequence[np.ndarray], box: Box) -> dict[str, Any]:
    """Track ``frames`` forward from ``box``, then backward from the last box to the first frame.

    Returns:
        ``{"error": centre distance in pixels between the returned and the starting box, "iou": their overlap}``.
    """
    forward = track(frames, box)
    backward = track(list(frames)[::-1], forward[-1])
    start, back = np.array([box], np.float64), np.array([backward[-1]], np.float64)
    return {"error": float(center_errors(back, start)[0]), "iou": float(iou(back, start)[0])}
