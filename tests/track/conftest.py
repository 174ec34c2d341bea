"""Fixtures of the tracking tests: a tiny SiamFC model (random weights, fixed seed) and a planted moving pattern."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pairsim.track.model import SiamFC, parse_config

TINY = {"backbone": {"name": "alexnet", "width": 0.125}, "exemplar_size": 127, "search_size": 191}


@pytest.fixture
def tiny_siamfc() -> SiamFC:
    torch.manual_seed(0)
    return SiamFC(parse_config(TINY)).eval()


@pytest.fixture
def saved_siamfc(tmp_path: Path, tiny_siamfc: SiamFC) -> Path:
    return tiny_siamfc.save_pretrained(tmp_path / "siamfc")


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
