"""Baseline trackers from OpenCV behind one call: ``track(frames, box) -> boxes``.

``ncc``: the first frame's template matched by normalised cross-correlation (``cv2.matchTemplate``,
``TM_CCOEFF_NORMED``) in a window of 4x the target around the last position, fixed size; ``csrt`` and ``kcf``:
OpenCV's discriminative correlation-filter trackers (opencv-contrib).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from pairsim.errors import ConfigError
from pairsim.track.geometry import Box


def ncc_track(frames: Sequence[np.ndarray], box: Box, *, window: float = 4.0) -> list[Box]:
    """Template matching by normalised cross-correlation near the last position."""
    import cv2

    x, y, w, h = (round(float(v)) for v in box)
    first = cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY)
    H, W = first.shape
    x, y = min(max(x, 0), W - 1), min(max(y, 0), H - 1)
    w, h = max(1, min(w, W - x)), max(1, min(h, H - y))
    template = first[y : y + h, x : x + w]
    boxes: list[Box] = [tuple(float(v) for v in box)]  # type: ignore[list-item]
    cx, cy = x + w / 2, y + h / 2
    for frame in frames[1:]:
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        half_w, half_h = window * w / 2, window * h / 2
        x0, y0 = int(max(0, cx - half_w)), int(max(0, cy - half_h))
        x1, y1 = int(min(W, cx + half_w)), int(min(H, cy + half_h))
        if x1 - x0 < w or y1 - y0 < h:  # window smaller than the template near a border: search all
            x0, y0, x1, y1 = 0, 0, W, H
        scores = cv2.matchTemplate(gray[y0:y1, x0:x1], template, cv2.TM_CCOEFF_NORMED)
        _, _, _, (bx, by) = cv2.minMaxLoc(scores)
        cx, cy = x0 + bx + w / 2, y0 + by + h / 2
        boxes.append((cx - w / 2, cy - h / 2, float(w), float(h)))
    return boxes


def _opencv_track(make: Callable[[], object]) -> Callable[[Sequence[np.ndarray], Box], list[Box]]:
    def track(frames: Sequence[np.ndarray], box: Box) -> list[Box]:
        import cv2

        tracker = make()
        tracker.init(cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR), tuple(round(float(v)) for v in box))  # type: ignore[attr-defined]
        boxes: list[Box] = [tuple(float(v) for v in box)]  # type: ignore[list-item]
        for frame in frames[1:]:
            ok, found = tracker.update(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))  # type: ignore[attr-defined]
            boxes.append(tuple(float(v) for v in found) if ok else boxes[-1])  # lost: keep the last box
        return boxes

    return track


def baseline(name: str) -> Callable[[Sequence[np.ndarray], Box], list[Box]]:
    """The baseline tracker called ``name`` (``ncc``, ``csrt``, ``kcf``)."""
    import cv2

    def factory(attr: str) -> Callable[[], object]:
        for where in (cv2, getattr(cv2, "legacy", None)):
            if where is not None and hasattr(where, attr):
                return getattr(where, attr)
        raise ConfigError(f"OpenCV has no {attr}: install opencv-contrib-python-headless")

    if name == "ncc":
        return ncc_track
    if name == "csrt":
        return _opencv_track(factory("TrackerCSRT_create"))
    if name == "kcf":
        return _opencv_track(factory("TrackerKCF_create"))
    raise ConfigError(f"unknown baseline tracker {name!r}; valid: csrt, kcf, ncc")


BASELINES = ("ncc", "csrt", "kcf")
