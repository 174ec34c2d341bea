"""Synthetic sequences: the boxes are exact (a target of one colour that appears nowhere else fills exactly its
box), the same seed gives the same sequence, and every setting moves what it says."""

from __future__ import annotations

import numpy as np

from pairsim.track.synthetic import MotionSettings, make_sequence

PLAIN = MotionSettings(noise=0.0, blur=0.0, lighting=0.0, distractors=0, occluder=0.0, rotation=0.0)


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    background = rng.integers(0, 200, (300, 400, 3), dtype=np.uint8)  # red channel never 255
    background[..., 1] = np.maximum(background[..., 1], 1)  # so no pixel is pure red
    target = np.zeros((120, 120, 3), np.uint8)
    target[..., 0] = 255  # pure red
    return [background, target]


def _sequence(seed: int, settings: MotionSettings = PLAIN) -> object:
    images = _images()
    for s in range(seed, seed + 50):  # a seed drawing the background first (index 0) and the target second
        seq = make_sequence(images, seed=s, frames=40, settings=settings)
        if seq.target.texture[..., 0].min() == 255:
            return seq
    raise AssertionError("no seed picked the red target")


def test_boxes_are_exact() -> None:
    seq = _sequence(0)
    for t in range(len(seq)):
        frame = seq.frame(t)
        red = (frame[..., 0] == 255) & (frame[..., 1] == 0) & (frame[..., 2] == 0)  # (H, W)
        x, y, w, h = (int(v) for v in seq.boxes[t])
        expected = np.zeros_like(red)
        expected[max(y, 0) : y + h, max(x, 0) : x + w] = True
        assert np.array_equal(red, expected), f"frame {t}: the red pixels are not exactly the box"


def test_the_target_moves_and_changes_size() -> None:
    seq = _sequence(0, MotionSettings(noise=0.0, speed=4.0))
    boxes = seq.boxes
    assert np.abs(np.diff(boxes[:, :2], axis=0)).sum() > 40  # it moves
    assert len(np.unique(boxes[:, 2])) > 1  # its size changes
    fw, fh = seq.frame_size
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 0] + boxes[:, 2] <= fw).all()  # it stays in the frame
    assert (boxes[:, 1] >= 0).all() and (boxes[:, 1] + boxes[:, 3] <= fh).all()


def test_same_seed_same_sequence() -> None:
    images = _images()
    a, b = make_sequence(images, seed=7, frames=10), make_sequence(images, seed=7, frames=10)
    assert np.array_equal(a.boxes, b.boxes)
    assert np.array_equal(a.frame(9), b.frame(9))
    assert not np.array_equal(a.boxes, make_sequence(images, seed=8, frames=10).boxes)
