"""Boxes and crops: ``(x, y, w, h)`` boxes in pixels (top-left corner, width, height), square crops around a centre
resized to a network input, padded with the image's mean colour where they leave the frame (as SiamFC does)."""

from __future__ import annotations

import numpy as np

Box = tuple[float, float, float, float]  # x, y, w, h (pixels; x, y the top-left corner)


def center_of(box: Box) -> tuple[float, float]:
    """The centre ``(cx, cy)`` of a box."""
    x, y, w, h = box
    return x + w / 2, y + h / 2


def box_at(cx: float, cy: float, w: float, h: float) -> Box:
    """The box of size ``w x h`` centred on ``(cx, cy)``."""
    return cx - w / 2, cy - h / 2, w, h


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes row by row: ``(N, 4), (N, 4) -> (N,)``."""
    a, b = np.asarray(a, dtype=np.float64).reshape(-1, 4), np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x1, y1 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])  # (N,)
    x2 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])  # (N,)
    y2 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])  # (N,)
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)  # (N,)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter  # (N,)
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def context_size(w: float, h: float, context: float = 0.5) -> float:
    """SiamFC's exemplar side in frame pixels: ``sqrt((w + p)(h + p))`` with ``p = context * (w + h)``."""
    p = context * (w + h)
    return float(np.sqrt((w + p) * (h + p)))


def crop(frame: np.ndarray, cx: float, cy: float, side: float, out: int, fill: np.ndarray | None = None) -> np.ndarray:
    """A square of ``side`` frame pixels centred on ``(cx, cy)``, resized to ``out x out``.

    Args:
        frame: ``(H, W, 3)`` uint8 RGB.
        cx: Centre x in frame pixels.
        cy: Centre y in frame pixels.
        side: The square's side in frame pixels (> 0).
        out: The output side in pixels.
        fill: Colour of the parts outside the frame (default: the frame's mean colour).

    Returns:
        ``(out, out, 3)`` uint8.
    """
    import cv2

    scale = out / side
    # maps frame point (cx - side/2, cy - side/2) to (0, 0), with pixel centres handled as OpenCV does
    matrix = np.array([[scale, 0, -scale * (cx - side / 2) + 0.5 * scale - 0.5],
                       [0, scale, -scale * (cy - side / 2) + 0.5 * scale - 0.5]], dtype=np.float64)  # fmt: skip
    colour = frame.reshape(-1, frame.shape[-1]).mean(0) if fill is None else fill
    return cv2.warpAffine(
        frame, matrix, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
        borderValue=tuple(float(c) for c in colour),
    )  # fmt: skip
