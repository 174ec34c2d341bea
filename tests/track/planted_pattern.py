"""A planted moving pattern for the tracking tests: a checkerboard square moving over a smooth grey gradient, with
its exact boxes (imported by name: pytest's conftest modules of other folders share the name ``conftest``)."""

from __future__ import annotations

import numpy as np


def planted(frames: int = 24, step: tuple[int, int] = (3, 2), size: int = 40) -> tuple[list[np.ndarray], np.ndarray]:
    """A checkerboard square moving ``step`` pixels a frame over a smooth grey gradient: frames and exact boxes."""
    h, w = 240, 320
    yy, xx = np.mgrid[0:h, 0:w]
    background = np.stack([90 + 0.1 * xx, 100 + 0.1 * yy, 110 + 0 * xx], -1).astype(np.uint8)  # (H, W, 3)
    cells = (np.indices((size, size)).sum(0) // 8) % 2  # 8-pixel checkerboard
    pattern = np.where(cells[..., None] == 1, [250, 220, 30], [20, 30, 160]).astype(np.uint8)  # (S, S, 3)
    out, boxes = [], []
    for t in range(frames):
        x, y = 60 + step[0] * t, 50 + step[1] * t
        frame = background.copy()
        frame[y : y + size, x : x + size] = pattern
        out.append(frame)
        boxes.append((x, y, size, size))
    return out, np.array(boxes, dtype=np.float64)
